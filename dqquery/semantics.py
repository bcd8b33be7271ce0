"""The reference meaning of a query on one row: three-valued (Kleene) logic.

This is the executable form of ``docs/semantics.md``. It is deliberately simple (one row at a time);
the fast golden-JSON evaluator and every target compiler are tested against it.

A *row* maps qualified field paths (``run.oms.energy``, ``lumisection.rr.dt-dt``) to values. A path
that is absent, or whose value is ``None``, is *missing*.

Decisions:
* A comparison with a missing value is unknown (``None``); ``not`` unknown is unknown; ``and``/``or``
  follow Kleene's tables; a row is selected only when the whole query is ``True``.
* ``is null`` / ``is not null`` are never unknown: they test for missing data.
* Values compare only with values of their own kind: numbers with numbers (``bool`` is not a number),
  strings with strings, booleans with booleans, statuses with strings, dates with ISO date/datetime
  strings or ``datetime`` objects. A present value of another kind makes the comparison unknown.
* ``like`` is SQL LIKE, case-insensitive as in RR (``ILIKE``): ``%`` any run, ``_`` one character,
  ``\\`` escapes the next character; the whole value must match.
* ``~`` is a case-sensitive regular-expression *search* (anywhere in the value), as in DIALS.
* ``contains`` is a case-sensitive substring test on strings and a membership test on lists, as
  json-logic's ``in``.
* A date literal means midnight UTC of that day.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

from . import ast as A
from .patterns import like_match, like_regex, regex_search  # noqa: F401  (re-exported: the reference meaning of like)

Truth = Optional[bool]


def kleene_and(values: list[Truth]) -> Truth:
    """False if any is False, else unknown if any is unknown, else True."""
    if any(v is False for v in values):
        return False
    if any(v is None for v in values):
        return None
    return True


def kleene_or(values: list[Truth]) -> Truth:
    """True if any is True, else unknown if any is unknown, else False."""
    if any(v is True for v in values):
        return True
    if any(v is None for v in values):
        return None
    return False


def kleene_not(value: Truth) -> Truth:
    return None if value is None else not value


def kleene_and_of(parts: Sequence[Callable[[Any], Truth]]) -> Callable[[Any], Truth]:
    """A closure: the Kleene ``and`` of ``part(x)`` for every part, short-circuiting on False."""

    def conj(x: Any) -> Truth:
        result: Truth = True
        for part in parts:
            v = part(x)
            if v is False:
                return False
            if v is None:
                result = None
        return result

    return conj


def kleene_or_of(parts: Sequence[Callable[[Any], Truth]]) -> Callable[[Any], Truth]:
    """A closure: the Kleene ``or`` of ``part(x)`` for every part, short-circuiting on True."""

    def disj(x: Any) -> Truth:
        result: Truth = False
        for part in parts:
            v = part(x)
            if v is True:
                return True
            if v is None:
                result = None
        return result

    return disj


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def to_datetime(x: Any) -> _dt.datetime | None:
    """A UTC datetime from a datetime/date object or an ISO string; ``None`` if it is none of those."""
    if isinstance(x, _dt.datetime):
        return x if x.tzinfo else x.replace(tzinfo=_dt.UTC)
    if isinstance(x, _dt.date):
        return _dt.datetime(x.year, x.month, x.day, tzinfo=_dt.UTC)
    if isinstance(x, str):
        text = x.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            d = _dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        return d if d.tzinfo else d.replace(tzinfo=_dt.UTC)
    return None


def literal(v: Any) -> Any:
    """The comparable Python value of a literal node."""
    if isinstance(v, (A.DateValue, A.DateTimeValue)):
        return to_datetime(v.value)
    return v.value


def _coerce_pair(data: Any, lit: Any) -> tuple[Any, Any] | None:
    """The (data, literal) pair in a comparable form, or ``None`` when their kinds differ."""
    return _COERCE[type(lit)](data, lit)


def _coerce_number(data: Any, lit: Any) -> tuple[Any, Any] | None:
    return (data, lit.value) if _is_number(data) else None


def _coerce_bool(data: Any, lit: Any) -> tuple[Any, Any] | None:
    return (data, lit.value) if isinstance(data, bool) else None


def _coerce_text(data: Any, lit: Any) -> tuple[Any, Any] | None:
    return (data, lit.value) if isinstance(data, str) else None


def _coerce_date(data: Any, lit: Any) -> tuple[Any, Any] | None:
    d = to_datetime(data)
    return (d, literal(lit)) if d is not None else None


_COERCE: A.NodeTable[Callable[[Any, Any], tuple[Any, Any] | None]] = A.NodeTable(
    "semantics.coerce",
    A.VALUE_CLASSES,
    {
        A.IntValue: _coerce_number,
        A.FloatValue: _coerce_number,
        A.BoolValue: _coerce_bool,
        A.StringValue: _coerce_text,
        A.StatusValue: _coerce_text,
        A.DateValue: _coerce_date,
        A.DateTimeValue: _coerce_date,
    },
)


def compare(data: Any, op: str, lit: Any) -> Truth:
    """``data op literal`` in three-valued logic."""
    if data is None:
        return None
    pair = _coerce_pair(data, lit)
    if pair is None:
        return None
    a, b = pair
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if isinstance(b, (str, bool)) and op not in ("==", "!="):
        return None
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    raise ValueError(f"unknown operator {op!r}")  # pragma: no cover


def evaluate_predicate(node: A.Predicate, data: Any) -> Truth:
    """One predicate on the value of its field (``None`` = missing)."""
    if data is None and not isinstance(node, A.IsNull):
        return None  # only `is null` tests for missing data; every other predicate is unknown on it
    return _PREDICATE_TRUTH[type(node)](node, data)


def _is_null(node: Any, data: Any) -> Truth:
    missing = data is None
    return (not missing) if node.negated else missing


def _in_range(node: Any, data: Any) -> Truth:
    lo = compare(data, ">=", node.low)
    hi = compare(data, "<=", node.high)
    inside = kleene_and([lo, hi])
    return kleene_not(inside) if node.negated else inside


def _in_set(node: Any, data: Any) -> Truth:
    result = kleene_or([compare(data, "==", v) for v in node.values])
    return kleene_not(result) if node.negated else result


def _like(node: Any, data: Any) -> Truth:
    if not isinstance(data, str):
        return None
    hit = like_match(node.pattern, data)
    return (not hit) if node.negated else hit


def _regex(node: Any, data: Any) -> Truth:
    if not isinstance(data, str):
        return None
    hit = regex_search(node.pattern, data)
    return (not hit) if node.negated else hit


def _contains(node: Any, data: Any) -> Truth:
    needle = node.value.value
    if isinstance(data, str):
        return needle in data if isinstance(needle, str) else None
    if isinstance(data, (list, tuple)):
        return any(type(x) is type(needle) and x == needle for x in data)
    return None


_PREDICATE_TRUTH: A.NodeTable[Callable[[Any, Any], Truth]] = A.NodeTable(
    "semantics.evaluate_predicate",
    A.PREDICATE_CLASSES,
    {
        A.IsNull: _is_null,
        A.Compare: lambda node, data: compare(data, node.op, node.value),
        A.InRange: _in_range,
        A.InSet: _in_set,
        A.Like: _like,
        A.Regex: _regex,
        A.Contains: _contains,
    },
)


def evaluate(node: A.Query, row: Mapping[str, Any]) -> Truth:
    """The three-valued truth of a checked tree on one row (paths -> values)."""
    return _TRUTH[type(node)](node, row)


def _and(node: Any, row: Mapping[str, Any]) -> Truth:
    result: Truth = True
    for o in node.operands:
        v = evaluate(o, row)
        if v is False:
            return False
        if v is None:
            result = None
    return result


def _or(node: Any, row: Mapping[str, Any]) -> Truth:
    result: Truth = False
    for o in node.operands:
        v = evaluate(o, row)
        if v is True:
            return True
        if v is None:
            result = None
    return result


def _predicate(node: Any, row: Mapping[str, Any]) -> Truth:
    return evaluate_predicate(node, row.get(node.field.path))


_TRUTH: A.NodeTable[Callable[[Any, Mapping[str, Any]], Truth]] = A.NodeTable(
    "semantics.evaluate",
    A.NODE_CLASSES,
    {
        A.And: _and,
        A.Or: _or,
        A.Not: lambda node, row: kleene_not(evaluate(node.operand, row)),
        **dict.fromkeys(A.PREDICATE_CLASSES, _predicate),
    },
)


def selects(node: A.Query, row: Mapping[str, Any]) -> bool:
    """Whether the row is selected: only when the query is True (not unknown)."""
    return evaluate(node, row) is True
