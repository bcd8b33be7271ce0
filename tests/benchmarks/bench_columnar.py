#!/usr/bin/env python3
"""Benchmark: the vectorized evaluator on columnar snapshots (run on demand; not collected by pytest).

    python tests/benchmarks/bench_columnar.py [--quick] [--no-rss]

Data and query: the synthetic benchmark year and 50-clause query of ``bench_golden.py``. Printed from one run:

* golden: ``dqquery.vectorized.golden`` vs ``dqquery.golden`` (the reference) vs json-logic-qubit vs datalogic-py
  (when installed), interleaved round by round so machine drift hits every engine alike; medians, ratios, and
  whether every output is identical;
* load time of the benchmark year and of the demo year: JSON (gzip and plain) vs the columnar file (Arrow IPC
  members with lz4, the default; uncompressed; zstd; Parquet members);
* one query from a file in a warm interpreter: the columnar file loaded and evaluated by dqquery vs the same
  tables read by polars (Arrow IPC and Parquet members) with the query written by hand (``polars_golden``);
* peak RSS of "load + golden" in a fresh process per measurement, at 1 and 10 years, for the JSON snapshot with
  ``dqquery.golden`` and for the columnar file with ``dqquery.vectorized.golden``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
from bench_golden import QUERY, QUERY_BITS, RR_FLAGS, evaluated_objects, subset, synthetic_year  # noqa: E402

from dqquery.columnar import Column, ColumnarSnapshot, _from_zip, _to_zip  # noqa: E402
from dqquery.demo import DEMO_PATH  # noqa: E402
from dqquery.evaluator import golden as reference_golden  # noqa: E402
from dqquery.lumiranges import GoldenJSON  # noqa: E402
from dqquery.query import parse  # noqa: E402
from dqquery.snapshot import Snapshot  # noqa: E402
from dqquery.vectorized import golden as columnar_golden  # noqa: E402

DATASET = "/ReReco/Run2018__UL2019/DQM"
RUN_OFFSET = 10_000  # run numbers of year k are shifted by k * RUN_OFFSET


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def best_of(fn: Callable[[], Any], repeats: int) -> float:
    return min(timed(fn)[0] for _ in range(repeats))


def interleaved(engines: dict[str, Callable[[], Any]], rounds: dict[str, int]) -> tuple[dict[str, float], dict[str, Any]]:
    """Median time of every engine; round ``r`` runs each engine that still has rounds to do, in turn."""
    times: dict[str, list[float]] = {name: [] for name in engines}
    results: dict[str, Any] = {}
    for r in range(max(rounds.values())):
        for name, fn in engines.items():
            if r < rounds[name]:
                t, results[name] = timed(fn)
                times[name].append(t)
    return {name: statistics.median(ts) for name, ts in times.items()}, results


# ------------------------------------------------------------------------------------------ many years


def repeat_years(col: ColumnarSnapshot, years: int, run_offset: int = RUN_OFFSET) -> ColumnarSnapshot:
    """``years`` copies of a columnar snapshot, run numbers shifted by ``run_offset`` per copy."""

    def tile(table: dict[str, Any], index_cols: dict[str, int]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, arr in table.items():
            if isinstance(arr, Column):
                out[name] = Column(arr.kind, np.tile(arr.data, years), np.tile(arr.absent, years), arr.values)
            elif name in index_cols:
                step = index_cols[name]
                out[name] = np.concatenate([arr + k * step for k in range(years)])
            else:
                out[name] = np.tile(arr, years)
        return out

    n_runs, n_units = col.n_runs, col.n_units
    runs = tile(col.runs, {"run_number": run_offset})
    units = tile(col.units, {"run": n_runs})
    positions = col.units["dataset_position"]
    n_ds = int(positions.max()) + 1 if len(positions) else 0
    units["dataset_position"] = np.concatenate([np.where(positions >= 0, positions + k * n_ds, -1) for k in range(years)])
    return ColumnarSnapshot(
        runs=runs,
        units=units,
        rr=tile(col.rr, {"unit": n_units}),
        oms=tile(col.oms, {"unit": n_units}),
        luminosity=tile(col.luminosity, {"unit": n_units}),
        names=col.names,
        meta=col.meta,
    )


RSS_SCRIPT = """
import sys, time
kind, path = sys.argv[1], sys.argv[2]
query, dataset = sys.argv[3], sys.argv[4]
t0 = time.perf_counter()
if kind == "json":
    from dqquery.evaluator import golden
    from dqquery.snapshot import Snapshot as Loader
else:
    from dqquery.columnar import ColumnarSnapshot as Loader
    from dqquery.vectorized import golden
