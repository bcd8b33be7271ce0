"""The in-memory RR backend: the traps of run-registry.md sections 2.4/2.5 and SQL null semantics."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, assume, find, given, settings
from hypothesis import strategies as st

from dqquery import QueryError, parse, to_rr
from dqquery.ast import make_and
from dqquery.emulate.runregistry import (
    RRBackendError,
    filtered_ordered,
    select_datasets,
    select_runs,
    split_run_filter,
    triplet_summary,
)
from dqquery.evaluator import golden
from dqquery.strategies import queries
from dqquery.strategies_snapshot import RR_FLAGS, SNAPSHOT_FIELDS, snapshots
from dqquery.testing.fake_rr import SnapshotData


def _run(number: int, oms: dict | None = None, rr: dict | None = None, flags: dict | None = None, cache: bool = True, **extra) -> dict:
    return {
        "run_number": number,
        "oms_attributes": oms or {},
        "rr_attributes": rr or {},
        "DatasetTripletCache": {"triplet_summary": triplet_summary(flags or {})} if cache else None,
        **extra,
    }


RUNS = [
    _run(1, {"energy": 6500.0, "fill_number": 7000, "pixel_included": True, "hlt_key": "/cdaq/physics/WMass"}, {"class": "Collisions18", "significant": True}, {"dt-dt": ["GOOD", "BAD"]}),
    _run(2, {"energy": 900, "fill_number": 7001}, {"class": "Cosmics18", "significant": False}, {"dt-dt": ["BAD"], "csc-csc": ["STANDBY"]}),
    _run(3, {"energy": 6800}, {"class": "collisions18"}, {"csc-csc": ["GOOD"]}),
    _run(4, {"energy": 6500}, {"class": "Collisions18"}, cache=False),
    _run(5, {"energy": 6500}, {"class": "Collisions18"}, {"dt-dt": ["GOOD"]}, deleted=True),
]


def numbers(backend_filter: dict, runs: list[dict] = RUNS) -> list[int]:
    return [r["run_number"] for r in select_runs(backend_filter, runs)]


# ------------------------------------------------------------------------------------------------ casts


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"oms_attributes.energy": {"and": [{">=": 6000}, {"<=": 7000}]}}, "operator does not exist: text >= integer"),
        ({"oms_attributes.b_field": {"or": [{">": 3.7}]}}, "operator does not exist: text > numeric"),
        ({"oms_attributes.fill_number": {"or": [{"=": 7000}, {"=": 7001}]}}, "operator does not exist: text = integer"),
        ({"oms_attributes.stable_beam": {"or": [{"=": True}]}}, "operator does not exist: text = boolean"),
        ({"oms_attributes.energy": {"and": [{">=": 6000, "<=": 7000}]}}, "operator does not exist: text >= integer"),
    ],
)
def test_uncast_numbers_in_and_or_lists_are_a_500(bad: dict, message: str) -> None:
    with pytest.raises(RRBackendError) as err:
        numbers(bad)
    assert str(err.value) == message
    assert err.value.body == {"err": message} and err.value.status == 500


def test_uncast_error_does_not_depend_on_data() -> None:
    with pytest.raises(RRBackendError):
        numbers({"oms_attributes.energy": {"and": [{">=": 6000}]}}, runs=[])


@pytest.mark.parametrize(
    "good",
    [
        {"oms_attributes.energy": {">=": 6000, "<=": 7000}},
        {"oms_attributes.energy::float": {"and": [{">=": 6000}, {"<=": 7000}]}},
        {"and": [{"oms_attributes.energy": {">=": 6000}}, {"oms_attributes.energy": {"<=": 7000}}]},
    ],
)
def test_cast_forms_of_a_numeric_range_agree(good: dict) -> None:
    assert numbers(good) == [3, 1]


def test_bare_scalar_or_list_is_cast_from_its_first_element() -> None:
    assert numbers({"oms_attributes.fill_number": {"or": [7000, 7001]}}) == [2, 1]
    assert numbers({"oms_attributes.fill_number::float": {"or": [{"=": 7000}, {"=": 7001}]}}) == [2, 1]
    with pytest.raises(RRBackendError):
        numbers({"oms_attributes.fill_number": {"or": ["7000", 7001]}})


def test_strings_in_lists_compare_as_text() -> None:
    assert numbers({"rr_attributes.class": {"or": [{"=": "Cosmics18"}, {"=": "collisions18"}]}}) == [3, 2]


def test_cast_of_non_numeric_text_fails_while_scanning() -> None:
    runs = [_run(9, {"energy": "high"}, flags={"dt-dt": ["GOOD"]})]
    with pytest.raises(RRBackendError, match="invalid input syntax for type double precision"):
        numbers({"oms_attributes.energy": {">": 1}}, runs)


def test_booleans_are_cast_when_direct() -> None:
    assert numbers({"rr_attributes.significant": {"=": True}}) == [1]
    assert numbers({"rr_attributes.significant": False}) == [2]


# ------------------------------------------------------------------------------------------------ like


def test_like_is_case_insensitive_and_upper_notlike_is_not() -> None:
    assert numbers({"rr_attributes.class": {"like": "coll%"}}) == [3, 1]
    assert numbers({"rr_attributes.class": {"LIKE": "coll%"}}) == [3, 1]
    assert numbers({"rr_attributes.class": {"notlike": "COLL%"}}) == [2]
    assert numbers({"rr_attributes.class": {"NOTLIKE": "coll%"}}) == [2, 1]
    assert numbers({"oms_attributes.hlt_key": {"notlike": "%wmass%"}}) == []  # missing key: NULL


def test_like_on_a_number_is_an_error() -> None:
    with pytest.raises(RRBackendError, match="operator does not exist"):
        numbers({"run_number": {"like": "1%"}})


# ------------------------------------------------------------------------------------------------ nulls


def test_missing_keys_are_null() -> None:
    assert numbers({"oms_attributes.pixel_included": {"=": None}}) == [3, 2]
    assert numbers({"oms_attributes.pixel_included": {"<>": None}}) == [1]
    assert numbers({"oms_attributes.pixel_included": {"=": False}}) == []
    assert numbers({"oms_attributes.pixel_included": {"<>": True}}) == []
    assert numbers({"oms_attributes.hlt_key": {"<>": "x"}}) == [1]


def test_absent_status_counts_are_null_and_empty_is_always_present() -> None:
    assert numbers({"triplet_summary.dt-dt.GOOD": {">": 0}}) == [1]
    assert numbers({"triplet_summary.dt-dt.GOOD": {"=": None}}) == [3, 2]
    assert numbers({"triplet_summary.dt-dt.EMPTY": {"<>": None}}) == [2, 1]
    assert numbers({"triplet_summary.dt-dt.EMPTY": {">": 0}}) == []


def test_empty_or_is_false_unless_the_projection_drops_it() -> None:
    assert numbers({"run_number": {"or": []}}) == []
    assert numbers({"rr_attributes.class": {"like": "%"}, "or": []}) == []
    # Alone, an empty top-level or gives both projections no content: the backend uses no condition.
    assert numbers({"or": []}) == [3, 2, 1]


# ------------------------------------------------------------------------------------------------ projection


def test_mixed_top_level_or_is_split_and_anded() -> None:
    mixed = {"or": [{"run_number": {"=": 2}}, {"triplet_summary.dt-dt.GOOD": {">": 0}}]}
    assert split_run_filter(mixed) == ({"or": [{"run_number": {"=": 2}}]}, {"or": [{"triplet_summary.dt-dt.GOOD": {">": 0}}]})
    assert numbers(mixed) == []  # run 2 has no GOOD dt-dt lumisection; the OR meaning is lost


def test_pure_flag_or_next_to_a_run_key_selects_nothing() -> None:
    flags_or = {"or": [{"triplet_summary.dt-dt.GOOD": {">": 0}}, {"triplet_summary.csc-csc.GOOD": {">": 0}}]}
    assert numbers(flags_or) == [3, 1]
    assert numbers({"rr_attributes.class": {"like": "%coll%"}, **flags_or}) == []
    assert numbers({**flags_or, "rr_attributes.class": {"like": "%coll%"}}) == []
    # One member per table inside a top-level and is projected cleanly.
    assert numbers({"and": [{"rr_attributes.class": {"like": "%coll%"}}, flags_or]}) == [3, 1]


# ------------------------------------------------------------------------------------------------ joins, keys, order


def test_inner_join_and_deleted() -> None:
    assert numbers({}) == [3, 2, 1]
    assert 4 not in numbers({"oms_attributes.energy": {"=": 6500}})
    assert 5 not in numbers({"oms_attributes.energy": {"=": 6500}})


@pytest.mark.parametrize("bad", [{"run": 5}, {"foo": 1}, {"run_number": {"in": [1]}}, {"run_number": {"=": [1, 2]}}, {"and": {"run_number": 1}}, {"name": "x"}])
def test_unknown_keys_and_operators_are_errors(bad: dict) -> None:
    with pytest.raises(RRBackendError):
        numbers(bad)


def test_integer_column_accepts_numeric_strings_only() -> None:
    assert numbers({"run_number": {"=": "2"}}) == [2]
    assert numbers({"run_number": [1, 3]}) == [3, 1]
    with pytest.raises(RRBackendError, match="invalid input syntax for type integer"):
        numbers({"run_number": {"=": "two"}})


def test_upper_case_or_is_an_or_on_the_run_side() -> None:
    assert numbers({"OR": [{"run_number": 1}, {"run_number": 3}]}) == [3, 1]


def test_datasets_join_run_and_cache() -> None:
    run = {"rr_attributes": {"class": "Collisions18"}, "oms_attributes": {"energy": 6500}}
    datasets = [
        {"run_number": 1, "name": "/B/DQM", "dataset_attributes": {"global_state": "OPEN"}, "Run": run, "DatasetTripletCache": {"triplet_summary": triplet_summary({"dt-dt": ["GOOD"]})}},
        {"run_number": 1, "name": "/A/DQM", "dataset_attributes": {"global_state": "COMPLETED"}, "Run": run, "DatasetTripletCache": {"triplet_summary": triplet_summary({"dt-dt": ["BAD"]})}},
        {"run_number": 2, "name": "/A/DQM", "dataset_attributes": {"global_state": "OPEN"}, "Run": None, "DatasetTripletCache": {"triplet_summary": {}}},
        {"run_number": 3, "name": "/A/DQM", "dataset_attributes": {}, "Run": run, "DatasetTripletCache": {"triplet_summary": {}}},
    ]
    names = lambda f: [(d["run_number"], d["name"]) for d in select_datasets(f, datasets)]
    assert names({}) == [(3, "/A/DQM"), (1, "/A/DQM"), (1, "/B/DQM")]
    assert names({"name": {"like": "/a/%"}, "oms_attributes.energy": {">=": 6000}}) == [(3, "/A/DQM"), (1, "/A/DQM")]
    assert names({"dataset_attributes.global_state": "OPEN"}) == [(1, "/B/DQM")]
    assert names({"triplet_summary.dt-dt.BAD": {">": 0}, "rr_attributes.class": "Collisions18"}) == [(1, "/A/DQM")]
    with pytest.raises(RRBackendError):
        names({"oms_attributes.energy": {"or": [{"=": 6500}]}})


def test_filtered_ordered_pages() -> None:
    body = filtered_ordered("runs", {"filter": {}, "page": 1, "page_size": 2, "sortings": []}, RUNS)
    assert body["count"] == 3 and body["pages"] == 2
    assert [r["run_number"] for r in body["runs"]] == [1]


# ------------------------------------------------------------------------------------------------ property

_values = st.one_of(st.none(), st.integers(-5, 5), st.floats(-5, 5, allow_nan=False))


@settings(max_examples=300, deadline=None)
@given(st.lists(_values, min_size=1, max_size=6), st.sampled_from([">", "<", ">=", "<=", "=", "<>"]), st.integers(-5, 5))
def test_direct_numeric_comparison_is_numeric_and_null_never_matches(values: list, op: str, threshold: int) -> None:
    runs = [_run(i + 1, {} if v is None else {"energy": v}, flags={}) for i, v in enumerate(values)]
    python = {">": float.__gt__, "<": float.__lt__, ">=": float.__ge__, "<=": float.__le__, "=": float.__eq__, "<>": float.__ne__}[op]
    expected = sorted((i + 1 for i, v in enumerate(values) if v is not None and python(float(v), float(threshold))), reverse=True)
    assert numbers({"oms_attributes.energy": {op: threshold}}, runs) == expected
    assert numbers({"oms_attributes.energy::float": {"or": [{op: threshold}]}}, runs) == expected


# ------------------------------------------------------------------------------------------ snapshots end to end

_RR_RUN_FIELDS = tuple(f for f in SNAPSHOT_FIELDS if f.startswith(("run.", "lumisection.rr.")))
_FLAG_ATOMS = st.builds(
    lambda flag, op, status: parse(f"{flag} {op} {status}"),
    st.sampled_from(RR_FLAGS), st.sampled_from(["==", "!="]), st.sampled_from(["GOOD", "BAD", "STANDBY", "NOTSET"]),
)
# Attribute-only queries are supersets (D2); a flag condition and-ed to them makes most of them exact.
_SNAPSHOT_QUERIES = st.one_of(
    queries(fields=_RR_RUN_FIELDS, max_leaves=3),
    _FLAG_ATOMS,
    st.builds(lambda a, b: make_and([a, b]), queries(fields=_RR_RUN_FIELDS, max_leaves=2), _FLAG_ATOMS),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(query=_SNAPSHOT_QUERIES, snapshot=snapshots())
def test_backend_rows_of_a_snapshot_select_what_golden_selects(query, snapshot) -> None:
    """On generated snapshots (RR-only and OMS-only lumisections, runs without any lumisection having both):
    the run rows the fake builds (summaries over joined lumisections, D1) selected by the emulator contain the
    runs ``golden`` selects on ``online``, and equal them whenever ``to_rr`` says ``exact``."""
    try:
        out = to_rr(query, raw=True)
    except QueryError:
        assume(False)
        return
    try:
        selected = {r["run_number"] for r in select_runs(dict(out), SnapshotData(snapshot).run_rows())}
    except RRBackendError:  # a documented trap of the backend on this data: not this property's concern
        assume(False)
        return
    expected = set(golden(query, snapshot, "online").runs) if "online" in snapshot.dataset_names() else set()
    assert expected <= selected
    if out.exact:
        assert selected == expected


def test_a_listing_without_paging_is_the_recorded_500() -> None:
    """conformance responses.jsonl: ``runs_filtered_ordered`` without ``page_size`` answers 500."""
    with pytest.raises(RRBackendError) as err:
        filtered_ordered("runs", {"filter": {}, "page": 0, "sortings": []}, RUNS)
    assert err.value.status == 500 and str(err.value) == 'column "nan" does not exist'


_RR_DATASET_FIELDS = tuple(f for f in SNAPSHOT_FIELDS if f.startswith(("run.", "dataset.", "lumisection.rr.")))
# As above, for datasets (dataset attributes and names too).
_DATASET_QUERIES = st.one_of(
    queries(fields=_RR_DATASET_FIELDS, max_leaves=3),
    _FLAG_ATOMS,
    st.builds(lambda a, b: make_and([a, b]), queries(fields=_RR_DATASET_FIELDS, max_leaves=2), _FLAG_ATOMS),
)


def _dataset_meaning(query, snapshot, dataset_rows) -> set[tuple[int, str]]:
    """Every (run, dataset) RR holds whose run ``golden`` selects on that dataset alone."""
    from dqquery.targets.jsonlogic import similar_to_exact

    selected = {n: set(golden(query, snapshot, similar_to_exact(n)).runs) for n in snapshot.dataset_names()}
    return {(d["run_number"], d["name"]) for d in dataset_rows if d["run_number"] in selected.get(d["name"], ())}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(query=_DATASET_QUERIES, snapshot=snapshots(), raw=st.booleans())
def test_backend_dataset_rows_of_a_snapshot_select_what_golden_selects(query, snapshot, raw) -> None:
    """The dataset rows the fake builds (summaries over joined lumisections, offline datasets with partial OMS rows
    read through online's values, datasets without any joined lumisection), selected by the emulator with the
    dataset filter (user format through the real client's rewrite), contain the (run, dataset) pairs ``golden``
    selects, and equal them whenever ``to_rr`` says ``exact``."""
    import copy

    from runregistry.utils import transform_to_rr_dataset_filter

    try:
        out = to_rr(query, kind="datasets", raw=raw)
    except QueryError:
        assume(False)
        return
    rows = SnapshotData(snapshot).dataset_rows()
    backend = dict(out) if raw else transform_to_rr_dataset_filter(copy.deepcopy(dict(out)))
    try:
        selected = {(d["run_number"], d["name"]) for d in select_datasets(backend, rows)}
    except RRBackendError:
        assume(False)
        return
    expected = _dataset_meaning(query, snapshot, rows)
    assert expected <= selected
    if out.exact:
        assert selected == expected


# ------------------------------------------------------------------------------------------ the generators reach the cases

_FIND = settings(max_examples=3000, database=None, phases=[Phase.generate], derandomize=True,
                 suppress_health_check=list(HealthCheck))


def _covered(ranges) -> set[int]:
    return {ls for r in ranges for ls in range(r["start"], r["end"] + 1)}


def _flagged_without_oms(snapshot) -> bool:
    """An RR lumisection with a flag but no OMS data of its dataset: RR's summaries leave it out (D1)."""
    return any(ls not in _covered(data.oms)
               for per_dataset in snapshot.lumisections.values() for data in per_dataset.values()
               for r in data.rr if set(r) - {"start", "end"} for ls in range(r["start"], r["end"] + 1))


def _online_run_without_joined_lumisections(snapshot) -> bool:
    """A run whose online dataset has no lumisection with both RR and OMS data (D2)."""
    return any("online" in per_dataset and not (_covered(per_dataset["online"].rr) & _covered(per_dataset["online"].oms))
               for per_dataset in snapshot.lumisections.values())


def _offline_row_lacking_an_online_key(snapshot) -> bool:
    """An offline dataset whose own OMS row lacks a key online's row has on the same lumisection (D3)."""
    for per_dataset in snapshot.lumisections.values():
        online = {ls: set(r) for r in (per_dataset["online"].oms if "online" in per_dataset else [])
                  for ls in range(r["start"], r["end"] + 1)}
        for name, data in per_dataset.items():
            if name != "online" and any(online.get(ls, set()) - set(r) for r in data.oms for ls in range(r["start"], r["end"] + 1)):
                return True
    return False


def _flagless_rr_event(snapshot) -> bool:
    """An RR range without flags: an RR event the portal evaluates although RR's API shows it as a gap (R2)."""
    return any(set(r) == {"start", "end"} for per_dataset in snapshot.lumisections.values()
               for data in per_dataset.values() for r in data.rr)


@pytest.mark.parametrize("case", [_flagged_without_oms, _online_run_without_joined_lumisections, _offline_row_lacking_an_online_key,
                                  _flagless_rr_event])
def test_the_snapshot_strategy_draws_the_corrected_models_cases(case) -> None:
    """The snapshot properties above (and the conformance ones) meet each case of the corrected model."""
    assert case(find(snapshots(), case, settings=_FIND))
