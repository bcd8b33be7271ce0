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
    if isinstance(v, A.BoolValue):
        return "true" if v.value else "false"
    if isinstance(v, A.IntValue):
        return str(v.value)
    if isinstance(v, A.FloatValue):
        return repr(v.value)
    if isinstance(v, A.StringValue):
        return quote(v.value)
    if isinstance(v, A.StatusValue):
        return v.value
    if isinstance(v, A.DateValue):
        return v.value.isoformat()
    if isinstance(v, A.DateTimeValue):
        return v.value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"not a literal: {v!r}")


def _predicate(n: Any) -> str:
    f = n.field.name
    if isinstance(n, A.Compare):
        if n.op == "==" and isinstance(n.value, A.BoolValue) and n.value.value is True:
            return f
        return f"{f} {n.op} {value_text(n.value)}"
    neg = "not " if getattr(n, "negated", False) else ""
    if isinstance(n, A.InRange):
        return f"{f} {neg}in {value_text(n.low)}..{value_text(n.high)}"
    if isinstance(n, A.InSet):
        return f"{f} {neg}in [" + ", ".join(value_text(v) for v in n.values) + "]"
    if isinstance(n, A.Like):
        return f"{f} {neg}like {quote(n.pattern)}"
    if isinstance(n, A.Regex):
        return f"{f} {'!~' if n.negated else '~'} {quote(n.pattern)}"
    if isinstance(n, A.Contains):
        return f"{f} contains {value_text(n.value)}"
    if isinstance(n, A.IsNull):
        return f"{f} is {'not ' if n.negated else ''}null"
    raise TypeError(f"not a query node: {n!r}")


def unparse(node: A.Query) -> str:
    """The canonical query text of a tree."""
    if isinstance(node, A.Or):
        return " or ".join(unparse(o) for o in node.operands)
    if isinstance(node, A.And):
        return " and ".join(f"({unparse(o)})" if isinstance(o, A.Or) else unparse(o) for o in node.operands)
    if isinstance(node, A.Not):
        inner = unparse(node.operand)
        return f"not ({inner})" if isinstance(node.operand, (A.And, A.Or)) else f"not {inner}"
    return _predicate(node)
