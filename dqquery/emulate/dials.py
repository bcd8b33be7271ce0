"""An in-memory model of how the DIALS server filters a list endpoint (django-filter on PostgreSQL).

Used by property tests (compiled parameters must mean what the query means) and by the fake DIALS
server. It is written from the reference notes on the backend (v1.12.0 ``FilterSet``s, django-filter and
Django forms), independently of :mod:`dqquery.targets.dials`, so that a test comparing the two can fail.

Behaviour modelled, traps included:
* Only declared filters act (:data:`FILTERSETS`); **every other parameter is silently ignored**
  (``run_number__gt``, ``ls_numbet__lte``, ``order_by`` ...).
* A repeated key uses its **last** value (``QueryDict.get``); an empty value means no filter.
* Numbers are Django ``DecimalField``s (NumberFilter): ``" 5 "`` and ``"5.0"`` are fine, anything else
  raises :class:`DialsBadRequest` ``{param: ["Enter a number."]}`` (HTTP 400). ``__in`` takes one
  comma-separated value; each item is a number (an empty item matches nothing).
* Booleans follow ``BooleanWidget``: lower-cased ``true``/``1`` and ``false``/``0``; **anything else
  means no filter**.
* Strings are Django ``CharField``s: stripped of surrounding whitespace (an all-blank value is no filter);
  a NUL character is a 400.
* ``__regex`` is PostgreSQL's case-sensitive ``~`` (search, unanchored), modelled with Python ``re`` in
  ``DOTALL`` mode (``.`` matches a newline in PostgreSQL too). Close enough for the portable subset
  dqquery emits; a pattern Python cannot compile is a :class:`DialsServerError` (PostgreSQL's
  ``invalid regular expression`` is an HTTP 500).
* ``dataset``/``me``/``logical_file_name`` (and their ``__regex``) are method filters on dimension tables
  (``dataset_id`` -> dataset-index, ``me_id`` -> mes, ``file_id`` -> file-index). Given ``dimensions``
  (name tables by id) they are resolved through them, as the server does, whether or not the row carries the
  name; without, they test the row's own name column. A row with neither never matches (an unknown name
  returns an empty result, not an error).
* Two server generations (:data:`FILTERSETS_BY_GENERATION`, ``dqquery.dials_api.GENERATIONS``) differ on
  ``ml-models-index``: v1.12.0 (the default, as recorded in ``tests/data/conformance``) declares
  ``model_id``/``filename``/``target_me``/``active`` and ignores ``id``/``name``; the generation of the
  cmsdials 2.4.1 client declares ``id``/``name``/``active``/``ready``/``type`` (the semantics of
  ``input_signature_contains_me`` and ``tag_*`` are unknown, so they are not modelled: ignored, like any
  undeclared parameter). So a compiler that sends only one spelling is caught on the other generation.
* Row order is the primary key of the endpoint's record in ``dqquery.dials_api.ENDPOINTS``.

Decisions:
* The v1.12.0 filter sets equal ``tests/data/conformance/dials/declared.json`` (a test checks it).
* What the server *declares* (parameter names, the column, lookup and value kind of each, method filters,
  primary keys, pagination) is read from :mod:`dqquery.dials_api`, the one record per endpoint; how the server
  *interprets* values is modelled here only. This module never imports the compiler
  (:mod:`dqquery.targets.dials`), so a test comparing the two can fail.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..dials_api import ENDPOINT_ALIASES, ENDPOINTS, GENERATIONS, Endpoint
from ..patterns import PatternError, compile_regex, regex_search

__all__ = [
    "DEFAULT_ORDERING",
    "FILTERSETS",
    "FILTERSETS_BY_GENERATION",
    "PAGINATED",
    "DialsBadRequest",
    "DialsServerError",
    "Filter",
    "apply_dials_filters",
    "declared_params",
    "effective_page_size",
    "sort_rows",
]


class DialsBadRequest(ValueError):
    """HTTP 400: ``errors`` is the per-parameter body, e.g. ``{"run_number": ["Enter a number."]}``."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors = dict(errors)
        super().__init__(self.errors)


