#!/usr/bin/env python3
"""Benchmark: dqquery's range evaluator vs json-logic engines on a synthetic full year (run on demand).

    python tests/benchmarks/bench_golden.py [--quick]

Data: a deterministic synthetic year (seed 2018): ~480 runs, ~230,000 lumisections, 20 RR flags, 30 OMS bits,
RR-like range structure (flags go BAD in short episodes, DCS bits ramp up one by one at the start of a run and
trip now and then, beams are lost in the tail). Query: 50 clauses modelled on RR's sample golden-JSON rule.

Printed from one run: median time of ``dqquery.golden``; of json-logic-qubit evaluating ``to_jsonlogic(query)``
on RR's evaluated object of every joined lumisection (objects built outside the timing); of datalogic-py's
compiled rule on the same objects when the package is installed; the ratios; whether all outputs are identical;
peak memory of the evaluator (tracemalloc, separate untimed run) and the process's peak RSS; and how the
evaluator's time grows from a tenth of the year to the full year.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from dqquery.evaluator import golden, intersect_ranges
from dqquery.lumiranges import GoldenJSON
from dqquery.query import parse
from dqquery.snapshot import Snapshot

RR_FLAGS = (
    "csc-csc dt-dt ecal-ecal ecal-es hcal-hcal hlt-hlt l1t-l1tcalo l1t-l1tmu rpc-rpc tracker-pixel tracker-strip "
    "tracker-track egamma-egamma muon-muon jetmet-jetmet lumi-lumi castor-castor ctpps-ctpps btag-btag tau-tau"
).split()
OMS_BITS = (
    "cms_active bpix_ready fpix_ready tibtid_ready tob_ready tecp_ready tecm_ready ebp_ready ebm_ready eep_ready "
    "eem_ready esp_ready esm_ready hbhea_ready hbheb_ready hbhec_ready hf_ready ho_ready dtp_ready dtm_ready "
    "dt0_ready cscp_ready cscm_ready rpc_ready beam1_present beam2_present beam1_stable beam2_stable gem_ready "
    "physics_flag"
).split()
QUERY_BITS = OMS_BITS[:28]
QUERY = " and ".join(
    [
        "energy in 6000..7000",
        "b_field >= 3.7",
        'injection_scheme contains "25ns"',
        'not hlt_key contains "WMass"',
        "recorded_lumi >= 0.08",
        'class in ["Collisions18", "Collisions17"]',
        *(f"{f} == GOOD" for f in RR_FLAGS[:16]),
        *QUERY_BITS,
    ]
)
assert len(parse(QUERY).operands) == 50


def synthetic_year(n_runs: int = 480, total_ls: int = 230_000, seed: int = 2018) -> Snapshot:
    """A deterministic full-year snapshot (see the module docstring)."""
    rng = random.Random(seed)
    weights = [rng.uniform(0.1, 1.0) for _ in range(n_runs)]
    scale = total_ls / sum(weights)
    lengths = [max(5, round(w * scale)) for w in weights]
    runs, lumisections = [], {}
    for k, n in enumerate(lengths):
        run = 315000 + 7 * k
        bad_run = rng.random() < 0.04
        runs.append(
            {
                "run_number": run,
                "oms_attributes": {
                    "energy": 6500.0 if not (bad_run and rng.random() < 0.5) else 450.0,
                    "b_field": 3.8 if rng.random() > 0.03 else 0.0,
                    "injection_scheme": "25ns_2556b_2544_2215_2332_144bpi_20injV2" if rng.random() > 0.02 else "50ns_1374b",
                    "hlt_key": "/cdaq/physics/Run2018/2e34/v3.6.1/HLT/V2",
                    "recorded_lumi": n * 0.25,
                },
                "rr_attributes": {"class": "Collisions18", "significant": True, "state": "COMPLETED"},
            }
        )
        # RR: each flag has a few BAD episodes; content breaks wherever any flag changes.
        flag_marks: dict[int, dict[str, str]] = {}
        for flag in RR_FLAGS:
            for _ in range(rng.choice([0, 0, 0, 0, 1, 1, 2])):
                a = rng.randint(1, n)
                b = min(n, a + rng.randint(0, 30))
                for ls in (a, b + 1):
                    flag_marks.setdefault(ls, {})
                flag_marks[a][flag] = "BAD"
                flag_marks.setdefault(b + 1, {})[flag] = "GOOD"
        rr_ranges = _ranges(n, {f: "GOOD" for f in RR_FLAGS}, flag_marks, lambda v: {"status": v, "comment": "", "cause": ""})
        # OMS: bits ramp up one by one in the first LS, a few trips, beams lost in the tail.
        bit_marks: dict[int, dict[str, Any]] = {}
        start_state = {b: False for b in OMS_BITS}
        for bit in OMS_BITS:
            on = rng.randint(1, min(n, 12))
            bit_marks.setdefault(on, {})[bit] = True
            if rng.random() < 0.08:
                a = rng.randint(on, n)
                b = min(n, a + rng.randint(0, 20))
                bit_marks.setdefault(a, {})[bit] = rng.choice([False, None])
                bit_marks.setdefault(b + 1, {})[bit] = True
        if rng.random() < 0.5:
            tail = rng.randint(max(1, n - 15), n)
            for bit in ("beam1_stable", "beam2_stable"):
                bit_marks.setdefault(tail, {})[bit] = False
        oms_ranges = _ranges(n, start_state, bit_marks, lambda v: v)
        last_oms = n if rng.random() > 0.05 else n - 2
        oms_ranges = [r for r in oms_ranges if r["start"] <= last_oms]
        oms_ranges[-1]["end"] = min(oms_ranges[-1]["end"], last_oms)
        lumisections[str(run)] = {"/ReReco/Run2018A_UL2019/DQM": {"rr": rr_ranges, "oms": oms_ranges}}
    datasets = [{"run_number": r["run_number"], "name": "/ReReco/Run2018A_UL2019/DQM", "dataset_attributes": {}} for r in runs]
    return Snapshot.from_dict({"runs": runs, "datasets": datasets, "lumisections": lumisections})


def _ranges(n: int, state: dict[str, Any], marks: dict[int, dict[str, Any]], wrap: Callable[[Any], Any]) -> list[dict[str, Any]]:
    state = dict(state)
    out: list[dict[str, Any]] = []
    points = sorted(p for p in marks if 1 <= p <= n)
    cuts = sorted({1, *points, n + 1})
    for a, b_next in zip(cuts, cuts[1:]):
        state.update(marks.get(a, {}))
        content = {k: wrap(v) for k, v in state.items()}
        if out and {k: v for k, v in out[-1].items() if k not in ("start", "end")} == content:
            out[-1]["end"] = b_next - 1
        else:
            out.append({**content, "start": a, "end": b_next - 1})
    return out


def evaluated_objects(snapshot: Snapshot) -> list[tuple[int, int, dict[str, Any]]]:
    """RR's evaluated object for every joined lumisection; inner dicts shared per run/range to save memory."""
    out = []
    for run, name, ds, data in snapshot.iter_datasets():
        run_obj = {"oms": run.oms_attributes, "rr": run.rr_attributes, "run_number": run.run_number}
        ds_obj = {**(ds.dataset_attributes if ds else {}), "name": name}
        rr_status = [{k: v["status"] for k, v in r.items() if k not in ("start", "end")} for r in data.rr]
        oms_values = [{k: v for k, v in o.items() if k not in ("start", "end")} for o in data.oms]
        for start, end, i, j in intersect_ranges(data.rr, data.oms):
            for ls in range(start, end + 1):
                out.append(
                    (
                        run.run_number,
                        ls,
                        {"dataset": ds_obj, "run": run_obj, "lumisection": {"lumisection_number": ls, "oms": oms_values[j], "rr": rr_status[i]}},
                    )
                )
    return out


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def subset(snapshot: Snapshot, fraction: float) -> Snapshot:
    n = max(1, round(len(snapshot.runs) * fraction))
    keep = {r.run_number for r in snapshot.runs[:n]}
    return Snapshot.model_validate(
        {
            "runs": [r for r in snapshot.runs if r.run_number in keep],
            "datasets": [d for d in snapshot.datasets if d.run_number in keep],
            "lumisections": {k: v for k, v in snapshot.lumisections.items() if k in keep},
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the year and fewer repeats")
    args = parser.parse_args()
    dataset = "/ReReco/Run2018__UL2019/DQM"
    t0 = time.perf_counter()
    year = synthetic_year()
    if args.quick:
        year = subset(year, 0.1)
    n_rr = sum(len(d.rr) for v in year.lumisections.values() for d in v.values())
    n_oms = sum(len(d.oms) for v in year.lumisections.values() for d in v.values())
    print(f"data: {len(year.runs)} runs, {year.n_lumisections()} joined lumisections, {n_rr} RR ranges, {n_oms} OMS ranges"
          f" ({len(RR_FLAGS)} RR flags, {len(OMS_BITS)} OMS bits); built in {time.perf_counter() - t0:.1f} s")
    node = parse(QUERY)
    print(f"query: {len(node.operands)} clauses")

    golden(node, year, dataset)  # warm-up: compiles and caches the plan
    fresh = subset(year, 1.0)
    t_first = time.perf_counter()
    golden(QUERY, fresh, dataset)
    t_first = time.perf_counter() - t_first
    t_dq, result = median_time(lambda: golden(node, year, dataset), 15)
    print(f"dqquery.golden: median {t_dq * 1e3:.1f} ms over 15 runs; {result.n_lumisections} LS selected in {result.n_ranges} ranges"
          f" (first call on a fresh snapshot with text query: {t_first * 1e3:.1f} ms)")

    tracemalloc.start()
    golden(node, year, dataset)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"dqquery.golden peak memory (tracemalloc, untimed run): {peak / 1e6:.1f} MB")

    import json_logic

    from dqquery.jsonlogic_engine import apply_rule, js_truthy
    from dqquery.targets.jsonlogic import to_jsonlogic

    rule = to_jsonlogic(node)
    objects = evaluated_objects(year)
    repeats = 3 if not args.quick else 5
    apply_rule(rule, objects[0][2])  # validates the rule and the engine once; the timed loop calls qubit directly

    def run_qubit() -> GoldenJSON:
        return GoldenJSON.from_pairs((run, ls) for run, ls, obj in objects if js_truthy(json_logic.jsonLogic(rule, obj)))

    t_qubit, qubit_result = median_time(run_qubit, repeats)
    print(f"json-logic-qubit jsonLogic(rule, obj) per LS: median {t_qubit:.2f} s over {repeats} runs"
          f" = {t_qubit / len(objects) * 1e6:.1f} us/LS; ratio {t_qubit / t_dq:.0f}x; identical: {qubit_result == result}")
    ok = qubit_result == result

    try:
        import datalogic_py
    except ImportError:
        print("datalogic-py: not installed (pip install datalogic-py); skipped")
    else:
        compiled = datalogic_py.Engine().compile(rule)

        def run_datalogic() -> GoldenJSON:
            return GoldenJSON.from_pairs((run, ls) for run, ls, obj in objects if js_truthy(compiled.evaluate(obj)))

        t_dl, dl_result = median_time(run_datalogic, repeats)
        print(f"datalogic-py compiled Rule.evaluate: median {t_dl:.3f} s over {repeats} runs"
              f" = {t_dl / len(objects) * 1e6:.2f} us/LS; ratio {t_dl / t_dq:.1f}x; identical: {dl_result == result}")
        ok = ok and dl_result == result

    print("scaling of dqquery.golden (median of 9):")
    for fraction in (0.1, 0.25, 0.5, 1.0):
        part = subset(year, fraction)
        golden(node, part, dataset)
        t, _ = median_time(lambda: golden(node, part, dataset), 9)
        print(f"  {fraction:>4.0%} of the year: {part.n_lumisections():>7} LS  {t * 1e3:7.1f} ms")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS (includes the per-LS objects for the json-logic engines): {rss:.0f} MB")
    print("all outputs identical" if ok else "OUTPUTS DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
