"""Run Registry json-logic: compile queries for RR's JSON portal, and import RR's existing rules.

RR evaluates a json-logic rule on every lumisection of the datasets matched by ``dataset_name_filter``
(``shared/reference/run-registry.md`` sections 3.7 and 4) with json-logic-js 1.2.3, on an object with the
variables ``run.oms.*``, ``run.rr.*``, ``run.run_number``, ``dataset.name``, ``dataset.<state>``,
``lumisection.rr.<flag>`` (a status string), ``lumisection.oms.<bit>`` and
``lumisection.lumisection_number``. Those are exactly the catalog paths, so a field compiles to
``{"var": field.path}``; DIALS fields do not exist there and are unsupported.

Three values in a two-valued language. dqquery's meaning (:mod:`dqquery.semantics`) is three-valued: a
comparison with a missing value is *unknown*, ``not`` unknown stays unknown, and only True selects. json-logic
is two-valued and its engines disagree on missing values (json-logic-js coerces null to 0 in ``<``/``<=``,
so ``energy <= 7000`` passes a run without energy; ``!=`` on a missing value is true; json-logic-qubit says
``null == false`` and ``missing == "None"``). The compiler therefore compiles every node for a wanted truth
value: ``rule(node, True)`` passes exactly when the node is True and ``rule(node, False)`` exactly when it
is False (``not`` swaps them; ``and``/``or`` combine them by Kleene's tables), and emits ``rule(query, True)``.
A leaf that could pass on a missing value in *either* engine gets the presence guard
``{"!==": [{"var": p}, null]}`` (strict: ``!=`` null is wrong for ``false`` and ``"None"`` in qubit).
Whether a leaf needs it is decided by evaluating the unguarded leaf on a missing value with both engines
(qubit for real, json-logic-js through :func:`js_apply`, a model of the few operators involved), so the
common golden-JSON clauses (``== "GOOD"``, ``== true``, ``>= 6000``) come out exactly as people write them.

Faithfulness claim (tested with hypothesis under qubit, and under node + json-logic-js when installed):
for data whose present values have the catalog type of their field (for fields of unknown type: the kind of
the literal they are compared with), the emitted rule passes in json-logic-js 1.2.3 and in
json-logic-qubit 0.9.1 exactly when :func:`dqquery.semantics.selects` is True, missing and null values
included, and for date/time fields whose present values are RR's stored OMS text ``YYYY-MM-DDTHH:MM:SSZ``
(both engines compare strings, not instants: a date literal becomes that text, as in ``to_rr``, and text order
is time order for it). What cannot be made exact is refused with ``QueryError("unsupported")``: ``~``, ``like``
patterns with letters (``like`` is case-insensitive, json-logic's ``in`` is case-sensitive) or inner
wildcards, times with fractions of a second, integers beyond 2**53 (JavaScript numbers), ``contains`` with a
non-string value, and DIALS fields.

Import (:func:`from_jsonlogic`) recognises the shapes RR users write and maps them onto the tree. Where RR's
two-valued reading of a missing value (json-logic-js) would select differently from dqquery's, the import
writes RR's reading out (``(not hlt_key contains "WMass" or hlt_key is null)``), so the query selects
exactly what RR selects; :func:`from_jsonlogic_report` lists the clauses json-logic-qubit still reads
differently (see :class:`ImportNote`).
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .. import ast as A
from ..catalog import lookup, rr_unstored_warning
from ..check import check
from ..errors import QueryError, QueryWarning
from ..files import load_json_document
from ..jsonlogic_engine import JSON_LOGIC_JS_OPERATORS, REFUSED_OPERATORS, apply_rule, js_truthy, validate_rule
from ..limits import MAX_LIST_ITEMS, MAX_QUERY_CHARS
from ..patterns import case_insensitive_class, like_items
from ..query import as_node, source_text
from .base import Compiled, Target, compile_bound, register, resolve
from .runregistry import stored_time_text

TARGET = "jsonlogic"

SUPPORT: dict[str, str] = {
    "compare": "partial: exact for numbers, strings, booleans, statuses and dates/times to the second (compared as RR's stored"
    " YYYY-MM-DDTHH:MM:SSZ text); fractions of a second and integers beyond 2**53 are refused",
    "in_range": "exact: numbers, and dates/times to the second as RR's stored text",
    "in_set": "partial: exact for numbers, strings, booleans, statuses and dates/times to the second; fractions of a second are refused",
    "like": "partial: exact when % stands only at the ends (per-character case-insensitive tests), or around text without letters; other patterns are refused",
    "regex": "json-logic-js 1.2.3 has no regular-expression operator",
    "contains": "partial: exact with a quoted string; other values are refused",
    "is_null": "exact",
    "not": "exact",
    "and": "exact",
    "or": "exact",
}
"""Node kind -> "exact" or the reason it cannot be compiled."""

EMITTED_OPERATORS: frozenset[str] = frozenset({"var", "==", "===", "!=", "!==", "<", "<=", ">", ">=", "in", "!", "and", "or", "substr"})
"""Every operator :func:`to_jsonlogic` may emit (all in json-logic-js 1.2.3 and json-logic-qubit 0.9.1)."""

JS_MAX_SAFE_INTEGER = 2**53 - 1

RR_VARIABLE_PREFIXES: tuple[str, ...] = ("run.", "dataset.", "lumisection.")
"""Catalog paths under these prefixes are variables of RR's evaluated object; others (``dials.``) are not."""

