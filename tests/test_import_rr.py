"""dqquery.from_rr: the client's transform modelled exactly (checked against runregistry 3.1.2 itself), the
backend format read as the backend reads it, and round trips through the compiler and the backend emulator."""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runregistry.utils import transform_to_rr_dataset_filter, transform_to_rr_run_filter
from test_target_rr import (
    DATASET_QUERIES,
    MIXED_QUERIES,
    PROPERTY,
    USER_QUERIES,
    compile_or_skip,
    expected_runs,
    rr_datasets,
    rr_runs,
)

import dqquery
from dqquery import ast as A
from dqquery.emulate.runregistry import select_datasets, select_runs
from dqquery.errors import QueryError
from dqquery.importers.rr import ClientRaises, client_transform
from dqquery.limits import MAX_JSON_DEPTH, MAX_LIST_ITEMS
from dqquery.targets import runregistry as R
from dqquery.targets.runregistry import to_rr

REAL = {"runs": transform_to_rr_run_filter, "datasets": transform_to_rr_dataset_filter}


def real_client(user_filter: Any, kind: str) -> dict | str:
    """The installed client's transform, or the text of what it raises."""
    try:
        return REAL[kind](copy.deepcopy(user_filter))
    except Exception as err:
        return f"raises {type(err).__name__}"


def modelled_client(user_filter: Any, kind: str) -> dict | str:
    try:
        return client_transform(user_filter, kind)[0]  # type: ignore[arg-type]
    except ClientRaises as err:
        return "raises KeyError" if "KeyError" in str(err) else "raises Exception"


# Keys from every list of the client (and the substring trap of its run table "list", a string), values of each shape.
_KEYS = st.sampled_from(
    [
        "run_number", "run", "number", "dataset_name", "name", "class", "significant", "energy", "b_field",
        "tracker-strip", "dt-dt", "csc-tf", "tracker-pix", "global_state", "appeared_in", "oms_attributes.energy",
        "rr_attributes.class", "triplet_summary.dt-dt.GOOD", "dataset_attributes.global_state", "BRE KAKOS", "hlt_key",
    ]
)
_SCALARS = st.one_of(st.integers(0, 5), st.booleans(), st.sampled_from(["GOOD", "good", "BAD", "HEHE", "%x%", "Collisions18"]), st.none())
_VALUES = st.one_of(
    _SCALARS,
    st.dictionaries(st.sampled_from(["=", ">", "<>", "like"]), _SCALARS, min_size=1, max_size=2),
    st.builds(lambda xs: {"or": xs}, st.lists(st.one_of(_SCALARS, st.dictionaries(st.just("="), _SCALARS, min_size=1)), max_size=3)),
)
USER_FILTERS = st.one_of(st.dictionaries(_KEYS, _VALUES, max_size=4), st.sampled_from(["SDF", [], 0, None, ""]))


@settings(max_examples=600, deadline=None, derandomize=True)
@given(USER_FILTERS, st.sampled_from(["runs", "datasets"]))
def test_client_transform_is_the_installed_clients(user_filter: Any, kind: str) -> None:
    assert modelled_client(user_filter, kind) == real_client(user_filter, kind)


def test_the_model_drops_and_reports_what_the_client_drops() -> None:
    user = {"run_number": 5, "tracker-strip": True, "dt-dt": {"or": ["GOOD"]}}
    out, findings = client_transform(user, "runs")
    assert out == real_client(user, "runs") == {"run_number": {"=": 5}}
    assert sorted((f.code, f.where) for f in findings) == [
        ("client-drops-boolean-flag-value", "dt-dt"),
        ("client-drops-boolean-flag-value", "tracker-strip"),
    ]
    assert dqquery.from_rr(user).text == "run_number == 5"


def test_text_comparison_in_a_list_is_rejected_by_the_backend() -> None:
    """Section 2.5: a number inside an and/or list of a JSON attribute is compared with the uncast text."""
    imp = dqquery.from_rr({"oms_attributes.energy": {"and": [{">=": 6000}, {"<=": 7000}]}}, raw=True)
    assert imp.query is None and [f.code for f in imp.findings] == ["rr-backend-rejects"]
    assert "text >= integer" in imp.findings[0].message
    user = dqquery.from_rr({"energy": {"and": [{">=": 6000}]}})
    assert user.query is None and [f.code for f in user.findings] == ["rr-backend-rejects"]
    direct = dqquery.from_rr({"oms_attributes.energy": {">=": 6000, "<=": 7000}}, raw=True)
    assert direct.text == "energy in 6000..7000" and direct.clean


