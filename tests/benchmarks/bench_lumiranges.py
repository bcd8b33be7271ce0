"""GoldenJSON speed on the real 2016 and 2018 files, against the naive baseline of Python sets of pairs.

Run on demand:  python tests/benchmarks/bench_lumiranges.py
Expectation: set operations in milliseconds (range sweeps), far faster than expanding to (run, ls) pairs;
contains_many on 10^6 entries well under a second.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from dqquery.lumiranges import GoldenJSON

DATA = Path(__file__).resolve().parents[1] / "data" / "golden"


def median_ms(fn, repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples)


def main() -> None:
    g2016 = GoldenJSON.load(DATA / "Cert_271036-284044_13TeV_Legacy2016_Collisions16_JSON.txt")
    g2018 = GoldenJSON.load(DATA / "Cert_314472-325175_13TeV_Legacy2018_Collisions18_JSON.txt")
    h = g2018 - GoldenJSON.from_pairs((r, 5) for r in g2018.runs)
    s2018, sh, s2016 = set(g2018), set(h), set(g2016)
    print(f"2018: {g2018!r}")
    for name, ours, naive in (
        ("and", lambda: g2018 & h, lambda: s2018 & sh),
        ("or", lambda: g2018 | g2016, lambda: s2018 | s2016),
        ("sub", lambda: g2018 - h, lambda: s2018 - sh),
    ):
        a, b = median_ms(ours), median_ms(naive)
        print(f"{name:4s} GoldenJSON {a:7.2f} ms   set of pairs (baseline, sets prebuilt) {b:7.2f} ms   ratio {b / a:5.1f}x")
    rng = np.random.default_rng(1)
    runs = rng.choice(np.array(g2018.runs, dtype=np.uint32), size=1_000_000)
    lumis = rng.integers(1, 2500, size=1_000_000, dtype=np.uint32)
    t_many = median_ms(lambda: g2018.contains_many(runs, lumis), repeat=3)
    pairs = list(zip(runs[:100_000].tolist(), lumis[:100_000].tolist()))
    t_loop = median_ms(lambda: [p in g2018 for p in pairs], repeat=3) * 10
    print(f"contains_many on 10^6 entries: {t_many:7.1f} ms   `in` loop (baseline, extrapolated) {t_loop:7.1f} ms   ratio {t_loop / t_many:5.1f}x")


if __name__ == "__main__":
    main()