LEGACY_PATH_PREFIXES: dict[str, str] = {"dataset.dataset_attributes.": "dataset."}
"""Variable prefixes of RR's legacy SQL compiler, mapped to the JSON portal's (import only)."""

_ALWAYS_TRUE: dict[str, Any] = {"==": [True, True]}


# =============================================================================================== JS model


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


# =============================================================================================== compile


def _unsupported(node: Any, message: str, hint: str = "", query: str = "") -> QueryError:
    span = getattr(node, "span", None)
    return QueryError(
        "unsupported",
        message,
        query=query,
        offset=span.start if span is not None and query else None,
        end=span.end if span is not None and query else None,
        hint=hint,
        target=TARGET,
    )


def _var(path: str) -> dict[str, Any]:
    return {"var": path}


def _present(path: str) -> dict[str, Any]:
    return {"!==": [_var(path), None]}


def _missing(path: str) -> dict[str, Any]:
    return {"===": [_var(path), None]}


def _joined(op: str, rules: Iterable[Any]) -> Any:
    flat: list[Any] = []
    for r in rules:
        flat.extend(r[op] if isinstance(r, dict) and op in r else [r])
    return flat[0] if len(flat) == 1 else {op: flat}


def all_of(rules: Iterable[Any]) -> Any:
    """``{"and": [...]}`` flattened; one rule is returned as is."""
    return _joined("and", rules)


def any_of(rules: Iterable[Any]) -> Any:
    """``{"or": [...]}`` flattened; one rule is returned as is."""
    return _joined("or", rules)


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


def _guarded(path: str, rule: Any) -> Any:
    """``rule``, behind a presence test when it could pass on a missing value in either engine."""
    if any(passes_on_missing(rule).values()):
        return all_of([_present(path), rule])
    return rule


def _literal(value: Any, node: Any, query: str) -> Any:
    """The JSON literal of a value node; dates and unsafe integers are refused."""
    if isinstance(value, (A.DateValue, A.DateTimeValue)):
        text = stored_time_text(value)
        if text is None:
            raise _unsupported(
                node,
                "json-logic compares times as text to the second (RR stores YYYY-MM-DDTHH:MM:SSZ)",
                "write the time without fractions of a second",
                query,
            )
        return text
    if isinstance(value, A.IntValue) and abs(value.value) > JS_MAX_SAFE_INTEGER:
        raise _unsupported(node, f"{value.value} is beyond the integers JavaScript represents exactly (2**53)", "", query)
    return value.value


def _equality(path: str, lit: Any) -> Any:
    """A rule true exactly when the present value equals ``lit`` and false on a missing one.

    Loose ``==`` when both engines already give false on a missing value (the readable, usual form),
    else strict ``===`` (``== false`` and ``== "None"`` pass a missing value in qubit)."""
    loose = {"==": [_var(path), lit]}
    return loose if not any(passes_on_missing(loose).values()) else {"===": [_var(path), lit]}


_NEGATED_ORDER = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def _compare(node: A.Compare, want: bool, query: str) -> Any:
    path = node.field.path
    lit = _literal(node.value, node, query)
    op = node.op if want else {"==": "!=", "!=": "==", **_NEGATED_ORDER}[node.op]
    if isinstance(lit, bool) and op == "!=":  # a present boolean that is not b is (not b)
        op, lit = "==", not lit
    if op == "==":
        return _equality(path, lit)
    return _guarded(path, {op: [_var(path), lit]})


def _in_range(node: A.InRange, want: bool, query: str) -> Any:
    path = node.field.path
    low, high = _literal(node.low, node, query), _literal(node.high, node, query)
    if want != node.negated:
        return _guarded(path, {"<=": [low, _var(path), high]})
    return _guarded(path, {"or": [{"<": [_var(path), low]}, {">": [_var(path), high]}]})


def _in_set(node: A.InSet, want: bool, query: str) -> Any:
    path = node.field.path
    member = {"in": [_var(path), [_literal(v, node, query) for v in node.values]]}
    return _guarded(path, member if want != node.negated else {"!": member})


_LIKE_HINT = (
    "json-logic has no pattern matching, `like` ignores case and json-logic's `in` does not; "
    'use `FIELD contains "TEXT"` for a case-sensitive substring test'
)


def _caseless(text: str) -> bool:
    """Whether case-insensitive matching of ``text`` equals case-sensitive matching (ASCII non-letters only)."""
    return all(ord(c) < 128 and not c.isalpha() for c in text)


