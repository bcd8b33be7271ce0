"""Every filter of tests/data/real-filters (quoted from public CMS code; copied from shared/data/real-filters, see
its SOURCES.md) imports, or is refused with a located reason, with the findings its entry lists, and the imported
query selects what the entry's ``expected_query`` (the recorded truth) selects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dqquery
from dqquery import ast as A
from dqquery.catalog import lookup
from dqquery.semantics import selects

DATA = Path(__file__).parent / "data" / "real-filters" / "filters.jsonl"
RECORDS = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]

SOURCE_TEXT_TAGS = {"readme-snippet-invalid-python"}
"""Findings about the source text around a filter (a README snippet that does not parse): the linter's, which reads
the Python file; an importer gets the filter as data and cannot see them."""

IMPLEMENTED = {"rr", "dials", "oms", "jsonlogic"}
RULE_FILES = (".json", ".txt")
"""json-logic records quoted from a rule file are imported from the file's text (``verbatim``), as the linter
reads it; those quoted from Python or Markdown from the rule as data."""


def import_record(record: dict[str, Any]) -> Any:
    service, fmt, kind = record["service"], record["format"], record["endpoint_or_kind"]
    if service == "rr":
        return dqquery.from_rr(record["filter"], kind=kind, raw=fmt.endswith("-raw"))
    if service == "dials":
        return dqquery.from_dials(record["filter"], kind)
    if service == "oms":
        return dqquery.from_oms(record["filter"], kind)
    if service == "jsonlogic":
        text = record["verbatim"] if record["source"]["path"].endswith(RULE_FILES) else None
        dataset = (record["context"].get("kwargs") or {}).get("dataset_name_filter")
        return dqquery.import_jsonlogic(text if text is not None else record["filter"], kind, dataset_name_filter=dataset)
    raise AssertionError(fmt)  # pragma: no cover


def _ids(records: list[dict[str, Any]]) -> list[str]:
    return [r["id"] for r in records]


CASES = [r for r in RECORDS if r["service"] in IMPLEMENTED]


def test_the_copied_data_is_whole() -> None:
    assert len(RECORDS) == 55 and len({r["id"] for r in RECORDS}) == 55


@pytest.mark.parametrize("record", CASES, ids=_ids(CASES))
def test_findings_are_the_records_tags(record: dict[str, Any]) -> None:
    imported = import_record(record)
    tags = {f["tag"] for f in record["findings"]} - SOURCE_TEXT_TAGS
    codes = {f.code for f in imported.findings}
    if tags == {"none"}:
        assert imported.clean, [str(f) for f in imported.findings]
    else:
        assert codes == tags - {"none"}, [str(f) for f in imported.findings]
    assert all(f.message for f in imported.findings)
    if record["expected_query"] is None:
        assert imported.query is None or record["intended_query"] is not None
    else:
        assert imported.query is not None, [str(f) for f in imported.findings]


# ------------------------------------------------------------------------------------------------ same selection


def _values(row_type: str, literals: list[Any]) -> st.SearchStrategy[Any]:
    """Values around every literal the two queries name (equal, next to, missing), of the field's type."""
    base: list[Any] = [None]
    for v in literals:
        if isinstance(v, bool):
            base += [True, False]
        elif isinstance(v, int):
            base += [v - 1, v, v + 1]
        elif isinstance(v, float):
            base += [v - 0.5, v, v + 0.5]
        elif isinstance(v, str):
            base += [v, v.lower(), v + "x", v.replace("%", ""), v.replace("%", "ab"), "x" + v.strip("%") + "y"]
        else:
            base.append(v)
    if row_type == "bool":
        base += [True, False]
    if row_type == "status":
        base += ["GOOD", "BAD", "STANDBY", "EXCLUDED", "NOTSET"]
    return st.sampled_from(base)


def _literals(node: Any, path: str) -> list[Any]:
    out: list[Any] = []
    for p in A.predicates_of(node):
        if p.field.path != path:
            continue
        for attr in ("value", "low", "high"):
            if hasattr(p, attr):
                out.append(getattr(p, attr).value)
        if isinstance(p, A.InSet):
            out += [v.value for v in p.values]
        if isinstance(p, (A.Like, A.Regex)):
            out.append(p.pattern)
    return out


def _rows(a: Any, b: Any) -> st.SearchStrategy[dict[str, Any]]:
    paths = sorted({f.path for f in A.fields_of(a)} | {f.path for f in A.fields_of(b)})
    strategies = {}
    for path in paths:
        row = lookup(path)
        strategies[path] = _values(row.type if row else "any", _literals(a, path) + _literals(b, path))
    return st.fixed_dictionaries(strategies).map(lambda r: {k: v for k, v in r.items() if v is not None})


