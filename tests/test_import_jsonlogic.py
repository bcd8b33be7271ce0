"""dqquery.import_jsonlogic: json-logic rules as text or data, with findings, built on from_jsonlogic (whose API
and answers it keeps), and checked against RR's engine model (json-logic-js) on generated rows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import dqquery
from dqquery.emulate.jsonlogic_js import NotModelled, js_apply
from dqquery.errors import QueryError
from dqquery.jsonlogic_engine import js_truthy
from dqquery.limits import MAX_JSON_DEPTH
from dqquery.semantics import selects
from dqquery.strategies import queries
from dqquery.targets.jsonlogic import to_jsonlogic

PROPERTY = settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
FIELDS = ["run.oms.energy", "run.oms.hlt_key", "run.oms.injection_scheme", "lumisection.rr.dt-dt", "lumisection.oms.cms_active",
          "run.run_number"]

WMASS = {"==": [{"in": ["WMass", {"var": "run.oms.hlt_key"}]}, False]}


def codes(imported: Any) -> list[str]:
    return sorted(f.code for f in imported.findings)


def test_text_forms() -> None:
    rule = {"and": [{">=": [{"var": "run.oms.energy"}, 6000]}, WMASS]}
    clean = dqquery.import_jsonlogic(json.dumps(rule))
    assert clean.text == 'energy >= 6000 and (not hlt_key contains "WMass" or hlt_key is null)'
    assert codes(clean) == ["jsonlogic-in-substring", "jsonlogic-missing-value-passes"]
    commented = dqquery.import_jsonlogic("{\n// a comment\n" + json.dumps(rule)[1:])
    assert commented.query == clean.query and codes(commented) == sorted([*codes(clean), "jsonlogic-comments", "jsonlogic-file-not-json"])
    headed = dqquery.import_jsonlogic("/Express/Run2018_A/DQM\n" + json.dumps(rule), dataset_name_filter="/Express/Run2018_A/DQM")
    assert headed.query == clean.query
    assert {"jsonlogic-file-not-json", "dataset-filter-similar-to-wildcard"} <= set(codes(headed))
    broken = dqquery.import_jsonlogic('{"and": [')
    assert broken.query is None and codes(broken) == ["jsonlogic-file-not-json"]


def test_unknown_variables_and_reversed_in_give_no_query() -> None:
    unknown = dqquery.import_jsonlogic({"==": [{"var": "run.name"}, "x"]})
    assert unknown.query is None and codes(unknown) == ["jsonlogic-unknown-var"]
    reversed_in = dqquery.import_jsonlogic({"in": [{"var": "run.oms.injection_scheme"}, "25ns"]})
    assert reversed_in.query is None and codes(reversed_in) == ["jsonlogic-in-args-reversed"]
    assert reversed_in.findings[0].fix == json.dumps({"in": ["25ns", {"var": "run.oms.injection_scheme"}]})


def test_classifier_context() -> None:
    rule = {"and": [{"var": "gem_included"}, {"==": [{"var": "gemp_ready"}, False]}]}
    imp = dqquery.import_jsonlogic(rule, "rr-component-classifier")
    assert imp.text == "gem_included and gemp_ready == false" and codes(imp) == ["jsonlogic-classifier-context"]
    portal = dqquery.import_jsonlogic(rule)  # the same rule in the portal: bare names read null
    assert portal.query is None and codes(portal) == ["jsonlogic-unknown-var", "jsonlogic-unknown-var"]
    typo = dqquery.import_jsonlogic({"var": "gemp_redy"}, "rr-component-classifier")
    assert typo.query is None and "jsonlogic-unknown-var" in codes(typo)


def test_malformed_and_unrepresentable_rules_are_findings() -> None:
    assert codes(dqquery.import_jsonlogic({"and": []})) == ["jsonlogic-malformed"]
    assert codes(dqquery.import_jsonlogic({"log": [1]})) == ["not-expressible"]


@pytest.mark.parametrize("hostile", ["[" * (MAX_JSON_DEPTH + 5) + "]" * (MAX_JSON_DEPTH + 5), {"and": [{"var": "run.oms.energy"}] * 200_000}])
def test_hostile_input_is_a_located_error(hostile: Any) -> None:
    with pytest.raises(QueryError):
        dqquery.import_jsonlogic(hostile)


def test_context_is_checked() -> None:
    with pytest.raises(QueryError):
        dqquery.import_jsonlogic({}, "elsewhere")


_VALUES = {
    "run.oms.energy": st.sampled_from([None, 900, 6500.0, 7000]),
    "run.oms.hlt_key": st.sampled_from([None, "WMass_v1", "collisions", ""]),
    "run.oms.injection_scheme": st.sampled_from([None, "25ns_2556b", "50ns"]),
    "lumisection.rr.dt-dt": st.sampled_from([None, "GOOD", "BAD"]),
    "lumisection.oms.cms_active": st.sampled_from([None, True, False]),
    "run.run_number": st.integers(1, 3),
}


def _nested(row: dict[str, Any]) -> dict[str, Any]:
    """A dqquery row as the portal's nested object (a missing value is a missing key)."""
    out: dict[str, Any] = {}
    for path, value in row.items():
        if value is None:
            continue
        *parents, leaf = path.split(".")
        target = out
        for p in parents:
            target = target.setdefault(p, {})
        target[leaf] = value
    return out


@PROPERTY
@given(queries(FIELDS, max_leaves=4), st.lists(st.fixed_dictionaries(_VALUES), min_size=1, max_size=5))
def test_compiled_rules_import_to_what_rr_selects(query: Any, rows: list[dict[str, Any]]) -> None:
    try:
        rule = to_jsonlogic(query)
    except QueryError:
        assume(False)
    imp = dqquery.import_jsonlogic(rule)
    try:
        assert imp.query == dqquery.from_jsonlogic(rule)  # the same import as the unchanged API
    except QueryError as err:
        assert imp.query is None and imp.findings[-1].code in ("not-expressible", "jsonlogic-malformed")
        assert imp.findings[-1].message == err.message
        return
    assert all(f.severity != "error" for f in imp.findings), imp.findings
    for row in rows:
        try:
            rr = js_truthy(js_apply(rule, _nested(row)))
        except NotModelled:
            continue
        assert selects(imp.query, {k: v for k, v in row.items() if v is not None}) == rr, (row, rule)