def _like(node: A.Like, want: bool, query: str) -> Any:
    """``like`` as json-logic, exactly (case-insensitive, whole value).

    json-logic has no pattern operator, but a pattern whose ``%`` wildcards stand only at its ends is a
    length test plus one test per fixed character position: ``substr(v, i, 1)`` is one of the characters
    Python's case-insensitive matching equates with the pattern's (:func:`dqquery.patterns.case_insensitive_class`);
    ``_`` positions are only counted. ``%text%`` is json-logic's ``in`` when the text has no letters (``in`` is
    case-sensitive). Anything else (an inner ``%``, letters or ``_`` between two ``%``) is unsupported.
    Positions are counted in characters; json-logic-js counts UTF-16 units, so patterns must not rely on
    characters outside the Basic Multilingual Plane.
    """
    path = node.field.path
    parsed = like_items(node.pattern)
    if parsed is None:
        raise _unsupported(node, f"cannot express like {json.dumps(node.pattern)} in json-logic", _LIKE_HINT, query)
    lead, items, trail = parsed
    if any(it is not None and ord(it) > 0xFFFF for it in items):
        raise _unsupported(node, "like patterns with characters outside the Basic Multilingual Plane differ between json-logic engines", _LIKE_HINT, query)
    v = _var(path)
    n = len(items)
    if lead and trail:
        if n == 0:
            matched: Any = _present(path)  # every present string matches
            return matched if want != node.negated else False
        text = "".join(it for it in items if it is not None)
        if None in items or not _caseless(text):
            raise _unsupported(node, f"cannot express like {json.dumps(node.pattern)} in json-logic", _LIKE_HINT, query)
        matched = {"in": [text, v]}
        return _guarded(path, matched if want != node.negated else {"!": matched})
    tests: list[Any] = []
    if not lead and not trail:  # exactly n characters
        tests.append({"===": [{"substr": [v, n]}, ""]} if n else {"===": [v, ""]})
    if n:
        tests.append({"!==": [{"substr": [v, n - 1]}, ""]})  # at least n characters
    for i, item in enumerate(items):
        if item is None:
            continue
        piece = {"substr": [v, i if not lead else i - n, 1]}
        variants = case_insensitive_class(item)
        tests.append({"===": [piece, item]} if len(variants) == 1 else {"in": [piece, list(variants)]})
    matched = all_of(tests)
    return _guarded(path, matched if want != node.negated else {"!": matched})


def _contains(node: A.Contains, want: bool, query: str) -> Any:
    path = node.field.path
    if not isinstance(node.value, A.StringValue):
        raise _unsupported(node, "contains with a non-string value differs between json-logic engines", 'use a quoted string: contains "TEXT"', query)
    needle = node.value.value
    row = lookup(path)
    found: Any = {"in": [needle, _var(path)]}
    if needle == "" and (row is None or row.type != "string-list"):
        # json-logic-js's `in` is false on an empty haystack string, but "" contains "".
        found = any_of([{"===": [_var(path), ""]}, found])
    return _guarded(path, found if want else {"!": found})


def _is_null(node: A.IsNull, want: bool, query: str) -> Any:
    return _missing(node.field.path) if want != node.negated else _present(node.field.path)


def _regex(node: A.Regex, want: bool, query: str) -> Any:
    raise _unsupported(node, "json-logic has no regular expressions", 'use `like` with a pattern of non-letters, or `contains "TEXT"`', query)


_PREDICATE_COMPILERS: dict[type, Callable[[Any, bool, str], Any]] = {
    A.Compare: _compare,
    A.InRange: _in_range,
    A.InSet: _in_set,
    A.Like: _like,
    A.Regex: _regex,
    A.Contains: _contains,
    A.IsNull: _is_null,
}


def compile_for(node: Any, want: bool, query: str = "") -> Any:
    """A rule that passes exactly when ``node`` evaluates to ``want`` (True or False) in three-valued logic."""
    if isinstance(node, A.Not):
        return compile_for(node.operand, not want, query)
    if isinstance(node, (A.And, A.Or)):
        conjunctive = isinstance(node, A.And) == want  # and/True and or/False need every operand
        parts = [compile_for(o, want, query) for o in node.operands]
        return all_of(parts) if conjunctive else any_of(parts)
    path = node.field.path
    if not path.startswith(RR_VARIABLE_PREFIXES):
        raise _unsupported(node.field, f"'{node.field.name}' does not exist in Run Registry's json-logic data", "DIALS fields can only be queried through DIALS", query)
    return _PREDICATE_COMPILERS[type(node)](node, want, query)


def to_jsonlogic(query: Any) -> dict[str, Any]:
    """The json-logic rule RR's JSON portal evaluates for ``query`` (text or node); see the module docstring.

    Raises ``QueryError("unsupported", target="jsonlogic")`` for what json-logic cannot express exactly.
    The same as ``dqquery.compile(query, "jsonlogic")``, whose ``request`` this returns."""
    return compile_bound(query, resolve("jsonlogic")).request  # type: ignore[no-any-return]


def _compile_jsonlogic(query: Any) -> dict[str, Any]:
    node = as_node(query)
    text = query if isinstance(query, str) else ""
    try:
        rule = compile_for(node, True, text)
    except QueryError as err:
        if not text and err.query == "":
            raise QueryError(err.category, err.message, query=source_text(node), hint=err.hint, target=TARGET) from None  # type: ignore[arg-type]
        raise
    if not isinstance(rule, dict):  # a constant (e.g. `x not like "%"`): make it a rule RR accepts
        rule = _ALWAYS_TRUE if rule else {"!": _ALWAYS_TRUE}
    validate_rule(rule, EMITTED_OPERATORS)
    unstored = rr_unstored_warning(f.path for f in A.fields_of(node))
    if unstored:  # the portal reads RR's stored OMS names only (R3)
        warnings.warn(QueryWarning(unstored), stacklevel=3)
    return rule


