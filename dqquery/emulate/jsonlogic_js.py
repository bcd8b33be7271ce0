"""A model of json-logic-js 1.2.3, the engine Run Registry's JSON portal evaluates rules with, and of the object it
evaluates them on.

RR's portal (``shared/reference/run-registry.md`` sections 3.7 and 4) applies a json-logic rule with json-logic-js
1.2.3 to every lumisection of the matched datasets, on an object whose top-level keys are ``run``, ``dataset`` and
``lumisection`` (:data:`RR_VARIABLE_PREFIXES`). :func:`js_apply` is json-logic-js's ``apply`` for the operators
dqquery emits or imports, with JavaScript's coercions (``null <= 7000`` is true, ``"" in ""`` is false).

Decisions:
* An independent model of the engine, like the other modules of :mod:`dqquery.emulate`: it is written from
  json-logic-js's semantics, not from the compiler, so that a test comparing the compiler's rules with it (and
  with node running the real json-logic-js, ``DQQUERY_JSON_LOGIC_JS``) can fail.
* Only what dqquery emits or imports is modelled; anything else raises :class:`NotModelled` rather than
  guessing (callers treat it as "may pass": the safe answer when deciding a presence guard).
* :func:`passes_on_missing` asks both engines RR users meet (json-logic-js through this model, json-logic-qubit
  for real through :mod:`dqquery.jsonlogic_engine`) how a one-variable rule decides a missing value; the
  compiler (presence guards) and the importer (notes) share it.
* :data:`RR_VARIABLE_PREFIXES` lives here because it describes the evaluated object, which both the compiler
  and the importer need.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from ..jsonlogic_engine import JSON_LOGIC_JS_OPERATORS, apply_rule, js_truthy

__all__ = ["RR_VARIABLE_PREFIXES", "NotModelled", "js_apply", "passes_on_missing"]

RR_VARIABLE_PREFIXES: tuple[str, ...] = ("run.", "dataset.", "lumisection.")
"""Catalog paths under these prefixes are variables of RR's evaluated object; others (``dials.``) are not."""


class NotModelled(NotImplementedError):
    """:func:`js_apply` met an operator or operand type outside its model."""


_UNDEFINED = object()
_JS_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_JS_RADIX = re.compile(r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+")


def _js_raw_truthy(x: Any) -> bool:
    if isinstance(x, float) and math.isnan(x):
        return False
    return js_truthy(x)


def _jl_truthy(x: Any) -> bool:
    """``jsonLogic.truthy``: JavaScript truthiness except that ``[]`` is false."""
    return False if isinstance(x, list) and not x else _js_raw_truthy(x)


def _is_js_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _js_number(x: Any) -> float:
    """JavaScript ``ToNumber`` for null, booleans, numbers and strings."""
    if x is None:
        return 0.0
    if isinstance(x, bool):
        return 1.0 if x else 0.0
    if _is_js_number(x):
        return float(x)
    if isinstance(x, str):
        text = x.strip()
        if text == "":
            return 0.0
        if _JS_DECIMAL.fullmatch(text):
            return float(text)
        if text.lstrip("+-") == "Infinity":
            return -math.inf if text.startswith("-") else math.inf
        if _JS_RADIX.fullmatch(text):
            return float(int(text, 0))
        return math.nan
    raise NotModelled(f"ToNumber of {type(x).__name__}")


def _utf16(s: str) -> bytes:
    return s.encode("utf-16-be", "surrogatepass")


def _js_loose_equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
        raise NotModelled("== with an array or object")
    return _js_number(a) == _js_number(b)


def _js_strict_equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (list, dict)) or isinstance(b, (list, dict)):
        raise NotModelled("=== with an array or object")
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_js_number(a) and _is_js_number(b):
        return float(a) == float(b)
    return isinstance(a, str) and isinstance(b, str) and a == b


def _js_less(a: Any, b: Any, or_equal: bool) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        x, y = _utf16(a), _utf16(b)
        return x <= y if or_equal else x < y
    x, y = _js_number(a), _js_number(b)
    if math.isnan(x) or math.isnan(y):
        return False
    return x <= y if or_equal else x < y


def _js_in(a: Any, b: Any) -> bool:
    if not _js_raw_truthy(b):
        return False
    if isinstance(b, list):
        return any(_js_strict_equal(a, x) for x in b)
    if isinstance(b, str):
        if not isinstance(a, str):
            raise NotModelled("String.indexOf of a non-string")
        return a in b
    if isinstance(b, dict):
        raise NotModelled("in with an object haystack")
    return False  # numbers and booleans have no indexOf


