"""Lumisection fetch speed: dqquery's bounded concurrency against one run after another (the official client).

Run on demand:  python tests/benchmarks/bench_fetch.py
Setup: a fake Run Registry on 127.0.0.1 answering every request after 50 ms; the RR lumisection ranges of
200 runs (one request per run). Target: dqquery (default 8 workers) at least 6x faster than sequential.
Both runs are checked against the server's request log: every run asked exactly once, nothing lost.
"""

from __future__ import annotations

import sys
import time
from collections import Counter

from dqquery.sources import RunRegistryClient
from dqquery.sources.http import run_concurrently
from dqquery.testing import run_registry, sample_snapshot

N_RUNS = 200
LATENCY = 0.05


def check_log(server, runs: list[int]) -> None:
    asked = Counter(r.json()["run_number"] for r in server.log.matching("/lumisections/rr_lumisection_ranges"))
    assert set(asked) == set(runs), "a request was lost"
    assert max(asked.values()) == 1, "a request was repeated"
    assert all(r.status == 200 for r in server.log)


def main() -> int:
    snapshot = sample_snapshot(N_RUNS, ls_per_run=10, datasets=("online",), luminosity=False)
    runs = [r.run_number for r in snapshot.runs]
    with run_registry(snapshot) as server:
        server.faults.set_latency(LATENCY)

        client = RunRegistryClient(server.url)
        t0 = time.perf_counter()
        sequential = {run: client.lumisection_ranges(run) for run in runs}  # as runregistry.get_lumisection_ranges
        t_sequential = time.perf_counter() - t0
        check_log(server, runs)

        server.log.clear()
        client = RunRegistryClient(server.url)
        t0 = time.perf_counter()
        concurrent, errors = run_concurrently(runs, client.lumisection_ranges, workers=client.workers, progress=False)
        t_concurrent = time.perf_counter() - t0
        check_log(server, runs)

    assert not errors and concurrent == sequential
    ratio = t_sequential / t_concurrent
    print(f"{N_RUNS} runs, {LATENCY * 1000:.0f} ms latency per request")
    print(f"sequential (official client style): {t_sequential:.2f} s")
    print(f"dqquery, {client.workers} workers:            {t_concurrent:.2f} s")
    print(f"speed-up: {ratio:.1f}x (target >= 6x); requests checked: none lost, none repeated")
    return 0 if ratio >= 6 else 1


if __name__ == "__main__":
    sys.exit(main())
