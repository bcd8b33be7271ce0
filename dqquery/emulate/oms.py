"""An in-memory model of the CMS OMS aggregation API's filtering, sorting, projection and paging.

Used by property tests (compiled filters must mean what the query means) and by the fake OMS server.
Rows are the ``attributes`` objects of OMS ``runs`` / ``lumisections`` (flat dicts).

Assumptions (OMS' server code is not public; the reference marks these UNVERIFIED):
* ``filter[a][OP]=v`` for ``EQ NEQ LT GT LE GE LIKE``; ``filter[a]=v`` is ``EQ``; all filters are AND-ed,
  including the values of a repeated key. An unknown operator is an error (:class:`OmsBadRequest`).
* SQL comparison: a null attribute fails every comparison, except ``NEQ null`` (is not null) and
  ``EQ null`` (is null).
* The filter value is read according to the row's value: numbers compare numerically (exact decimals),
  booleans from ``true``/``false`` (case-insensitive; anything else matches nothing), strings compare as
  strings (so ISO ``YYYY-MM-DDTHH:MM:SSZ`` times order correctly).
* ``LIKE`` is SQL LIKE as in Oracle: case-sensitive, ``%`` any run, ``_`` one character, no escape
  character; it matches strings only.
* ``sort=a,-b``: ascending puts nulls last and descending puts them first (Oracle's default).
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from ..patterns import like_regex

__all__ = [
    "DEFAULT_LIMIT",
    "OPERATORS",
    "OmsBadRequest",
    "apply_oms_filters",
    "jsonapi_body",
    "page_rows",
    "parse_filters",
    "project",
    "row_id",
    "sort_rows",
]

DEFAULT_LIMIT = 100
OPERATORS: tuple[str, ...] = ("EQ", "NEQ", "LT", "GT", "LE", "GE", "LIKE")

_FILTER_KEY = re.compile(r"^filter\[([^\[\]]+)\](?:\[([^\[\]]+)\])?$")


class OmsBadRequest(ValueError):
    """HTTP 400 from OMS (an unknown operator or a bad page parameter)."""


# ------------------------------------------------------------------------------------------ filtering


def parse_filters(params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(attribute, operator, value)`` for every ``filter[...]`` parameter (repeated keys: every value)."""
    out: list[tuple[str, str, str]] = []
    for key, raw in params.items():
        m = _FILTER_KEY.match(key)
        if not m:
            continue
        attribute, op = m.group(1), (m.group(2) or "EQ").upper()
        if op not in OPERATORS:
            raise OmsBadRequest(f"unknown filter operator {op!r} in {key}")
        for value in raw if isinstance(raw, (list, tuple)) else [raw]:
            out.append((attribute, op, str(value)))
    return out


def _like(pattern: str) -> Any:
    return like_regex(pattern, case_insensitive=False, backslash_escapes=False)


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "EQ": lambda a, b: a == b,
    "NEQ": lambda a, b: a != b,
    "LT": lambda a, b: a < b,
    "GT": lambda a, b: a > b,
    "LE": lambda a, b: a <= b,
    "GE": lambda a, b: a >= b,
}


def _decimal(x: Any) -> decimal.Decimal | None:
    try:
        d = decimal.Decimal(repr(x) if isinstance(x, float) else str(x).strip())
    except decimal.InvalidOperation:
        return None
    return d if d.is_finite() else None


def _test(op: str, value: str) -> Callable[[Any], bool]:
    """Whether one row value passes ``filter[..][op]=value``."""
    if value == "null" and op in ("EQ", "NEQ"):
        return (lambda x: x is None) if op == "EQ" else (lambda x: x is not None)
    if op == "LIKE":
        rx = _like(value)
        return lambda x: isinstance(x, str) and rx.fullmatch(x) is not None
    compare = _ORDER[op]
    wanted_bool = {"true": True, "false": False}.get(value.lower())
    wanted_number = _decimal(value)

    def test(x: Any) -> bool:
        if x is None:
            return False
        if isinstance(x, bool):
            return wanted_bool is not None and op in ("EQ", "NEQ") and compare(x, wanted_bool)
        if isinstance(x, (int, float)):
            d = _decimal(x)
            return d is not None and wanted_number is not None and compare(d, wanted_number)
        if isinstance(x, str):
            return compare(x, value)
        return False  # lists (components) and objects: no comparison modelled

    return test


