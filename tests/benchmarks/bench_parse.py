"""Parse speed: dqquery's LALR parser + checker against Lark's Earley parser on the same grammar.

Run on demand:  python tests/benchmarks/bench_parse.py
Target: a 10-clause query parsed and checked in under 250 microseconds (median), at least 10x faster than Earley.
Also printed: the fast LALR driver (dqquery.lalr) against Lark's own LALR driver, both building the typed AST with the
same transformer from the same tables (the driver's reason to exist: about 2x).
"""

from __future__ import annotations

import statistics
import time

import dqquery
from dqquery.parser import _fast, build_parser

QUERY_10 = (
    'run_number in 309000..310000 and tracker-strip == GOOD and tracker-pixel == GOOD and hlt_key ~ "Collisions" '
    'and (ecal-ecal == GOOD or ecal-es == GOOD) and not class like "%Cosmics%" and b_field >= 3.7 '
    "and fill_number > 100 and run_number in [309001, 309005, 309010] and bpix_ready"
)


def median_us(fn, repeat: int = 15, number: int = 300) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t0) / number * 1e6)
    return statistics.median(samples)


def main() -> None:
    dqquery.parse(QUERY_10)  # build the cached parser
    earley = build_parser("earley")
    lalr_tree_only = build_parser("lalr", with_transformer=False)
    lark_lalr_ast = build_parser("lalr")
    fast = _fast()
    assert fast.parse(QUERY_10) == lark_lalr_ast.parse(QUERY_10)
    # Interleaved pairs: the driver and Lark's LALR driver, both to the typed AST (unchecked).
    driver, lark_driver = [], []
    for _ in range(7):
        driver.append(median_us(lambda: fast.parse(QUERY_10), repeat=3))
        lark_driver.append(median_us(lambda: lark_lalr_ast.parse(QUERY_10), repeat=3))
    ours = median_us(lambda: dqquery.parse(QUERY_10))
    lalr_raw = median_us(lambda: lalr_tree_only.parse(QUERY_10))
    base = median_us(lambda: earley.parse(QUERY_10), number=30)
    print(f"10-clause query: {len(dqquery.ast.predicates_of(dqquery.parse(QUERY_10)))} predicates")
    print(f"dqquery.parse (LALR + typed AST + check): {ours:8.1f} us   (target < 250 us)")
    print(f"Lark LALR, parse tree only:               {lalr_raw:8.1f} us")
    d, ld = statistics.median(driver), statistics.median(lark_driver)
    print(f"fast LALR driver -> AST (unchecked):      {d:8.1f} us")
    print(f"Lark's LALR driver -> AST (unchecked):    {ld:8.1f} us   fast driver {ld / d:4.1f}x faster")
    print(f"Lark Earley, parse tree only (baseline):  {base:8.1f} us")
    print(f"speed-up over Earley: {base / ours:5.1f}x   (target >= 10x)")


if __name__ == "__main__":
    main()
