#!/usr/bin/env python3
"""Benchmark: a golden JSON from a 50-million-row per-lumisection Parquet table (run on demand; not collected by pytest).

    python tests/benchmarks/bench_tables.py [--rows 50000000] [--rounds 3] [--quick] [--data-dir DIR] [--only NAMES]

Data: :func:`write_table`, a deterministic (seed 2026) synthetic DIALS-like table, one row per run x lumisection x
dataset x monitoring element: ``run_number``, ``ls_number``, ``dataset`` (2 names), ``me`` (12 monitoring
elements, 4 of them ``PixelPhase1/...``), ``entries`` (int64, Poisson around the element's rate times the
lumisection's luminosity), the RR flags ``tracker-strip`` and ``dt-dt`` (status text, dictionary-encoded, long stretches: GOOD runs with BAD episodes, EXCLUDED or
not-yet-certified (null) runs, STANDBY ramp-ups), the OMS bits ``bpix_ready`` and ``fpix_ready`` (booleans with
nulls: ramp-ups, trips, runs without OMS data) and ``recorded`` (float64, /pb). Runs have 20 to 3,000 lumisections
(log-normal, median 600). Written once in row groups of about a million rows with pyarrow (generation never holds
more than one chunk), zstd-compressed, cached as ``DIR/lumisections-ROWS-v1.parquet`` (default DIR: the system's
temporary folder).

Query (:data:`QUERY`): strip tracker GOOD, BPix ready, more than 100 entries, a pixel monitoring element, on the
ZeroBias dataset (:data:`DATASET`: ``golden_from_table``'s ``dataset=`` argument, as for ``dqquery.golden``; the
hand-written competitors compare the ``dataset`` column). A lumisection is selected when any of its rows matches (a
lumisection is in the golden JSON or not), and the selected lumisections are compressed into ranges (gaps and
islands).

Competitors, each in a fresh child process per measurement (rounds interleaved A B C D A B C D ...), each writing the
golden JSON {run: [[first, last], ...]} of the same file:
* ``dqquery duckdb``: ``dqquery.golden_from_table(QUERY, path, dataset=DATASET)`` (the default engine, DuckDB);
* ``polars``: a hand-written lazy polars query (``scan_parquet``, filter, unique run/lumisection, islands with
  polars expressions): the named baseline, every ratio is against it;
* ``pandas``: ``read_parquet`` of the needed columns only (nullable dtypes, so no column of Python objects), boolean
  masks, ``drop_duplicates``, islands by ``diff``/``cumsum``, ``groupby``;
* ``spark``: Spark local mode (``local[2]``, 4 GB driver) through ``dqquery.golden_from_table(..., engine="spark")``
  when ``dqquery.engines.ENGINES`` has it, else the query hand-written with the PySpark DataFrame API and a window;
* ``duckdb SQL``: the query hand-written as DuckDB SQL (the floor: what the engine does with no library around it).

Printed: per competitor the median query time (after imports and session start-up), the median whole-process time,
both as a ratio of polars', and the peak memory of the process tree (the child's ``VmHWM`` plus the ``VmHWM`` of its
live descendants, i.e. Spark's JVM, read just before the end: a sum of peaks, so an upper bound); then whether every
golden JSON is identical (the exit status is 1 when not). No competitor loads the table into Python objects: each
reads columns into its engine's own memory and only the ranges (a few thousand) become Python lists.

Last full run (2026-12-07, 50,000,016 rows, 111 MB zstd Parquet, 3 interleaved rounds, 2 cores shared with other jobs
(load average 4-10, so absolute times vary by 2x between rounds; the ratios of one run are the result)):

    competitor       query s  x polars  process s  x polars  peak RSS MB
    dqquery duckdb      7.20      0.91       7.72      0.91          268
    polars              7.89      1.00       8.44      1.00          392
    pandas             42.56      5.40      43.81      5.19         5322
    spark              44.08      5.59      67.42      7.98         2433
    duckdb SQL          2.03      0.26       2.26      0.27          196
    golden JSON: 2595 runs, 7054 ranges, 1,929,932 lumisections of 2,083,334
    all golden JSONs identical

Goal of the issue met: ``golden_from_table`` on DuckDB is within 2x of polars (0.91x). Spark ran through
``golden_from_table(engine="spark")``. Before ``golden_from_table`` selected ``DISTINCT`` rows, the same benchmark
measured it at 38.2 s, 2.71x polars (2026-12-06).

After that run, the first-call costs left the timed call (the case-folding table is a constant; the islands are read
from Arrow buffers, pyarrow's ``to_numpy`` imported pandas) and a per-lumisection table gets a one-window islands
query (``lumisection - ROW_NUMBER()``). Same file, same day, ``--only "dqquery duckdb,polars,duckdb SQL"``:

    competitor       query s  x polars  process s  x polars  peak RSS MB
    dqquery duckdb      2.56      0.71       2.87      0.75          269
    polars              3.60      1.00       3.84      1.00          493
    duckdb SQL          1.16      0.32       1.36      0.36          200

so ``golden_from_table`` is 2.2x the hand-written DuckDB query (was 3.5x): what is left is the two small queries
before the main one (schema, dataset names) and the general selection.

Decisions:
* Every competitor answers from the same Parquet file and reads it itself (nothing is pre-loaded): reading is part of
  what a user waits for, and it is where the engines differ most (column pruning, predicate push-down).
* ``me ~ "^PixelPhase1/"`` stays a regex in every competitor (``REGEXP_MATCHES``, ``str.contains``, ``rlike``) so that
  all do the same work; a hand-written ``LIKE 'PixelPhase1/%'`` would be faster everywhere.
* Rows are ordered run, lumisection, dataset, monitoring element (the rows of a lumisection together, as the
  lumisection-level export of ``dqquery.tables`` keeps them), so no competitor gets a pre-sorted subset for free.
* The process time includes the interpreter, the imports and (Spark) the JVM start: a CLI user pays it once per call.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

FORMAT = "v1"
SEED = 2026
DATASETS = ("/ZeroBias/Run2024C-PromptReco-v1/DQMIO", "/StreamExpress/Run2024C-Express-v1/DQMIO")
DATASET_SCALE = (1.0, 0.3)
MONITORING_ELEMENTS = (
    ("PixelPhase1/Tracks/PXBarrel/charge_PXLayer_1", 4000.0),
    ("PixelPhase1/Tracks/num_clusters_ontrack_PXBarrel", 6000.0),
    ("PixelPhase1/Phase1_MechanicalView/PXForward/digi_occupancy_per_SignedDiskCoord_per_SignedBladePanelCoord_PXRing_1", 2500.0),
    ("PixelPhase1/Tracks/PXForward/size_PXDisk_+1", 1500.0),
    ("SiStrip/MechanicalView/TIB/TotalNumberOfDigiProfile__TIB", 9000.0),
    ("SiStrip/MechanicalView/TOB/NumberOfClusterProfile__TOB", 9000.0),
    ("Tracking/TrackParameters/generalTracks/GeneralProperties/NumberOfTracks_GenTk", 3000.0),
    ("Muons/MuonRecoAnalyzer/GlbMuon_Glb_eta", 800.0),
    ("EcalBarrel/EBOccupancyTask/EBOT digi occupancy", 5000.0),
    ("Hcal/DigiTask/Occupancy/depth/depth1", 5000.0),
    ("CSC/CSCOfflineMonitor/recHits/hRHGlobalp1", 600.0),
    ("DT/02-Segments/Wheel0/Sector1/Station1/T0_FromSegm_W0_Sec1_St1", 200.0),
)
STATUSES = ("GOOD", "BAD", "STANDBY", "EXCLUDED", "NOTSET")
PIXEL_PREFIX = "^PixelPhase1/"
DATASET = DATASETS[0]
QUERY = f'tracker-strip == GOOD and bpix_ready and entries > 100 and me ~ "{PIXEL_PREFIX}"'
ROWS_PER_LUMISECTION = len(DATASETS) * len(MONITORING_ELEMENTS)
ROW_GROUP = 1_000_000
FIRST_RUN = 378_000

Golden = dict[int, list[list[int]]]


# ------------------------------------------------------------------------------------------ the table


def _lumisection_columns(rng: Any, lengths: list[int], first_run: int) -> tuple[dict[str, Any], int]:
    """Per-lumisection columns of consecutive runs of the given lengths; returns them and the next run number."""
    import numpy as np

    n = sum(lengths)
    run = np.empty(n, np.int64)
    ls = np.empty(n, np.int64)
    strip = np.zeros(n, np.int8)  # index into STATUSES; -1 is null
    dt = np.zeros(n, np.int8)
    bpix = np.ones(n, bool)
    fpix = np.ones(n, bool)
    oms_null = np.zeros(n, bool)
    lumi = np.empty(n, np.float64)
    at, number = 0, first_run
    for length in lengths:
        s = slice(at, at + length)
        run[s] = number
        ls[s] = np.arange(1, length + 1)
        lumi[s] = np.linspace(1.0, 0.5, length)  # luminosity levelling then decay
        u = rng.random(12)
        if u[0] < 0.03:
            strip[s] = STATUSES.index("EXCLUDED")
        elif u[0] < 0.05:
            strip[s] = -1  # not certified yet
        else:
            if u[1] < 0.15:  # a BAD episode
                a = at + int(rng.integers(0, length))
                strip[a : min(at + length, a + int(rng.integers(1, 61)))] = STATUSES.index("BAD")
            if u[2] < 0.05:
                strip[at : at + int(rng.integers(1, 6))] = STATUSES.index("STANDBY")
        dt[s] = STATUSES.index("GOOD") if u[3] > 0.1 else STATUSES.index("BAD")
        if u[4] < 1 / 3:  # ramp-up: pixels not ready, no beam yet
            k = int(rng.integers(1, 9))
            bpix[at : at + k] = False
            fpix[at : at + k] = False
            lumi[at : at + k] = 0.0
        if u[5] < 0.1:  # a BPix trip
            a = at + int(rng.integers(0, length))
            bpix[a : min(at + length, a + int(rng.integers(1, 21)))] = False
        if u[6] < 0.05:  # an FPix trip
            a = at + int(rng.integers(0, length))
            fpix[a : min(at + length, a + int(rng.integers(1, 21)))] = False
        if u[7] < 1 / 3:  # beam dumped before the run ended
            lumi[max(at, at + length - int(rng.integers(1, 16))) : at + length] = 0.0
        if u[8] < 0.01:
            oms_null[s] = True  # no OMS data for this run
        at += length
        number += 1 + int(rng.integers(0, 5))
    hiccup = rng.random(n) < 0.002  # a DAQ hiccup: almost no events in the lumisection
    lumi[hiccup] *= 0.005
    columns = {"run_number": run, "ls_number": ls, "tracker-strip": strip, "dt-dt": dt, "bpix_ready": bpix,
               "fpix_ready": fpix, "oms_null": oms_null, "lumi": lumi}
    return columns, number


def _row_table(ls_columns: dict[str, Any], rng: Any) -> Any:
    """The rows (run x lumisection x dataset x monitoring element) of per-lumisection columns, as an Arrow table."""
    import numpy as np
    import pyarrow as pa

    n_ls = len(ls_columns["run_number"])
    per = ROWS_PER_LUMISECTION
    n_me = len(MONITORING_ELEMENTS)

    def rows(a: Any) -> Any:
        return np.repeat(a, per)

    dataset = np.tile(np.repeat(np.arange(len(DATASETS), dtype=np.int32), n_me), n_ls)
    me = np.tile(np.arange(n_me, dtype=np.int32), n_ls * len(DATASETS))
    rates = np.array([r for _, r in MONITORING_ELEMENTS]) * np.array(DATASET_SCALE)[:, None]
    entries = rng.poisson(np.tile(rates.ravel(), n_ls) * rows(ls_columns["lumi"])).astype(np.int64)
    oms_null = rows(ls_columns["oms_null"])

    def status(codes: Any) -> Any:
        c = rows(codes).astype(np.int32)
        return pa.DictionaryArray.from_arrays(pa.array(c, mask=c < 0), pa.array(STATUSES))

    def names(codes: Any, values: tuple[str, ...]) -> Any:
        return pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(values))

    return pa.table(
        {
            "run_number": rows(ls_columns["run_number"]),
            "ls_number": rows(ls_columns["ls_number"]),
            "dataset": names(dataset, DATASETS),
            "me": names(me, tuple(name for name, _ in MONITORING_ELEMENTS)),
            "entries": entries,
            "tracker-strip": status(ls_columns["tracker-strip"]),
            "dt-dt": status(ls_columns["dt-dt"]),
            "bpix_ready": pa.array(rows(ls_columns["bpix_ready"]), mask=oms_null),
            "fpix_ready": pa.array(rows(ls_columns["fpix_ready"]), mask=oms_null),
            "recorded": pa.array(rows(ls_columns["lumi"]) * 0.04, mask=oms_null),
        }
    )


def write_table(path: Path, rows: int, seed: int = SEED) -> int:
    """Write the synthetic table of ``rows`` rows (rounded up to whole lumisections) to ``path``; returns the rows.

    Atomic: written to a sibling temporary file, then renamed."""
    import numpy as np
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    n_ls = math.ceil(rows / ROWS_PER_LUMISECTION)
    ls_per_group = max(1, ROW_GROUP // ROWS_PER_LUMISECTION)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    written, run_number, writer = 0, FIRST_RUN, None
    try:
        while written < n_ls:
            lengths: list[int] = []
            while written + sum(lengths) < n_ls and sum(lengths) < ls_per_group:
                length = int(min(3000, max(20, round(rng.lognormal(math.log(600), 0.7)))))
                lengths.append(min(length, n_ls - written - sum(lengths)))
            ls_columns, run_number = _lumisection_columns(rng, lengths, run_number)
            table = _row_table(ls_columns, rng)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=len(table))
            written += sum(lengths)
        assert writer is not None
        writer.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return n_ls * ROWS_PER_LUMISECTION


def cached_table(rows: int, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"lumisections-{rows}-{FORMAT}.parquet"
    if not path.exists():
        t0 = time.perf_counter()
        n = write_table(path, rows)
        print(f"wrote {n:,} rows to {path} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s")
    return path


# ------------------------------------------------------------------------------------------ competitors
# Each ``prepare_*(path)`` does the imports and start-up and returns the query to time: () -> {run: [[first, last]]}.


def _islands(rows: Any) -> Golden:
    """(run, first, last) rows sorted by run and first -> the golden mapping."""
    out: Golden = {}
    for run, first, last in rows:
        out.setdefault(int(run), []).append([int(first), int(last)])
    return out


def _from_golden_json(golden: Any) -> Golden:
    return {int(run): [[int(a), int(b)] for a, b in ranges] for run, ranges in golden.items()}


ISLANDS_SQL = """
WITH selected AS (SELECT DISTINCT run_number, ls_number FROM read_parquet(?) WHERE {condition}),
numbered AS (
  SELECT run_number, ls_number, ls_number - ROW_NUMBER() OVER (PARTITION BY run_number ORDER BY ls_number) AS island
  FROM selected)