def test_text_comparison_on_a_number_is_not_expressible() -> None:
    imp = dqquery.from_rr({"energy": {"=": "test"}})
    assert imp.query is None and [(f.code, f.where) for f in imp.findings] == [("not-expressible", "oms_attributes.energy.=")]
    assert imp.clean  # a note: nothing wrong with the filter, dqquery just cannot say it


@pytest.mark.parametrize(
    "hostile",
    [
        {"run_number": {"and": [{"=": 1}] * (MAX_LIST_ITEMS + 1)}},
        json.loads('{"and": [' * (MAX_JSON_DEPTH + 2) + "{}" + "]}" * (MAX_JSON_DEPTH + 2)),
        {1: 2},
    ],
)
def test_hostile_input_is_a_located_error(hostile: Any) -> None:
    for raw in (False, True):
        with pytest.raises(QueryError) as err:
            dqquery.from_rr(hostile, raw=raw)
        assert err.value.category == "syntax" and err.value.target == "rr"


def test_kind_is_checked() -> None:
    with pytest.raises(QueryError):
        dqquery.from_rr({}, kind="lumisections")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ round trips


def _runs_selected(backend: dict, runs: list[dict]) -> list[int]:
    return [r["run_number"] for r in select_runs(backend, runs)]


def _backend(out: Any, kind: str, raw: bool) -> dict:
    return dict(out) if raw else REAL[kind](copy.deepcopy(dict(out)))


def _has_flag(node: Any) -> bool:
    operands = node.operands if isinstance(node, A.And) else (node,)
    return any(all(f.path.startswith("lumisection.") for f in A.fields_of(o)) for o in operands)


def _recompiled(query: Any, kind: str) -> dict:
    """The imported query compiled back (user format when the compiler can say it there, else raw)."""
    try:
        return _backend(to_rr(query, kind=kind), kind, raw=False)
    except QueryError:
        return dict(to_rr(query, kind=kind, raw=True))


@PROPERTY
@given(st.one_of(MIXED_QUERIES, USER_QUERIES), rr_runs(), st.booleans())
def test_imported_run_filters_select_what_the_original_selects(query: str, runs: list[dict], raw: bool) -> None:
    original = compile_or_skip(query, raw=raw)
    sent = _backend(original, "runs", raw)
    got = _runs_selected(sent, runs)
    imp = dqquery.from_rr(copy.deepcopy(dict(original)), raw=raw)
    if imp.query is None:
        assert {f.code for f in imp.findings} & {"rr-flags-checked-separately", "not-expressible"}, imp.findings
        return
    assert _runs_selected(_recompiled(imp.query, "runs"), runs) == got
    if _has_flag(imp.query):  # exact: the runs with a lumisection satisfying the imported query
        assert set(got) == expected_runs(imp.query, runs)


@settings(PROPERTY, max_examples=200)
@given(DATASET_QUERIES, rr_datasets(), st.booleans())
def test_imported_dataset_filters_select_what_the_original_selects(query: str, datasets: list[dict], raw: bool) -> None:
    original = compile_or_skip(query, kind="datasets", raw=raw)
    sent = _backend(original, "datasets", raw)
    key = lambda ds: [(d["run_number"], d["name"]) for d in ds]
    imp = dqquery.from_rr(copy.deepcopy(dict(original)), kind="datasets", raw=raw)
    if imp.query is None:
        assert {f.code for f in imp.findings} & {"rr-flags-checked-separately", "not-expressible"}, imp.findings
        return
    assert key(select_datasets(_recompiled(imp.query, "datasets"), datasets)) == key(select_datasets(sent, datasets))


def test_round_trips_import_most_compiled_filters() -> None:
    """The round-trip properties above are not vacuous: the documented compiler examples import back."""
    imported = refused = 0
    for text, kind in R.EXAMPLES:
        for raw in (False, True):
            try:
                out = to_rr(text, kind=kind, raw=raw)
            except QueryError:
                continue
            imp = dqquery.from_rr(dict(out), kind=kind, raw=raw)
            imported += imp.query is not None
            refused += imp.query is None
    assert imported > 3 * refused, (imported, refused)


# ------------------------------------------------------------------------------------------------ recorded answers

from conformance import FILTERS, TRAPS  # noqa: E402
from conformance import snapshot as corpus_snapshot  # noqa: E402

from dqquery.testing.fake_rr import SnapshotData  # noqa: E402

CORPUS = FILTERS + TRAPS


@functools.cache
def _corpus_rows(name: str, kind: str) -> list[dict[str, Any]]:
    data = SnapshotData(corpus_snapshot(name))
    return data.run_rows() if kind == "runs" else data.dataset_rows()


def _keys(kind: str, selected: list[dict[str, Any]]) -> list[Any]:
    if kind == "runs":
        return sorted(r["run_number"] for r in selected)
    return sorted([d["run_number"], d["name"]] for d in selected)


