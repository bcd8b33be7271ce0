"""The range-based golden evaluator against hand-made cases and, by property, against the one-row reference
semantics and RR's own procedure (to_jsonlogic + json-logic on RR's evaluated object)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dqquery
from dqquery import semantics
from dqquery.evaluator import compile_plan, golden, similar_to_regex
from dqquery.lumiranges import GoldenJSON
from dqquery.snapshot import Snapshot
from dqquery.strategies_snapshot import OMS_BITS, RR_FLAGS, SNAPSHOT_FIELDS, snapshots

G, B, S = ({"status": s, "comment": "", "cause": ""} for s in ("GOOD", "BAD", "STANDBY"))


def snap(runs: list[dict[str, Any]], datasets: list[dict[str, Any]], ls: dict[str, Any]) -> Snapshot:
    return Snapshot.from_dict({"runs": runs, "datasets": datasets, "lumisections": ls})


@pytest.fixture
def simple() -> Snapshot:
    """Run 1: RR covers 1-20 (dt-dt GOOD 1-10, BAD 11-20), OMS covers 3-30 (cms_active true 3-15, null 16-30)."""
    return snap(
        [{"run_number": 1, "oms_attributes": {"energy": 6500.0, "b_field": 3.8}, "rr_attributes": {"class": "Collisions18"}}],
        [{"run_number": 1, "name": "online", "dataset_attributes": {"global_state": "OPEN"}}],
        {
            "1": {
                "online": {
                    "rr": [{"dt-dt": G, "start": 1, "end": 10}, {"dt-dt": B, "start": 11, "end": 20}],
                    "oms": [{"cms_active": True, "start": 3, "end": 15}, {"cms_active": None, "start": 16, "end": 30}],
                }
            }
        },
    )


# ------------------------------------------------------------------------------------------ hand-made cases


def test_lumisections_need_both_rr_and_oms(simple: Snapshot) -> None:
    # 1-2 have only RR data, 21-30 only OMS: never selected, even by a query that is true everywhere.
    assert golden("ls_number >= 1", simple).to_dict() == {"1": [[3, 20]]}


def test_null_bit_is_unknown_and_excluded(simple: Snapshot) -> None:
    assert golden("cms_active", simple).to_dict() == {"1": [[3, 15]]}
    assert golden("not cms_active", simple).to_dict() == {}
    assert golden("cms_active is null", simple).to_dict() == {"1": [[16, 20]]}
    assert golden("cms_active or dt-dt == BAD", simple).to_dict() == {"1": [[3, 20]]}


def test_flag_status_and_level_combinations(simple: Snapshot) -> None:
    assert golden("dt-dt == GOOD and cms_active", simple).to_dict() == {"1": [[3, 10]]}
    assert golden("dt-dt != GOOD", simple).to_dict() == {"1": [[11, 20]]}
    assert golden("csc-csc != GOOD", simple).to_dict() == {}  # flag absent: unknown
    assert golden("dt-dt == GOOD and energy in 6000..7000 and class == \"Collisions18\"", simple).to_dict() == {"1": [[3, 10]]}
    assert golden("dt-dt == GOOD and b_field < 3.7", simple).to_dict() == {}
    assert golden("dt-dt == GOOD and (b_field < 3.7 or cms_active)", simple).to_dict() == {"1": [[3, 10]]}


def test_run_and_dataset_level_fields(simple: Snapshot) -> None:
    assert golden('global_state == "OPEN" and run_number == 1', simple).to_dict() == {"1": [[3, 20]]}
    assert golden('global_state == "COMPLETED"', simple).to_dict() == {}
    assert golden("dataset.name == \"online\" and dt-dt == BAD", simple).to_dict() == {"1": [[11, 20]]}
    assert golden("fill_number > 3", simple).to_dict() == {}  # missing run attribute: unknown
    assert golden("dials.me is null", simple).to_dict() == {"1": [[3, 20]]}  # DIALS fields are always missing


def test_lumisection_number_clauses_split_ranges(simple: Snapshot) -> None:
    assert golden("ls_number in 5..7 or ls_number == 12", simple).to_dict() == {"1": [[5, 7], [12, 12]]}
    assert golden("ls_number < 5.5 and dt-dt == GOOD", simple).to_dict() == {"1": [[3, 5]]}
    assert golden("ls_number not in [4, 9, 18] and cms_active", simple).to_dict() == {"1": [[3, 3], [5, 8], [10, 15]]}
    assert golden("ls_number > 1e30", simple).to_dict() == {}


def test_several_datasets_are_united_without_duplicates() -> None:
    s = snap(
        [{"run_number": 7}],
        [{"run_number": 7, "name": "/PromptReco/Collisions2018A/DQM"}, {"run_number": 7, "name": "/PromptReco/Collisions2018B/DQM"}],
        {
            "7": {
                "/PromptReco/Collisions2018A/DQM": {"rr": [{"dt-dt": G, "start": 1, "end": 10}], "oms": [{"start": 1, "end": 10}]},
                "/PromptReco/Collisions2018B/DQM": {
                    "rr": [{"dt-dt": B, "start": 1, "end": 4}, {"dt-dt": G, "start": 5, "end": 14}],
                    "oms": [{"start": 1, "end": 14}],
                },
            }
        },
    )
    result = golden("dt-dt == GOOD", s, dataset="/PromptReco/Collisions2018_/DQM")
    assert result.to_dict() == {"7": [[1, 14]]}
    assert golden("dt-dt == GOOD", s, dataset="/PromptReco/Collisions2018(B|C)/DQM").to_dict() == {"7": [[5, 14]]}
    assert golden("dt-dt == BAD", s, dataset="%2018%").to_dict() == {"7": [[1, 4]]}


def test_dataset_without_dataset_object_is_evaluated_with_its_name() -> None:
    s = snap([{"run_number": 3}], [], {"3": {"online": {"rr": [{"dt-dt": G, "start": 1, "end": 2}], "oms": [{"start": 1, "end": 2}]}}})
    assert golden('dataset.name == "online" and global_state is null', s).to_dict() == {"3": [[1, 2]]}


def test_no_matching_dataset_is_an_error(simple: Snapshot) -> None:
    with pytest.raises(ValueError, match="no dataset of the snapshot matches"):
        golden("dt-dt == GOOD", simple, dataset="/PromptReco/%")


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("online", "online", True),
        ("online", "Online", False),  # case-sensitive
        ("/PromptReco/Collisions2018_/DQM", "/PromptReco/Collisions2018A/DQM", True),
        ("/PromptReco/Collisions2018_/DQM", "/PromptReco/Collisions2018AB/DQM", False),
        ("/PromptReco/Collisions2018(A|B)/DQM", "/PromptReco/Collisions2018B/DQM", True),
        ("/PromptReco/Collisions2018(A|B)/DQM", "/PromptReco/Collisions2018C/DQM", False),
        ("%PromptReco/Collisions%", "/PromptReco/Collisions2018D/DQM", True),
        ("%PromptReco", "/PromptReco/Collisions2018D/DQM", False),  # whole-name match
        ("/ReReco/Run2018__UL2019/DQM", "/ReReco/Run2018A_UL2019/DQM", True),
        ("a.c", "abc", False),  # '.' is literal
        ("a.c", "a.c", True),
        ("run[0-9]+", "run2018", True),
        ("run[0-9]+", "runX", False),
        ("ab?c", "ac", True),
        ("a{2}", "aa", True),
        ("a\\%", "a%", True),
        ("a\\%", "ab", False),
        ("x$", "x$", True),
    ],
)
def test_similar_to_patterns(pattern: str, name: str, expected: bool) -> None:
    assert (similar_to_regex(pattern).fullmatch(name) is not None) is expected


def test_plan_is_cached_and_levels_assigned() -> None:
    plan = compile_plan("energy > 1 and dt-dt == GOOD and cms_active and (dt-dt == BAD or cms_active) and ls_number > 3")
    assert [c.level for c in plan.clauses] == ["static", "rr", "oms", "segment", "segment"]
    assert compile_plan("energy > 1 and dt-dt == GOOD and cms_active and (dt-dt == BAD or cms_active) and ls_number > 3") is plan


def test_luminosity_block_values_are_per_lumisection() -> None:
    s = snap(
        [{"run_number": 2}],
        [],
        {"2": {"online": {"rr": [{"start": 1, "end": 6}], "oms": [{"recorded": 1.0, "start": 1, "end": 6}],
                          "luminosity": {"start": 2, "recorded": [0.0, 0.5, None]}}}},
    )
    # LS 1, 5, 6 take the range value 1.0; LS 2-4 the block (0.0, 0.5, missing).
    assert golden("recorded >= 0.5", s).to_dict() == {"2": [[1, 1], [3, 3], [5, 6]]}
    assert golden("recorded is null", s).to_dict() == {"2": [[4, 4]]}


# ------------------------------------------------------------------------------------------ properties


def _range_at(ranges: list[dict[str, Any]], ls: int) -> dict[str, Any] | None:
    return next((r for r in ranges if r["start"] <= ls <= r["end"]), None)


def _own_oms_values(data: Any, ls: int) -> dict[str, Any] | None:
    """One lumisection's OMS values of one (run, dataset) alone (``None``: no OMS data of its own there); a
    luminosity block value replaces the range's key, a null block value removes it."""
    oms = _range_at(data.oms, ls) if data is not None else None
    if oms is None:
        return None
    values = {k: v for k, v in oms.items() if k not in ("start", "end")}
    block = data.luminosity
    for key in ("recorded", "delivered"):
        series = (block or {}).get(key)
        if series is not None and 0 <= ls - block["start"] < len(series):
            if series[ls - block["start"]] is None:
                values.pop(key, None)
            else:
                values[key] = series[ls - block["start"]]
    return values


