"""Loss attribution: hand-computed numbers and invariants on generated snapshots."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dqquery.evaluator import golden, intersect_ranges
from dqquery.explanation import explain, luminosity_number
from dqquery.lumiranges import GoldenJSON
from dqquery.snapshot import Snapshot
from dqquery.strategies_snapshot import snapshots

G, B = ({"status": s, "comment": "", "cause": ""} for s in ("GOOD", "BAD"))
QUERY = "energy >= 6000 and dt-dt == GOOD and cms_active and beam1_stable"


@pytest.fixture
def case() -> Snapshot:
    """Run 10 (energy ok), LS 1-10 all evaluated, recorded 1.0 per LS except the block on LS 1-3.

    LS:        1  2  3  4  5  6  7  8  9 10
    dt-dt      G  G  G  B  B  G  G  G  G  G
    cms_active T  T  T  T  F  F  T  T  T  null
    beam1_st.  F  T  T  T  T  T  T  T  T  T
    recorded  .5 .5 .5  1  1  1  1  1  1  1
    Run 11 (energy 450, 4 LS, recorded 2 per LS): only the energy clause fails.
    """
    return Snapshot.from_dict(
        {
            "runs": [
                {"run_number": 10, "oms_attributes": {"energy": 6500.0}},
                {"run_number": 11, "oms_attributes": {"energy": 450.0}},
            ],
            "datasets": [],
            "lumisections": {
                "10": {
                    "online": {
                        "rr": [{"dt-dt": G, "start": 1, "end": 3}, {"dt-dt": B, "start": 4, "end": 5}, {"dt-dt": G, "start": 6, "end": 10}],
                        "oms": [
                            {"cms_active": True, "beam1_stable": False, "recorded": 1.0, "start": 1, "end": 1},
                            {"cms_active": True, "beam1_stable": True, "recorded": 1.0, "start": 2, "end": 4},
                            {"cms_active": False, "beam1_stable": True, "recorded": 1.0, "start": 5, "end": 6},
                            {"cms_active": True, "beam1_stable": True, "recorded": "1.0", "start": 7, "end": 9},
                            {"cms_active": None, "beam1_stable": True, "recorded": 1, "start": 10, "end": 10},
                        ],
                        "luminosity": {"start": 1, "recorded": [0.5, 0.5, 0.5]},
                    }
                },
                "11": {"online": {"rr": [{"dt-dt": G, "start": 1, "end": 4}], "oms": [{"cms_active": True, "beam1_stable": True, "recorded": 2, "start": 1, "end": 4}]}},
            },
        }
    )


def test_hand_computed_numbers(case: Snapshot) -> None:
    report = explain(QUERY, case)
    by_text = {c.text: c for c in report.clauses}
    assert [c.text for c in report.clauses] == ["energy >= 6000", "dt-dt == GOOD", "cms_active", "beam1_stable"]
    # energy: run 11, 4 LS x 2.0, all exclusive
    e = by_text["energy >= 6000"]
    assert (e.inclusive_ls, e.exclusive_ls, e.inclusive_recorded, e.exclusive_recorded) == (4, 4, 8.0, 8.0)
    # dt-dt BAD on 4-5; LS 5 also fails cms_active -> exclusive only LS 4
    d = by_text["dt-dt == GOOD"]
    assert (d.inclusive_ls, d.exclusive_ls, d.inclusive_recorded, d.exclusive_recorded) == (2, 1, 2.0, 1.0)
    # cms_active false on 5-6, null on 10 -> inclusive 5, 6, 10; exclusive 6 and 10
    c = by_text["cms_active"]
    assert (c.inclusive_ls, c.exclusive_ls, c.inclusive_recorded, c.exclusive_recorded) == (3, 2, 3.0, 2.0)
    # beam1_stable false on LS 1 (block luminosity 0.5)
    b = by_text["beam1_stable"]
    assert (b.inclusive_ls, b.exclusive_ls, b.inclusive_recorded, b.exclusive_recorded) == (1, 1, 0.5, 0.5)
    assert set(d.per_run) == {10} and d.per_run[10].exclusive_ls == 1
    assert report.golden.to_dict() == {"10": [[2, 3], [7, 9]]}
    assert report.anti_golden.to_dict() == {"10": [[1, 1], [4, 6], [10, 10]], "11": [[1, 4]]}
    assert (report.total_ls, report.total_recorded, report.golden_recorded) == (14, 0.5 * 3 + 7 + 8, 4.0)
    assert report.golden == golden(QUERY, case)


def test_non_and_query_is_one_clause(case: Snapshot) -> None:
    report = explain("dt-dt == BAD or not cms_active", case)
    assert len(report.clauses) == 1
    assert report.clauses[0].inclusive_ls == report.clauses[0].exclusive_ls == report.anti_golden.n_lumisections


def test_outputs(case: Snapshot) -> None:
    report = explain(QUERY, case)
    text = report.table()
    assert "dt-dt == GOOD" in text and "14 lumisections evaluated" in text
    data = json.loads(report.to_json())
    assert data["clauses"][1]["per_run"]["10"]["inclusive_ls"] == 2
    assert data["golden"] == {"10": [[2, 3], [7, 9]]}
    assert "<table>" in report._repr_html_()


def test_several_datasets_count_each_lumisection_once() -> None:
    s = Snapshot.from_dict(
        {
            "runs": [{"run_number": 5}],
            "datasets": [],
            "lumisections": {
                "5": {
                    "A1": {"rr": [{"dt-dt": B, "start": 1, "end": 4}], "oms": [{"cms_active": True, "start": 1, "end": 4}]},
                    "A2": {"rr": [{"dt-dt": G, "start": 1, "end": 2}, {"dt-dt": B, "start": 3, "end": 6}], "oms": [{"cms_active": False, "start": 1, "end": 1}, {"cms_active": True, "start": 2, "end": 6}]},
                }
            },
        }
    )
    report = explain("dt-dt == GOOD and cms_active", s, dataset="A_")
    assert report.golden.to_dict() == {"5": [[2, 2]]}  # accepted by A2
    assert report.total_ls == 6
    dt, cms = report.clauses
    # LS 1: A1 fails dt only, A2 fails cms only -> both exclusive; LS 3-6: dt only
    assert (dt.inclusive_ls, dt.exclusive_ls) == (5, 5)
    assert (cms.inclusive_ls, cms.exclusive_ls) == (1, 1)


def test_luminosity_number_follows_rr() -> None:
    assert [luminosity_number(v) for v in (1, 0.5, "0.25", None, "x", True, float("nan"), [1])] == [1.0, 0.5, 0.25, 0.0, 0.0, 0.0, 0.0, 0.0]


def _evaluated(snapshot: Snapshot, pattern: str) -> GoldenJSON:
    from dqquery.evaluator import dataset_matcher

    ok = dataset_matcher(pattern)
    pairs = [
        (run, ls)
        for run, per_dataset in snapshot.lumisections.items()
        for name, data in per_dataset.items()
        if ok(name)
        for s, e, _, _ in intersect_ranges(data.rr, data.oms)
        for ls in range(s, e + 1)
    ]
    return GoldenJSON.from_pairs(pairs)


QUERIES = st.lists(
    st.sampled_from(
        [
            "dt-dt == GOOD", "tracker-strip != BAD", "cms_active", "not bpix_ready", "beam1_stable is not null",
            "energy in 6000..7000", "ls_number > 4", "recorded >= 0.1", 'global_state == "COMPLETED"',
            "(csc-csc == GOOD or beam2_stable)", "not (hlt-hlt == BAD and ls_number < 9)",
        ]
    ),
    min_size=1,
    max_size=5,
    unique=True,
).map(lambda cs: " and ".join(cs))


PATTERNS = {
    "online": lambda n: n == "online",
    "%2018%": lambda n: "2018" in n,
    "/PromptReco/Collisions2018_/DQM": lambda n: n in ("/PromptReco/Collisions2018A/DQM", "/PromptReco/Collisions2018B/DQM"),
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshot=snapshots(), query=QUERIES, pattern=st.sampled_from(list(PATTERNS)))
def test_invariants(snapshot: Snapshot, query: str, pattern: str) -> None:
    try:
        report = explain(query, snapshot, dataset=pattern)
    except ValueError:
        assert not any(PATTERNS[pattern](n) for n in snapshot.dataset_names())
        return
    evaluated = _evaluated(snapshot, pattern)
    assert report.golden == golden(query, snapshot, dataset=pattern)
    assert report.golden | report.anti_golden == evaluated
    assert not (report.golden & report.anti_golden)
    assert report.total_ls == evaluated.n_lumisections
    assert report.golden_recorded <= report.total_recorded + 1e-9
    removed = report.anti_golden.n_lumisections
    for clause in report.clauses:
        assert 0 <= clause.exclusive_ls <= clause.inclusive_ls <= removed
        assert clause.exclusive_recorded <= clause.inclusive_recorded + 1e-9
        assert sum(r.inclusive_ls for r in clause.per_run.values()) == clause.inclusive_ls
    # every rejected lumisection is removed by at least one clause; with one clause, all of it exclusively
    assert sum(c.inclusive_ls for c in report.clauses) >= removed
    if len(report.clauses) == 1:
        assert report.clauses[0].exclusive_ls == removed


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshot=snapshots(dataset_names=("online",)), query=QUERIES)
def test_exclusive_loss_is_what_dropping_the_clause_recovers(snapshot: Snapshot, query: str) -> None:
    """With one dataset, a clause's exclusive LS are exactly golden(query without it) minus golden(query)."""
    from dqquery.evaluator import compile_plan

    assume("online" in snapshot.dataset_names())
    plan = compile_plan(query)
    report = explain(query, snapshot)
    base = report.golden
    for k, clause in enumerate(report.clauses):
        rest = [c.text for j, c in enumerate(plan.clauses) if j != k]
        relaxed = golden(" and ".join(f"({t})" for t in rest), snapshot) if rest else _evaluated(snapshot, "online")
        assert (relaxed - base).n_lumisections == clause.exclusive_ls