WITH_QUERY = [r for r in CASES if r["expected_query"] is not None]


@pytest.mark.parametrize("record", WITH_QUERY, ids=_ids(WITH_QUERY))
def test_imported_query_selects_what_the_service_selects(record: dict[str, Any]) -> None:
    imported = import_record(record).query
    expected = dqquery.parse(record["expected_query"])

    @settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(_rows(imported, expected))
    def same(row: dict[str, Any]) -> None:
        assert selects(imported, row) == selects(expected, row), row

    same()


# ------------------------------------------------------------------------------------------------ through the RR emulator

from dqquery.emulate.runregistry import COMBINATORS, select_runs  # noqa: E402
from dqquery.importers.rr import client_transform  # noqa: E402
from dqquery.targets.runregistry import to_rr  # noqa: E402

RR_RUN_RECORDS = [r for r in WITH_QUERY if r["service"] == "rr" and r["endpoint_or_kind"] == "runs"]


_OPERATORS = {"=", "<>", "!=", ">", ">=", "<", "<=", "like", "notlike", "ilike", "in", "notin"}


def _backend_literals(backend: Any, key: str = "") -> dict[str, list[Any]]:
    """Backend key (``oms_attributes.energy``, ``triplet_summary.dt-dt.GOOD``, ``run_number``) -> the literals the
    filter compares it with."""
    out: dict[str, list[Any]] = {}
    if isinstance(backend, list):
        for item in backend:
            for k, v in _backend_literals(item, key).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(backend, dict):
        for k, v in backend.items():
            inner = key if k in COMBINATORS or k in _OPERATORS else k
            for kk, vv in _backend_literals(v, inner).items():
                out.setdefault(kk, []).extend(vv)
    elif key:
        out.setdefault(key, []).append(backend)
    return out


def _around(value: Any) -> list[Any]:
    if isinstance(value, bool):
        return [True, False]
    if isinstance(value, (int, float)):
        return [value - 1, value, value + 1]
    if isinstance(value, str):
        plain = value.replace("%", "")
        return [value, plain, plain.lower(), "x" + plain + "y", plain[:-1]]
    return [value]


