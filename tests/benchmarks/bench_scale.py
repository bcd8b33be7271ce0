#!/usr/bin/env python3
"""Benchmark: loading columnar snapshots at scale, 10^6 runs and ten years (run on demand; not collected by pytest).

    python tests/benchmarks/bench_scale.py [--runs 1000000] [--json-runs 20000] [--rounds 3] [--skip-years]

Data: ``many_runs(n)``, a deterministic synthetic snapshot of ``n`` runs built from a pool of 1,000 template runs
(seed 2026) tiled with shifted run numbers. Each template run has a realistic lumisection count (log-normal,
median 250, from 1 to 3,000), the 20 RR flags and 30 OMS bits of ``bench_golden.py``, one dataset, and the
range structure of real runs rather than the stress test of the benchmark year: every flag GOOD for the run
except a short BAD episode in one run in six (and a flag BAD for the whole run in one in twenty), bits ramping
up in the first lumisections of one run in three, a trip in one in ten, stable beams lost in the tail of one in
three (about 1.3 RR and 2.6 OMS ranges per run; printed). Ten years: the benchmark year of ``bench_golden.py``
tiled ten times (``bench_columnar.repeat_years``), 4,800 runs and 2.3 million lumisections.

Printed from one run, each measurement in a fresh process (peak RSS is that process's ``VmHWM``; ``ru_maxrss``
would carry the parent's peak across fork and exec), rounds interleaved, best and median:
* ``ColumnarSnapshot.load`` of the 10^6-run file (goal: <= 5 s, <= 1 GB), and load + ``vectorized.golden``
  (the benchmark query) of the ten-year file (goal: peak RSS <= 250 MB) and of the 10^6-run file;
* the JSON -> columnar conversion (``dqquery snapshot convert``: ``ColumnarSnapshot.load`` of the JSON snapshot,
  then ``save``) at ``--json-runs`` runs and twice that, with the per-run cost extrapolated to 10^6 runs (the
  JSON snapshot of 10^6 runs is several GB of text: the JSON path is the interchange format, not the fast one);
* the same at half the runs, so the ratio shows whether loading grows linearly.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))

from bench_columnar import DATASET, repeat_years  # noqa: E402
from bench_golden import OMS_BITS, QUERY, RR_FLAGS, _ranges, synthetic_year  # noqa: E402

from dqquery.columnar import ColumnarSnapshot  # noqa: E402
from dqquery.snapshot import Snapshot  # noqa: E402

TEMPLATES = 1000
NAME = "/ReReco/Run2018A_UL2019/DQM"


def template_snapshot(n_runs: int = TEMPLATES, seed: int = 2026, first_run: int = 1) -> dict[str, Any]:
    """The JSON layout of ``n_runs`` runs numbered from ``first_run`` (see the module docstring)."""
    rng = random.Random(seed)
    runs, datasets, lumisections = [], [], {}
    for k in range(n_runs):
        run = first_run + k
        n = min(3000, max(1, round(rng.lognormvariate(math.log(250), 1.0))))
        runs.append(
            {
                "run_number": run,
                "oms_attributes": {
                    "energy": 6500.0 if rng.random() > 0.05 else 450.0,
                    "b_field": 3.8 if rng.random() > 0.03 else 0.0,
                    "injection_scheme": "25ns_2556b_2544_2215_2332_144bpi_20injV2" if rng.random() > 0.02 else "50ns_1374b",
                    "hlt_key": "/cdaq/physics/Run2018/2e34/v3.6.1/HLT/V2",
                    "recorded_lumi": n * 0.25,
                },
                "rr_attributes": {"class": "Collisions18", "significant": True, "state": "COMPLETED"},
            }
        )
        flag_marks: dict[int, dict[str, str]] = {}
        if rng.random() < 1 / 6:
            flag = rng.choice(RR_FLAGS)
            a = rng.randint(1, n)
            b = min(n, a + rng.randint(0, 30))
            flag_marks.setdefault(a, {})[flag] = "BAD"
            flag_marks.setdefault(b + 1, {})[flag] = "GOOD"
        whole_run_bad = {rng.choice(RR_FLAGS): "BAD"} if rng.random() < 1 / 20 else {}
        rr = _ranges(n, {f: "GOOD" for f in RR_FLAGS} | whole_run_bad, flag_marks,
                     lambda v: {"status": v, "comment": "" if v == "GOOD" else "short episode", "cause": ""})
        bit_marks: dict[int, dict[str, Any]] = {}
        start = {b: True for b in OMS_BITS}
        if rng.random() < 1 / 3:
            for bit in rng.sample(OMS_BITS, 4):
                start[bit] = False
                bit_marks.setdefault(rng.randint(2, 4), {})[bit] = True
        if rng.random() < 1 / 10:
            bit, a = rng.choice(OMS_BITS), rng.randint(1, n)
            bit_marks.setdefault(a, {})[bit] = rng.choice([False, None])
            bit_marks.setdefault(min(n, a + rng.randint(0, 20)) + 1, {})[bit] = True
        if rng.random() < 1 / 3:
            tail = rng.randint(max(1, n - 15), n)
            bit_marks.setdefault(tail, {}).update({"beam1_stable": False, "beam2_stable": False})
        oms = _ranges(n, start, bit_marks, lambda v: v)
        lumisections[str(run)] = {NAME: {"rr": rr, "oms": oms}}
        datasets.append({"run_number": run, "name": NAME, "dataset_attributes": {}})
    return {"runs": runs, "datasets": datasets, "lumisections": lumisections}


def many_runs(n_runs: int) -> ColumnarSnapshot:
    """``n_runs`` runs (a multiple of :data:`TEMPLATES`, or fewer): the template pool tiled with shifted run numbers."""
    pool = ColumnarSnapshot.from_snapshot(Snapshot.from_dict(template_snapshot(min(n_runs, TEMPLATES))))
    if n_runs <= TEMPLATES:
        return pool
    if n_runs % TEMPLATES:
        raise ValueError(f"--runs must be a multiple of {TEMPLATES}")
    return repeat_years(pool, n_runs // TEMPLATES, run_offset=TEMPLATES)


def json_snapshot(n_runs: int) -> dict[str, Any]:
    """The JSON layout of ``many_runs(n_runs)``: the same templates, run numbers shifted the same way."""
    pool = template_snapshot(min(n_runs, TEMPLATES))
    copies = max(1, n_runs // TEMPLATES)
    out: dict[str, Any] = {"runs": [], "datasets": [], "lumisections": {}}
    for c in range(copies):
        shift = c * TEMPLATES
        out["runs"] += [{**r, "run_number": r["run_number"] + shift} for r in pool["runs"]]
        out["datasets"] += [{**d, "run_number": d["run_number"] + shift} for d in pool["datasets"]]
        out["lumisections"].update({str(int(k) + shift): v for k, v in pool["lumisections"].items()})
    return out


CHILD = """
import sys, time
task, path = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
from dqquery.columnar import ColumnarSnapshot
t1 = time.perf_counter()
snap = ColumnarSnapshot.load(path)
t2 = time.perf_counter()
extra = ""
if task == "golden":
    from dqquery.query import parse
    from dqquery.vectorized import golden
    result = golden(parse(sys.argv[3]), snap, sys.argv[4])
    extra = result.n_lumisections
