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

__all__ = ["NotExpressible", "checked", "field_ref", "guard_input", "literal", "redundant_conditions", "regex_findings", "where_join"]


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


# ------------------------------------------------------------------------------------------------ regex heuristics

_LITERAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ -/")
_PLUS_NEIGHBOURS = frozenset(" /_")


def _regex_atoms(pattern: str) -> list[tuple[int, str, bool]]:
    """The pattern's top-level characters as ``(offset, char, literal)``, one pass: an escape pair is one
    non-literal atom, a bracket expression one non-literal ``]`` atom (``literal``: an ordinary character)."""
    atoms: list[tuple[int, str, bool]] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            atoms.append((i, "\\", False))
            i += 2
            continue
        if ch == "[":
            j = i + 1
            if j < n and pattern[j] == "^":
                j += 1
            if j < n and pattern[j] == "]":
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            atoms.append((i, "]", False))
            i = j + 1
            continue
        atoms.append((i, ch, ch in _LITERAL_CHARS))
        i += 1
    return atoms


def _excerpt(pattern: str, offset: int) -> str:
    """The pattern around ``offset`` (at most 20 characters each side), quoted."""
    left, right = max(0, offset - 20), offset + 21
    return ("..." if left else "") + json.dumps(pattern[left:right]) + ("..." if right < len(pattern) else "")


def regex_findings(pattern: str, where: str) -> list[Finding]:
    """Linear-time heuristics for regular expressions written with another language in mind.

    * ``regex-looks-like-glob``: a ``*`` right after an ordinary character (``.../Track*``): a glob's "anything",
      which a regex reads as "the previous character, zero or more times" (write ``.*`` or nothing: a DIALS regex
      is a search).
    * ``regex-unescaped-metachar``: a ``+`` right after an ordinary character when a space stands before it or
      the pattern ends, a space, ``/`` or ``_`` follows (``EE +``, ``EE+``): a plus sign meant literally, which
      a regex reads as "one or more" (write ``\\+``).

    One pass over the pattern; each finding quotes an excerpt, and the fix (every such place rewritten) is built
    once per kind, so the work stays linear in the pattern's length.
    """
    atoms = _regex_atoms(pattern)
    places: dict[str, list[tuple[int, str]]] = {"regex-looks-like-glob": [], "regex-unescaped-metachar": []}
    for k, (offset, ch, _) in enumerate(atoms):
        if ch not in "*+" or k == 0 or not atoms[k - 1][2]:
            continue
        before = atoms[k - 1][1]
        after = atoms[k + 1][1] if k + 1 < len(atoms) else ""
        if ch == "*":
            places["regex-looks-like-glob"].append((offset, before))
        elif before == " " or after == "" or after in _PLUS_NEIGHBOURS:
            places["regex-unescaped-metachar"].append((offset, before))
    found: list[Finding] = []
    for code, spots in places.items():
        if not spots:
            continue
        replacement = ".*" if code == "regex-looks-like-glob" else "\\+"
        pieces, last = [], 0
        for offset, _ in spots:
            pieces += [pattern[last:offset], replacement]
            last = offset + 1
        fixed = json.dumps("".join(pieces) + pattern[last:])
        fix = f"write {fixed}" + (" (or drop the '*': the search is unanchored)" if code == "regex-looks-like-glob" else "")
        for offset, before in spots:
            if code == "regex-looks-like-glob":
                message = f"'{before}*' at offset {offset} of {_excerpt(pattern, offset)} repeats '{before}' (zero or more times): it is not a glob's 'anything'"
            else:
                message = f"'+' at offset {offset} of {_excerpt(pattern, offset)} means '{before}' one or more times, not a plus sign"
            found.append(finding(code, message, where, fix=fix))
    return sorted(found, key=lambda f: int(f.message.split(" at offset ", 1)[1].split(" ", 1)[0]))