# =============================================================================================== RR JSON portal

_SIMILAR_TO_SPECIAL = set("\\%_|*+?{}()[]^$")
_NON_ASCII_CASE_VARIANTS: dict[str, str] = {"i": "\u0130\u0131", "s": "\u017f", "k": "\u212a"}
"""Non-ASCII characters Python's case-insensitive matching equates with an ASCII letter (tested)."""


_CASE_VARIANT_CHARS = "".join(_NON_ASCII_CASE_VARIANTS.values())


def _similar_literal(ch: str) -> str:
    return "\\" + ch if ch in _SIMILAR_TO_SPECIAL else ch


def _similar_caseless(ch: str) -> str | None:
    """A SIMILAR TO piece matching ``ch`` case-insensitively as :func:`dqquery.semantics.like_match` does."""
    if ord(ch) < 128 and ch.isalpha():
        variants = ch.lower() + ch.upper() + _NON_ASCII_CASE_VARIANTS.get(ch.lower(), "")
        return "[" + variants + "]"
    if ord(ch) < 128 or (ch.lower() == ch.upper() == ch.casefold() == ch and ch not in _CASE_VARIANT_CHARS):
        return _similar_literal(ch)
    return None  # a non-ASCII cased character: its case variants are not tabulated


def similar_to_exact(name: str) -> str:
    """A SIMILAR TO pattern matching exactly ``name``."""
    return "".join(_similar_literal(c) for c in name)


