"""What the service importers share: bounded input, literal and field nodes, and the checks every dialect runs.

Decisions:
* Hostile input is refused before any importer walks it: nesting deeper than :data:`~dqquery.limits.MAX_JSON_DEPTH`
  and lists longer than :data:`~dqquery.limits.MAX_LIST_ITEMS` raise a located :class:`~dqquery.errors.QueryError`
  (an iterative walk: no recursion limit is ever met), so no importer can end in a traceback.
* A clause dqquery cannot say exactly (a text comparison on a number, a field outside the catalog) is not an
  error of the filter: the importer raises :class:`NotExpressible` internally and returns ``query=None`` with a
  ``not-expressible`` note saying why, never a query that selects something else.
* ``redundant-condition`` is decided by evaluation, not by pattern: a conjunct on one field is redundant when the
  equality ``field == v`` of another conjunct makes it true (:func:`dqquery.semantics.selects` on that one value).
"""

from __future__ import annotations

import json
import math
from typing import Any

from .. import ast as A
from ..catalog import FieldInfo, lookup
from ..check import check
from ..errors import QueryError
from ..limits import MAX_JSON_DEPTH, MAX_LIST_ITEMS
from ..semantics import selects
from .findings import Finding, finding

__all__ = ["NotExpressible", "checked", "field_ref", "guard_input", "literal", "redundant_conditions", "where_join"]


class NotExpressible(Exception):
    """A clause with no exact dqquery equivalent (internal: the importer turns it into a ``not-expressible`` note)."""

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(message)
        self.where = where


def where_join(where: str, step: str | int) -> str:
    """``run_number`` + ``or`` -> ``run_number.or``; ``or`` + 1 -> ``or[1]``."""
    if isinstance(step, int):
        return f"{where}[{step}]"
    return f"{where}.{step}" if where else step


def guard_input(value: Any, target: str) -> None:
    """Refuse nesting deeper than MAX_JSON_DEPTH, lists longer than MAX_LIST_ITEMS and non-text keys (iterative)."""
    stack: list[tuple[Any, int, str]] = [(value, 0, "")]
    while stack:
        node, depth, where = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise QueryError("syntax", f"the filter is nested deeper than {MAX_JSON_DEPTH} levels at {where or 'the top'}", target=target)
        if isinstance(node, dict):
            for key, child in node.items():
                if not isinstance(key, str):
                    raise QueryError("syntax", f"a filter key must be a string, found {key!r} at {where or 'the top'}", target=target)
                if isinstance(child, (dict, list, tuple)):
                    stack.append((child, depth + 1, where_join(where, key)))
        elif isinstance(node, (list, tuple)):
            if len(node) > MAX_LIST_ITEMS:
                raise QueryError("syntax", f"a list of {len(node):,} values at {where or 'the top'}; the limit is {MAX_LIST_ITEMS:,}", target=target)
            for i, child in enumerate(node):
                if isinstance(child, (dict, list, tuple)):
                    stack.append((child, depth + 1, where_join(where, i)))


def field_ref(path: str, where: str = "") -> tuple[A.FieldRef, FieldInfo]:
    """The catalog field whose path is exactly ``path`` (else :class:`NotExpressible`)."""
    row = lookup(path)
    if row is None or row.path != path:
        raise NotExpressible(f"'{path}' is not a field dqquery knows", where)
    return A.FieldRef(name=row.name, path=row.path), row


def literal(value: Any, row: FieldInfo | None = None, where: str = "") -> Any:
    """A JSON scalar as a query literal (a string on a status field is a status)."""
    if isinstance(value, bool):
        return A.BoolValue(value=value)
    if isinstance(value, int):
        if not A.MIN_INT <= value <= A.MAX_INT:
            raise NotExpressible(f"{value} does not fit in 64 bits", where)
        return A.IntValue(value=value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotExpressible(f"{value!r} is not a number", where)
        return A.FloatValue(value=value)
    if isinstance(value, str):
        if row is not None and row.type == "status":
            return A.StatusValue(value=value)
        return A.StringValue(value=value)
    raise NotExpressible(f"expected a string, number or boolean, found {json.dumps(value)}", where)


def checked(node: Any, where: str = "") -> Any:
    """``check(node)``; a type the catalog refuses is :class:`NotExpressible` (the service compares anyway)."""
    try:
        return check(node)
    except QueryError as err:
        raise NotExpressible(err.message, where) from None


def _single_field(node: Any) -> str | None:
    paths = {f.path for f in A.fields_of(node)}
    return next(iter(paths)) if len(paths) == 1 else None


def redundant_conditions(query: Any) -> list[Finding]:
    """``redundant-condition`` for each top-level conjunct implied by an equality conjunct on the same field."""
    if not isinstance(query, A.And):
        return []
    found = []
    equalities = [
        op for op in query.operands if isinstance(op, A.Compare) and op.op == "==" and not isinstance(op.value, A.StatusValue)
    ]
    for eq in equalities:
        for other in query.operands:
            if other is eq or _single_field(other) != eq.field.path:
                continue
            if selects(other, {eq.field.path: eq.value.value}):
                from ..unparse import unparse

                found.append(
                    finding(
                        "redundant-condition",
                        f"'{unparse(other)}' is implied by '{unparse(eq)}'",
                        fix=f"drop '{unparse(other)}'",
                    )
                )
    return found
