"""A fake django-filter service built from an OpenAPI document: its list paths, filters, row types and pagination.

    >>> from dqquery.targets.playground import DOCUMENT
    >>> rows = [{"id": i, "entries": i * 10, "title": "h", "lumisection": {"id": i, "ls_number": i, "run": {"run_number": 1}},
    ...          "source_data_file": None} for i in range(1, 4)]
    >>> fake = FakeDjangoFilter(DOCUMENT, {"/api/lumisection_histograms_1d/": rows}, page_size=50)
    >>> [r["id"] for r in fake.get("/api/lumisection_histograms_1d/", {"entries__gte": "15", "entries__gt": "999"})["results"]]
    [2, 3]

Decisions (django-filter on PostgreSQL, as a ``FilterSet`` with a ``ModelSerializer`` and DRF pagination):
* The same document as the target: the filters of a path are what :func:`dqquery.targets.openapi.read_list_paths`
  reads (with the same overrides); each filter's column type comes from the row schema of the document (the
  model field), not from the parameter's schema (generated documents type every filter as a string). A
  declared column the row schema does not describe cannot be emulated: the constructor refuses the document.
* Undeclared parameters are ignored, as django-filter does; a repeated parameter counts with its last value
  (``QueryDict``); an empty value skips its filter; text values are stripped (Django's ``CharField``); a bad number
  is a 400 with django-filter's per-field error body (``{"entries__gte": ["Enter a number."]}``).
* Lookups: ``exact``, ``iexact``, ``contains``/``icontains`` (case-sensitive / ``UPPER`` on both sides),
  ``startswith``/``endswith`` (and ``i``-forms), ``gt``/``gte``/``lt``/``lte``, ``in`` (a comma list; empty items
  skipped), ``regex``/``iregex`` (PostgreSQL's ``~``/``~*``, searched; ``.`` matches a newline), ``isnull``. A null
  column matches nothing but ``isnull``. Any other lookup is refused at construction.
* Pagination: ``page`` (DRF ``PageNumberPagination``: ``page`` from 1, ``{count, next, previous, results}``, absolute
  ``next``/``previous`` links, a page past the end or not a number is 404 ``Invalid page.``; page 1 of nothing
  is an empty page) or ``none`` (the JSON array). Rows keep the table's order.
"""

from __future__ import annotations

import decimal
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ..patterns import PatternError, compile_regex, regex_search
from ..targets.openapi import Overrides, Pagination, column_schema, load_document, read_list_paths
from .server import Request, Response

__all__ = ["BadRequest", "FakeDjangoFilter"]

_EMULATED = frozenset(
    "exact iexact contains icontains startswith istartswith endswith iendswith gt gte lt lte in regex iregex isnull".split()
)