def flat_rows(snapshot: Snapshot, name_ok: Any) -> list[tuple[int, int, dict[str, Any], dict[str, Any]]]:
    """Slow reference expansion: one flat row (path -> value) and one RR evaluated object per lumisection.

    RR's portal rules, per lumisection: evaluated when the dataset has an RR range (flags or not) and OMS data
    of its OWN there; for a dataset other than online, online's OMS values lie under its own, key by key.
    """
    out = []
    datasets = {(d.run_number, d.name): d for d in snapshot.datasets}
    for run in snapshot.runs:
        per_dataset = snapshot.lumisections.get(run.run_number, {})
        for name, data in per_dataset.items():
            if not name_ok(name):
                continue
            ds = datasets.get((run.run_number, name))
            attrs = dict(ds.dataset_attributes) if ds else {}
            last = max([r["end"] for r in data.rr + data.oms], default=0)
            for ls in range(1, last + 1):
                rr = _range_at(data.rr, ls)
                own = _own_oms_values(data, ls)
                if rr is None or own is None:
                    continue
                rr_status = {k: v.get("status") for k, v in rr.items() if k not in ("start", "end")}
                online = _own_oms_values(per_dataset.get("online"), ls) if name != "online" else None
                oms_values = {**(online or {}), **own}
                row: dict[str, Any] = {"run.run_number": run.run_number, "dataset.name": name, "lumisection.lumisection_number": ls}
                row.update({f"run.oms.{k}": v for k, v in run.oms_attributes.items()})
                row.update({f"run.rr.{k}": v for k, v in run.rr_attributes.items()})
                row.update({f"dataset.{k}": v for k, v in attrs.items() if k != "name"})
                row.update({f"lumisection.rr.{k}": v for k, v in rr_status.items()})
                row.update({f"lumisection.oms.{k}": v for k, v in oms_values.items()})
                evaluated = {
                    "dataset": {**attrs, "name": name},
                    "run": {"oms": run.oms_attributes, "rr": run.rr_attributes, "run_number": run.run_number},
                    "lumisection": {"lumisection_number": ls, "oms": oms_values, "rr": rr_status},
                }
                out.append((run.run_number, ls, row, evaluated))
    return out