@pytest.mark.parametrize("query", ["bpix_ready", "ls_number < 10 or ls_number > 400", "tracker-strip == GOOD and run_number < 315300"])
def test_recorded_in_agrees_with_the_per_lumisection_sum(query: str) -> None:
    from dqquery.demo import DEMO_DATASET, load_demo
    from dqquery.explanation import recorded_in
    from dqquery.plots import recorded_per_run

    snapshot = load_demo()
    result = golden(query, snapshot, dataset=DEMO_DATASET)
    expected = sum(inside for inside, _out, _nd in recorded_per_run(result, snapshot, DEMO_DATASET).values())
    assert result.n_lumisections > 0
    assert recorded_in(result, snapshot, DEMO_DATASET) == pytest.approx(expected, rel=1e-12)


def test_rejected_per_run_adds_up_to_the_anti_golden_json() -> None:
    from dqquery.demo import DEMO_DATASET, load_demo

    snapshot = load_demo()
    report = explain("b_field >= 3.7 and tracker-strip == GOOD and bpix_ready and beam1_stable", snapshot, DEMO_DATASET)
    per_run = report.rejected_per_run
    assert set(per_run) == set(report.anti_golden.runs)
    assert all(loss.inclusive_ls == sum(b - a + 1 for a, b in report.anti_golden.ranges(run)) for run, loss in per_run.items())
    assert sum(loss.inclusive_ls for loss in per_run.values()) == report.total_ls - report.golden_ls
    assert sum(loss.inclusive_recorded for loss in per_run.values()) == pytest.approx(report.total_recorded - report.golden_recorded)
    table = report.runs_table(3).splitlines()
    worst = max(per_run, key=lambda r: per_run[r].inclusive_recorded)
    assert table[1].split()[0] == str(worst) and len(table) == 5  # header, 3 runs, "more runs" line
