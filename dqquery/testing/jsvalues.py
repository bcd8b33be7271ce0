"""json-logic as JavaScript evaluates it (json-logic-js 1.2.3, Run Registry's engine), for the fake portal's statistics.

The fake portal decides pass/fail with :mod:`dqquery.jsonlogic_engine` (safe, and equal to RR on every recorded
golden JSON: dqquery's rules guard every comparison against null). RR's statistics, however, evaluate every
leaf of a rule ON ITS OWN, where the guards no longer protect it, so JavaScript's coercions show:
``null <= 7000`` is true, ``substr`` of null reads the text ``"null"``. This module evaluates a rule with those
coercions.

Decisions:
* Only the operators dqquery's ``to_jsonlogic`` emits, plus ``!!``, ``if`` and ``missing``-free ``var``: a rule
  with another operator raises ``ValueError`` (the caller then counts nothing for it rather than guess).
* Values are JSON values; JavaScript's ``undefined`` does not occur (``var`` of a missing key is ``null``, as
  json-logic-js answers).
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["js_apply", "js_truthy"]

_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
"""JavaScript's StringToNumber for decimal text (``Number("1e3")``); Python's float() also takes ``1_000``, ``inf``."""


def js_truthy(value: Any) -> bool:
    """json-logic-js ``truthy``: JavaScript truthiness, except that an empty array is false."""
    if isinstance(value, list):
        return len(value) > 0
    if value is None or value is False:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0 and not math.isnan(value)
    if isinstance(value, str):
        return value != ""
    return True


def _to_string(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, list):
        return ",".join("" if v is None else _to_string(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def _to_number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, (list, dict)):
        return _to_number(_to_string(value))
    text = str(value).strip()
    if text == "":
        return 0.0
    if text in ("Infinity", "+Infinity", "-Infinity"):
        return -math.inf if text.startswith("-") else math.inf
    if _DECIMAL.fullmatch(text):
        return float(text)
    for prefix, base, digits in (("0x", 16, "0123456789abcdef"), ("0o", 8, "01234567"), ("0b", 2, "01")):
        rest = text[2:].lower()
        if text.lower().startswith(prefix) and rest and all(c in digits for c in rest):
            return float(int(rest, base))
    return math.nan


def _primitive(value: Any) -> Any:
    return _to_string(value) if isinstance(value, (list, dict)) else value


def _loose_equal(a: Any, b: Any) -> bool:
    """JavaScript ``==``."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (list, dict)) and isinstance(b, (list, dict)):
        return a is b
    a, b = _primitive(a), _primitive(b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return _to_number(a) == _to_number(b)


def _strict_equal(a: Any, b: Any) -> bool:
    """JavaScript ``===``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
        return a is b
    return type(a) is type(b) and a == b


def _less(a: Any, b: Any, or_equal: bool) -> bool:
    """JavaScript ``<`` / ``<=`` (``<=`` is ``not (b < a)`` with NaN false)."""
    a, b = _primitive(a), _primitive(b)
    if isinstance(a, str) and isinstance(b, str):
        return a <= b if or_equal else a < b
    x, y = _to_number(a), _to_number(b)
    if math.isnan(x) or math.isnan(y):
        return False
    return x <= y if or_equal else x < y


def _var(data: Any, path: Any, default: Any = None) -> Any:
    if path is None or path == "":
        return data
    value = data
    for part in str(path).split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return default
        if value is None:
            return default
    return value


def _substr(source: Any, start: Any = 0, length: Any = None) -> str:
    text = _to_string(source)
    begin = int(_to_number(start)) if not math.isnan(_to_number(start)) else 0
    if begin < 0:
        begin = max(0, len(text) + begin)
    if length is None:
        return text[begin:]
    n = int(_to_number(length))
    if n < 0:
        piece = text[begin:]
        return piece[: max(0, len(piece) + n)]
    return text[begin : begin + n]


def js_apply(rule: Any, data: Any) -> Any:
    """Evaluate a json-logic rule on data with JavaScript's coercions (see the module docstring)."""
    if isinstance(rule, list):
        return [js_apply(r, data) for r in rule]
    if not isinstance(rule, dict) or len(rule) != 1:
        return rule
    (op, args), = rule.items()
    if not isinstance(args, list):
        args = [args]
    if op == "and":
        value: Any = None
        for arg in args:
            value = js_apply(arg, data)
            if not js_truthy(value):
                return value
        return value
    if op == "or":
        value = None
        for arg in args:
            value = js_apply(arg, data)
            if js_truthy(value):
                return value
        return value
    if op == "if":
        i = 0
        while i < len(args) - 1:
            if js_truthy(js_apply(args[i], data)):
                return js_apply(args[i + 1], data)
            i += 2
        return js_apply(args[i], data) if i == len(args) - 1 else None
    values = [js_apply(a, data) for a in args]
    if op == "var":
        return _var(data, *values[:2])
    if op == "==":
        return _loose_equal(values[0], values[1])
    if op == "!=":
        return not _loose_equal(values[0], values[1])
    if op == "===":
        return _strict_equal(values[0], values[1])
    if op == "!==":
        return not _strict_equal(values[0], values[1])
    if op in ("<", "<="):
        if len(values) == 3:
            return _less(values[0], values[1], op == "<=") and _less(values[1], values[2], op == "<=")
        return _less(values[0], values[1], op == "<=")
    if op == ">":
        return _less(values[1], values[0], False)
    if op == ">=":
        return _less(values[1], values[0], True)
    if op == "!":
        return not js_truthy(values[0])
    if op == "!!":
        return js_truthy(values[0])
    if op == "in":
        haystack = values[1] if len(values) > 1 else None
        if isinstance(haystack, str):
            return _to_string(values[0]) in haystack
        if isinstance(haystack, list):
            return any(_strict_equal(values[0], item) for item in haystack)
        return False
    if op == "substr":
        return _substr(*values)
    raise ValueError(f"json-logic operator {op!r} is not evaluated here")