class BadRequest(Exception):
    """A 400 answer: parameter -> its errors (django-filter's body)."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        super().__init__(dict(errors))
        self.errors = dict(errors)


class _Skip:
    """An empty value: the filter is not applied."""


_SKIP = _Skip()


def _number(text: str) -> decimal.Decimal:
    try:
        value = decimal.Decimal(text.strip())
    except decimal.InvalidOperation:
        raise ValueError("Enter a number.") from None
    if not value.is_finite():
        raise ValueError("Enter a number.")
    return value


def _text(text: str) -> Any:
    if "\x00" in text:
        raise ValueError("Null characters are not allowed.")
    return text.strip() or _SKIP


def _boolean(text: str) -> Any:
    return {"true": True, "1": True, "false": False, "0": False}.get(text.strip().lower(), _SKIP)


_PARSERS: dict[str, Callable[[str], Any]] = {"number": _number, "string": _text, "bool": _boolean}
_TYPES = {"integer": "number", "number": "number", "boolean": "bool", "string": "string"}


def _regex(pattern: str) -> None:
    try:
        compile_regex(pattern, dot_matches_newline=True)
    except PatternError as exc:
        raise BadRequest({"detail": [f"invalid regular expression: {exc.message}"]}) from None


def _matcher(lookup: str, value: Any) -> Callable[[Any], bool]:
    """How one parsed filter value tests a column value (``None``: a SQL null)."""
    given = lambda f: (lambda x: x is not None and f(x))  # a null column matches nothing
    table: dict[str, Callable[[], Callable[[Any], bool]]] = {
        "exact": lambda: given(lambda x: x == value),
        "iexact": lambda: given(lambda x: str(x).upper() == str(value).upper()),
        "contains": lambda: given(lambda x: str(value) in str(x)),
        "icontains": lambda: given(lambda x: str(value).upper() in str(x).upper()),
        "startswith": lambda: given(lambda x: str(x).startswith(str(value))),
        "istartswith": lambda: given(lambda x: str(x).upper().startswith(str(value).upper())),
        "endswith": lambda: given(lambda x: str(x).endswith(str(value))),
        "iendswith": lambda: given(lambda x: str(x).upper().endswith(str(value).upper())),
        "gt": lambda: given(lambda x: x > value),
        "gte": lambda: given(lambda x: x >= value),
        "lt": lambda: given(lambda x: x < value),
        "lte": lambda: given(lambda x: x <= value),
        "in": lambda: given(lambda x: any(x == v for v in value)),
        "regex": lambda: given(lambda x: isinstance(x, str) and regex_search(value, x, dot_matches_newline=True)),
        "iregex": lambda: given(lambda x: isinstance(x, str) and regex_search(f"(?i:{value})", x, dot_matches_newline=True)),
        "isnull": lambda: (lambda x: (x is None) == value),
    }
    return table[lookup]()


def _read(row: Mapping[str, Any], column: str) -> Any:
    value: Any = row
    for part in column.split("__"):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


class FakeDjangoFilter:
    """An app (:mod:`dqquery.testing.server`) serving ``tables`` (list path -> rows as the row schema describes
    them) with the filters and pagination of the OpenAPI ``document``."""

    def __init__(self, document: Mapping[str, Any] | str | Path, tables: Mapping[str, Sequence[Mapping[str, Any]]], *,
                 page_size: int | None = None, overrides: Overrides | None = None,
                 pagination: Pagination | None = None) -> None:
        doc = load_document(document)
        read = read_list_paths(doc, {}, overrides=overrides, pagination=pagination, page_size=page_size)
        by_path = {lp.path: lp for lp in read.values()}
        unknown = [p for p in tables if p not in by_path]
        if unknown:
            raise ValueError(f"no list path {unknown[0]!r} in the document (its list paths: {', '.join(by_path)})")
        self.tables = {path: list(rows) for path, rows in tables.items()}
        self.paths = {path: by_path[path] for path in tables}
        self.filters: dict[str, dict[str, tuple[str, str, str]]] = {}
        for path, lp in self.paths.items():
            if lp.pagination.style not in ("page", "none"):
                raise ValueError(f"{path}: {lp.pagination.style} pagination is not emulated")
            if lp.pagination.style == "page" and not lp.pagination.size:
                raise ValueError(f"{path}: page-number pagination needs its page_size")
            filters: dict[str, tuple[str, str, str]] = {}
            for name, declared in lp.params.items():
                if declared.lookup not in _EMULATED:
                    raise ValueError(f"{path}: the lookup of {name!r} ({declared.lookup}) is not emulated")
                schema = column_schema(doc, path, declared.column)
                if schema is None:
                    raise ValueError(f"{path}: {name!r} filters '{declared.column}', which the row schema does not describe")
                kind = "bool" if declared.lookup == "isnull" else _TYPES.get(str(schema.get("type")), "string")
                filters[name] = (declared.column, declared.lookup, kind)
            self.filters[path] = filters

    def select(self, path: str, params: Mapping[str, str]) -> list[Mapping[str, Any]]:
        """The rows of ``path`` the parameters select (table order); :class:`BadRequest` for bad values."""
        tests: list[tuple[str, Callable[[Any], bool]]] = []
        errors: dict[str, list[str]] = {}
        for name, (column, lookup, kind) in self.filters[path].items():
            if name not in params:
                continue  # undeclared parameters never get here: they are ignored
            text = params[name]
            try:
                if lookup == "in":
                    value: Any = [_PARSERS[kind](item) for item in text.split(",") if item.strip()]
                    value = [v for v in value if v is not _SKIP] or _SKIP
                else:
                    value = _PARSERS[kind](text)
            except ValueError as err:
                errors[name] = [str(err)]
                continue
            if value is _SKIP:
                continue
            if lookup in ("regex", "iregex"):
                _regex(value)
            tests.append((column, _matcher(lookup, value)))
        if errors:
            raise BadRequest(errors)
        return [row for row in self.tables[path] if all(test(_number_or(_read(row, column))) for column, test in tests)]

    def get(self, path: str, params: Mapping[str, Any], base_url: str = "http://fake") -> Any:
        """The JSON answer to ``GET path?params`` (values as ``str(value)``), raising :class:`BadRequest` for a 400
        and ``LookupError`` for a 404; in-process, for tests."""
        response = self.handle(Request("GET", path, [(k, str(v)) for k, v in params.items()], {}, b"", base_url))
        body = json.loads(response.body)
        if response.status == 400:
            raise BadRequest(body)
        if response.status != 200:
            raise LookupError(f"{response.status}: {body}")
        return body

    def handle(self, request: Request) -> Response:
        if request.path not in self.paths:
            return Response.json({"detail": "Not found."}, status=404)
        if request.method != "GET":
            return Response.json({"detail": f'Method "{request.method}" not allowed.'}, status=405)
        params = dict(request.query)  # QueryDict.get: the last value of a repeated key
        try:
            rows = self.select(request.path, params)
        except BadRequest as err:
            return Response.json(err.errors, status=400)
        lp = self.paths[request.path]
        if lp.pagination.style == "none":
            return Response.json(rows)
        size = lp.pagination.size or 1
        pages = max(1, -(-len(rows) // size))
        raw = params.get("page", "1")
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= pages:
            return Response.json({"detail": "Invalid page."}, status=404)
        number = int(raw)

        def link(n: int) -> str | None:
            if not 1 <= n <= pages:
                return None
            return f"{request.base_url}{request.path}?{urlencode({**params, 'page': n})}"

        return Response.json({"count": len(rows), "next": link(number + 1), "previous": link(number - 1),
                              "results": rows[(number - 1) * size: number * size]})


def _number_or(value: Any) -> Any:
    """Numbers are compared as decimals (the parsed filter values are ``Decimal``); other values as they are."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return decimal.Decimal(str(value)) if isinstance(value, float) else decimal.Decimal(value)