def similar_to_from_like(pattern: str) -> str | None:
    """The SIMILAR TO pattern equivalent to a (case-insensitive) LIKE pattern, or ``None``."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            piece = _similar_caseless(pattern[i + 1])
            i += 2
        elif ch in "%_":
            piece = ch
            i += 1
        else:
            piece = _similar_caseless(ch)
            i += 1
        if piece is None:
            return None
        out.append(piece)
    return "".join(out)


def _dataset_filter(node: Any) -> str | None:
    """The ``dataset_name_filter`` equivalent to a ``dataset.name`` clause, or ``None``."""
    if getattr(node, "field", None) is None or node.field.path != "dataset.name":
        return None
    if isinstance(node, A.Compare) and node.op == "==" and isinstance(node.value, A.StringValue):
        return similar_to_exact(node.value.value)
    if isinstance(node, A.InSet) and not node.negated and all(isinstance(v, A.StringValue) for v in node.values):
        names = [similar_to_exact(v.value) for v in node.values]
        return names[0] if len(names) == 1 else "(" + "|".join(names) + ")"
    if isinstance(node, A.Like) and not node.negated:
        return similar_to_from_like(node.pattern)
    return None


def rr_portal_request(query: Any, dataset: str | None = None) -> dict[str, Any]:
    """The same as ``dqquery.compile(query, "rr-portal:DATASET").request``; see :func:`_rr_portal_request`."""
    return compile_bound(query, resolve("rr-portal" + (f":{dataset}" if dataset else ""))).request  # type: ignore[no-any-return]


def _rr_portal_request(query: Any, dataset: str | None = None) -> dict[str, Any]:
    """The body of RR's ``POST /json_portal/generate``: ``{"json_logic": <JSON text>, "dataset_name_filter": ...}``.

    ``dataset`` is passed through as RR's ``dataset_name_filter`` (a SQL SIMILAR TO pattern). Without it, one
    top-level ``dataset == "X"``, ``dataset in [...]`` or ``dataset like "..."`` clause becomes the filter
    (case-insensitive ``like`` letters become ``[aA]`` classes) and leaves the logic; if it was the whole
    query, the logic becomes "the dataset has a name" (true for every lumisection RR evaluates), because RR
    refuses an empty rule. Neither: ``QueryError``."""
    node = as_node(query)
    operands = list(node.operands) if isinstance(node, A.And) else [node]
    name_filter = dataset
    if name_filter is None:
        for i, op in enumerate(operands):
            pattern = _dataset_filter(op)
            if pattern is not None:
                name_filter = pattern
                operands = operands[:i] + operands[i + 1 :]
                break
    if name_filter is None:
        raise QueryError(
            "unsupported",
            "Run Registry's JSON portal needs a dataset name filter",
            query=source_text(query),
            hint='pass dataset="/PromptReco/Collisions2018A/DQM" (a SIMILAR TO pattern) or add a clause dataset == "..." '
            'or dataset like "..." to the query',
            target=TARGET,
        )
    if not operands:
        rule: Any = _present("dataset.name")
    else:
        rule = _compile_jsonlogic(A.make_and(operands)) if operands != [node] else _compile_jsonlogic(query)
    return {"json_logic": json.dumps(rule), "dataset_name_filter": name_filter}


to_rr_portal_request = rr_portal_request
"""The name used in ``docs/dev/contracts.md``."""


# =============================================================================================== import


@dataclass(frozen=True)
class ImportNote:
    """A clause that a json-logic engine reads differently from the imported query.

    ``engines`` lists the engines concerned. With ``only_when_missing`` (the usual case) they let a
    lumisection pass this clause when ``path`` is missing or null, where the imported query does not select
    it; otherwise the engines also differ on some present values (qubit's ``false == null``)."""

    path: str
    clause: str
    engines: tuple[str, ...]
    only_when_missing: bool = True
    imported_selects: bool = False  # the imported query (like RR) selects a missing value, these engines do not

    @property
    def message(self) -> str:
        who = f"{' and '.join(self.engines)} treat{'s' if len(self.engines) == 1 else ''}"
        if not self.only_when_missing:
            return f'{self.clause}: {who} false and "None" as null too; the imported query tests for a missing {self.path}'
        if self.imported_selects:
            return f"{self.clause}: {who} a missing {self.path} as failing; the imported query, like Run Registry, selects such lumisections"
        return f"{self.clause}: {who} a missing {self.path} as passing; the imported query does not select such lumisections"

    def __str__(self) -> str:
        return self.message


def _import_error(category: str, message: str, clause: Any, hint: str = "") -> QueryError:
    return QueryError(category, f"{message}: {json.dumps(clause)}", hint=hint, target=TARGET)  # type: ignore[arg-type]


def _args(rule: dict[str, Any]) -> tuple[str, list[Any]]:
    ((op, args),) = rule.items()
    return op, (args if isinstance(args, list) else [args])


def _is_var(x: Any) -> bool:
    return isinstance(x, dict) and len(x) == 1 and "var" in x


def _is_scalar(x: Any) -> bool:
    return x is None or isinstance(x, (str, int, float, bool))


def _field(var: dict[str, Any], clause: Any) -> A.FieldRef:
    """The field of a ``{"var": path}``: a qualified RR variable in the catalog."""
    args = var["var"] if isinstance(var["var"], list) else [var["var"]]
    if len(args) != 1:
        raise _import_error("unsupported", "a var with a default value changes the meaning of missing data", clause)
    path = args[0]
    if not isinstance(path, str):
        raise _import_error("syntax", "a var name must be a string", clause)
    for old, new in LEGACY_PATH_PREFIXES.items():
        if path.startswith(old):
            path = new + path[len(old) :]
    row = lookup(path)
    if row is None or row.path != path or not path.startswith(RR_VARIABLE_PREFIXES):
        if row is not None and row.path.startswith(RR_VARIABLE_PREFIXES):
            hint = f"RR variables are qualified paths; did you mean '{row.path}'?"
        else:
            hint = "RR variables are run.oms.*, run.rr.*, run.run_number, dataset.*, lumisection.oms.*, lumisection.rr.* and lumisection.lumisection_number"
        raise _import_error("unknown-field", f"unknown variable '{args[0]}'", clause, hint)
    return A.FieldRef(name=row.name, path=row.path)


def _value(x: Any, clause: Any) -> Any:
    if isinstance(x, bool):
        return A.BoolValue(value=x)
    if isinstance(x, int):
        if not A.MIN_INT <= x <= A.MAX_INT:
            raise _import_error("syntax", "integers must fit in 64 bits", clause)
        return A.IntValue(value=x)
    if isinstance(x, float):
        if not math.isfinite(x):
            raise _import_error("syntax", f"{x!r} is not a JSON number", clause)
        return A.FloatValue(value=x)
    if isinstance(x, str):
        return A.StringValue(value=x)
    raise _import_error("unsupported", "expected a literal (string, number or boolean)", clause)


_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
_BOOLEAN_RULE_OPERATORS = frozenset({"==", "===", "!=", "!==", "<", "<=", ">", ">=", "in", "!", "!!", "and", "or"})
"""Operators whose result is a boolean in both engines (when their operands are), so ``R == false`` is ``not R``."""


class _Importer:
    """One import: the tree plus the notes collected on the way (``positive`` = under an even number of nots)."""

    def __init__(self, rule: Any) -> None:
        self.notes: list[ImportNote] = []
        self.clause: Any = rule  # the operand of the innermost and/or being imported, for notes

    def leaf(self, node: Any, clause: Any, field: A.FieldRef, positive: bool) -> Any:
        """``node`` (the dqquery reading of the one-variable ``clause``), made to decide a missing value as RR does.

        Decision: RR evaluates with json-logic-js, where a missing value is a definite true or false
        (``null <= 7000`` is true). Where that answer would change the selection (true under an even number of
        nots, false under an odd one), the leaf becomes ``(L or x is null)`` or ``(L and x is not null)``, so
        the imported query selects exactly what RR selects. Engines that still read a missing value otherwise
        (json-logic-qubit) are recorded as :class:`ImportNote`.
        """
        try:
            js = js_truthy(js_apply(clause, {}))
        except NotModelled:
            js = None
        wrap = js is not None and js == positive
        if wrap:
            null = A.IsNull(field=field, negated=not positive)
            node = A.Or(operands=(node, null)) if positive else A.And(operands=(node, null))
        imported = positive if wrap else not positive  # the leaf's value on a missing variable, as imported
        passing = passes_on_missing(clause)
        engines = tuple(e for e, passes in passing.items() if passes != imported and (passes == positive or wrap))
        if engines:
            self.notes.append(ImportNote(field.path, json.dumps(self.clause), engines, imported_selects=wrap and positive))
        return node

    def node(self, rule: Any, positive: bool) -> Any:
        if not isinstance(rule, dict):
            raise _import_error("unsupported", "expected a condition, found a constant", rule)
        op, args = _args(rule)
        handler = _IMPORTERS.get(op)
        if handler is None:
            if op in REFUSED_OPERATORS:
                raise _import_error("unsupported", f"operator {op!r} is refused", rule)
            raise _import_error("unsupported", f"operator {op!r} has no dqquery equivalent", rule)
        return handler(self, rule, op, args, positive)

    # -- boolean structure
    def junction(self, rule: Any, op: str, args: list[Any], positive: bool) -> Any:
        if not args:
            raise _import_error("syntax", f"an empty '{op}' (RR treats it as false)", rule)
        parts = []
        for a in args:
            outer, self.clause = self.clause, a
            parts.append(self.node(a, positive))
            self.clause = outer
        if op == "and":
            parts, unwrapped = _drop_redundant_null_tests(parts, positive)
            # Another operand already rejects a missing value there: no engine selects it, nothing to note.
            self.notes = [n for n in self.notes if not (n.imported_selects and n.path in unwrapped)]
            return merge_ranges(A.make_and(parts))
        return A.make_or(parts)

    def negation(self, rule: Any, op: str, args: list[Any], positive: bool) -> Any:
        if len(args) != 1:
            raise _import_error("syntax", f"'{op}' takes one argument", rule)
        inner = args[0]
        if op == "!!":
            return self.truth(inner, positive) if _is_var(inner) else self.node(inner, positive)
        return _negated(self.truth(inner, not positive) if _is_var(inner) else self.node(inner, not positive))

    def truth(self, var: dict[str, Any], positive: bool) -> Any:
        """A bare variable as a condition (``!!`` of it): the boolean field is true."""
        field = _field(var, var)
        return self.leaf(A.Compare(field=field, op="==", value=A.BoolValue(value=True)), {"!!": [var]}, field, positive)

    # -- comparisons
    def equality(self, rule: Any, op: str, args: list[Any], positive: bool) -> Any:
        if len(args) != 2:
            raise _import_error("syntax", f"'{op}' takes two arguments", rule)
        a, b = args
        negated = op in ("!=", "!==")
        if (not _is_var(a) and _is_var(b)) or (isinstance(a, bool) and isinstance(b, dict)):
            a, b = b, a
        if _is_var(a) and _is_scalar(b):
            field = _field(a, rule)
            if b is None:
                if op in ("==", "!="):  # qubit's loose == compares str() and bool(): false == null, "None" == null
                    self.notes.append(ImportNote(field.path, json.dumps(self.clause), ("json-logic-qubit",), only_when_missing=False))
                return A.IsNull(field=field, negated=negated)
            row = lookup(field.path)
            if row is not None and row.type == "status" and isinstance(b, str) and b != b.upper():
                raise _import_error("unknown-value", f"RR compares statuses case-sensitively; '{b}' never matches", rule, f"write {b.upper()!r}")
            return self.leaf(A.Compare(field=field, op="!=" if negated else "==", value=_value(b, rule)), rule, field, positive)
        if isinstance(b, bool) and isinstance(a, dict) and not _is_var(a) and _args(a)[0] in _BOOLEAN_RULE_OPERATORS:
            keep = b != negated  # R == true, R != false -> R
            return self.node(a, positive) if keep else _negated(self.node(a, not positive))
        raise _import_error("unsupported", f"'{op}' must compare one variable with a literal", rule)

    def ordering(self, rule: Any, op: str, args: list[Any], positive: bool) -> Any:
        if len(args) == 3 and op in ("<", "<="):
            low, var, high = args
            if not (_is_var(var) and _is_scalar(low) and _is_scalar(high) and low is not None and high is not None):
                raise _import_error("unsupported", f"a 3-argument '{op}' must be [low, variable, high]", rule)
            field = _field(var, rule)
            if op == "<=":
                return self.leaf(A.InRange(field=field, low=_value(low, rule), high=_value(high, rule)), rule, field, positive)
            between = A.And(operands=(A.Compare(field=field, op=">", value=_value(low, rule)), A.Compare(field=field, op="<", value=_value(high, rule))))
            return self.leaf(between, rule, field, positive)
        if len(args) != 2:
            raise _import_error("syntax", f"'{op}' takes two arguments (three only for '<' and '<=')", rule)
        a, b = args
        if _is_var(b) and not _is_var(a):
            a, b, op = b, a, _FLIPPED[op]
        if not (_is_var(a) and _is_scalar(b) and b is not None):
            raise _import_error("unsupported", f"'{op}' must compare one variable with a literal", rule)
        field = _field(a, rule)
        return self.leaf(A.Compare(field=field, op=op, value=_value(b, rule)), rule, field, positive)  # type: ignore[arg-type]

    def membership(self, rule: Any, op: str, args: list[Any], positive: bool) -> Any:
        if len(args) != 2:
            raise _import_error("syntax", "'in' takes two arguments", rule)
        needle, haystack = args
        if needle == "" and _is_var(haystack):
            raise _import_error(
                "unsupported",
                'the engines disagree on an empty needle ("" in "" is false in json-logic-js, true in json-logic-qubit)',
                rule,
                "test the value with `is not null` or `like` instead",
            )
        if _is_var(haystack) and _is_scalar(needle) and needle is not None:
            field = _field(haystack, rule)
            return self.leaf(A.Contains(field=field, value=_value(needle, rule)), rule, field, positive)
        if _is_var(needle) and isinstance(haystack, list):
            if not haystack or not all(_is_scalar(x) and x is not None for x in haystack):
                raise _import_error("unsupported", "'in' needs a non-empty list of literals (no null)", rule)
            field = _field(needle, rule)
            return self.leaf(A.InSet(field=field, values=tuple(_value(x, rule) for x in haystack)), rule, field, positive)
        if _is_var(needle) and isinstance(haystack, str):
            raise _import_error(
                "unsupported",
                "this tests whether the variable is a substring of the literal",
                rule,
                f'the usual intent is {{"in": [{json.dumps(haystack)}, {json.dumps(needle)}]}} (literal first)',
            )
        raise _import_error("unsupported", "'in' must be [literal, variable] or [variable, [literals]]", rule)


_IMPORTERS: dict[str, Callable[..., Any]] = {
    "and": _Importer.junction,
    "or": _Importer.junction,
    "!": _Importer.negation,
    "!!": _Importer.negation,
    "var": lambda self, rule, op, args, positive: self.truth(rule, positive),
    "==": _Importer.equality,
    "===": _Importer.equality,
    "!=": _Importer.equality,
    "!==": _Importer.equality,
    "<": _Importer.ordering,
    "<=": _Importer.ordering,
    ">": _Importer.ordering,
    ">=": _Importer.ordering,
    "in": _Importer.membership,
}


def _negated(node: Any) -> Any:
    """``not node``; a leaf made RR-faithful as ``(L and x is not null)`` becomes ``(not L or x is null)``
    (De Morgan holds in three-valued logic), which reads as what it means."""
    if (
        isinstance(node, A.And)
        and len(node.operands) == 2
        and isinstance(node.operands[1], A.IsNull)
        and node.operands[1].negated
    ):
        return A.Or(operands=(A.Not(operand=node.operands[0]), A.IsNull(field=node.operands[1].field)))
    return A.Not(operand=node)


def _drop_redundant_null_tests(parts: list[Any], positive: bool) -> tuple[list[Any], set[str]]:
    """In a selecting ``and``, ``(L or x is null)`` is just ``L`` when another operand already needs ``x``
    present (``energy >= 6000 and (energy <= 7000 or energy is null)`` is ``energy in 6000..7000``).
    Returns the operands and the paths whose null test was dropped."""
    if not positive:
        return parts, set()

    def needs_present(p: Any) -> str | None:
        if isinstance(p, A.PREDICATE_CLASSES) and not (isinstance(p, A.IsNull) and not p.negated):
            return p.field.path  # type: ignore[attr-defined,no-any-return]
        return None

    present = {path for path in map(needs_present, parts) if path is not None}
    out, unwrapped = [], set()
    for p in parts:
        if (
            isinstance(p, A.Or)
            and len(p.operands) == 2
            and isinstance(p.operands[1], A.IsNull)
            and not p.operands[1].negated
            and p.operands[1].field.path in present
        ):
            unwrapped.add(p.operands[1].field.path)
            p = p.operands[0]
        out.append(p)
    return out, unwrapped


def merge_ranges(node: Any) -> Any:
    """Within an ``and``, merge ``x >= a`` and ``x <= b`` on the same field into ``x in a..b`` (same meaning
    in three-valued logic: a range is the Kleene ``and`` of its two bounds)."""
    if not isinstance(node, A.And):
        return node
    operands = list(node.operands)
    numeric = (A.IntValue, A.FloatValue)
    i = 0
    while i < len(operands):
        low = operands[i]
        if isinstance(low, A.Compare) and low.op == ">=" and isinstance(low.value, numeric):
            for j, high in enumerate(operands):
                if (
                    isinstance(high, A.Compare)
                    and high.op == "<="
                    and high.field.path == low.field.path
                    and isinstance(high.value, numeric)
                    and low.value.value <= high.value.value
                ):
                    operands[i] = A.InRange(field=low.field, low=low.value, high=high.value)
                    del operands[j]
                    if j < i:
                        i -= 1
                    break
        i += 1
    return A.make_and(operands)


def from_jsonlogic_report(rule: Any) -> tuple[Any, list[ImportNote]]:
    """Import an RR json-logic rule (dict or JSON text) as a checked query tree, with notes on missing data.

    RR reads its rule with JavaScript semantics: ``{"<=": [{"var": "run.oms.energy"}, 7000]}`` passes a run
    without energy, and ``{"==": [{"in": ["WMass", {"var": "run.oms.hlt_key"}]}, false]}`` passes a run
    without HLT key. The import keeps that reading where it changes the selection, as an explicit
    ``or x is null`` (``and x is not null`` under a negation), and drops it where another clause already
    needs the value (``energy >= 6000``): the imported query selects exactly what RR selects. Each clause
    that json-logic-qubit still reads differently on a missing value is reported as an :class:`ImportNote`.

    Malformed or unrepresentable rules raise :class:`QueryError` (``syntax``, ``unsupported``,
    ``unknown-field``, ``unknown-value`` or ``type-mismatch``), never a query that selects everything."""
    if isinstance(rule, (str, bytes)):
        # Input checks (docs/errors.md): bounded text; strict JSON (a key twice, NaN, a number of thousands of
        # digits, nesting beyond the decoder's limit are errors); validate_rule then bounds the nesting.
        if len(rule) > _MAX_RULE_CHARS:
            raise QueryError("syntax", f"the rule is {len(rule):,} characters long; the limit is {_MAX_RULE_CHARS:,}", target=TARGET)
        rule = load_json_document(rule, lambda message: QueryError("syntax", f"the rule is not JSON dqquery reads: {message}", target=TARGET))
    validate_rule(rule)
    _check_list_lengths(rule)
    importer = _Importer(rule)
    try:
        node = importer.node(rule, True)
        return check(node), importer.notes
    except RecursionError:  # pragma: no cover - validate_rule bounds the depth; kept as the contract's guard
        raise QueryError("syntax", "the rule is nested too deeply", target=TARGET) from None


_MAX_RULE_CHARS = 4 * MAX_QUERY_CHARS
"""Longest json-logic rule text: a rule spells out more than the query it comes from."""


def _check_list_lengths(rule: Any) -> None:
    """Refuse a list longer than :data:`~dqquery.limits.MAX_LIST_ITEMS` anywhere in a (validated) rule."""
    stack = [rule]
    while stack:
        node = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        if isinstance(node, list) and len(node) > MAX_LIST_ITEMS:
            raise QueryError("syntax", f"a list of the rule holds {len(node):,} values; the limit is {MAX_LIST_ITEMS:,}", target=TARGET)
        stack.extend(c for c in children if isinstance(c, (dict, list)))


def from_jsonlogic(rule: Any) -> Any:
    """Import an RR json-logic rule as a checked query tree (see :func:`from_jsonlogic_report` for the
    caveat on missing data)."""
    return from_jsonlogic_report(rule)[0]


# =============================================================================================== targets

EXAMPLES: tuple[str, ...] = ("tracker-strip == GOOD", "energy <= 7000", "tracker-strip != BAD", "not bpix_ready",
                             'injection_scheme contains "25ns"', "run_number in 315000..316000", 'class like "Collisions%"')
TRAPS = """\
* json-logic-js turns a missing value into 0 in `<`/`<=` and says `!=` is true on a missing value; the
  Python engine says `null == false`. Leaves that could pass on a missing value get a presence guard
  `{"!==": [{"var": ...}, null]}` and `false` is tested with `===`.
* `in` takes the needle first for substrings (`{"in": ["25ns", {"var": ...}]}`); the other order tests the
  opposite.
* Statuses are compared case-sensitively, so they are always upper-case. Regular expressions are refused.
* Both engines compare times as text. RR stores OMS times as `YYYY-MM-DDTHH:MM:SSZ` (UTC, to the second), whose
  text order is time order, so a date literal is sent as that text (`2018-07-01` is `"2018-07-01T00:00:00Z"`),
  exactly as `to_rr` sends it; a time with fractions of a second is refused.
"""


class JsonLogicTarget(Target):
    """The json-logic rule of Run Registry's JSON portal (golden JSON generation), evaluated per lumisection.

    ``plan`` sends the rules of what json-logic expresses exactly; the residual is evaluated locally on the
    lumisections (``dqquery golden``), as for the Run Registry filters."""

    name = "jsonlogic"
    title = "Run Registry json-logic"

    def compile(self, query: Any, option: str | None, **settings: Any) -> Compiled:
        return Compiled(self.name, _compile_jsonlogic(query), True)

    def support(self, option: str | None) -> Any:
        return SUPPORT

    def empty_request(self, option: str | None) -> Any:
        return dict(_ALWAYS_TRUE)

    def examples(self, option: str | None) -> tuple[str, ...]:
        return EXAMPLES

    def traps(self, option: str | None) -> str:
        return TRAPS


class RRPortalTarget(JsonLogicTarget):
    """The body of Run Registry's ``POST /json_portal/generate``; the option is the dataset name filter (a SQL
    SIMILAR TO pattern), taken from a top-level ``dataset`` clause when absent."""

    name = "rr-portal"
    title = "Run Registry JSON portal request"
    options = None
    plannable = False

    def compile(self, query: Any, option: str | None, **settings: Any) -> Compiled:
        return Compiled(self.spec(option), _rr_portal_request(query, option or None), True)

    def matrix_options(self) -> tuple[str | None, ...]:
        return ()

    def examples(self, option: str | None) -> tuple[str, ...]:
        return ()

    def traps(self, option: str | None) -> str:
        return ""


register(JsonLogicTarget())
register(RRPortalTarget())
