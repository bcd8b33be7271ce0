"""dqquery.from_dials: parameters, cmsdials objects and their record form, read as the DIALS server model reads
them (checked row by row against dqquery.emulate.dials), and round trips through the compiler."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import dqquery
from dqquery.dials_api import ENDPOINTS
from dqquery.emulate.dials import DialsBadRequest, DialsServerError, apply_dials_filters
from dqquery.errors import QueryError
from dqquery.importers.common import regex_findings
from dqquery.importers.dials import CMSDIALS_FIELDS, cmsdials_params
from dqquery.semantics import selects
from dqquery.strategies import queries
from dqquery.targets.dials import filterable_paths, to_dials

cmsdials_filters = pytest.importorskip("cmsdials.filters")

RECORDS = [json.loads(line) for line in (Path(__file__).parent / "data" / "real-filters" / "filters.jsonl").read_text().splitlines()]
DIALS_RECORDS = [r for r in RECORDS if r["format"] == "cmsdials-object"]
PROPERTY = settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


def test_cmsdials_fields_are_the_installed_clients() -> None:
    for name, fields in CMSDIALS_FIELDS.items():
        assert tuple(getattr(cmsdials_filters, name).model_fields) == fields


@pytest.mark.parametrize("record", DIALS_RECORDS, ids=[r["id"] for r in DIALS_RECORDS])
def test_record_form_sends_what_cmsdials_sends(record: dict) -> None:
    cls = getattr(cmsdials_filters, record["filter"]["class"])
    params, _ = cmsdials_params(record["filter"]["class"], record["filter"]["kwargs"])
    assert params == cls(**record["filter"]["kwargs"]).cleandict() == record["expected_transform"]
    # the real object and its record form import alike
    real = dqquery.from_dials(cls(**record["filter"]["kwargs"]), record["endpoint_or_kind"])
    written = dqquery.from_dials(record["filter"], record["endpoint_or_kind"])
    assert real.query == written.query
    assert {f.code for f in real.findings} == {f.code for f in written.findings} - {"cmsdials-unknown-kwarg-ignored"}


_KWARG_VALUES = st.one_of(st.none(), st.integers(0, 9), st.sampled_from(["ZeroBias", "PX.*", "a b"]), st.lists(st.integers(0, 9), max_size=3))


@PROPERTY
@given(st.sampled_from(sorted(CMSDIALS_FIELDS)), st.data())
def test_cmsdials_params_is_cleandict(class_name: str, data: Any) -> None:
    fields = CMSDIALS_FIELDS[class_name]
    keys = st.sampled_from([*fields, "title_contains", "min_run_number"])
    kwargs = data.draw(st.dictionaries(keys, _KWARG_VALUES, max_size=4))
    try:
        real = getattr(cmsdials_filters, class_name)(**kwargs).cleandict()
    except Exception:
        assume(False)
    params, findings = cmsdials_params(class_name, kwargs)
    assert params == real
    assert {f.where for f in findings} == {k for k in kwargs if k not in fields}


def test_the_th1_typo_loses_the_upper_bound() -> None:
    obj = cmsdials_filters.LumisectionHistogram1DFilters(run_number=1, ls_number__gte=5, ls_numbet__lte=9)
    imp = dqquery.from_dials(obj, "h1d")
    assert imp.text == "run_number == 1 and ls_number >= 5"
    assert [(f.code, f.where) for f in imp.findings] == [("dials-ls-number-typo", "ls_numbet__lte")]
    assert "ls_number__lte" in imp.findings[0].message


def test_undeclared_ignored_and_rejected_parameters() -> None:
    imp = dqquery.from_dials({"run_number__gt": 5, "run_number__gte": "6", "page_size": 50}, "run")
    assert imp.text == "run_number >= 6" and [(f.code, f.where) for f in imp.findings] == [("dials-undeclared-parameter", "run_number__gt")]
    assert dqquery.from_dials({"active": "yes"}, "ml-models-index").findings[0].code == "dials-value-ignored"
    bad = dqquery.from_dials({"run_number": "five", "me__regex": "("}, "th1")
    assert bad.query is None and sorted(f.code for f in bad.findings) == ["dials-rejects", "dials-rejects"]


def test_class_sent_to_another_endpoint() -> None:
    obj = cmsdials_filters.RunFilters(run_number=5)
    imp = dqquery.from_dials(obj, "lumisection")
    assert imp.text == "run_number == 5" and [f.code for f in imp.findings] == ["h1d-filter-on-h2d-endpoint"]


def test_bad_input_is_a_located_error() -> None:
    with pytest.raises(QueryError, match="unknown DIALS endpoint"):
        dqquery.from_dials({}, "th3")
    with pytest.raises(QueryError, match="not a cmsdials filter class"):
        dqquery.from_dials({"class": "Nope", "kwargs": {}}, "th1")
    with pytest.raises(QueryError):
        dqquery.from_dials(42, "run")
    with pytest.raises(QueryError):
        dqquery.from_dials({"run_number__in": ",".join(["1"] * 10)} | {str(i): [0] * 200_000 for i in range(1)}, "run")


# ------------------------------------------------------------------------------------------------ regex heuristics


@pytest.mark.parametrize(
    ("pattern", "codes"),
    [
        ("Tracking/GeneralProperties/Track*", ["regex-looks-like-glob"]),
        ("EEOT digi occupancy EE +", ["regex-unescaped-metachar"]),
        ("occupancy EE+", ["regex-unescaped-metachar"]),
        ("a.*b", []), ("(1|2)+", []), (r"\d+_x", []), ("[a*]+", []), ("x[*]*", []), (r"EE \+", []), ("^PX", []),
        ("charge_PXLayer_(1|2)", []), ("[", []), ("\\", []),
    ],
)
def test_regex_heuristics(pattern: str, codes: list[str]) -> None:
    assert [f.code for f in regex_findings(pattern, "me__regex")] == codes


def test_the_fix_of_each_regex_finding_is_clean() -> None:
    for pattern in ("Track*", "EE +", "EE+ x"):
        (found,) = regex_findings(pattern, "me__regex")
        fixed = json.loads(found.fix.split("write ", 1)[1].split(" (or", 1)[0])
        assert regex_findings(fixed, "me__regex") == []


def test_regex_heuristics_take_linear_time() -> None:
    def seconds(n: int) -> float:
        pattern = ("a*[b+]\\+ +" * n)[: 10 * n]
        start = time.perf_counter()
        regex_findings(pattern, "x")
        return time.perf_counter() - start

    small, large = min(seconds(2_000) for _ in range(3)), min(seconds(4_000) for _ in range(3))
    assert large < 4 * small


# ------------------------------------------------------------------------------------------------ against the server model

_NUMBER_TEXT = st.one_of(st.integers(0, 5), st.sampled_from(["3", " 2 ", "2.0", "2.5", "x", ""]))
_STRING_TEXT = st.sampled_from(["ZeroBias", " ZeroBias ", "Zero", "PX.*", "(1|2)", "x+", "(", ""])
_BOOL_TEXT = st.sampled_from([True, False, "true", "0", "yes", ""])


def _value(kind: str, lookup: str) -> st.SearchStrategy[Any]:
    if lookup == "in":
        return st.lists(st.integers(0, 5), min_size=1, max_size=3).map(lambda xs: ",".join(map(str, xs)))
    return {"number": _NUMBER_TEXT, "string": _STRING_TEXT, "bool": _BOOL_TEXT}[kind]


_ROW_STRINGS = st.sampled_from(["ZeroBias", "Zero", "PXBarrel", "1", "x+", "xx", "other"])


@st.composite
def endpoint_case(draw: Any) -> tuple[str, str, dict[str, Any], list[dict[str, Any]]]:
    name = draw(st.sampled_from(sorted(ENDPOINTS)))
    generation = draw(st.sampled_from(["v1.12.0", "2.4.1"]))
    record = ENDPOINTS[name]
    declared = list(record.declared(generation).values())
    chosen = draw(st.lists(st.sampled_from(declared), max_size=3, unique_by=lambda p: p.name))
    params = {p.name: draw(_value(p.kind, p.lookup)) for p in chosen}
    if draw(st.booleans()):
        params["run_number__gt"] = 1  # undeclared everywhere
    return name, generation, params, draw(endpoint_rows(name))


def endpoint_rows(name: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Rows carrying every column the endpoint's filters read (None: the row lacks the value)."""
    columns = {p.column: p.kind for p in ENDPOINTS[name].params}
    value = {"number": st.integers(0, 5), "string": _ROW_STRINGS, "bool": st.booleans()}
    return st.lists(st.fixed_dictionaries({c: st.one_of(st.none(), value[k]) for c, k in columns.items()}), max_size=6)