from dqquery.query import parse
node = parse(query)
t1 = time.perf_counter()
snap = Loader.load(path)
t2 = time.perf_counter()
result = golden(node, snap, dataset)
t3 = time.perf_counter()
# VmHWM: this process's own peak RSS (ru_maxrss would include the parent's, inherited across fork and exec).
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1]
print(int(hwm) / 1024, t1 - t0, t2 - t1, t3 - t2, result.n_lumisections)
"""


def measure_rss(kind: str, path: Path) -> tuple[float, float, float, float, int]:
    """(peak RSS MB, import s, load s, golden s, LS selected) of a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", RSS_SCRIPT, kind, str(path), QUERY, DATASET], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), float(out[1]), float(out[2]), float(out[3]), int(out[4])


# ------------------------------------------------------------------------------------------ polars


def polars_golden(tables: Path, suffix: str) -> GoldenJSON:
    """The benchmark query written by hand in polars over the columnar file's members (what a user would write):
    read the tables, filter runs, datasets, RR and OMS ranges, join RR and OMS ranges of a unit, intersect."""
    import polars as pl

    read = pl.read_ipc if suffix == "arrow" else pl.read_parquet
    runs = read(tables / f"runs.{suffix}").with_row_index("run")
    units = read(tables / f"units.{suffix}").with_row_index("unit")
    names = json.loads((tables / "meta.json").read_text())["names"]
    pattern = r"/ReReco/Run2018..UL2019/DQM"  # SIMILAR TO "/ReReco/Run2018__UL2019/DQM": each _ is one character
    wanted = [i for i, n in enumerate(names) if re.fullmatch(pattern, n)]
    good_runs = runs.filter(
        pl.col("run.oms.energy").is_between(6000, 7000)
        & (pl.col("run.oms.b_field") >= 3.7)
        & pl.col("run.oms.injection_scheme").cast(pl.String).str.contains("25ns", literal=True)
        & ~pl.col("run.oms.hlt_key").cast(pl.String).str.contains("WMass", literal=True)
        & (pl.col("run.oms.recorded_lumi") >= 0.08)
        & pl.col("run.rr.class").cast(pl.String).is_in(["Collisions18", "Collisions17"])
    ).select("run", "run_number")
    good_units = (
        units.filter(pl.col("name").is_in(wanted) & ~pl.col("deleted") & pl.col("has_data"))
        .join(good_runs, on="run")
        .select("unit", "run_number")
    )
    rr = read(tables / f"rr.{suffix}").filter(pl.all_horizontal([pl.col(f).cast(pl.String) == "GOOD" for f in RR_FLAGS[:16]]))
    oms = read(tables / f"oms.{suffix}").filter(pl.all_horizontal([pl.col(b) for b in QUERY_BITS]))
    pieces = (
        rr.select("unit", "start", "end")
        .join(good_units, on="unit")
        .join(oms.select("unit", pl.col("start").alias("o_start"), pl.col("end").alias("o_end")), on="unit")
        .select("run_number", pl.max_horizontal("start", "o_start").alias("a"), pl.min_horizontal("end", "o_end").alias("b"))
        .filter(pl.col("a") <= pl.col("b"))
    )
    mapping: dict[int, list[list[int]]] = {}
    for run, a, b in pieces.iter_rows():
        mapping.setdefault(run, []).append([a, b])
    return GoldenJSON(mapping)


