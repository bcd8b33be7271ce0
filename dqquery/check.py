"""The check pass: resolve fields against the catalog, normalise values, reject meaningless comparisons.

Decisions:
* Parsing is loose and checking is strict (two phases), so that ``tracker-strip == GOD`` says
  "unknown status GOD; did you mean GOOD?" instead of a lexer error.
* Status words are upper-cased (``good`` means ``GOOD``); a quoted status is accepted too and becomes a
  status word. Unknown statuses are ``unknown-value`` errors with a suggestion.
* Operator-versus-type rules follow what every target can mean: statuses and booleans take ``==``/``!=``
  (and lists of them); strings take equality, ``like``, ``~`` and ``contains``; ordering comparisons and
  ranges are for numbers and dates; list fields (``components``) take ``contains``. Fields of unknown
  type (qualified names outside the catalog) accept anything.
* The result is a new tree whose field references carry the canonical short name and the qualified path.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable
from typing import Any

from . import ast as A
from .catalog import STATUSES, FieldInfo, lookup, near_listed, suggest
from .errors import QueryError, QueryWarning
from .patterns import regex_problem

_NUMERIC = ("int", "float")
_ORDERED = ("int", "float", "datetime", "any")


def _err(category: str, message: str, node: Any, hint: str = "") -> QueryError:
    span = getattr(node, "span", None)
    return QueryError(
        category,  # type: ignore[arg-type]
        message,
        offset=span.start if span else None,
        end=span.end if span else None,
        hint=hint,
    )


def resolve_field(ref: A.FieldRef) -> tuple[A.FieldRef, FieldInfo]:
    """The canonical reference and catalog row of a field, or an ``unknown-field`` error."""
    row = lookup(ref.path)
    if row is None:
        hits = suggest(ref.path)
        hint = f"did you mean '{hits[0]}'?" if hits else ""
        if "." in ref.path:
            extra = "qualified names must start with run.oms., run.rr., lumisection.oms., lumisection.rr. or dataset."
            hint = f"{hint} ({extra})" if hint else extra
        else:
            hint = (hint + " " if hint else "") + "see `dqquery fields` for the list of known fields"
        raise _err("unknown-field", f"unknown field '{ref.path}'", ref, hint)
    if not row.listed:
        near = near_listed(row.path)
        if near is not None and near != row.path:
            warnings.warn(
                QueryWarning(f"'{row.path}' is not a known field (it will be taken as written); did you mean '{near}'?"),
                stacklevel=4,
            )
    if ref.name == row.name and ref.path == row.path:
        return ref, row
    return A.FieldRef(name=row.name, path=row.path, span=ref.span), row


def _type_label(row: FieldInfo) -> str:
    return {
        "int": "a number",
        "float": "a number",
        "string": "a string",
        "bool": "a boolean",
        "datetime": "a date/time",
        "status": "a status (GOOD, BAD, ...)",
        "string-list": "a list of strings",
        "any": "of unknown type",
    }[row.type]


def _status(value: Any, row: FieldInfo) -> A.StatusValue:
    """A status literal for a status field (bare word or quoted string, any case)."""
    raw = value.value if isinstance(value, (A.StatusValue, A.StringValue)) else None
    if raw is None:
        raise _err(
            "type-mismatch",
            f"'{row.name}' is a status; compare it with GOOD, BAD, STANDBY, EXCLUDED, NOTSET or EMPTY",
            value,
        )
    up = raw.upper()
    if up not in STATUSES:
        hits = difflib.get_close_matches(up, STATUSES, n=1, cutoff=0.5)
        hint = f"did you mean {hits[0]}?" if hits else "statuses are " + ", ".join(STATUSES)
        raise _err("unknown-value", f"unknown status '{raw}'", value, hint)
    if isinstance(value, A.StatusValue) and value.value == up:
        return value
    return A.StatusValue(value=up, span=value.span)


def _null_guard(value: Any, field: A.FieldRef) -> None:
    if isinstance(value, A.StatusValue) and value.value == A.NULL_PLACEHOLDER:
        raise _err("type-mismatch", "a comparison with null is never true", field, f"write `{field.name} is null` or `{field.name} is not null`")


def _equality_value(value: Any, row: FieldInfo, field: A.FieldRef) -> Any:
    """Check and normalise a value used with ==, != or in a list."""
    _null_guard(value, field)
    t = row.type
    if t == "status":
        return _status(value, row)
    if isinstance(value, A.StatusValue):
        if t == "any" and value.value.upper() in STATUSES:
            return value if value.value.isupper() else A.StatusValue(value=value.value.upper(), span=value.span)
        raise _err(
            "type-mismatch",
            f"bare word {value.value} is not a value for '{row.name}' ({_type_label(row)})",
            value,
            f'quote strings: {field.name} == "{value.value}"' if t in ("string", "any") else "bare words are status constants (GOOD, BAD, ...)",
        )
    ok = {
        "int": (A.IntValue, A.FloatValue),
        "float": (A.IntValue, A.FloatValue),
        "string": (A.StringValue,),
        "bool": (A.BoolValue,),
        "datetime": (A.DateValue, A.DateTimeValue),
        "string-list": (),
        "any": A.VALUE_CLASSES,
    }[t]
    if t == "string-list":
        raise _err("type-mismatch", f"'{row.name}' is a list of strings", field, f'use `{field.name} contains "VALUE"`')
    if not isinstance(value, ok):
        hint = ""
        if t == "datetime" and isinstance(value, A.StringValue):
            hint = "write dates without quotes: 2018-05-01 or 2018-05-01T12:00:00Z"
        elif t in _NUMERIC and isinstance(value, A.StringValue):
            hint = "write numbers without quotes"
        elif t == "bool":
            hint = f"write `{field.name}`, `not {field.name}` or `{field.name} == false`"
        raise _err("type-mismatch", f"'{row.name}' is {_type_label(row)}; {_value_label(value)} cannot be compared with it", value, hint)
    return value


def _value_label(value: Any) -> str:
    return {
        "int": "a number",
        "float": "a number",
        "string": "a string",
        "bool": "a boolean",
        "status": "a status word",
        "date": "a date",
        "datetime": "a datetime",
    }[value.type]


def _ordered_value(value: Any, row: FieldInfo, field: A.FieldRef, what: str) -> Any:
    _null_guard(value, field)
    if row.type not in _ORDERED:
        hint = ""
        if row.type == "string":
            hint = f'use `{field.name} like "..."` or `{field.name} ~ "..."` for patterns'
        elif row.type == "status":
            hint = f"statuses are not ordered; use `{field.name} in [GOOD, STANDBY]`"
        raise _err("type-mismatch", f"'{row.name}' is {_type_label(row)}; {what} needs a number or a date", field, hint)
    if row.type == "any":
        if not isinstance(value, (A.IntValue, A.FloatValue, A.DateValue, A.DateTimeValue)):
            raise _err("type-mismatch", f"{what} needs a number or a date", value)
        return value
    return _equality_value(value, row, field)


def _kind_of(value: Any) -> str:
    return "number" if isinstance(value, (A.IntValue, A.FloatValue)) else "date"


def _order_key(value: Any) -> Any:
    import datetime as _dt

    v = value.value
    if isinstance(value, A.DateValue):
        return _dt.datetime(v.year, v.month, v.day, tzinfo=_dt.UTC)
    return v


def _check_predicate(node: Any) -> Any:
    field, row = resolve_field(node.field)
    return _CHECK_PREDICATE[type(node)](node, field, row)


def _check_compare(node: Any, field: A.FieldRef, row: FieldInfo) -> Any:
    if isinstance(node.value, A.BoolValue) and node.value.value is True and node.op == "==" and row.type not in ("bool", "any"):
        # Either a bare field or an explicit `== true` on a non-boolean field.
        raise _err(
            "type-mismatch",
            f"'{row.name}' is {_type_label(row)}, not a boolean",
            node,
            "a bare field is a boolean test; compare it with a value, e.g. "
            + (f"`{field.name} == GOOD`" if row.type == "status" else f"`{field.name} is not null`"),
        )
    if node.op in ("==", "!="):
        value = _equality_value(node.value, row, field)
        if row.type == "status" and value.value == "EMPTY":
            # EMPTY is how Run Registry reports a flag without a status: the value is missing.
            return A.IsNull(field=field, negated=node.op == "!=", span=node.span)
    else:
        value = _ordered_value(node.value, row, field, f"'{node.op}'")
    if field is node.field and value is node.value:
        return node
    return A.Compare(field=field, op=node.op, value=value, span=node.span)


def _check_in_range(node: Any, field: A.FieldRef, row: FieldInfo) -> Any:
    low = _ordered_value(node.low, row, field, "a range")
    high = _ordered_value(node.high, row, field, "a range")
    if _kind_of(low) != _kind_of(high):
        raise _err("type-mismatch", "both ends of a range must be numbers, or both dates", node.high)
    if _order_key(low) > _order_key(high):
        raise _err(
            "type-mismatch",
            f"empty range: {low.value} is greater than {high.value}",
            node.low,
            f"write the smaller bound first: {field.name} in {high.value}..{low.value}" if _kind_of(low) == "number" else "write the earlier date first",
        )
    if field is node.field and low is node.low and high is node.high:
        return node
    return A.InRange(field=field, low=low, high=high, negated=node.negated, span=node.span)


def _check_in_set(node: Any, field: A.FieldRef, row: FieldInfo) -> Any:
    values = tuple(_equality_value(v, row, field) for v in node.values)
    if row.type == "status" and any(v.value == "EMPTY" for v in values):
        raise _err(
            "unknown-value",
            "EMPTY means the flag has no status (missing data) and cannot be listed",
            node,
            f"write `{field.name} is null` (or combine: `{field.name} in [GOOD, STANDBY] or {field.name} is null`)",
        )
    if field is node.field and all(a is b for a, b in zip(values, node.values)):
        return node
    return A.InSet(field=field, values=values, negated=node.negated, span=node.span)


def _string_field_only(node: Any, field: A.FieldRef, row: FieldInfo, op: str) -> None:
    """``like`` and ``~`` need a string field (or one of unknown type)."""
    if row.type not in ("string", "any"):
        hint = ""
        if row.type == "status":
            hint = f"use `{field.name} == GOOD` or `{field.name} in [GOOD, STANDBY]`"
        elif row.type in _NUMERIC:
            hint = f"use `{field.name} in LOW..HIGH` or a comparison"
        elif row.type == "string-list":
            hint = f'use `{field.name} contains "VALUE"`'
        raise _err("type-mismatch", f"'{op}' needs a string field; '{row.name}' is {_type_label(row)}", node, hint)


def _check_like(node: Any, field: A.FieldRef, row: FieldInfo) -> Any:
    _string_field_only(node, field, row, "like")
    return node if field is node.field else node.model_copy(update={"field": field})


def _check_regex(node: Any, field: A.FieldRef, row: FieldInfo) -> Any:
    """A regex must also be one dqquery runs in linear time."""
    _string_field_only(node, field, row, "~")
    problem = regex_problem(node.pattern)
    if problem is not None:
        raise _err(
            "syntax",
            problem.message,
            node,
            "dqquery runs regular expressions in linear time (RE2): no lookbehind, backreferences, atomic groups "
            "or possessive quantifiers, lookaheads only right after a leading ^; escape special characters with \\",
        )
    return node if field is node.field else node.model_copy(update={"field": field})


def _check_contains(node: Any, field: A.FieldRef, row: FieldInfo) -> Any:
    if row.type not in ("string", "string-list", "any"):
        raise _err("type-mismatch", f"'contains' needs a string or list field; '{row.name}' is {_type_label(row)}", node)
    _null_guard(node.value, field)
    if not isinstance(node.value, A.StringValue):
        if row.type == "any" and isinstance(node.value, (A.IntValue, A.FloatValue, A.BoolValue)):
            return node if field is node.field else A.Contains(field=field, value=node.value, span=node.span)
        raise _err("type-mismatch", "'contains' needs a quoted string", node.value, f'write `{field.name} contains "TEXT"`')
    return node if field is node.field else A.Contains(field=field, value=node.value, span=node.span)


def _check_is_null(node: Any, field: A.FieldRef, row: FieldInfo) -> Any:
    return node if field is node.field else A.IsNull(field=field, negated=node.negated, span=node.span)


_CHECK_PREDICATE: A.NodeTable[Callable[[Any, A.FieldRef, FieldInfo], Any]] = A.NodeTable(
    "check.predicate",
    A.PREDICATE_CLASSES,
    {
        A.Compare: _check_compare,
        A.InRange: _check_in_range,
        A.InSet: _check_in_set,
        A.Like: _check_like,
        A.Regex: _check_regex,
        A.Contains: _check_contains,
        A.IsNull: _check_is_null,
    },
)


def _check_junction(node: Any) -> Any:
    operands = tuple(check(o) for o in node.operands)
    if all(a is b for a, b in zip(operands, node.operands)):
        return node
    return type(node)(operands=operands, span=node.span)


def _check_not(node: Any) -> Any:
    operand = check(node.operand)
    return node if operand is node.operand else A.Not(operand=operand, span=node.span)


_CHECK: A.NodeTable[Callable[[Any], Any]] = A.NodeTable(
    "check.check",
    A.NODE_CLASSES,
    {A.And: _check_junction, A.Or: _check_junction, A.Not: _check_not, **dict.fromkeys(A.PREDICATE_CLASSES, _check_predicate)},
)


def check(node: A.Query) -> A.Query:
    """Validate and normalise a tree; raises :class:`QueryError` (without query text: callers add it)."""
    return _CHECK[type(node)](node)