def _paths(name: str, row: dict[str, Any]) -> dict[str, Any]:
    return {p.path: row[p.column] for p in ENDPOINTS[name].params if p.path and row.get(p.column) is not None}


@PROPERTY
@given(endpoint_case())
def test_imported_query_selects_the_rows_the_server_model_returns(case: tuple) -> None:
    name, generation, params, rows = case
    imp = dqquery.from_dials(params, name, generation=generation)
    codes = {f.code for f in imp.findings}
    try:
        served = apply_dials_filters(name, params, rows, generation=generation)
    except (DialsBadRequest, DialsServerError):
        assert imp.query is None and "dials-rejects" in codes
        return
    assert "dials-rejects" not in codes
    assert ("run_number__gt" in params) == ("dials-undeclared-parameter" in codes)
    if imp.query is None:
        assert served == rows or "not-expressible" in codes  # unfiltered, or said why
        return
    assert [r for r in rows if selects(imp.query, _paths(name, r))] == served


@settings(PROPERTY, max_examples=150)
@given(st.sampled_from(sorted(ENDPOINTS)), st.data())
def test_round_trip_through_the_compiler(name: str, data: Any) -> None:
    fields = filterable_paths(name, "v1.12.0")
    assume(fields)
    query = data.draw(queries(fields, max_leaves=3))
    try:
        params = to_dials(query, name, generation="v1.12.0")
    except QueryError:
        assume(False)
    imp = dqquery.from_dials(params, name)
    assert imp.clean or all(f.code.startswith("regex-") for f in imp.findings), imp.findings
    rows = data.draw(endpoint_rows(name))
    served = apply_dials_filters(name, params, rows)
    if imp.query is None:
        assert served == rows or any(f.code == "not-expressible" for f in imp.findings)
        return
    assert apply_dials_filters(name, to_dials(imp.query, name, generation="v1.12.0"), rows) == served