def _js_between(less: Callable[[Any, Any], bool]) -> Callable[..., bool]:
    def op(a: Any, b: Any, c: Any = _UNDEFINED) -> bool:
        return less(a, b) if c is _UNDEFINED else (less(a, b) and less(b, c))

    return op


_JS_OPERATIONS: dict[str, Callable[..., Any]] = {
    "==": lambda a, b: _js_loose_equal(a, b),
    "===": lambda a, b: _js_strict_equal(a, b),
    "!=": lambda a, b: not _js_loose_equal(a, b),
    "!==": lambda a, b: not _js_strict_equal(a, b),
    "<": _js_between(lambda a, b: _js_less(a, b, False)),
    "<=": _js_between(lambda a, b: _js_less(a, b, True)),
    ">": lambda a, b, *ignored: _js_less(b, a, False),  # json-logic-js ignores a third argument
    ">=": lambda a, b, *ignored: _js_less(b, a, True),
    "!!": lambda a=None, *ignored: _jl_truthy(a),
    "!": lambda a=None, *ignored: not _jl_truthy(a),
    "in": _js_in,
}


def _js_var(data: Any, path: Any = None, default: Any = None) -> Any:
    if path is None or path == "":
        return data
    for key in str(path).split("."):
        if data is None or data is _UNDEFINED:
            return default
        if isinstance(data, dict):
            data = data.get(key, _UNDEFINED)
        elif isinstance(data, (list, str)) and key.isdigit() and str(int(key)) == key:
            data = data[int(key)] if int(key) < len(data) else _UNDEFINED
        else:
            data = _UNDEFINED
        if data is _UNDEFINED:
            return default
    return data


def js_apply(rule: Any, data: Any = None) -> Any:
    """json-logic-js 1.2.3's ``apply`` for the operators dqquery emits or imports (``var``, ``and``, ``or``,
    ``==``, ``===``, ``!=``, ``!==``, ``<``, ``<=``, ``>``, ``>=``, ``in``, ``!``, ``!!``, ``substr``) on JSON
    data, with JavaScript coercions; raises :class:`NotModelled` outside that. Used to decide presence guards
    and import notes without a JavaScript runtime (and checked against node in the tests)."""
    if isinstance(rule, list):
        return [js_apply(x, data) for x in rule]
    if not (isinstance(rule, dict) and len(rule) == 1):
        if isinstance(rule, dict):
            raise NotModelled("object literal")
        return rule
    ((op, args),) = rule.items()
    if not isinstance(args, list):
        args = [args]
    if op in ("and", "or"):
        current: Any = _UNDEFINED
        for sub in args:
            current = js_apply(sub, data)
            if _jl_truthy(current) == (op == "or"):
                return current
        return None if current is _UNDEFINED else current
    values = [js_apply(a, data) for a in args]
    if op == "var":
        return _js_var(data, *values[:2])
    if op == "substr":
        if not all(_is_js_number(v) and float(v).is_integer() for v in values[1:]) or len(values) not in (2, 3):
            raise NotModelled("substr arguments")
        if not isinstance(values[0], str) or any(ord(c) > 0xFFFF or 0xD800 <= ord(c) <= 0xDFFF for c in values[0]):
            raise NotModelled("substr of a non-string or of astral characters")
        text, start = values[0], int(values[1])
        begin = max(0, len(text) + start) if start < 0 else min(start, len(text))
        if len(values) == 3:
            length = int(values[2])
            if length < 0:
                raise NotModelled("substr with a negative length")
            return text[begin : begin + length]
        return text[begin:]
    fn = _JS_OPERATIONS.get(op)
    if fn is None:
        raise NotModelled(f"operator {op!r}")
    try:
        return fn(*values)
    except TypeError:
        raise NotModelled(f"{op!r} with {len(values)} arguments") from None


def passes_on_missing(rule: Any) -> dict[str, bool]:
    """Whether a one-variable rule passes when its variable is missing, per engine.

    ``json-logic-js`` through :func:`js_apply`, ``json-logic-qubit`` for real; an engine error or a rule
    outside the JS model counts as passing (the safe answer when deciding a guard)."""
    out: dict[str, bool] = {}
    try:
        out["json-logic-js"] = js_truthy(js_apply(rule, {}))
    except NotModelled:
        out["json-logic-js"] = True
    try:
        out["json-logic-qubit"] = bool(apply_rule(rule, {}, allowed=JSON_LOGIC_JS_OPERATORS))
    except (TypeError, ValueError, ZeroDivisionError, AttributeError):
        out["json-logic-qubit"] = True
    return out
