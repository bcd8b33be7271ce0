"""The canonical printer: tree -> query text.

Decisions (the canonical form):
* Minimal parentheses: ``or`` inside ``and`` and any ``and``/``or`` under ``not`` are parenthesised,
  nothing else. Single spaces around operators and keywords; ``, `` in lists; ``..`` without spaces.
* Strings in double quotes; ``"``, ``\\``, newline and tab escaped as ``\\" \\\\ \\n \\t``, other control
  characters as ``\\uXXXX`` (the only escapes the parser decodes); floats as Python ``repr`` (shortest exact form);
  datetimes in UTC with ``Z``; status words upper-case; fields by their canonical short name.
* ``x == true`` is written as the bare field ``x``.
Invariants (tested): ``parse(unparse(n)) == n`` and ``unparse(parse(unparse(n))) == unparse(n)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import ast as A

_QUOTE_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t"}
_DECODED_AFTER_BACKSLASH = ('"', "'", "\\", "n", "t", "u")


def quote(text: str) -> str:
    """``text`` as a double-quoted query string that the parser decodes back to ``text``."""
    out = ['"']
    for i, ch in enumerate(text):
        after = text[i + 1 : i + 2]
        if ch == "\\" and after and after not in _DECODED_AFTER_BACKSLASH and _escaped(after) == after:
            out.append(ch)  # a pair the parser keeps as written: "\\d+" prints as typed
        else:
            out.append(_escaped(ch))
    out.append('"')
    return "".join(out)


def _escaped(ch: str) -> str:
    escaped = _QUOTE_ESCAPES.get(ch)
    if escaped is not None:
        return escaped
    if ch < " " or "\x7f" <= ch <= "\x9f" or ch in "\u2028\u2029":
        return f"\\u{ord(ch):04x}"
    return ch


def value_text(v: Any) -> str:
    """The canonical text of a literal."""
    try:
        spell = _VALUE_TEXT[type(v)]
    except TypeError:
        raise TypeError(f"not a literal: {v!r}") from None
    return spell(v)


_VALUE_TEXT: A.NodeTable[Callable[[Any], str]] = A.NodeTable(
    "unparse.value_text",
    A.VALUE_CLASSES,
    {
        A.BoolValue: lambda v: "true" if v.value else "false",
        A.IntValue: lambda v: str(v.value),
        A.FloatValue: lambda v: repr(v.value),
        A.StringValue: lambda v: quote(v.value),
        A.StatusValue: lambda v: v.value,
        A.DateValue: lambda v: v.value.isoformat(),
        A.DateTimeValue: lambda v: v.value.isoformat().replace("+00:00", "Z"),
    },
)


def _negation(n: Any) -> str:
    return "not " if n.negated else ""


def _compare(n: Any) -> str:
    if n.op == "==" and isinstance(n.value, A.BoolValue) and n.value.value is True:
        return n.field.name
    return f"{n.field.name} {n.op} {value_text(n.value)}"


def _not(node: Any) -> str:
    inner = unparse(node.operand)
    return f"not ({inner})" if isinstance(node.operand, (A.And, A.Or)) else f"not {inner}"


_UNPARSE: A.NodeTable[Callable[[Any], str]] = A.NodeTable(
    "unparse.unparse",
    A.NODE_CLASSES,
    {
        A.Compare: _compare,
        A.InRange: lambda n: f"{n.field.name} {_negation(n)}in {value_text(n.low)}..{value_text(n.high)}",
        A.InSet: lambda n: f"{n.field.name} {_negation(n)}in [" + ", ".join(value_text(v) for v in n.values) + "]",
        A.Like: lambda n: f"{n.field.name} {_negation(n)}like {quote(n.pattern)}",
        A.Regex: lambda n: f"{n.field.name} {'!~' if n.negated else '~'} {quote(n.pattern)}",
        A.Contains: lambda n: f"{n.field.name} contains {value_text(n.value)}",
        A.IsNull: lambda n: f"{n.field.name} is {'not ' if n.negated else ''}null",
        A.Or: lambda node: " or ".join(unparse(o) for o in node.operands),
        A.And: lambda node: " and ".join(f"({unparse(o)})" if isinstance(o, A.Or) else unparse(o) for o in node.operands),
        A.Not: _not,
    },
)


def unparse(node: A.Query) -> str:
    """The canonical query text of a tree."""
    try:
        spell = _UNPARSE[type(node)]
    except TypeError:
        raise TypeError(f"not a query node: {node!r}") from None
    return spell(node)