# ------------------------------------------------------------------------------------------ main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the year and fewer rounds")
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-RSS subprocesses (1 and 10 years)")
    args = parser.parse_args()
    year = synthetic_year()
    if args.quick:
        year = subset(year, 0.1)
    node = parse(QUERY)
    t_decode, col = timed(lambda: ColumnarSnapshot.from_snapshot(year))
    print(f"data: {len(year.runs)} runs, {year.n_lumisections()} joined lumisections; query: {len(node.operands)} clauses;"
          f" decoded to columns in {t_decode * 1e3:.0f} ms")

    # ---- golden, interleaved
    columnar_golden(node, col, DATASET)  # warm-up (both engines cache the parsed query)
    reference_golden(node, year, DATASET)
    engines: dict[str, Callable[[], Any]] = {
        "columnar": lambda: columnar_golden(node, col, DATASET),
        "dqquery.golden": lambda: reference_golden(node, year, DATASET),
    }
    n = 5 if args.quick else 3
    rounds = {"columnar": 15 * n, "dqquery.golden": 5 * n}
    import json_logic

    from dqquery.jsonlogic_engine import js_truthy
    from dqquery.targets.jsonlogic import to_jsonlogic

    rule = to_jsonlogic(node)
    objects = evaluated_objects(year)
    engines["json-logic-qubit"] = lambda: GoldenJSON.from_pairs(
        (run, ls) for run, ls, obj in objects if js_truthy(json_logic.jsonLogic(rule, obj))
    )
    rounds["json-logic-qubit"] = n
    try:
        import datalogic_py
    except ImportError:
        print("datalogic-py: not installed (pip install datalogic-py); skipped")
    else:
        compiled = datalogic_py.Engine().compile(rule)
        engines["datalogic-py"] = lambda: GoldenJSON.from_pairs(
            (run, ls) for run, ls, obj in objects if js_truthy(compiled.evaluate(obj))
        )
        rounds["datalogic-py"] = n
    medians, results = interleaved(engines, rounds)
    base = medians["columnar"]
    print("golden on the benchmark year (interleaved rounds; median):")
    for name, t in medians.items():
        print(f"  {name:<18} {t * 1e3:10.2f} ms over {rounds[name]:>2} runs   {t / base:8.1f}x columnar")
    identical = all(r == results["columnar"] for r in results.values())
    print(f"  selected {results['columnar'].n_lumisections} LS in {results['columnar'].n_ranges} ranges;"
          f" all outputs identical: {identical}")

    # ---- load time
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for label, snap, json_path in (("benchmark year", year, None), ("demo year", None, DEMO_PATH)):
            if json_path is None:
                json_path = d / "year.json.gz"
                snap.save(json_path)
            plain = d / "plain.json"
            plain.write_bytes(gzip.decompress(Path(json_path).read_bytes()))
            this = col if snap is not None else ColumnarSnapshot.load(json_path)
            print(f"load time, {label} (best of 5; file size):")
            for name, path in (("JSON .json.gz", Path(json_path)), ("JSON plain", plain)):
                t = best_of(lambda p=path: Snapshot.load(p), 3)
                print(f"  {name:<28} {t * 1e3:8.1f} ms  {path.stat().st_size / 1e6:6.2f} MB")
            for fmt, comp in (("arrow", "lz4"), ("arrow", None), ("arrow", "zstd"), ("parquet", "zstd"), ("parquet", None)):
                path = d / f"year-{fmt}-{comp}.dqc"
                path.write_bytes(_to_zip(this, fmt, comp))
                t = best_of(lambda p=path: _from_zip(p, allow_parquet=True), 5)  # Parquet members: the benchmark only
                default = "  (default)" if (fmt, comp) == ("arrow", "lz4") else ""
                print(f"  columnar {fmt}/{comp or 'none':<14} {t * 1e3:8.1f} ms  {path.stat().st_size / 1e6:6.2f} MB{default}")

        # ---- one query from a file, warm interpreter: dqquery (columnar file) vs polars (same tables, query by hand)
        try:
            import polars  # noqa: F401
        except ImportError:
            print("polars: not installed; skipped")
        else:
            print("one query from a file, warm interpreter (load + golden; median of 9, interleaved):")
            (d / "bench.dqc").write_bytes(_to_zip(col))
            (d / "bench-pq.dqc").write_bytes(_to_zip(col, "parquet", "zstd"))
            engines = {"dqquery columnar file": lambda: columnar_golden(node, ColumnarSnapshot.load(d / "bench.dqc"), DATASET)}
            for suffix, file_name in (("arrow", "bench.dqc"), ("parquet", "bench-pq.dqc")):
                folder = d / f"tables-{suffix}"
                with zipfile.ZipFile(d / file_name) as zf:
                    zf.extractall(folder)
                engines[f"polars, {suffix} members"] = lambda f=folder, s=suffix: polars_golden(f, s)
            for fn in engines.values():
                fn()  # warm-up
            medians, outputs = interleaved(engines, {name: 9 for name in engines})
            base = medians["dqquery columnar file"]
            for name, t in medians.items():
                print(f"  {name:<24} {t * 1e3:8.1f} ms   {t / base:6.2f}x dqquery")
            same = all(o == results["columnar"] for o in outputs.values())
            print(f"  identical to dqquery.golden: {same}")
            identical = identical and same

        # ---- peak RSS in fresh processes
        if not args.no_rss:
            print("peak RSS of load + golden, fresh process each (peak RSS; imports, load, golden; LS selected):")
            for years in (1, 10):
                many = repeat_years(col, years)
                col_path = d / f"{years}y.dqc"
                many.save(col_path)
                json_path = d / f"{years}y.json.gz"
                many.to_snapshot().save(json_path)
                for kind, path in (("json", json_path), ("columnar", col_path)):
                    rss, t_import, t_load, t_golden, n_ls = measure_rss(kind, path)
                    print(f"  {years:>2} year(s) {kind:<9} {rss:8.0f} MB   imports {t_import:5.2f} s  load {t_load:6.2f} s"
                          f"  golden {t_golden:6.3f} s  {n_ls} LS")
    print("all outputs identical" if identical else "OUTPUTS DIFFER")
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