elif task == "convert":
    snap.save(sys.argv[3])
t3 = time.perf_counter()
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1]
print(int(hwm) / 1024, t1 - t0, t2 - t1, t3 - t2, extra)
"""


def measure(task: str, path: Path, *more: str) -> tuple[float, float, float, float, str]:
    """(peak RSS MB, import s, load s, golden/save s, LS selected) of a fresh process."""
    out = subprocess.run([sys.executable, "-c", CHILD, task, str(path), *more], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"child failed ({task} {path}):\n{out.stderr}")
    rss, t_import, t_load, t_task, *extra = out.stdout.split()
    return float(rss), float(t_import), float(t_load), float(t_task), " ".join(extra)


def interleaved(cases: dict[str, tuple[Any, ...]], rounds: int) -> dict[str, list[tuple[float, float, float, float, str]]]:
    samples: dict[str, list[Any]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, args in cases.items():
            samples[name].append(measure(*args))
    return samples


def report(name: str, rows: list[tuple[float, float, float, float, str]], goal: str = "") -> None:
    loads = [r[2] for r in rows]
    rss = [r[0] for r in rows]
    tasks = [r[3] for r in rows]
    print(f"  {name:<34} load best {min(loads):6.2f} s median {statistics.median(loads):6.2f} s   peak RSS {max(rss):6.0f} MB"
          f"   then {statistics.median(tasks):6.3f} s {rows[0][4]}{goal}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--json-runs", type=int, default=20_000, help="runs of the JSON -> columnar conversion (and twice that)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-years", action="store_true", help="skip the ten-year measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        cases: dict[str, tuple[Any, ...]] = {}
        for n in (args.runs // 2, args.runs):
            t0 = time.perf_counter()
            snap = many_runs(n)
            path = d / f"runs-{n}.dqc"
            snap.save(path)
            print(f"{n} runs: {snap.n_units} datasets, {len(snap.rr['unit'])} RR ranges ({len(snap.rr['unit']) / n:.2f} per run),"
                  f" {len(snap.oms['unit'])} OMS ranges ({len(snap.oms['unit']) / n:.2f} per run); file {path.stat().st_size / 1e6:.1f} MB;"
                  f" built and written in {time.perf_counter() - t0:.1f} s")
            del snap
            cases[f"load, {n} runs"] = ("load", path)
            cases[f"load + golden, {n} runs"] = ("golden", path, QUERY, NAME)
        if not args.skip_years:
            years = repeat_years(ColumnarSnapshot.from_snapshot(synthetic_year()), 10)
            path = d / "ten-years.dqc"
            years.save(path)
            print(f"ten years: {years.n_runs} runs, {len(years.rr['unit'])} RR ranges, {len(years.oms['unit'])} OMS ranges;"
                  f" file {path.stat().st_size / 1e6:.1f} MB")
            del years
            cases["load + golden, ten years"] = ("golden", path, QUERY, DATASET)
        for n in (args.json_runs, 2 * args.json_runs):
            path = d / f"runs-{n}.json.gz"
            Snapshot.from_dict(json_snapshot(n)).save(path)
            print(f"JSON snapshot of {n} runs: {path.stat().st_size / 1e6:.1f} MB gzip")
            cases[f"convert JSON, {n} runs"] = ("convert", path, str(d / f"converted-{n}.dqc"))
        print(f"fresh process per measurement, {args.rounds} interleaved rounds:")
        samples = interleaved(cases, args.rounds)
        goals = {f"load, {args.runs} runs": "   (goal <= 5 s, <= 1 GB)", "load + golden, ten years": "   (goal <= 250 MB)"}
        for name, rows in samples.items():
            report(name, rows, goals.get(name, ""))
        half, full = (statistics.median(r[2] for r in samples[f"load, {n} runs"]) for n in (args.runs // 2, args.runs))
        print(f"load time, {args.runs} runs / {args.runs // 2} runs: {full / half:.2f} (linear: 2)")
        per_run = statistics.median(r[2] + r[3] for r in samples[f"convert JSON, {2 * args.json_runs} runs"]) / (2 * args.json_runs)
        print(f"JSON -> columnar conversion: {per_run * 1e6:.0f} us per run, about {per_run * 1e6:.0f} s for 10^6 runs (extrapolated)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