# Dataset patterns with the names each one selects, written out by hand (independent of the regex translation).
PATTERNS: dict[str | None, Any] = {
    None: lambda n: n == "online",
    "/PromptReco/Collisions2018_/DQM": lambda n: n in ("/PromptReco/Collisions2018A/DQM", "/PromptReco/Collisions2018B/DQM"),
    "%2018%": lambda n: "2018" in n,
    "(online|/ReReco/Run2018__UL2019/DQM)": lambda n: n in ("online", "/ReReco/Run2018A_UL2019/DQM"),
}


def _status_predicates() -> st.SearchStrategy[str]:
    flag = st.sampled_from(RR_FLAGS)
    status = st.sampled_from(["GOOD", "BAD", "STANDBY", "EXCLUDED", "NOTSET"])  # EMPTY means `is null`
    return st.one_of(
        st.builds(lambda f, s: f"{f} == {s}", flag, status),
        st.builds(lambda f, s: f"{f} != {s}", flag, status),
        st.builds(lambda f, a, b: f"{f} in [{a}, {b}]", flag, status, status),
        st.builds(lambda f, a: f"{f} not in [{a}]", flag, status),
        st.builds(lambda f: f"{f} is null", flag),
    )


def _oms_predicates() -> st.SearchStrategy[str]:
    bit = st.sampled_from(OMS_BITS)
    return st.one_of(
        bit,
        bit.map(lambda b: f"not {b}"),
        bit.map(lambda b: f"{b} == false"),
        bit.map(lambda b: f"{b} is not null"),
        st.sampled_from(["recorded >= 0.1", "recorded < 0.05", "recorded is null", "recorded in 0.02..0.2"]),
    )