class DialsServerError(RuntimeError):
    """HTTP 500: the database rejected the query (e.g. an invalid regular expression)."""


@dataclass(frozen=True)
class Filter:
    """One declared query parameter: the row column it reads, its lookup, its value kind, and for a method
    filter on a dimension table the id column it is resolved through."""

    column: str
    lookup: str  # exact | gte | lte | in | regex
    kind: str  # number | string | bool
    via: str | None = None


def _filterset(record: Endpoint, generation: str) -> dict[str, Filter]:
    """The FilterSet one server generation declares for an endpoint (the declared facts of
    :mod:`dqquery.dials_api`; what each filter does with a value is modelled here)."""
    return {name: Filter(p.column, p.lookup, p.kind, p.via) for name, p in record.declared(generation).items()}


FILTERSETS_BY_GENERATION: dict[str, dict[str, dict[str, Filter]]] = {
    generation: {name: _filterset(record, generation) for name, record in ENDPOINTS.items()} for generation in GENERATIONS
}
"""Generation -> endpoint -> declared parameter -> filter (see the module docstring)."""

FILTERSETS: dict[str, dict[str, Filter]] = FILTERSETS_BY_GENERATION["v1.12.0"]
"""Endpoint -> declared parameter -> filter of the v1.12.0 server. Anything else is ignored by the server."""

DEFAULT_ORDERING: dict[str, tuple[str, ...]] = {name: record.key("v1.12.0") for name, record in ENDPOINTS.items()}
"""Default ordering (the composite primary key) of each endpoint's list on a v1.12.0 server."""

PAGINATED: frozenset[str] = frozenset(name for name, record in ENDPOINTS.items() if record.paginated)
"""Endpoints with cursor pagination; ``mes`` returns a bare JSON array."""

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 500


def _endpoint(endpoint: str) -> str:
    name = ENDPOINT_ALIASES.get(endpoint, endpoint)
    if name not in FILTERSETS:
        raise KeyError(f"unknown DIALS endpoint {endpoint!r}")
    return name


def _row_key(name: str, row: Mapping[str, Any]) -> tuple[Any, ...]:
    """A row's primary key: the key of the generation whose key columns the row carries (either
    ``ml-models-index`` row shape; v1.12.0 when neither)."""
    keys = [ENDPOINTS[name].key(g) for g in GENERATIONS]
    columns = next((k for k in keys if all(c in row for c in k)), keys[0])
    missing = [c for c in columns if c not in row]
    if missing:
        raise KeyError(f"a DIALS {name}/ row without its key column(s) {missing}: {sorted(row)}")
    return tuple(row[c] for c in columns)


def declared_params(endpoint: str) -> frozenset[str]:
    """The parameter names the endpoint's FilterSet declares."""
    return frozenset(FILTERSETS[_endpoint(endpoint)])


def effective_page_size(raw: str | None) -> int:
    """DRF ``page_size``: above 500 is capped to 500; missing, zero, negative or garbage is 10."""
    try:
        size = int(str(raw).strip()) if raw is not None else 0
    except ValueError:
        return DEFAULT_PAGE_SIZE
    return DEFAULT_PAGE_SIZE if size <= 0 else min(size, MAX_PAGE_SIZE)