SELECT run_number, MIN(ls_number) AS first, MAX(ls_number) AS last FROM numbered GROUP BY run_number, island ORDER BY 1, 2
"""
HAND_WRITTEN_CONDITION = (
    f"dataset = '{DATASET}' AND \"tracker-strip\" = 'GOOD' AND bpix_ready AND entries > 100"
    f" AND regexp_matches(me, '{PIXEL_PREFIX}')"
)


def prepare_duckdb_sql(path: str) -> Callable[[], Golden]:
    import duckdb

    con = duckdb.connect()
    sql = ISLANDS_SQL.format(condition=HAND_WRITTEN_CONDITION)
    return lambda: _islands(con.execute(sql, [path]).fetchall())


def prepare_dqquery_duckdb(path: str) -> Callable[[], Golden]:
    import dqquery

    return lambda: _from_golden_json(dqquery.golden_from_table(QUERY, path, engine="duckdb", dataset=DATASET))


def prepare_polars(path: str) -> Callable[[], Golden]:
    import polars as pl

    def query() -> Golden:
        ls = pl.col("ls_number")
        new_island = (ls.diff() != 1) | (pl.col("run_number").diff() != 0)
        ranges = (
            pl.scan_parquet(path)
            .filter(
                (pl.col("dataset") == DATASET)
                & (pl.col("tracker-strip") == "GOOD")
                & pl.col("bpix_ready")
                & (pl.col("entries") > 100)
                & pl.col("me").cast(pl.String).str.contains(PIXEL_PREFIX)
            )
            .select("run_number", "ls_number")
            .unique()
            .sort("run_number", "ls_number")
            .with_columns(island=new_island.fill_null(True).cum_sum())
            .group_by("island")
            .agg(pl.col("run_number").first(), ls.min().alias("first"), ls.max().alias("last"))
            .sort("run_number", "first")
            .select("run_number", "first", "last")
            .collect()
        )
        return _islands(ranges.iter_rows())

    return query


PANDAS_COLUMNS = ["run_number", "ls_number", "dataset", "me", "entries", "tracker-strip", "bpix_ready"]


def prepare_pandas(path: str) -> Callable[[], Golden]:
    import pandas as pd

    def query() -> Golden:
        df = pd.read_parquet(path, columns=PANDAS_COLUMNS, dtype_backend="numpy_nullable")
        mask = (
            (df["dataset"] == DATASET)
            & (df["tracker-strip"] == "GOOD")
            & df["bpix_ready"].fillna(False)
            & (df["entries"] > 100)
            & df["me"].str.contains(PIXEL_PREFIX, regex=True)
        )
        selected = df.loc[mask.fillna(False).astype(bool), ["run_number", "ls_number"]].drop_duplicates()
        del df, mask
        selected = selected.sort_values(["run_number", "ls_number"])
        new_island = (selected["ls_number"].diff() != 1) | (selected["run_number"].diff() != 0)
        island = new_island.fillna(True).astype(bool).cumsum()
        ranges = selected.groupby(island.to_numpy()).agg(
            run_number=("run_number", "first"), first=("ls_number", "min"), last=("ls_number", "max")
        )
        return _islands(ranges.itertuples(index=False))

    return query


def _spark_session() -> Any:
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master("local[2]")
        .appName("dqquery-bench-tables")
        .config("spark.driver.memory", "4g")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


def spark_engine_available() -> bool:
    from dqquery.engines import ENGINES

    return "spark" in ENGINES


def prepare_spark(path: str) -> Callable[[], Golden]:
    import dqquery

    spark = _spark_session()
    spark.sparkContext.setLogLevel("ERROR")
    if spark_engine_available():
        return lambda: _from_golden_json(dqquery.golden_from_table(QUERY, path, engine="spark", dataset=DATASET))
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    def query() -> Golden:
        selected = (
            spark.read.parquet(path)
            .where(
                (F.col("dataset") == DATASET)
                & (F.col("`tracker-strip`") == "GOOD")
                & F.col("bpix_ready")
                & (F.col("entries") > 100)
                & F.col("me").rlike(PIXEL_PREFIX)
            )
            .select("run_number", "ls_number")
            .distinct()
        )
        numbered = selected.withColumn(
            "island", F.col("ls_number") - F.row_number().over(Window.partitionBy("run_number").orderBy("ls_number"))
        )
        ranges = (
            numbered.groupBy("run_number", "island")
            .agg(F.min("ls_number").alias("first"), F.max("ls_number").alias("last"))
            .orderBy("run_number", "first")
            .select("run_number", "first", "last")
        )
        return _islands(ranges.collect())

    return query


COMPETITORS: dict[str, Callable[[str], Callable[[], Golden]]] = {
    "dqquery duckdb": prepare_dqquery_duckdb,
    "polars": prepare_polars,
    "pandas": prepare_pandas,
    "spark": prepare_spark,
    "duckdb SQL": prepare_duckdb_sql,
}
BASELINE = "polars"


# ------------------------------------------------------------------------------------------ measurement


def _vm_hwm_kb(pid: int | str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next((int(line.split()[1]) for line in f if line.startswith("VmHWM")), 0)
    except OSError:
        return 0  # the process ended meanwhile


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            children = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            out += [child, *_descendants(child)]
    return out


def tree_peak_rss_mb() -> float:
    """This process's peak RSS plus the peak RSS of its live descendants (Spark's JVM), in MB."""
    me = os.getpid()
    return sum(_vm_hwm_kb(pid) for pid in [me, *_descendants(me)]) / 1024


def child(name: str, path: str, output: str) -> None:
    t0 = time.perf_counter()
    query = COMPETITORS[name](path)
    t1 = time.perf_counter()
    golden = query()
    t2 = time.perf_counter()
    rss = tree_peak_rss_mb()
    Path(output).write_text(json.dumps({str(run): ranges for run, ranges in golden.items()}))
    print(json.dumps({"setup": t1 - t0, "query": t2 - t1, "rss_mb": rss}))


def measure(name: str, path: Path, output: Path) -> dict[str, float]:
    """Run one competitor in a fresh process: its setup and query times, process wall time and peak RSS."""
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", name, "--table", str(path), "--output", str(output)],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"{name} failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process"] = wall
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="rows of the table (default 50,000,000; --quick: 2,000,000)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3; --quick: 2)")
    parser.add_argument("--quick", action="store_true", help="a 2-million-row table and 2 rounds")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "dqquery-bench-tables")
    parser.add_argument("--only", default=",".join(COMPETITORS), help=f"comma-separated competitors (of {', '.join(COMPETITORS)})")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--table", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.table, args.output)
        return 0
    rows = args.rows or (2_000_000 if args.quick else 50_000_000)
    rounds = args.rounds or (2 if args.quick else 3)
    names = [n.strip() for n in args.only.split(",")]
    unknown = [n for n in names if n not in COMPETITORS]
    if unknown:
        parser.error(f"unknown competitor(s) {unknown}; choose from {list(COMPETITORS)}")

    import dqquery

    print(f"query: {QUERY}\n  as DuckDB SQL: {dqquery.to_sql(QUERY, 'duckdb')}\n  as Spark SQL:  {dqquery.to_sql(QUERY, 'spark')}")
    print(f"dataset: {DATASET}; spark: {'golden_from_table' if spark_engine_available() else 'hand-written PySpark'}")
    path = cached_table(rows, args.data_dir)
    import pyarrow.parquet as pq

    n_rows = pq.ParquetFile(path).metadata.num_rows
    print(f"table: {path} ({n_rows:,} rows, {path.stat().st_size / 1e6:.0f} MB); {rounds} interleaved rounds,"
          " a fresh process per measurement")
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    outputs: dict[str, Any] = {}  # competitor -> its golden mapping (parsed), or None when its rounds disagree
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for name in names:
                out = Path(tmp) / f"{name.replace(' ', '_')}-{r}.json"
                samples[name].append(measure(name, path, out))
                golden = json.loads(out.read_text())
                if outputs.setdefault(name, golden) != golden:
                    outputs[name] = None
                print(f"  round {r + 1} {name:<15} query {samples[name][-1]['query']:7.2f} s", flush=True)
    med = {name: {key: statistics.median(s[key] for s in rows_) for key in ("setup", "query", "process")}
           for name, rows_ in samples.items()}
    base = med.get(BASELINE)
    print(f"{'competitor':<15} {'query s':>8} {'x polars':>9} {'process s':>10} {'x polars':>9} {'peak RSS MB':>12}")
    for name in names:
        m = med[name]
        q_ratio = f"{m['query'] / base['query']:9.2f}" if base else f"{'-':>9}"
        p_ratio = f"{m['process'] / base['process']:9.2f}" if base else f"{'-':>9}"
        print(f"{name:<15} {m['query']:8.2f} {q_ratio} {m['process']:10.2f} {p_ratio} {max(s['rss_mb'] for s in samples[name]):12.0f}")
    reference = outputs[names[0]]
    identical = reference is not None and all(o == reference for o in outputs.values())
    if reference is not None:
        n_ls = sum(b - a + 1 for ranges in reference.values() for a, b in ranges)
        n_ranges = sum(len(ranges) for ranges in reference.values())
        print(f"golden JSON: {len(reference)} runs, {n_ranges} ranges, {n_ls:,} lumisections of {n_rows // ROWS_PER_LUMISECTION:,}")
    print("all golden JSONs identical" if identical else "GOLDEN JSONS DIFFER: " + ", ".join(
        f"{n}: {'rounds disagree' if o is None else f'{len(o)} runs'}" for n, o in outputs.items()))
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
