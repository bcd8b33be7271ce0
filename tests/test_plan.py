"""``dqquery.plan``: requests + residual, executed against the service emulators, select exactly what the
reference semantics selects.

The property per target: for generated queries (over the fields the target's rows carry, plus fields they do
not carry) and generated rows, ``plan(q, target).execute(fetch=<emulator on the rows>, key, row_view)`` returns
exactly the rows on which ``dqquery.semantics.selects(q, row_view(row))`` holds. The emulators model the
services independently of the compilers (traps included), so a plan that sends a lossy request fails here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from dqquery import ast as A
from dqquery import plan  # through the package: importing the dqquery.plan submodule would shadow the function
from dqquery.emulate.dials import apply_dials_filters
from dqquery.emulate.oms import apply_oms_filters
from dqquery.emulate.runregistry import select_runs
from dqquery.errors import QueryError
from dqquery.query import parse
from dqquery.semantics import selects
from dqquery.strategies import queries
from dqquery.targets import dials as D
from dqquery.targets import oms as O

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# ------------------------------------------------------------------------------------------ value strategies

_NAMES = ("/ZeroBias/Run2023C-PromptReco-v1/DQMIO", "/Muon0/Run2023C/DQMIO", "Collisions18", "collisions18", "25ns_2556b", "")
small_ints = st.integers(0, 12)
texts = st.one_of(st.sampled_from(_NAMES), st.text(alphabet="aAbB%_5/ .", max_size=5))
maybe = lambda s: st.one_of(st.none(), s)
floats = st.one_of(small_ints.map(float), st.floats(-10, 10, allow_nan=False))
times = st.datetimes(dt.datetime(2017, 1, 1), dt.datetime(2019, 1, 1)).map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"))


def check_plan(target: str, query: Any, rows: list[dict[str, Any]], fetch: Callable[[Any], list[Any]],
               key: Callable[[Any], Hashable], row_view: Callable[[Any], Mapping[str, Any]]) -> None:
    try:
        p = plan(query, target)
    except QueryError as err:
        # Refused only when the residual would need a field the rows lack (it would drop matching rows).
        assert err.category == "unsupported" and "rows do not carry" in err.message, str(err)
        assert not all(row_view_carries(target, ref.path) for ref in A.fields_of(query))
        return
    got = sorted(map(key, p.execute(fetch=fetch, key=key, row_view=row_view)), key=repr)
    want = sorted((key(r) for r in rows if selects(query, row_view(r))), key=repr)
    assert got == want, p.describe()


def row_view_carries(target: str, path: str) -> bool:
    name, _, option = target.partition(":")
    if name == "dials":
        return path in D.row_fields(option)
    return O.attribute_of(path, option) is not None


# ------------------------------------------------------------------------------------------ DIALS

_DIALS_ROW_FIELDS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "run": {"dataset_id": small_ints, "run_number": small_ints, "dataset": texts},
    "lumisection": {"dataset_id": small_ints, "run_number": small_ints, "ls_number": small_ints, "dataset": texts},
    "th2": {
        "dataset_id": small_ints, "file_id": small_ints, "run_number": small_ints, "ls_number": small_ints,
        "me_id": small_ints, "entries": st.integers(0, 300), "dataset": texts, "me": texts,
    },  # th2 rows carry no logical_file_name (it is filtered through the file index)
}
_DIALS_KEYS: dict[str, tuple[str, ...]] = {
    "run": ("dataset_id", "run_number"),
    "lumisection": ("dataset_id", "run_number", "ls_number"),
    "th2": ("dataset_id", "run_number", "ls_number", "me_id"),
}
_NOT_CARRIED = ["energy", "tracker-strip", "bpix_ready"]


def dials_rows(endpoint: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    keys = _DIALS_KEYS[endpoint]
    return st.lists(st.fixed_dictionaries(_DIALS_ROW_FIELDS[endpoint]), max_size=8, unique_by=lambda r: tuple(r[k] for k in keys))


def dials_property(endpoint: str, fields: list[str] | None = None, max_leaves: int = 5) -> Callable[..., None]:
    """The plan property on one endpoint; ``fields`` narrows the queries (default: every field the rows carry,
    plus fields they do not carry)."""
    if fields is None:
        carried = [p for p in D.filterable_paths(endpoint) if D.response_columns(endpoint)[p] in _DIALS_ROW_FIELDS[endpoint]]
        fields = carried + _NOT_CARRIED + [p for p in D.filterable_paths(endpoint) if p not in D.row_fields(endpoint)]

    @PROPERTY
    @given(query=queries(fields=fields, max_leaves=max_leaves), rows=dials_rows(endpoint))
    def prop(query: Any, rows: list[dict[str, Any]]) -> None:
        keys = _DIALS_KEYS[endpoint]
        check_plan(
            f"dials:{endpoint}", query, rows,
            fetch=lambda params: apply_dials_filters(endpoint, params, rows),
            key=lambda r: tuple(r[k] for k in keys),
            row_view=lambda r: D.row_paths(endpoint, r),
        )

    return prop


test_plan_dials_run = dials_property("run")
test_plan_dials_lumisection = dials_property("lumisection")
test_plan_dials_th2 = dials_property("th2")
# Mostly exact plans (no residual to hide a lossy request): integer bounds only, e.g. th2's ls_number__lte.
test_plan_dials_th2_lumisection_bounds = dials_property("th2", fields=["ls_number", "entries", "run_number"], max_leaves=3)

# Both ml-models-index row shapes (v1.12.0: model_id/filename/target_me; cmsdials 2.4.1's: id/name), each served
# by a server of its own generation: the plan's requests carry both spellings and its residual reads either shape.
_MODEL_ROWS = {
    "v1.12.0": st.fixed_dictionaries({"model_id": small_ints, "filename": texts, "target_me": texts, "active": st.booleans()}),
    "2.4.1": st.fixed_dictionaries({"id": small_ints, "name": texts, "active": st.booleans()}),
}


@PROPERTY
@given(generation=st.sampled_from(sorted(_MODEL_ROWS)), data=st.data(),
       query=queries(fields=[*D.filterable_paths("ml-models-index"), *_NOT_CARRIED], max_leaves=4))
def test_plan_dials_models_index_on_either_generation(generation: str, data: Any, query: Any) -> None:
    rows = data.draw(st.lists(_MODEL_ROWS[generation], max_size=8, unique_by=lambda r: r.get("model_id", r.get("id"))))
    try:
        event(f"{generation} rows, {'exact plan' if plan(query, 'dials:ml-models-index').exact else 'plan with a residual'}")
    except QueryError:
        event(f"{generation} rows, refused")
    check_plan("dials:ml-models-index", query, rows,
               fetch=lambda params: apply_dials_filters("ml-models-index", params, rows, generation=generation),
               key=lambda r: D.primary_key("ml-models-index", r), row_view=lambda r: D.row_paths("ml-models-index", r))


_BAD_LS_ROWS = st.lists(
    st.fixed_dictionaries({"model_id": st.integers(0, 2), "dataset_id": st.integers(0, 2), "file_id": st.just(1),
                           "run_number": st.integers(0, 2), "ls_number": st.integers(0, 3), "me_id": st.integers(0, 3),
                           "mse": st.floats(0, 1)}),
    max_size=10, unique_by=lambda r: D.primary_key("ml-bad-lumisection", r))
_DIMENSION_NAMES = st.fixed_dictionaries({"dataset": st.fixed_dictionaries({i: texts for i in range(3)}),
                                          "me": st.fixed_dictionaries({i: texts for i in range(4)})})


@PROPERTY
@given(rows=_BAD_LS_ROWS, names=_DIMENSION_NAMES,
       query=queries(fields=[*D.filterable_paths("ml-bad-lumisection"), *_NOT_CARRIED], max_leaves=4))
def test_plan_dials_ml_bad_lumisection_with_names_from_the_dimension_tables(rows, names, query) -> None:
    """Rows carry me_id but not the dataset or ME names, which the server resolves through its dimension tables:
    the plan's answer is what the query means on the rows with those names joined in, or the plan is refused
    because its residual would need a name the rows lack."""
    try:
        p = plan(query, "dials:ml-bad-lumisection")
    except QueryError as err:
        assert err.category == "unsupported" and "rows do not carry" in err.message, str(err)
        event("refused: the residual needs a name the rows lack")
        return
    event("exact plan" if p.exact else "plan with a residual")
    got = p.execute(fetch=lambda params: apply_dials_filters("ml-bad-lumisection", params, rows, dimensions=names),
                    key=lambda r: D.primary_key("ml-bad-lumisection", r), row_view=lambda r: D.row_paths("ml-bad-lumisection", r))
    joined = lambda r: {**D.row_paths("ml-bad-lumisection", r), "dataset.name": names["dataset"][r["dataset_id"]],
                        "dials.me": names["me"][r["me_id"]]}
    want = [D.primary_key("ml-bad-lumisection", r) for r in rows if selects(query, joined(r))]
    assert sorted(D.primary_key("ml-bad-lumisection", r) for r in got) == sorted(want), p.describe()


# ------------------------------------------------------------------------------------------ OMS

_OMS_ROWS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "runs": {
        "run_number": small_ints, "energy": maybe(floats), "fill_number": maybe(small_ints), "stable_beam": maybe(st.booleans()),
        "hlt_key": maybe(texts), "start_time": maybe(times),
    },
    "lumisections": {
        "run_number": small_ints, "lumisection_number": small_ints, "bpix_ready": maybe(st.booleans()),
        "beams_stable": maybe(st.booleans()), "recorded_lumi_per_lumisection": maybe(floats), "prescale_name": maybe(texts),
    },
}
_OMS_FIELDS: dict[str, list[str]] = {
    "runs": ["run_number", "energy", "fill_number", "stable_beam", "hlt_key", "start_time"],
    "lumisections": ["run_number", "ls_number", "bpix_ready", "beams_stable", "recorded", "prescale_name"],
}
_OMS_KEYS: dict[str, tuple[str, ...]] = {"runs": ("run_number",), "lumisections": ("run_number", "lumisection_number")}


def oms_property(resource: str) -> Callable[..., None]:
    keys = _OMS_KEYS[resource]
    rows_strategy = st.lists(st.fixed_dictionaries(_OMS_ROWS[resource]), max_size=8, unique_by=lambda r: tuple(r[k] for k in keys))

    @PROPERTY
    @given(query=queries(fields=_OMS_FIELDS[resource] + ["class", "tracker-strip", "dataset"], max_leaves=5), rows=rows_strategy)
    def prop(query: Any, rows: list[dict[str, Any]]) -> None:
        check_plan(
            f"oms:{resource}", query, rows,
            fetch=lambda params: apply_oms_filters(resource, params, rows),
            key=lambda r: tuple(r[k] for k in keys),
            row_view=lambda r: O.row_paths(resource, r),
        )

    return prop


test_plan_oms_runs = oms_property("runs")
test_plan_oms_lumisections = oms_property("lumisections")

# ------------------------------------------------------------------------------------------ Run Registry (backend format)

_RR_OMS = {"energy": maybe(floats), "fill_number": maybe(small_ints), "stable_beam": maybe(st.booleans()), "hlt_key": maybe(texts), "start_time": maybe(times)}
_RR_RR = {"class": maybe(texts), "significant": maybe(st.booleans())}


def _without_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


rr_runs = st.lists(
    st.builds(
        lambda n, oms, rr: {"run_number": n, "oms_attributes": _without_none(oms), "rr_attributes": _without_none(rr),
                            "DatasetTripletCache": {"triplet_summary": {}}},
        small_ints, st.fixed_dictionaries(_RR_OMS), st.fixed_dictionaries(_RR_RR),
    ),
    max_size=8,
    unique_by=lambda r: r["run_number"],
)


def rr_view(run: dict[str, Any]) -> dict[str, Any]:
    view = {"run.run_number": run["run_number"]}
    view.update({f"run.oms.{k}": v for k, v in run["oms_attributes"].items()})
    view.update({f"run.rr.{k}": v for k, v in run["rr_attributes"].items()})
    return view


@PROPERTY
@given(
    query=queries(fields=["run_number", "energy", "fill_number", "stable_beam", "hlt_key", "start_time", "class", "significant", "bpix_ready", "ls_number"], max_leaves=5),
    rows=rr_runs,
)
def test_plan_rr_raw_run_level(query: Any, rows: list[dict[str, Any]]) -> None:
    check_plan("rr-raw", query, rows, fetch=lambda f: select_runs(dict(f), rows), key=lambda r: r["run_number"], row_view=rr_view)


# ------------------------------------------------------------------------------------------ units


def test_cross_field_or_on_dials_is_one_request_per_alternative() -> None:
    p = plan('run_number == 5 or dataset == "/ZeroBias/A/DQMIO"', "dials:run")
    assert sorted(map(repr, p.requests)) == sorted(map(repr, [{"run_number": 5}, {"dataset": "/ZeroBias/A/DQMIO"}]))
    assert p.residual is None and p.exact


def test_list_without_in_lookup_is_one_request_per_value() -> None:
    p = plan("run_number in [1, 5, 9]", "dials:run")  # run/ declares no run_number__in
    assert list(p.requests) == [{"run_number": 1}, {"run_number": 5}, {"run_number": 9}]
    assert p.residual is None
    # Where __in is declared, the list is one request.
    assert list(plan("dataset_id in [1, 5, 9]", "dials:run").requests) == [{"dataset_id__in": "1,5,9"}]


def test_inexact_rr_filter_keeps_the_query_as_residual() -> None:
    query = parse("tracker-strip == GOOD and dt-dt == GOOD")
    p = plan(query, "rr")
    assert len(p.requests) == 1 and p.requests[0].exact is False
    assert p.residual == query and not p.exact
    assert any("superset" in n for n in p.notes)


def test_unpushable_query_is_one_empty_request_with_the_full_residual() -> None:
    query = parse('hlt_key ~ "Physics" or not (components contains "PIXEL")')
    for target in ("oms:runs", "rr"):
        p = plan(query, target)
        assert [dict(r) for r in p.requests] == [{}], target
        assert p.residual == query
    with pytest.raises(QueryError, match="dials:run rows do not carry 'hlt_key', 'components'"):
        plan(query, "dials:run")  # DIALS run rows have neither field: nothing could re-check them


def test_execute_merges_duplicates_by_key_and_applies_the_residual() -> None:
    rows = [{"run_number": 1, "energy": 6500.0, "hlt_key": "/cdaq/physics"}, {"run_number": 2, "energy": 6500.0, "hlt_key": "x"}]
    p = plan('energy > 6000 and (run_number == 1 or run_number == 2) and hlt_key ~ "physics"', "oms:runs")
    assert len(p.requests) == 2 and p.residual is not None
    calls: list[Any] = []

    def fetch(params: Any) -> list[Any]:
        calls.append(params)
        return rows  # the service returns everything: only the residual narrows it
    out = p.execute(fetch=fetch, key=lambda r: r["run_number"], row_view=lambda r: O.row_paths("runs", r))
    assert [r["run_number"] for r in out] == [1] and len(calls) == 2


@pytest.mark.parametrize(
    "target,query,field",
    [
        ("dials:th2", 'logical_file_name ~ "^/store/x" and ls_number != 3', "logical_file_name"),
        ("dials:ml-bad-lumisection", 'dataset == "/ZeroBias/A/DQMIO" and ls_number > 5', "dataset"),
        ("oms:runs", "energy > 6000 and tracker-strip == GOOD", "tracker-strip"),
    ],
)
def test_a_residual_on_a_field_the_rows_lack_is_refused_not_emptied(target: str, query: str, field: str) -> None:
    """Re-checking these rows locally would read the field as missing and drop every matching row."""
    with pytest.raises(QueryError) as info:
        plan(query, target)
    assert info.value.category == "unsupported" and f"'{field}'" in info.value.message
    assert info.value.query == query and query[info.value.column - 1 :].startswith(field)


def test_a_field_the_rows_lack_is_fine_when_the_server_applies_it_exactly() -> None:
    p = plan('logical_file_name ~ "^/store/x" and ls_number > 3', "dials:th2")
    assert p.residual is None and p.requests == ({"ls_number__gte": 4, "logical_file_name__regex": "^/store/x"},)