def sort_rows(endpoint: str, rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Rows in the endpoint's default order (the primary key of their row shape)."""
    name = _endpoint(endpoint)
    return sorted(rows, key=lambda r: _row_key(name, r))


# ------------------------------------------------------------------------------------------ value parsing

_NO_FILTER = object()
_EMPTY_VALUES = ("", None)


def _last(value: Any) -> Any:
    """``QueryDict.get``: the last value of a repeated key."""
    if isinstance(value, (list, tuple)):
        return value[-1] if value else None
    return value


def _wire(value: Any) -> str | None:
    """What reaches the server for a Python value (``requests`` sends ``True`` as ``True``)."""
    return None if value is None else str(value)


def _number(text: str) -> decimal.Decimal:
    try:
        d = decimal.Decimal(text.strip())
    except decimal.InvalidOperation:
        raise ValueError("Enter a number.") from None
    if not d.is_finite():
        raise ValueError("Enter a number.")
    return d


def _string(text: str) -> Any:
    if "\x00" in text:
        raise ValueError("Null characters are not allowed.")
    stripped = text.strip()
    return _NO_FILTER if stripped == "" else stripped


def _boolean(text: str) -> Any:
    return {"true": True, "1": True, "false": False, "0": False}.get(text.lower(), _NO_FILTER)


def _parse(flt: Filter, text: str) -> Any:
    if flt.lookup == "in":
        items = text.split(",")
        return [_number(i) if i.strip() else None for i in items] if flt.kind == "number" else items
    if flt.kind == "number":
        return _number(text)
    if flt.kind == "bool":
        return _boolean(text)
    return _string(text)


def _regex(pattern: str) -> Any:
    # PostgreSQL's ``.`` matches a newline; matched in linear time (dqquery.patterns).
    try:
        return compile_regex(pattern, dot_matches_newline=True)
    except PatternError as exc:
        raise DialsServerError(f"invalid regular expression: {exc.message}") from None


def _matcher(flt: Filter, value: Any) -> Callable[[Any], bool]:
    if flt.lookup == "exact":
        return lambda x: x is not None and x == value
    if flt.lookup == "gte":
        return lambda x: x is not None and x >= value
    if flt.lookup == "lte":
        return lambda x: x is not None and x <= value
    if flt.lookup == "in":
        wanted = [v for v in value if v is not None]
        return lambda x: x is not None and any(x == v for v in wanted)
    if flt.lookup == "regex":
        _regex(value)  # an invalid pattern is the server's error at once, as PostgreSQL's
        return lambda x: isinstance(x, str) and regex_search(value, x, dot_matches_newline=True)
    raise AssertionError(f"unknown lookup {flt.lookup}")  # pragma: no cover


def apply_dials_filters(endpoint: str, params: Mapping[str, Any], rows: Iterable[Mapping[str, Any]], *,
                        generation: str = "v1.12.0",
                        dimensions: Mapping[str, Mapping[Any, Any]] | None = None) -> list[Mapping[str, Any]]:
    """The rows the DIALS ``endpoint`` list would return for these query parameters (in input order).

    ``params`` values are strings (or lists of strings for a repeated key; other values are sent as
    ``str(value)`` like ``requests`` does). ``generation``: the server generation (``"v1.12.0"`` or
    ``"2.4.1"``). ``dimensions``: ``{"dataset": {dataset_id: name}, "me": {me_id: name},
    "logical_file_name": {file_id: lfn}}``, through which method filters are resolved. Raises
    :class:`DialsBadRequest` for invalid values and :class:`DialsServerError` for an invalid regex.
    """
    if generation not in FILTERSETS_BY_GENERATION:
        raise ValueError(f"unknown DIALS server generation {generation!r}; one of {sorted(FILTERSETS_BY_GENERATION)}")
    filterset = FILTERSETS_BY_GENERATION[generation][_endpoint(endpoint)]
    active: list[tuple[Callable[[Mapping[str, Any]], Any], Callable[[Any], bool]]] = []
    errors: dict[str, list[str]] = {}
    for name, flt in filterset.items():
        text = _wire(_last(params.get(name)))
        if text in _EMPTY_VALUES:
            continue
        try:
            value = _parse(flt, text)  # type: ignore[arg-type]
        except ValueError as exc:
            errors[name] = [str(exc)]
            continue
        if value is _NO_FILTER or value == []:
            continue
        active.append((_reader(flt, dimensions), _matcher(flt, value)))
    if errors:
        raise DialsBadRequest(errors)
    return [row for row in rows if all(test(read(row)) for read, test in active)]


def _reader(flt: Filter, dimensions: Mapping[str, Mapping[Any, Any]] | None) -> Callable[[Mapping[str, Any]], Any]:
    """How a filter reads its value from a row: through the dimension table when it is a method filter and the
    table is given, else from the row's own column."""
    table = dimensions.get(flt.column) if dimensions is not None and flt.via is not None else None
    if table is None:
        return lambda row: row.get(flt.column)
    via = flt.via
    return lambda row: table.get(row.get(via))