def test_imports_select_what_the_real_run_registry_answered() -> None:
    """Every filter recorded from the real RR (conformance corpus, filters.jsonl and traps.jsonl): a recorded
    HTTP 500 is found as rr-backend-rejects; otherwise the imported query, compiled back to the backend format,
    selects exactly the recorded runs/datasets on the recorded snapshot."""
    compared = rejected = without_query = 0
    for record in CORPUS:
        kind, real = record["kind"], record["real"]
        imp = dqquery.from_rr(copy.deepcopy(record["filter"]), kind=kind, raw=record["format"] == "raw")
        codes = {f.code for f in imp.findings}
        if isinstance(real, dict):
            assert "rr-backend-rejects" in codes, (record, imp.findings)
            rejected += 1
            continue
        assert "rr-backend-rejects" not in codes, (record, imp.findings)
        if imp.query is None:
            without_query += 1
            continue
        back = dict(to_rr(imp.query, kind=kind, raw=True))
        select = select_runs if kind == "runs" else select_datasets
        assert _keys(kind, select(back, _corpus_rows(record["snapshot"], kind))) == real, (record, imp.text, back)
        compared += 1
    assert compared > 4 * without_query and rejected >= 3, (compared, rejected, without_query)


# ------------------------------------------------------------------------------------------------ backend refusals

@settings(PROPERTY, max_examples=100)
@given(
    st.sampled_from(["energy", "b_field", "fill_number"]),
    st.lists(st.tuples(st.sampled_from([">", ">=", "<", "<="]), st.integers(0, 10_000)), min_size=1, max_size=4,
             unique_by=lambda c: c[0]),
    st.booleans(),
    rr_runs(),
)
def test_a_number_in_an_and_list_is_located_and_its_fix_is_accepted(attribute: str, conditions: list, raw: bool,
                                                                       runs: list[dict]) -> None:
    """RR fails on {attr: {"and": [{op: n}, ...]}} (text >= integer): the finding points at the attribute, and the
    one-object form its fix writes is read by the backend and selects the runs meeting every condition."""
    key = f"oms_attributes.{attribute}" if raw else attribute
    refused = dqquery.from_rr({"run_number": {">": 1}, key: {"and": [{op: n} for op, n in conditions]}}, raw=raw)
    (f,) = refused.findings
    assert refused.query is None and f.code == "rr-backend-rejects" and f.where == f"oms_attributes.{attribute}"
    merged = json.loads(f.fix.split(": ", 1)[1])
    assert merged == dict(conditions)
    fixed = {"run_number": {">": 1}, key: merged}
    imported = dqquery.from_rr(fixed, raw=raw)
    assert imported.query is not None and "rr-backend-rejects" not in {g.code for g in imported.findings}
    sent = _backend(fixed, "runs", raw)
    ops = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b}
    listed = [r for r in runs if not r.get("deleted") and isinstance(r.get("DatasetTripletCache"), dict)]  # RR lists these
    wanted = [r["run_number"] for r in listed if r["run_number"] > 1 and (v := (r.get("oms_attributes") or {}).get(attribute)) is not None
              and all(ops[op](v, n) for op, n in conditions)]
    assert sorted(_runs_selected(sent, runs)) == sorted(wanted)


@pytest.mark.parametrize(("kind", "key", "written"), [
    ("datasets", "rr_attributes.class", "class"), ("datasets", "dataset_attributes.global_state", "global_state"),
    ("runs", "dt", "dt-dt"), ("runs", "energie", "energy"), ("datasets", "clas", "class"),
])
def test_a_key_the_client_does_not_list_is_given_one_it_does(kind: str, key: str, written: str) -> None:
    """The suggested key is accepted by the real client (runregistry 3.1.2) for the same value."""
    value = "GOOD" if written == "dt-dt" else 1
    (f,) = dqquery.from_rr({key: value}, kind=kind).findings
    assert f.code == "client-raises-unknown-attribute" and (f'"{written}"' in f.fix or f"mean {written}" in f.fix), f.fix
    assert isinstance(real_client({key: value}, kind), str)  # the client raises on the key written
    assert isinstance(real_client({written: value}, kind), dict)  # and accepts the one suggested


def test_a_run_filter_on_a_name_points_at_get_datasets() -> None:
    (f,) = dqquery.from_rr({"name": {"or": ["a", "b"]}}, kind="runs").findings
    assert f.code == "client-raises-unknown-attribute" and "get_datasets" in f.fix and "dataset_name" in f.fix
    assert isinstance(real_client({"dataset_name": "a"}, "datasets"), dict)
