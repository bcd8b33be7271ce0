#!/usr/bin/env python3
"""Generate ``dqquery/data/demo-2018.json.gz``: a synthetic 2018 snapshot that reproduces the real golden JSON.

The snapshot covers the 478 runs of the official 2018 Legacy golden JSON
(``dqquery/data/Cert_314472-325175_13TeV_Legacy2018_Collisions18_JSON.txt``) plus a dozen extra runs. It is built
so that ``golden(DEMO_QUERY_2018, snapshot, dataset=DEMO_DATASET)`` equals the official file exactly, while every
clause of the query removes some lumisections on its own, as in a real year:

* Inside the official ranges every flag is GOOD and every DCS/beam bit is true.
* Every lumisection outside them (ramp-up before the first range, the gaps between ranges, a tail after the last
  one) belongs to a *loss episode* that breaks one clause (most often) or a few: a subsystem flag set BAD (or
  STANDBY/EXCLUDED), a DCS bit false or null, beams not stable. Each lumisection clause gets at least one episode
  where it is the only cause; ramp-ups favour tracker HV and beam bits, tails favour beam bits.
* Extra runs (not in the official file) fail one run-level cut each: low magnetic field, wrong energy, 50ns or
  single-bunch filling scheme, a WMass HLT menu, too little recorded luminosity.
* Some runs end with lumisections that have RR flags but no OMS data (OMS upload lag): they are never evaluated.

Datasets: ``online`` (online RR columns) and the ReReco dataset of the run's era, ``/ReReco/Run2018<era>_UL2019/DQM``
(offline columns too), matched by RR's own sample filter ``/ReReco/Run2018__UL2019/DQM``. OMS ranges are the same
for both. Per-lumisection luminosity (pb^-1; exponential decay over each fill) is stored only in the ReReco
dataset, in the snapshot's compact ``luminosity`` block, to keep the file small.

Deterministic: a fixed seed and no dependence on the clock. Run ``python scripts/make_demo_snapshot.py`` from the
repository root; it verifies the result before writing it.
"""

from __future__ import annotations

import datetime as _dt
import math
import random
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dqquery.demo import DEMO_DATASET, DEMO_PATH, DEMO_QUERY_2018, OFFICIAL_2018  # noqa: E402
from dqquery.evaluator import golden  # noqa: E402
from dqquery.explanation import explain  # noqa: E402
from dqquery.lumiranges import GoldenJSON  # noqa: E402
from dqquery.query import parse  # noqa: E402
from dqquery.snapshot import Snapshot  # noqa: E402

SEED = 2018
ONLINE_FLAGS = (
    "csc-csc dt-dt ecal-ecal ecal-es hcal-hcal hlt-hlt l1t-l1tcalo l1t-l1tmu rpc-rpc tracker-pixel tracker-strip "
    "castor-castor ctpps-ctpps"
).split()
OFFLINE_ONLY_FLAGS = "tracker-track egamma-egamma muon-muon jetmet-jetmet lumi-lumi".split()
OMS_BITS = (
    "cms_active bpix_ready fpix_ready tibtid_ready tob_ready tecp_ready tecm_ready ebp_ready ebm_ready eep_ready "
    "eem_ready esp_ready esm_ready hbhea_ready hbheb_ready hbhec_ready hf_ready ho_ready dtp_ready dtm_ready "
    "dt0_ready cscp_ready cscm_ready rpc_ready gem_ready castor_ready zdc_ready beam1_present beam2_present "
    "beam1_stable beam2_stable physics_flag"
).split()
ERAS = (("A", 316995), ("B", 319310), ("C", 320065), ("D", 10**9))
SECONDS_PER_LS = 23.31
GOOD_SCHEME = "25ns_2556b_2544_2215_2332_144bpi_20injV2"
GOOD_HLT = "/cdaq/physics/Run2018/2e34/v3.6.1/HLT/V2"
EXTRA_RUNS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("low field", {"b_field": 0.02}),
    ("low field", {"b_field": 3.23}),
    ("low field", {"b_field": 0.0}),
    ("energy", {"energy": 450.0}),
    ("energy", {"energy": 2510.0}),
    ("filling scheme", {"injection_scheme": "50ns_1374b_1368_1262_1213_144bpi"}),
    ("filling scheme", {"injection_scheme": "Single_12b_9_1_1_8bpi"}),
    ("WMass menu", {"hlt_key": "/cdaq/special/2018/LowPU_WMass/v1.2/HLT/V3"}),
    ("WMass menu", {"hlt_key": "/cdaq/special/2018/WMass_13TeV/v2.0/HLT/V1"}),
    ("short run", {"recorded_lumi": 0.031}),
    ("short run", {"recorded_lumi": 0.0}),
)