@st.composite
def _raw_runs(draw: Any, literals: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Raw RR run objects whose attributes take values around the filter's literals (or are missing)."""
    runs = []
    numbers = sorted({n for v in literals.get("run_number", [1]) if isinstance(v, int) for n in _around(v)})
    for number in draw(st.lists(st.sampled_from(numbers), min_size=1, max_size=6, unique=True)):
        run: dict[str, Any] = {"run_number": number, "oms_attributes": {}, "rr_attributes": {},
                               "DatasetTripletCache": {"triplet_summary": {}}}
        for key, values in literals.items():
            choices = [None] + [x for v in values for x in _around(v)]
            value = draw(st.sampled_from(choices))
            if value is None or key == "run_number":
                continue
            head, _, rest = key.partition(".")
            if head in ("oms_attributes", "rr_attributes"):
                run[head][rest] = value
            elif head == "triplet_summary":
                flag, _, status = rest.rpartition(".")
                run["DatasetTripletCache"]["triplet_summary"].setdefault(flag, {})[status] = draw(st.integers(0, 2))
        runs.append(run)
    return runs


def _sent(record: dict[str, Any]) -> dict[str, Any]:
    return dict(record["filter"]) if record["format"].endswith("-raw") else client_transform(record["filter"], "runs")[0]


def _recompiled(query: Any) -> dict[str, Any]:
    try:
        return client_transform(dict(to_rr(query, kind="runs")), "runs")[0]
    except dqquery.QueryError:
        return dict(to_rr(query, kind="runs", raw=True))


@pytest.mark.parametrize("record", RR_RUN_RECORDS, ids=_ids(RR_RUN_RECORDS))
def test_the_imported_rr_query_compiled_back_selects_the_same_runs_in_the_emulator(record: dict[str, Any]) -> None:
    """The filter as the client sends it and the imported query compiled back select the same runs from RR's
    backend emulator, on runs whose attributes sit on, beside and off the filter's literals."""
    imported = import_record(record)
    sent, again = _sent(record), _recompiled(imported.query)
    literals = _backend_literals(sent)
    assert literals, sent
    selected = lambda f, runs: sorted(r["run_number"] for r in select_runs(f, runs))
    hits = []

    @settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(_raw_runs(literals))
    def same(runs: list[dict[str, Any]]) -> None:
        assert selected(again, runs) == selected(sent, runs), (again, runs)
        hits.append(bool(selected(sent, runs)))

    same()
    assert any(hits), "no generated run was selected: the comparison proved nothing"


# ------------------------------------------------------------------------------------------------ through the DIALS emulator

from dqquery.dials_api import ENDPOINTS  # noqa: E402
from dqquery.emulate.dials import apply_dials_filters  # noqa: E402
from dqquery.importers.dials import cmsdials_params  # noqa: E402
from dqquery.targets.dials import to_dials  # noqa: E402

DIALS_RECORDS = [r for r in WITH_QUERY if r["format"] == "cmsdials-object"]


def _text_around(value: str) -> list[str]:
    """Names on and off a DIALS literal (also the literal read as a regex: its metacharacters dropped or doubled)."""
    plain = "".join(c for c in value if c.isalnum() or c in "/_ -")
    return [value, plain, "x" + value + "y", plain + "k", plain.replace(" +", " -"), value.lower(), "other"]


@st.composite
def _dials_rows(draw: Any, endpoint: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    declared = {p.name: p for p in ENDPOINTS[endpoint].params}
    choices: dict[str, list[Any]] = {}
    for name, value in params.items():
        p = declared.get(name)
        if p is None:
            continue
        choices.setdefault(p.column, [None]).extend(
            _text_around(str(value)) if p.kind == "string" else [True, False] if p.kind == "bool" else
            [int(value) - 1, int(value), int(value) + 1])
    row = st.fixed_dictionaries({c: st.sampled_from(v) for c, v in choices.items()})
    return draw(st.lists(row, min_size=1, max_size=8))


@pytest.mark.parametrize("record", DIALS_RECORDS, ids=_ids(DIALS_RECORDS))
def test_the_imported_dials_query_compiled_back_selects_the_same_rows_in_the_emulator(record: dict[str, Any]) -> None:
    """What cmsdials sends for the record and the imported query compiled back select the same rows from the DIALS
    server emulator (django-filter semantics), on rows on, beside and off the filter's literals."""
    endpoint = record["endpoint_or_kind"]
    sent, _ = cmsdials_params(record["filter"]["class"], record["filter"]["kwargs"])
    again = to_dials(import_record(record).query, endpoint)
    hits = []

    @settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(_dials_rows(endpoint, sent))
    def same(rows: list[dict[str, Any]]) -> None:
        served = apply_dials_filters(endpoint, sent, rows)
        assert apply_dials_filters(endpoint, again, rows) == served, (again, rows)
        hits.append(bool(served))

    same()
    assert any(hits), "no generated row was selected: the comparison proved nothing"


# ------------------------------------------------------------------------------------------------ through the OMS emulator

from dqquery.emulate.oms import apply_oms_filters, parse_filters  # noqa: E402
from dqquery.importers.oms import omsapi_params  # noqa: E402
from dqquery.targets.oms import to_oms  # noqa: E402

OMS_RECORDS = [r for r in WITH_QUERY if r["service"] == "oms" and r["endpoint_or_kind"] in ("runs", "lumisections")]


def _oms_sent(record: dict[str, Any]) -> dict[str, Any]:
    if record["format"] == "omsapi-chain":
        return omsapi_params(record["filter"], record["endpoint_or_kind"])[0]
    return {k: v for k, v in record["filter"].items()}


@pytest.mark.parametrize("record", OMS_RECORDS, ids=_ids(OMS_RECORDS))
def test_the_imported_oms_query_compiled_back_selects_the_same_rows_in_the_emulator(record: dict[str, Any]) -> None:
    """What the client sends for the record and the imported query compiled back select the same rows from the OMS
    emulator, on rows whose attributes sit on, beside and off the filter's literals."""
    resource = record["endpoint_or_kind"]
    sent = {k.replace("][eq]", "][EQ]"): v for k, v in _oms_sent(record).items()}  # omsapi upper-cases; as OMS reads it
    again = to_oms(import_record(record).query, resource)
    choices: dict[str, list[Any]] = {}
    for attribute, _, value in parse_filters(sent):
        literal = value if not isinstance(value, str) else (value.lower() == "true" if value.lower() in ("true", "false") else
                                                             int(value) if value.lstrip("-").isdigit() else value)
        choices.setdefault(attribute, [None]).extend(_around(literal))
    rows_strategy = st.lists(st.fixed_dictionaries({a: st.sampled_from(v) for a, v in choices.items()}), min_size=1, max_size=8)
    hits = []

    @settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(rows_strategy)
    def same(rows: list[dict[str, Any]]) -> None:
        served = apply_oms_filters(resource, sent, rows)
        assert apply_oms_filters(resource, again, rows) == served, (again, rows)
        hits.append(bool(served))

    same()
    assert any(hits), "no generated row was selected: the comparison proved nothing"
