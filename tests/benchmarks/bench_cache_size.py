"""Cache size of a year's fetch: the demo year fetched from the fake Run Registry, cache size / snapshot size.

Run on demand:  python tests/benchmarks/bench_cache_size.py
Target (issue 11): the cache at most 3x the snapshot it produced. Measured 2026-12-06: plain JSON text (cache
schema 1) 159 MB for a 312 KB snapshot (510x); compressed columnar storage (schema 2) 0.73 MB (2.3x).
The size is what stays on disk after the cache is closed.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from dqquery.demo import DEMO_DATASET, DEMO_QUERY_2018, load_demo
from dqquery.fetch import fetch_snapshot
from dqquery.sources import Cache, RunRegistryClient
from dqquery.testing import run_registry

TARGET_RATIO = 3.0


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with run_registry(load_demo()) as server:
            cache = Cache(folder / "cache.sqlite")
            t0 = time.perf_counter()
            snapshot = fetch_snapshot(DEMO_QUERY_2018, dataset=DEMO_DATASET, rr=RunRegistryClient(server.url, cache=cache),
                                      progress=False)
            elapsed = time.perf_counter() - t0
            answers = len(cache)
            cache.close()
        snapshot.save(folder / "snapshot.json.gz")
        cache_size = sum(p.stat().st_size for p in folder.iterdir() if p.name.startswith("cache.sqlite"))
        snapshot_size = (folder / "snapshot.json.gz").stat().st_size
    ratio = cache_size / snapshot_size
    print(f"demo year: {len(snapshot.runs)} runs, {snapshot.n_lumisections()} lumisections, {answers} cached answers, "
          f"fetched in {elapsed:.1f} s")
    print(f"snapshot {snapshot_size} bytes, cache {cache_size} bytes: {ratio:.2f}x (target <= {TARGET_RATIO:g}x)")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