# ------------------------------------------------------------------------------------------------ what to write instead

@pytest.mark.parametrize("class_name", ["LumisectionHistogram1DFilters", "LumisectionHistogram2DFilters"])
def test_the_correct_ls_number_lte_on_a_th_class_says_the_bound_is_lost(class_name: str) -> None:
    """cmsdials' th1/th2 classes declare only the misspelling: the right name is ignored by the client, and the
    finding says how to keep the bound instead of suggesting the misspelling."""
    endpoint = next(e.name for e in ENDPOINTS.values() if e.cmsdials_filters == class_name)
    imp = dqquery.from_dials({"class": class_name, "kwargs": {"run_number": 380238, "ls_number__lte": 100}}, endpoint)
    (f,) = [f for f in imp.findings if f.code == "cmsdials-unknown-kwarg-ignored"]
    assert f.where == "ls_number__lte" and "ls_numbet__lte" in f.message and "lost" in f.message
    assert f"'{endpoint}'" in f.fix and "ls_number <= 100" in f.fix and "ls_numbet" not in f.fix
    assert imp.query == dqquery.parse("run_number == 380238")  # what DIALS selects: the bound is not sent
    assert params_of(class_name, {"run_number": 380238, "ls_number__lte": 100}) == cmsdials_filters.__dict__[class_name](
        run_number=380238, ls_number__lte=100).cleandict()


def params_of(class_name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    return cmsdials_params(class_name, kwargs)[0]


@pytest.mark.parametrize("old", sorted(dqquery.importers.dials.CMSDIALS_0X_NAMES))
def test_a_cmsdials_0x_keyword_is_named_with_its_2x_field(old: str) -> None:
    """The fix names a field the 2.x class declares and that cmsdials really sends (not ignored in its turn)."""
    class_name = "LumisectionHistogram2DFilters"
    value = "EEOT" if dqquery.importers.dials.CMSDIALS_0X_NAMES[old].endswith("__regex") else 100
    (f,) = cmsdials_params(class_name, {old: value})[1]
    new = f.fix.split()[4]
    assert f.code == "cmsdials-unknown-kwarg-ignored" and f.where == old
    assert new in CMSDIALS_FIELDS[class_name]
    assert getattr(cmsdials_filters, class_name)(**{new: value}).cleandict() == {new: value}
    assert cmsdials_params(class_name, {new: value}) == ({new: value}, [])


def test_an_unknown_keyword_gets_the_closest_declared_fields() -> None:
    (f,) = cmsdials_params("LumisectionHistogram1DFilters", {"run_numbr__gte": 1})[1]
    assert f.fix.startswith("did you mean run_number__gte")
    (g,) = cmsdials_params("LumisectionHistogram1DFilters", {"zzzz": 1})[1]
    assert g.fix == ""