def apply_oms_filters(resource: str, params: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows (attribute dicts) that pass every ``filter[...]`` parameter, in input order.

    ``resource`` is accepted for symmetry with the DIALS emulator (filtering is the same on every resource).
    Raises :class:`OmsBadRequest` (a ``ValueError``) for an unknown operator.
    """
    tests = [(attribute, _test(op, value)) for attribute, op, value in parse_filters(params)]
    return [row for row in rows if all(t(row.get(attribute)) for attribute, t in tests)]


# ------------------------------------------------------------------------------------------ sort, page, shape


def sort_rows(rows: Iterable[Mapping[str, Any]], sort: str | Sequence[str] | None) -> list[Mapping[str, Any]]:
    """Rows ordered by ``sort`` (``"a,-b"`` or ``["a", "-b"]``); stable, nulls last ascending / first descending."""
    keys = [k for k in (sort.split(",") if isinstance(sort, str) else (sort or [])) if k]
    out = list(rows)
    for key in reversed(keys):  # stable sorts, least significant key first
        descending = key.startswith("-")
        name = key.lstrip("-+")
        present = [r for r in out if r.get(name) is not None]
        missing = [r for r in out if r.get(name) is None]
        present.sort(key=lambda r: r[name], reverse=descending)
        out = missing + present if descending else present + missing
    return out


def page_rows(rows: Sequence[Mapping[str, Any]], offset: Any = 0, limit: Any = DEFAULT_LIMIT) -> list[Mapping[str, Any]]:
    """``page[offset]``/``page[limit]`` (strings or ints); :class:`OmsBadRequest` when invalid."""
    try:
        off, lim = int(offset), int(limit)
    except (TypeError, ValueError):
        raise OmsBadRequest("page[offset] and page[limit] must be integers") from None
    if off < 0 or lim < 1:
        raise OmsBadRequest("page[offset] must be >= 0 and page[limit] >= 1")
    return list(rows[off : off + lim])


def project(row: Mapping[str, Any], fields: str | Sequence[str] | None) -> dict[str, Any]:
    """The ``fields=a,b`` projection of one row's attributes (all attributes when no fields are given)."""
    names = [f for f in (fields.split(",") if isinstance(fields, str) else (fields or [])) if f]
    return {k: row.get(k) for k in names} if names else dict(row)


_ID_COLUMNS: dict[str, tuple[str, ...]] = {"runs": ("run_number",), "lumisections": ("run_number", "lumisection_number")}


def row_id(resource: str, row: Mapping[str, Any]) -> str:
    """The JSON:API ``id``: ``"297050"`` for a run, ``"297050_1"`` for a lumisection."""
    return "_".join(str(row.get(c)) for c in _ID_COLUMNS.get(resource, ("id",)))


def _last(value: Any) -> Any:
    return value[-1] if isinstance(value, (list, tuple)) else value


def jsonapi_body(resource: str, params: Mapping[str, Any], rows: Iterable[Mapping[str, Any]], base_url: str = "http://127.0.0.1/agg/api/v1") -> dict[str, Any]:
    """The whole OMS response for a list request: filter, sort, page, project and frame as JSON:API.

    ``meta.totalResourceCount`` counts the filtered rows before paging; ``links.next``/``prev`` are
    ``None`` at the ends.
    """
    selected = sort_rows(apply_oms_filters(resource, params, rows), _last(params.get("sort")))
    page = page_rows(selected, _last(params.get("page[offset]", 0)), _last(params.get("page[limit]", DEFAULT_LIMIT)))
    offset, limit = int(_last(params.get("page[offset]", 0))), int(_last(params.get("page[limit]", DEFAULT_LIMIT)))
    fields = _last(params.get("fields"))
    collection = f"{base_url.rstrip('/')}/{resource}"
    kept = [(k, str(_last(v))) for k, v in params.items() if k not in ("page[offset]", "page[limit]")]

    def link(new_offset: int | None) -> str | None:
        if new_offset is None:
            return None
        return collection + "?" + urlencode(kept + [("page[offset]", str(new_offset)), ("page[limit]", str(limit))])

    total = len(selected)
    last = max(0, (total - 1) // limit * limit)
    return {
        "data": [
            {
                "id": row_id(resource, row),
                "type": resource,
                "attributes": project(row, fields),
                "links": {"self": f"{collection}/{row_id(resource, row)}"},
            }
            for row in page
        ],
        "links": {
            "first": link(0),
            "last": link(last),
            "next": link(offset + limit) if offset + limit < total else None,
            "prev": link(max(0, offset - limit)) if offset > 0 else None,
        },
        "meta": {"totalResourceCount": total},
    }