_RUN_PREDICATES = st.sampled_from(
    [
        "energy in 6000..7000", "energy >= 6500", "energy != 6500", "b_field >= 3.7", 'injection_scheme contains "25ns"',
        'injection_scheme like "25ns%"', 'not hlt_key contains "WMass"', 'hlt_key ~ "WMass"', 'class == "Collisions18"',
        'class in ["Collisions18", "Cosmics18"]', "significant", "stable_beam == false", "fill_number in [6500, 6502]",
        "start_time >= 2018-06-01", 'components contains "DT"', 'dataset.name like "%Collisions%"',
        'global_state == "COMPLETED"', "tracker_state is null", "energy is not null", "run_number > 315255",
        'dataset.name == "online"', "run_number in [315250, 315251, 315260]",
    ]
)
_LS_NUMBER_PREDICATES = st.one_of(
    st.builds(lambda op, n: f"ls_number {op} {n}", st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), st.integers(0, 26)),
    st.builds(lambda a, d: f"ls_number in {a}..{a + d}", st.integers(1, 20), st.integers(0, 8)),
    st.builds(lambda n: f"ls_number < {n}.5", st.integers(0, 25)),
    st.lists(st.integers(1, 25), min_size=1, max_size=3).map(lambda xs: "ls_number in [" + ", ".join(map(str, xs)) + "]"),
)
LEAVES = st.one_of(_status_predicates(), _oms_predicates(), _RUN_PREDICATES, _LS_NUMBER_PREDICATES)


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        children.map(lambda c: f"not ({c})"),
        st.lists(children, min_size=2, max_size=4).map(lambda cs: " and ".join(f"({c})" for c in cs)),
        st.lists(children, min_size=2, max_size=4).map(lambda cs: " or ".join(f"({c})" for c in cs)),
    )


LOCAL_QUERIES = st.recursive(LEAVES, _combine, max_leaves=10).map(dqquery.parse)


def _queries() -> st.SearchStrategy[Any]:
    """The targeted local strategy, plus the project's generic one restricted to the populated fields."""
    try:
        from dqquery.strategies import queries
    except ImportError:  # pragma: no cover - the generic strategy is optional here
        return LOCAL_QUERIES
    return st.one_of(LOCAL_QUERIES, LOCAL_QUERIES, queries(fields=SNAPSHOT_FIELDS, max_leaves=6))


def _golden_or_none(query: Any, snapshot: Snapshot, pattern: str | None) -> GoldenJSON | None:
    try:
        return golden(query, snapshot, dataset=pattern)
    except ValueError as exc:
        assert "no dataset of the snapshot matches" in str(exc)
        return None


