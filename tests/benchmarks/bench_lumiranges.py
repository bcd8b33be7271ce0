"""GoldenJSON speed on the real golden files: loading against CMSSW's LumiList, membership against coffea's LumiMask,
set algebra against Python sets of pairs.

Run on demand:  python tests/benchmarks/bench_lumiranges.py

Baselines (not dependencies of dqquery; install them into your own environment for this benchmark only):

* **LumiList.** CMSSW's ``FWCore/PythonUtilities/python/LumiList.py`` is not published on PyPI on its own; the
  closest published implementation is WMCore's ``WMCore.DataStructs.LumiList`` (the same algorithm: ``json.load``,
  then per run ``sorted`` and merge of overlapping/adjacent ranges). Install it without its service dependencies:
  ``pip install --no-deps wmcore && pip install future``.
* **LumiMask.** ``pip install coffea``; ``coffea.lumi_tools.LumiMask`` (its kernel is numba-compiled in recent
  versions; it is warmed up before timing).

Each baseline that is missing is skipped with a message. The engines run interleaved, round after round, and the
ratios use the minimum of each engine's samples (this machine's speed drifts and other processes load it); medians
are printed too. Expectation (issue 13): ``GoldenJSON.load`` at least as fast as LumiList on every file
(ratio >= 1), ``contains_many`` on 10^6 pairs at least as fast as LumiMask. The searchsorted fallback (used when
the dense membership tables would exceed ``DENSE_TABLE_BYTES``) is timed too, for information.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dqquery import lumiranges
from dqquery.lumiranges import GoldenJSON

DATA = Path(__file__).resolve().parents[1] / "data" / "golden"
#: shared/data/golden beside the repository (or beside a worktree's parent), for the DCS-only files
SHARED_CANDIDATES = [Path(__file__).resolve().parents[i] / "shared" / "data" / "golden" for i in (3, 4)]


def golden_files() -> list[Path]:
    """The certification files shipped in tests/data/golden, plus two DCS-only files from shared/ when present."""
    files = sorted(DATA.glob("*.txt"))
    for extra in ("json_DCSONLY_2018.txt", "Collisions23_13p6TeV_eraBCD_366403_370790_DCSOnly_TkPx.json"):
        for folder in SHARED_CANDIDATES:
            if (folder / extra).exists():
                files.append(folder / extra)
                break
    return files


def interleaved(engines: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds per call of each engine, engines alternating within every round."""
    samples: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(rounds):
        for name, fn in engines.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return samples


def report(title: str, samples: dict[str, list[float]], ours: str) -> None:
    best = {name: min(values) for name, values in samples.items()}
    line = [f"{title:58s}"]
    for name, values in samples.items():
        line.append(f"{name} min {best[name] * 1e3:8.3f} ms (median {statistics.median(values) * 1e3:8.3f})")
    for name in samples:
        if name != ours:
            line.append(f"ratio {name}/{ours} {best[name] / best[ours]:5.2f}x")
    print("   ".join(line))


def bench_load() -> None:
    try:
        from WMCore.DataStructs.LumiList import LumiList
    except ImportError:
        print("load: SKIPPED, LumiList missing (pip install --no-deps wmcore && pip install future)")
        return
    try:
        from coffea.lumi_tools import LumiMask
    except ImportError:
        LumiMask = None
    for path in golden_files():
        reference = LumiList(filename=str(path)).getCompactList()
        assert GoldenJSON.load(path) == GoldenJSON(reference), path  # same content, or the figures mean nothing
        engines: dict[str, Callable[[], object]] = {
            "GoldenJSON.load": lambda: GoldenJSON.load(path),
            "LumiList": lambda: LumiList(filename=str(path)),
        }
        if LumiMask is not None:
            engines["LumiMask"] = lambda: LumiMask(str(path))
        report(f"load {path.name[:52]}", interleaved(engines, rounds=200), "GoldenJSON.load")


def bench_contains_many() -> None:
    path = DATA / "Cert_314472-325175_13TeV_Legacy2018_Collisions18_JSON.txt"
    golden = GoldenJSON.load(path)
    rng = np.random.default_rng(1)
    runs = rng.choice(np.array(golden.runs, dtype=np.uint32), size=1_000_000)
    lumis = rng.integers(1, 2500, size=1_000_000, dtype=np.uint32)
    engines: dict[str, Callable[[], object]] = {"contains_many": lambda: golden.contains_many(runs, lumis)}
    try:
        from coffea.lumi_tools import LumiMask
    except ImportError:
        print("contains_many: LumiMask SKIPPED (pip install coffea); timing GoldenJSON alone")
    else:
        mask = LumiMask(str(path))
        assert np.array_equal(mask(runs, lumis), golden.contains_many(runs, lumis))  # warms numba, checks equality
        engines["LumiMask"] = lambda: mask(runs, lumis)
    sorted_runs, sorted_lumis = runs[np.lexsort((lumis, runs))], lumis[np.lexsort((lumis, runs))]
    report("contains_many, 10^6 random pairs (uint32)", interleaved(engines, rounds=15), "contains_many")
    engines_sorted = {"contains_many": lambda: golden.contains_many(sorted_runs, sorted_lumis)}
    if "LumiMask" in engines:
        engines_sorted["LumiMask"] = lambda: mask(sorted_runs, sorted_lumis)
    report("contains_many, 10^6 pairs sorted as in event files", interleaved(engines_sorted, rounds=15), "contains_many")
    lumiranges.DENSE_TABLE_BYTES, saved = 0, lumiranges.DENSE_TABLE_BYTES  # the fallback for tables too large
    no_tables = GoldenJSON.load(path)
    no_tables.contains_many(runs[:10], lumis[:10])
    lumiranges.DENSE_TABLE_BYTES = saved
    engines_search = {"contains_many": lambda: golden.contains_many(runs, lumis),
                      "searchsorted fallback": lambda: no_tables.contains_many(runs, lumis)}
    if "LumiMask" in engines:
        engines_search["LumiMask"] = engines["LumiMask"]
    report("contains_many dense tables vs searchsorted fallback", interleaved(engines_search, rounds=10), "contains_many")
    runs64, lumis64 = runs.astype(np.int64), lumis.astype(np.int64)
    report("contains_many int64 input (range check) vs uint32", interleaved(
        {"contains_many": lambda: golden.contains_many(runs, lumis),
         "int64": lambda: golden.contains_many(runs64, lumis64)}, rounds=15), "contains_many")


def bench_algebra() -> None:
    g2016 = GoldenJSON.load(DATA / "Cert_271036-284044_13TeV_Legacy2016_Collisions16_JSON.txt")
    g2018 = GoldenJSON.load(DATA / "Cert_314472-325175_13TeV_Legacy2018_Collisions18_JSON.txt")
    h = g2018 - GoldenJSON.from_pairs((r, 5) for r in g2018.runs)
    s2018, sh, s2016 = set(g2018), set(h), set(g2016)
    for name, ours, naive in (
        ("and", lambda: g2018 & h, lambda: s2018 & sh),
        ("or", lambda: g2018 | g2016, lambda: s2018 | s2016),
        ("sub", lambda: g2018 - h, lambda: s2018 - sh),
    ):
        report(f"{name}: GoldenJSON vs set of pairs (prebuilt)", interleaved({"GoldenJSON": ours, "set": naive}, 5),
               "GoldenJSON")


def main() -> None:
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}")
    bench_load()
    bench_contains_many()
    bench_algebra()


if __name__ == "__main__":
    main()