def era_of(run: int) -> str:
    return next(name for name, last in ERAS if run <= last)


def clause_targets() -> list[tuple[str, str]]:
    """(kind, name) of every lumisection-level clause of the demo query: ('rr', flag) or ('oms', bit)."""
    out = []
    for clause in parse(DEMO_QUERY_2018).operands:
        if not hasattr(clause, "field"):
            continue  # `not hlt_key contains ...`: run level
        path = clause.field.path
        if path.startswith("lumisection.rr."):
            out.append(("rr", path[15:]))
        elif path.startswith("lumisection.oms."):
            out.append(("oms", path[16:]))
    return out


def break_value(rng: random.Random, kind: str) -> Any:
    if kind == "rr":
        return rng.choices(["BAD", "STANDBY", "EXCLUDED"], weights=[8, 1, 1])[0]
    return rng.choices([False, None], weights=[9, 1])[0]


def choose_causes(rng: random.Random, targets: list[tuple[str, str]], where: str) -> list[tuple[str, str]]:
    """The clauses one loss episode breaks (one, most of the time)."""
    tracker = [t for t in targets if t[1] in ("bpix_ready", "fpix_ready", "tibtid_ready", "tob_ready", "tecp_ready", "tecm_ready", "tracker-pixel", "tracker-strip")]
    beams = [t for t in targets if t[1].startswith("beam")]
    pool = {"ramp": tracker + beams + targets, "tail": beams * 3 + targets, "gap": targets}[where]
    n = rng.choices([1, 2, 3, 4], weights=[60, 20, 12, 8])[0]
    picked: list[tuple[str, str]] = []
    while len(picked) < n:
        t = rng.choice(pool)
        if t not in picked:
            picked.append(t)
    return picked


