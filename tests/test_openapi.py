"""``dqquery.targets.from_openapi``: reading a django-filter service's OpenAPI document (located errors for bad
documents, size limits), the lookups beyond DIALS' (``gt``/``lt``, ``contains``), rows and pagination, and a plan
property on a fake service built from the same document. DIALS and the Playground have their own test files."""

from __future__ import annotations

import copy
import doctest
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dqquery
from dqquery import limits
from dqquery.errors import QueryError
from dqquery.semantics import selects
from dqquery.targets import openapi as O
from dqquery.targets.openapi import DocumentError, ParamOverride, from_openapi
from dqquery.testing import fake_django_filter
from dqquery.testing.fake_django_filter import FakeDjangoFilter

PATH = "/api/v2/items/"


def _param(name: str, typ: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": typ}}


def _document(*params: dict[str, Any], rows: bool = True, page: bool = True) -> dict[str, Any]:
    get: dict[str, Any] = {"parameters": [*([_param("page", "integer")] if page else []), *params]}
    if rows:
        item = {"type": "object", "properties": {"id": {"type": "integer"}, "run": {"type": "integer"},
                                                  "ls": {"type": "object", "properties": {"number": {"type": "integer"}}},
                                                  "name": {"type": "string", "nullable": True}}}
        schema = ({"type": "object", "properties": {"count": {"type": "integer"}, "results": {"type": "array", "items": item}}}
                  if page else {"type": "array", "items": item})
        get["responses"] = {"200": {"description": "ok", "content": {"application/json": {"schema": schema}}}}
    return {"openapi": "3.0.3", "paths": {PATH: {"get": get}, PATH + "{id}/": {"get": {"parameters": []}}}}


STRICT = _document(_param("run__gt", "integer"), _param("run__lt", "integer"), _param("ls__number", "integer"),
                   _param("name__contains"), _param("name"))
FIELDS = {"run_number": "run", "ls_number": "ls__number", "me": "name"}


def _target(document: Any = STRICT, **kwargs: Any) -> O.OpenAPITarget:
    return from_openapi(document, name="items", fields=kwargs.pop("fields", FIELDS), page_size=kwargs.pop("page_size", 3),
                        register=False, **kwargs)


def test_module_examples_run():
    for module in (O, fake_django_filter):
        assert doctest.testmod(module).failed == 0


def test_one_option_per_list_path_named_after_it():
    target = _target()
    assert target.options == ("items",)
    lp = target.list_paths["items"]
    assert lp.path == PATH and lp.pagination == O.Pagination("page", 3)
    assert {n: (p.column, p.lookup, p.kind, p.path) for n, p in lp.params.items()} == {
        "run__gt": ("run", "gt", "number", "run.run_number"),
        "run__lt": ("run", "lt", "number", "run.run_number"),
        "ls__number": ("ls__number", "exact", "number", "lumisection.lumisection_number"),
        "name__contains": ("name", "contains", "string", "dials.me"),
        "name": ("name", "exact", "string", "dials.me"),
    }


@pytest.mark.parametrize(("query", "request_"), [
    ("run_number >= 5", {"run__gt": 4}),
    ("run_number <= 5", {"run__lt": 6}),
    ("run_number > 5 and run_number < 9", {"run__gt": 5, "run__lt": 9}),
    ("run_number in 3..5", {"run__gt": 2, "run__lt": 6}),
    ("ls_number == 4", {"ls__number": 4}),
    ('me contains "TEC"', {"name__contains": "TEC"}),
    ('me == "a b"', {"name": "a b"}),
])
def test_strict_bounds_and_contains(query, request_):
    assert _target().compile(query, None).request == request_


@pytest.mark.parametrize("query", ['me contains " TEC"', 'me contains ""', 'me contains "a" and me contains "b"', "ls_number > 3",
                                   'me like "a%"', "run_number in [1, 5]", "ls_number == 1 or ls_number == 2"])
def test_what_the_service_cannot_say_is_refused(query):
    with pytest.raises(QueryError) as info, dqquery.targets.registered(_target()):
        dqquery.compile(query, "items")
    assert info.value.category == "unsupported" and info.value.target == "items:items"
    assert info.value.offset is not None


def test_without_a_row_schema_plan_refuses_a_residual_it_could_not_check():
    target = from_openapi(_document(_param("run__gt", "integer"), rows=False), name="bare", fields=FIELDS, register=False)
    with dqquery.targets.registered(target):
        assert dqquery.plan("run_number > 4", "bare").requests == ({"run__gt": 4},)
        with pytest.raises(QueryError, match="rows do not carry"):
            dqquery.plan("run_number > 4 and ls_number == 1", "bare")


def _bad(mutate) -> DocumentError:
    doc = copy.deepcopy(STRICT)
    mutate(doc)
    with pytest.raises(DocumentError) as info:
        _target(doc)
    return info.value


def _params(doc: dict[str, Any]) -> list[Any]:
    return doc["paths"][PATH]["get"]["parameters"]


def test_bad_documents_are_refused_with_where():
    assert _bad(lambda d: d.update(openapi="2.0")).where == "openapi"
    assert _bad(lambda d: d.pop("paths")).where == "paths"
    assert _bad(lambda d: _params(d).append({"in": "query"})).where == f"paths.{PATH}.get.parameters[6]"
    err = _bad(lambda d: _params(d).append(_param("x", "date")))
    assert err.where == f"paths.{PATH}.get.parameters[6].schema.type" and "unknown schema type" in str(err)
    err = _bad(lambda d: _params(d).append({"name": "x", "in": "query", "schema": {"type": "array", "items": {"type": "integer"}}}))
    assert "only 'in' and 'range' take lists" in str(err)
    assert "points to nothing" in str(_bad(lambda d: _params(d).append({"$ref": "#/components/parameters/x"})))
    err = _bad(lambda d: _params(d).append(_param("name__regex", "integer")))
    assert "declared number but filters 'me', a string field" in str(err)


def test_bad_arguments_are_refused_with_where():
    with pytest.raises(DocumentError, match="unknown catalog field 'run_numbr' \\(did you mean 'run_number'\\?\\)"):
        _target(fields={"run_numbr": "run"})
    with pytest.raises(DocumentError, match="mapped to both"):
        _target(fields={"run_number": "run", "ls_number": ("ls__number", "run")})
    with pytest.raises(DocumentError, match="targets take int, string and bool fields"):
        _target(fields={"tracker-strip": "run"})
    with pytest.raises(DocumentError, match="'energy' is a float field"):
        _target(fields={"energy": "run"})
    with pytest.raises(DocumentError, match="not a list path"):
        _target(overrides={"nothing": {"x": ParamOverride("r", add=True)}})
    with pytest.raises(DocumentError, match="does not declare"):
        _target(overrides={"items": {"x": ParamOverride("r", means="run__gte")}})
    with pytest.raises(ValueError, match="reason"):
        ParamOverride("")
    twice = copy.deepcopy(STRICT)
    twice["paths"][PATH.rstrip("/")] = twice["paths"][PATH]
    with pytest.raises(DocumentError, match="would both be the option 'items'"):
        _target(twice)
    assert _target(twice, include=[PATH]).options == ("items",)
    with pytest.raises(DocumentError, match="target name"):
        from_openapi(STRICT, name="a:b", fields=FIELDS, register=False)


def test_text_and_file_documents_and_their_limits(tmp_path, monkeypatch):
    text = json.dumps(STRICT)
    assert _target(text).options == ("items",)
    path = tmp_path / "doc.json"
    path.write_text(text, encoding="utf-8")
    assert _target(path).options == ("items",)
    with pytest.raises(DocumentError, match="not JSON") as info:
        _target(text[:-3])
    assert info.value.where.startswith("line 1 column")
    with pytest.raises(DocumentError, match="nests more than"):
        _target('{"openapi": "3.0.0", "paths": {}, "x": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(DocumentError, match="cannot read"):
        _target(tmp_path / "missing.json")
    monkeypatch.setattr(O, "MAX_OPENAPI_BYTES", 100)
    with pytest.raises(DocumentError, match="more than the limit"):
        _target(text)
    with pytest.raises(DocumentError, match="more than the limit"):
        _target(path)
    monkeypatch.setattr(O, "MAX_OPENAPI_PATHS", 1)
    with pytest.raises(DocumentError, match="paths, more than the limit"):
        _target(STRICT)
    assert limits.MAX_OPENAPI_BYTES >= 2**20


def test_iter_rows_follows_page_numbers_and_cursors():
    target = _target()
    rows = [{"id": i, "run": i, "ls": {"number": 1}, "name": "n"} for i in range(1, 8)]
    fake = FakeDjangoFilter(STRICT, {PATH: rows}, page_size=3)
    assert [r["id"] for r in target.iter_rows(None, {"run__gt": 1}, fake.get)] == [2, 3, 4, 5, 6, 7]
    pages = {"": {"next": "http://x/?next_token=abc&page_size=2", "results": [1, 2]}, "abc": {"next": None, "results": [3]}}
    cursor = from_openapi(_document(_param("next_token"), _param("run__gt", "integer"), page=False), name="c",
                          fields=FIELDS, register=False)
    assert cursor.list_paths["items"].pagination.style == "cursor"
    assert list(cursor.iter_rows(None, {}, lambda path, params: pages[params.get("next_token", "")])) == [1, 2, 3]
    plain = from_openapi(_document(_param("run__gt", "integer"), page=False), name="p", fields=FIELDS, register=False)
    assert list(plain.iter_rows(None, {}, lambda path, params: [{"id": 1}])) == [{"id": 1}]


# ------------------------------------------------------------------------------------------------ the plan property

ROW = st.builds(lambda run, ls, name: {"run": run, "ls": {"number": ls}, "name": name},
                st.one_of(st.none(), st.integers(0, 9)), st.integers(0, 4), st.one_of(st.none(), st.sampled_from(["TEC", "tec", "TIB+", " TEC"])))


def _leaf() -> st.SearchStrategy[str]:
    n = st.integers(-1, 10)
    return st.one_of(
        st.builds(lambda op, v: f"run_number {op} {v}", st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), n),
        st.builds(lambda a, b: f"run_number in {min(a, b)}..{max(a, b)}", n, n),
        st.builds(lambda v: f"ls_number == {v}", st.integers(0, 4)),
        st.builds(lambda v: f'me contains "{v}"', st.sampled_from(["TE", "te", "+", "TEC"])),
        st.builds(lambda v: f'me == "{v}"', st.sampled_from(["TEC", "tec"])),
    )


QUERIES = st.recursive(_leaf(), lambda inner: st.one_of(
    inner.map(lambda q: f"not ({q})"),
    st.lists(inner, min_size=2, max_size=3).map(lambda qs: " and ".join(f"({q})" for q in qs)),
    st.lists(inner, min_size=2, max_size=3).map(lambda qs: " or ".join(f"({q})" for q in qs)),
), max_leaves=4)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(query=QUERIES, rows=st.lists(ROW, max_size=12))
def test_plan_on_a_fake_built_from_the_same_document_selects_what_the_query_means(query, rows):
    rows = [{"id": i, **row} for i, row in enumerate(rows)]
    target = _target()
    fake = FakeDjangoFilter(STRICT, {PATH: rows}, page_size=3)
    with dqquery.targets.registered(target):
        p = dqquery.plan(query, "items")
    got = p.execute(fetch=lambda request: list(target.iter_rows(None, request, fake.get)), key=lambda r: r["id"],
                    row_view=lambda r: target.row_view(None, r))
    node = dqquery.parse(query)
    assert sorted(r["id"] for r in got) == [r["id"] for r in rows if selects(node, target.row_view(None, r))], p.describe()


def _many_paths(n: int) -> str:
    doc = copy.deepcopy(STRICT)
    template = doc["paths"].pop(PATH)
    for i in range(n):
        doc["paths"][f"/api/v2/items{i}/"] = template
    return json.dumps(doc)


def _many_parameters(n: int) -> str:
    return json.dumps(_document(*[_param(f"c{i}__lookup{i % 7}") for i in range(n)], _param("run__gt", "integer")))


@pytest.mark.parametrize(("make", "n"), [(_many_paths, 150), (_many_parameters, 100)], ids=["paths", "parameters"])
def test_reading_a_document_takes_linear_time(make, n):
    from test_complexity import assert_linear

    assert_linear(lambda text: _target(text), make, n, baseline=json.loads)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "query", "integer", "string", "array", "#/x", "#/paths",
                                                                       "page", "a__gte", "deepObject", "3.0.0"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["name", "in", "schema", "type", "items", "$ref", "get", "parameters", "responses", "200", "content",
                         "application/json", "properties", "results", "style", "openapi", "paths", "/p/"]), inner, max_size=4),
    max_leaves=12,
)


def _replaced(doc: Any, where: list[int], value: Any) -> Any:
    """``doc`` with the node found by following the indexes ``where`` (mod each container's size) replaced."""
    if not where or not isinstance(doc, (dict, list)) or not doc:
        return value
    keys = list(doc) if isinstance(doc, dict) else list(range(len(doc)))
    key = keys[where[0] % len(keys)]
    out = dict(doc) if isinstance(doc, dict) else list(doc)
    out[key] = _replaced(doc[key], where[1:], value)
    return out


@settings(max_examples=400, deadline=None, derandomize=True)
@given(where=st.lists(st.integers(0, 20), max_size=8), value=JSON)
def test_a_damaged_document_is_read_or_refused_with_a_document_error(where, value):
    document = {**STRICT, "paths": _replaced(STRICT["paths"], where, value)}  # the top level is tested above
    try:
        target = _target(document)
    except DocumentError as err:
        assert str(err)
        return
    for option in target.options:  # a document that was read compiles or refuses queries cleanly
        try:
            target.compile("run_number >= 2 and ls_number == 1", option)
        except QueryError as err:
            assert err.category == "unsupported"