def _any_name_matches(snapshot: Snapshot, name_ok: Any) -> bool:
    return any(name_ok(n) for n in snapshot.dataset_names())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshot=snapshots(), query=_queries(), pattern=st.sampled_from(list(PATTERNS)))
def test_agrees_with_reference_semantics_per_lumisection(snapshot: Snapshot, query: Any, pattern: str | None) -> None:
    name_ok = PATTERNS[pattern]
    result = _golden_or_none(query, snapshot, pattern)
    if not snapshot.dataset_names():  # nothing selected at all: nothing evaluated, as the portal's {}
        assert result == GoldenJSON()
        return
    if not _any_name_matches(snapshot, name_ok):
        assert result is None
        return
    expected = GoldenJSON.from_pairs((run, ls) for run, ls, row, _ in flat_rows(snapshot, name_ok) if semantics.evaluate(query, row) is True)
    assert result == expected


def _to_jsonlogic() -> Any:
    try:
        from dqquery.jsonlogic_engine import apply_rule, js_truthy
        from dqquery.targets.jsonlogic import to_jsonlogic
    except ImportError as exc:  # pragma: no cover - depends on the other modules being present
        pytest.skip(f"json-logic target or engine not importable: {exc}")
    return to_jsonlogic, apply_rule, js_truthy


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshot=snapshots(), query=LOCAL_QUERIES, pattern=st.sampled_from(list(PATTERNS)))
def test_agrees_with_rr_procedure_through_jsonlogic(snapshot: Snapshot, query: Any, pattern: str | None) -> None:
    """RR's way: compile to json-logic, evaluate it on RR's evaluated object of every joined lumisection."""
    to_jsonlogic, apply_rule, js_truthy = _to_jsonlogic()
    try:
        rule = to_jsonlogic(query)
    except dqquery.QueryError:
        return  # not expressible in json-logic: nothing to compare
    name_ok = PATTERNS[pattern]
    result = _golden_or_none(query, snapshot, pattern)
    if not _any_name_matches(snapshot, name_ok):
        return
    expected = GoldenJSON.from_pairs(
        (run, ls) for run, ls, _, evaluated in flat_rows(snapshot, name_ok) if js_truthy(apply_rule(rule, evaluated))
    )
    assert result == expected, f"rule: {rule}"


def test_every_consumer_of_a_dataset_pattern_reports_no_match_the_same_way() -> None:
    from dqquery.demo import load_demo
    from dqquery.evaluator import UnknownDataset
    from dqquery.explanation import explain
    from dqquery.lumiranges import GoldenJSON
    from dqquery.plots import recorded_per_run

    snapshot = load_demo()
    for call in (
        lambda: golden("bpix_ready", snapshot, "/NoSuch/%"),
        lambda: explain("bpix_ready", snapshot, "/NoSuch/%"),
        lambda: recorded_per_run(GoldenJSON(), snapshot, "/NoSuch/%"),
    ):
        with pytest.raises(UnknownDataset, match="no dataset of the snapshot matches '/NoSuch/%'"):
            call()


def test_deleted_runs_and_datasets_are_never_selected() -> None:
    """RR filters `deleted = false` everywhere; a snapshot that keeps a deleted row must not select it."""
    from dqquery.testing import sample_snapshot

    base = sample_snapshot(3, ls_per_run=4, datasets=("online", "/A/DQM"), luminosity=False)
    data = base.to_dict()
    first, second = data["runs"][0]["run_number"], data["runs"][1]["run_number"]
    data["runs"][0]["deleted"] = True
    for ds in data["datasets"]:
        if ds["run_number"] == second and ds["name"] == "/A/DQM":
            ds["deleted"] = True
    marked = Snapshot.from_dict(data)
    for dataset in ("online", "/A/DQM"):
        before, after = golden("run_number >= 1", base, dataset), golden("run_number >= 1", marked, dataset)
        assert first in before.runs and first not in after.runs
        assert (second in after.runs) == (dataset == "online")