def merge_ranges(intervals: list[tuple[int, int, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Ranges as RR returns them: consecutive intervals with equal content merged, plus start/end."""
    out: list[dict[str, Any]] = []
    for start, end, content in intervals:
        if out and out[-1]["end"] == start - 1 and {k: v for k, v in out[-1].items() if k not in ("start", "end")} == content:
            out[-1]["end"] = end
        else:
            out.append({**content, "start": start, "end": end})
    return out


def build() -> Snapshot:
    rng = random.Random(SEED)
    official = GoldenJSON.load(OFFICIAL_2018)
    targets = clause_targets()
    golden_runs = list(official.runs)

    # Episodes: every gap before/between/after official ranges; first make sure each clause is sole cause once.
    plan: dict[int, list[tuple[int, int, str]]] = {}
    last_ls: dict[int, int] = {}
    for run in golden_runs:
        ranges = official.ranges(run)
        tail = rng.choice([0, 0, 0] + list(range(1, 30)))
        last_ls[run] = ranges[-1][1] + tail
        gaps: list[tuple[int, int, str]] = []
        if ranges[0][0] > 1:
            gaps.append((1, ranges[0][0] - 1, "ramp"))
        gaps.extend((a[1] + 1, b[0] - 1, "gap") for a, b in zip(ranges, ranges[1:]))
        if tail:
            gaps.append((ranges[-1][1] + 1, last_ls[run], "tail"))
        plan[run] = gaps
    episodes = [(run, a, b, where) for run, gaps in plan.items() for a, b, where in gaps]
    order = list(range(len(episodes)))
    rng.shuffle(order)
    causes: dict[int, list[tuple[str, str]]] = {}
    for target, index in zip(targets, order):  # guaranteed exclusive episode for every clause
        causes[index] = [target]
    for index, (_, _, _, where) in enumerate(episodes):
        causes.setdefault(index, choose_causes(rng, targets, where))
    by_run_episodes: dict[int, list[tuple[int, int, list[tuple[str, str]]]]] = {}
    for index, (run, a, b, _) in enumerate(episodes):
        by_run_episodes.setdefault(run, []).append((a, b, causes[index]))

    extra_numbers = []
    candidates = [r + 1 for r in golden_runs if r + 1 not in official.runs]
    step = len(candidates) // len(EXTRA_RUNS)
    for k in range(len(EXTRA_RUNS)):
        extra_numbers.append(candidates[k * step + step // 2])
    extras = dict(zip(extra_numbers, EXTRA_RUNS))
    for run in extra_numbers:
        last_ls[run] = rng.randint(20, 400) if extras[run][0] != "short run" else rng.randint(1, 3)
        by_run_episodes[run] = []

    all_runs = sorted(last_ls)
    runs, datasets = [], []
    lumisections: dict[str, Any] = {}
    season_start = _dt.datetime(2018, 4, 29, 8, 0, tzinfo=_dt.UTC)
    season_seconds = (_dt.datetime(2018, 10, 25, tzinfo=_dt.UTC) - season_start).total_seconds()
    fill = 6570
    fill_age = 0.0  # hours since the start of the current fill
    for position, run in enumerate(all_runs):
        n_ls = last_ls[run]
        if position == 0 or rng.random() < 0.45:
            fill += rng.randint(1, 6)
            fill_age = rng.uniform(0.0, 0.4)
        start = season_start + _dt.timedelta(seconds=season_seconds * position / len(all_runs))
        duration = round(n_ls * SECONDS_PER_LS)
        peak = rng.uniform(0.36, 0.47)  # pb^-1 per lumisection at the start of the fill
        lifetime = rng.uniform(12.0, 18.0)  # hours
        efficiency = rng.uniform(0.9, 0.96)
        recorded = [
            round(peak * efficiency * math.exp(-(fill_age + ls * SECONDS_PER_LS / 3600.0) / lifetime), 3) for ls in range(n_ls)
        ]
        delivered = [round(x / efficiency, 3) for x in recorded]
        fill_age += n_ls * SECONDS_PER_LS / 3600.0 + rng.uniform(0.02, 0.2)
        oms = {
            "energy": 6500.0,
            "b_field": rng.choice([3.8, 3.8, 3.8, 3.79, 3.81]),
            "injection_scheme": rng.choice([GOOD_SCHEME, "25ns_2556b_2544_2215_2332_144bpi_20injV3", "25ns_2460b_2448_2052_2154_144bpi_20injV1"]),
            "hlt_key": rng.choice([GOOD_HLT, "/cdaq/physics/Run2018/2e34/v3.5.0/HLT/V5", "/cdaq/physics/Run2018/2e34/v3.6.1/HLT/V7"]),
            "l1_menu": "L1Menu_Collisions2018_v2_1_0",
            "fill_number": fill,
            "start_time": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end_time": (start + _dt.timedelta(seconds=duration)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration": duration,
            "ls_duration": n_ls,
            "last_lumisection_number": n_ls,
            "recorded_lumi": max(round(sum(recorded), 3), 0.1),
            "delivered_lumi": max(round(sum(delivered), 3), 0.11),
            "stable_beam": True,
            "sequence": "GLOBAL-RUN",
            "clock_type": "LHC",
            "era": f"Run2018{era_of(run)}",
            "cmssw_version": "CMSSW_10_1_7",
            "tracker_included": True,
            "pixel_included": True,
            "run_number": run,
        }
        if run in extras:
            oms.update(extras[run][1])
        runs.append(
            {
                "run_number": run,
                "oms_attributes": oms,
                "rr_attributes": {"class": "Collisions18", "state": "COMPLETED", "significant": True, "stop_reason": ""},
                "version": 4_000_000 + position,
                "deleted": False,
            }
        )
        # Per-interval content: good everywhere, broken in episodes.
        cuts = [(1, n_ls, [])]
        for a, b, broken in by_run_episodes.get(run, []):
            cuts.append((a, b, broken))
        marks = sorted({1, n_ls + 1} | {p for a, b, _ in cuts[1:] for p in (a, b + 1)})
        rr_intervals: list[tuple[int, int, dict[str, Any]]] = []
        online_intervals: list[tuple[int, int, dict[str, Any]]] = []
        oms_intervals: list[tuple[int, int, dict[str, Any]]] = []
        for a, b_next in zip(marks, marks[1:]):
            b = b_next - 1
            broken = next((br for x, y, br in cuts[1:] if x <= a <= y), [])
            flags = {f: "GOOD" for f in ONLINE_FLAGS + OFFLINE_ONLY_FLAGS}
            bits: dict[str, Any] = {bit: True for bit in OMS_BITS}
            for kind, name in broken:
                value = break_value(random.Random(f"{run}:{a}:{name}"), kind)
                (flags if kind == "rr" else bits)[name] = value
            triplets = {f: {"status": s, "comment": "" if s == "GOOD" else "demo", "cause": ""} for f, s in flags.items()}
            rr_intervals.append((a, b, triplets))
            online_intervals.append((a, b, {f: t for f, t in triplets.items() if f in ONLINE_FLAGS}))
            oms_intervals.append((a, b, bits))
        oms_last = n_ls
        official_last = official.ranges(run)[-1][1] if run in official.runs else n_ls
        if rng.random() < 0.08 and official_last < n_ls:
            oms_last = n_ls - rng.randint(1, min(3, n_ls - official_last))  # OMS lag: RR-only tail, never evaluated
        oms_ranges = [r for r in merge_ranges(oms_intervals) if r["start"] <= oms_last]
        if oms_ranges:
            oms_ranges[-1]["end"] = min(oms_ranges[-1]["end"], oms_last)
        rereco = f"/ReReco/Run2018{era_of(run)}_UL2019/DQM"
        states = {f"{ws}_state": "COMPLETED" for ws in ("global", "tracker", "ecal", "hcal", "csc", "dt", "muon", "egamma", "jetmet", "lumi")}
        datasets.append({"run_number": run, "name": "online", "dataset_attributes": {"global_state": "COMPLETED"}, "deleted": False})
        datasets.append({"run_number": run, "name": rereco, "dataset_attributes": {"appeared_in": ["DQM GUI"], **states}, "deleted": False})
        lumisections[str(run)] = {
            "online": {"rr": merge_ranges(online_intervals), "oms": [dict(r) for r in oms_ranges]},
            rereco: {
                "rr": merge_ranges(rr_intervals),
                "oms": [dict(r) for r in oms_ranges],
                "luminosity": {"start": 1, "recorded": recorded, "delivered": delivered},
            },
        }
    return Snapshot.from_dict({"runs": runs, "datasets": datasets, "lumisections": lumisections})


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Generate the dqquery 2018 demo snapshot.")
    parser.add_argument("--output", type=Path, default=DEMO_PATH, help=f"where to write (default {DEMO_PATH})")
    args = parser.parse_args(argv)
    snapshot = build()
    official = GoldenJSON.load(OFFICIAL_2018)
    result = golden(DEMO_QUERY_2018, snapshot, dataset=DEMO_DATASET)
    if result != official:
        print(result.diff(official).summary(left="demo", right="official"), file=sys.stderr)
        return 1
    report = explain(DEMO_QUERY_2018, snapshot, dataset=DEMO_DATASET)
    lazy = [c.text for c in report.clauses if c.exclusive_ls == 0]
    if lazy:
        print(f"clauses that remove nothing on their own: {lazy}", file=sys.stderr)
        return 1
    snapshot.save(args.output)
    print(report.table())
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
