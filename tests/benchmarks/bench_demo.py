#!/usr/bin/env python3
"""Benchmark: ``dqquery demo`` end to end, from the JSON demo file vs from the columnar one (run on demand).

    python tests/benchmarks/bench_demo.py [--rounds N]

Each measurement is a fresh process doing what ``dqquery demo`` does (import the CLI, parse the 48-clause
query, load the demo snapshot from its file, evaluate, compare with the official 2018 file) with
:func:`dqquery.demo.run_demo` forced to the JSON file and the reference evaluator (``json``, the demo before
the columnar file) or to the columnar file and the vectorized evaluator (``columnar``, what ``dqquery demo``
does when numpy and pyarrow are installed). Rounds interleave the two, so machine drift hits both alike; printed:
medians and minimums of the whole process, of the load and of the evaluation, and their ratios. Then, in this
process, ``dqquery explain`` of the demo query: the reference on the JSON snapshot vs :func:`dqquery.vectorized.explain`
on the columnar one, interleaved, with whether the two reports are identical.
Needs ``dqquery[fast]`` (numpy, pyarrow) for the columnar side.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

SCRIPT = """
import json, sys, time
from dqquery.cli import build_parser
from dqquery.demo import DEMO_DATASET, DEMO_QUERY_2018, OFFICIAL_2018, run_demo
from dqquery.lumiranges import GoldenJSON
from dqquery.query import parse
build_parser()
run = run_demo(parse(DEMO_QUERY_2018), dataset=DEMO_DATASET, columnar={columnar})
assert run.result == GoldenJSON.load(OFFICIAL_2018)
print(json.dumps({{"load": run.load_seconds, "evaluate": run.evaluate_seconds}}))
"""


def measure(columnar: bool) -> dict[str, float]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", SCRIPT.format(columnar=columnar)], capture_output=True, text=True, check=True)
    figures = json.loads(out.stdout)
    figures["process"] = time.perf_counter() - t0
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    try:
        import numpy  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        print('skipped: the columnar side needs numpy and pyarrow: pip install "dqquery[fast]"')
        return 0
    samples: dict[str, list[dict[str, float]]] = {"json": [], "columnar": []}
    for _ in range(args.rounds):
        for name in samples:  # interleaved
            samples[name].append(measure(name == "columnar"))
    print(f"dqquery demo, {args.rounds} interleaved rounds (seconds: median / minimum)")
    for figure in ("process", "load", "evaluate"):
        row = {name: [s[figure] for s in runs] for name, runs in samples.items()}
        med = {name: statistics.median(v) for name, v in row.items()}
        low = {name: min(v) for name, v in row.items()}
        print(f"  {figure:<9} json {med['json']:.3f} / {low['json']:.3f}   columnar {med['columnar']:.3f} / {low['columnar']:.3f}"
              f"   json/columnar {med['json'] / med['columnar']:.1f}x (median), {low['json'] / low['columnar']:.1f}x (minimum)")
    explain_rounds(args.rounds)
    return 0


def explain_rounds(rounds: int) -> None:
    from dqquery.columnar import ColumnarSnapshot
    from dqquery.demo import DEMO_COLUMNAR_PATH, DEMO_DATASET, DEMO_PATH, DEMO_QUERY_2018
    from dqquery.explanation import explain
    from dqquery.snapshot import Snapshot
    from dqquery.vectorized import explain as columnar_explain

    snapshot, columns = Snapshot.load(DEMO_PATH), ColumnarSnapshot.load(DEMO_COLUMNAR_PATH)
    times: dict[str, list[float]] = {"reference": [], "vectorized": []}
    reports = {}
    for _ in range(rounds):
        for name, run in (("reference", lambda: explain(DEMO_QUERY_2018, snapshot, DEMO_DATASET)),
                          ("vectorized", lambda: columnar_explain(DEMO_QUERY_2018, columns, DEMO_DATASET))):
            t0 = time.perf_counter()
            reports[name] = run().to_dict()
            times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(v) for name, v in times.items()}
    print(f"explain, demo query, {rounds} interleaved rounds, warm: reference {med['reference'] * 1000:.0f} ms,"
          f" vectorized {med['vectorized'] * 1000:.0f} ms (medians), {med['reference'] / med['vectorized']:.1f}x;"
          f" identical reports: {reports['reference'] == reports['vectorized']}")


if __name__ == "__main__":
    sys.exit(main())
