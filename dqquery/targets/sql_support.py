"""The sql target's data, without sqlglot: its dialects, what it supports per dialect, the column mapping and the
catalog types it compares (:mod:`dqquery.targets.sql` has the decisions).

Decisions:
* Kept apart from the sqlglot renderer (:mod:`dqquery.targets.sql_render`) so that the registry, the support matrix and
  ``dqquery compile --help`` work without the ``sql`` extra installed.
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import ast as A
from .base import Support

__all__ = ["DIALECTS", "SUPPORT", "column_of"]

DIALECTS: tuple[str, ...] = ("duckdb", "spark", "postgres", "sqlite")
"""The dialects (target options), the default first."""

# Catalog type -> the literal classes a column of that type compares with (dqquery.semantics' coercions); any other
# literal makes the comparison unknown.
_COMPARABLE: dict[str, tuple[type, ...]] = {
    "int": (A.IntValue, A.FloatValue),
    "float": (A.IntValue, A.FloatValue),
    "string": (A.StringValue, A.StatusValue),
    "status": (A.StringValue, A.StatusValue),
    "bool": (A.BoolValue,),
    "datetime": (A.DateValue, A.DateTimeValue),
    "date": (A.DateValue, A.DateTimeValue),
    "string-list": (),
}
_ORDERED = (A.IntValue, A.FloatValue, A.DateValue, A.DateTimeValue)
_BASE: dict[str, Support] = {
    "compare": Support("exact"),
    "in_range": Support("exact"),
    "in_set": Support("exact"),
    "like": Support("partial", "patterns with non-ASCII letters are refused (each engine folds them its own way)"),
    "regex": Support("partial", "portable regexes only (the DIALS check), minus what the engine's regex dialect reads differently"),
    "contains": Support("exact"),
    "is_null": Support("exact"),
    "not": Support("exact"),
    "and": Support("exact"),
    "or": Support("exact"),
}
SUPPORT: dict[str, dict[str, Support]] = {
    "duckdb": dict(_BASE, regex=Support("partial", "portable regexes without lookaheads (DuckDB's RE2 has none)")),
    "spark": dict(_BASE, regex=Support("partial", "portable regexes without $, \\Z or \\s (Java reads them differently)")),
    "postgres": dict(_BASE, regex=Support("partial", "portable regexes; [^...] is refused in a pattern with '.' (newline handling)")),
    "sqlite": dict(
        _BASE,
        regex=Support("unsupported", "SQLite has no regular expressions"),
        contains=Support("partial", "on text only: SQLite has no list columns"),
        **dict.fromkeys(("compare", "in_range", "in_set"), Support("partial", "not on datetimes: SQLite has no timestamp type")),
    ),
}
"""Dialect -> node kind -> :class:`~dqquery.targets.base.Support`: consulted before dispatch, shown in ``docs/targets.md``."""


def column_of(ref: A.FieldRef, columns: Mapping[str, str] | None = None) -> str:
    """The table column of a field: ``columns[path]``, else ``columns[name]``, else the short catalog name."""
    columns = columns or {}
    return columns.get(ref.path) or columns.get(ref.name) or ref.name
