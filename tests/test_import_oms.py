"""dqquery.from_oms: raw parameters, omsapi chains and cmsdials OMS queries, read as the OMS model reads them
(checked row by row against dqquery.emulate.oms), and round trips through the OMS compiler."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import dqquery
from dqquery.emulate.oms import OmsBadRequest, apply_oms_filters
from dqquery.errors import QueryError
from dqquery.importers.oms import CMSDIALS_OMS_OPERATORS, attribute_path, omsapi_params
from dqquery.semantics import selects
from dqquery.strategies import queries
from dqquery.targets.oms import to_oms

RECORDS = [json.loads(line) for line in (Path(__file__).parent / "data" / "real-filters" / "filters.jsonl").read_text().splitlines()]
PROPERTY = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
CHAINS = [r for r in RECORDS if r["format"] == "omsapi-chain"]


@pytest.mark.parametrize("record", CHAINS, ids=[r["id"] for r in CHAINS])
def test_omsapi_chain_emits_what_omsapi_emitted(record: dict) -> None:
    params, _ = omsapi_params(record["filter"], record["endpoint_or_kind"])
    assert [f"{k}={v}" for k, v in params.items()] == record["expected_transform"]


def test_cmsdials_oms_query_sends_the_recorded_parameters() -> None:
    (record,) = [r for r in RECORDS if r["format"] == "cmsdials-oms-query"]
    imp = dqquery.from_oms(record["filter"])
    sent = {k: v for k, v in record["expected_transform"].items() if k.startswith("filter[")}
    assert imp.kind == "datasetrates" and dqquery.from_oms(sent, "datasetrates").query == imp.query


def test_cmsdials_refuses_what_from_oms_says_it_refuses() -> None:
    cmsdials_filters = pytest.importorskip("cmsdials.filters")
    for op in ("eq", "CT", "ge"):
        with pytest.raises(Exception):
            cmsdials_filters.OMSFilter(attribute_name="run_number", value=1, operator=op)
        form = {"endpoint": "runs", "filters": [{"class": "OMSFilter", "kwargs": {"attribute_name": "run_number", "value": 1, "operator": op}}]}
        imp = dqquery.from_oms(form)
        assert imp.query is None and imp.findings[0].code in ("oms-lowercase-operator", "oms-operator-not-in-cmsdials")
    assert set(CMSDIALS_OMS_OPERATORS) == set(cmsdials_filters.OMSFilter.model_fields["operator"].annotation.__args__)


def test_forms_and_findings() -> None:
    assert dqquery.from_oms("filter[run_number][GE]=5&filter[run_number][le]=9&fields=a", "runs").text == "run_number in 5..9"
    assert [f.code for f in dqquery.from_oms("filter[run_number][le]=9", "runs").findings] == ["oms-lowercase-operator"]
    bare = dqquery.from_oms({"filter[run_number]": "5"}, "runs")
    assert bare.text == "run_number == 5" and [f.code for f in bare.findings] == ["oms-filter-without-operator"] and bare.clean
    ct = dqquery.from_oms({"filter[components][CT]": "PIXEL"}, "runs")
    assert ct.query is None and {f.code for f in ct.findings} == {"oms-operator-not-in-cmsdials", "not-expressible"}
    typo = dqquery.from_oms([["nun_number", 1, "EQ"], ["run_number", 2, "eq"]], "runs")
    assert typo.text == "run_number == 2"
    assert [f.code for f in typo.findings] == ["omsapi-drops-unknown-attribute", "oms-lowercase-operator"]
    assert "run_number" in typo.findings[0].fix
    assert dqquery.from_oms({"filter[run_number][XX]": "5"}, "runs").findings[0].code == "oms-rejects"


def test_bad_input_is_a_located_error() -> None:
    with pytest.raises(QueryError):
        dqquery.from_oms(42, "runs")
    with pytest.raises(QueryError):
        dqquery.from_oms([["run_number"]], "runs")
    with pytest.raises(QueryError):
        dqquery.from_oms([["run_number", 1, "EQ"]] * 200_000, "runs")


# ------------------------------------------------------------------------------------------------ against the OMS model

ATTRIBUTES = {
    "runs": {"run_number": st.integers(1, 4), "fill_number": st.integers(1, 4), "energy": st.sampled_from([900, 6500.0, 6800]),
             "sequence": st.sampled_from(["GLOBAL-RUN", "global-run", "MINIDAQ"]), "stable_beam": st.booleans(),
             "start_time": st.sampled_from(["2018-05-01T00:00:00Z", "2018-06-01T12:00:00Z"])},
    "lumisections": {"run_number": st.integers(1, 4), "lumisection_number": st.integers(1, 4), "fill_number": st.integers(1, 4),
                     "cms_active": st.booleans(), "beam1_present": st.booleans()},
}
# Mostly values every attribute reads (numbers, booleans), some that a type reads as "never matches".
TEXTS = st.one_of(st.integers(0, 5).map(str), st.sampled_from(["true", "false", "1", "3"]), st.sampled_from(["2.0", "6500", "6500.0", "true", "FALSE", "yes", "null", "GLOBAL-RUN",
                                                              "GLOBAL%", "2018-05-01T00:00:00Z", "x"]))
OPS = st.sampled_from(["EQ", "NEQ", "LT", "GT", "LE", "GE", "LIKE", "eq", "ge", None])


@st.composite
def oms_case(draw: Any) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    resource = draw(st.sampled_from(sorted(ATTRIBUTES)))
    attributes = ATTRIBUTES[resource]
    params = {}
    for _ in range(draw(st.integers(1, 3))):
        attribute, op = draw(st.sampled_from(sorted(attributes))), draw(OPS)
        # mostly a value of the attribute's own kind (as OMS text), sometimes any text
        own = attributes[attribute].map(lambda v: str(v).lower() if isinstance(v, bool) else str(v))
        text = draw(own) if draw(st.integers(0, 3)) else draw(TEXTS)
        params[f"filter[{attribute}]" + (f"[{op}]" if op else "")] = text
    rows = draw(st.lists(st.fixed_dictionaries({a: st.one_of(st.none(), v) for a, v in attributes.items()}), max_size=6))
    return resource, params, rows


def _paths(resource: str, row: dict[str, Any]) -> dict[str, Any]:
    return {attribute_path(resource, a): v for a, v in row.items() if v is not None}


@PROPERTY
@given(oms_case())
def test_imported_query_selects_the_rows_oms_returns(case: tuple) -> None:
    resource, params, rows = case
    imp = dqquery.from_oms(params, resource)
    served = apply_oms_filters(resource, params, rows)
    if imp.query is None:
        assert any(f.code == "not-expressible" for f in imp.findings), imp.findings
        return
    assert [r for r in rows if selects(imp.query, _paths(resource, r))] == served


@settings(PROPERTY, max_examples=150)
@given(st.sampled_from(sorted(ATTRIBUTES)), st.data())
def test_round_trip_through_the_compiler(resource: str, data: Any) -> None:
    fields = [attribute_path(resource, a) for a in ATTRIBUTES[resource]]
    query = data.draw(queries(fields, max_leaves=3))
    try:
        params = to_oms(query, resource)
    except QueryError:
        assume(False)
    imp = dqquery.from_oms(params, resource)
    assert imp.clean, imp.findings
    rows = data.draw(st.lists(st.fixed_dictionaries({a: st.one_of(st.none(), v) for a, v in ATTRIBUTES[resource].items()}), max_size=6))
    try:
        served = apply_oms_filters(resource, params, rows)
    except OmsBadRequest:  # pragma: no cover - the compiler never writes an unknown operator
        raise
    if imp.query is None:
        assert served == rows or any(f.code == "not-expressible" for f in imp.findings)
        return
    assert apply_oms_filters(resource, to_oms(imp.query, resource), rows) == served
