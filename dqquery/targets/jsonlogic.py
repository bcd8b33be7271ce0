"""Run Registry json-logic: compile queries to the rule RR's JSON portal evaluates (the ``jsonlogic`` target).

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
``null == false`` and ``missing == "None"``). The compiler therefore first puts the query in negation normal
form (:func:`dqquery.normal.to_nnf`: exact in three-valued logic, ``not`` is left only above ``contains``),
then compiles every literal to a rule that passes exactly when the literal is True, and ``and``/``or`` to
json-logic's (exact: a Kleene ``and``/``or`` is True exactly when all/one of its operands is True).
A leaf that could pass on a missing value in *either* engine gets the presence guard
``{"!==": [{"var": p}, null]}`` (strict: ``!=`` null is wrong for ``false`` and ``"None"`` in qubit).
Whether a leaf needs it is decided by evaluating the unguarded leaf on a missing value with both engines
(qubit for real, json-logic-js through :func:`dqquery.emulate.jsonlogic_js.js_apply`, a model of the few
operators involved), so the common golden-JSON clauses (``== "GOOD"``, ``== true``, ``>= 6000``) come out
exactly as people write them.

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

Decisions:
* One module per concept: the model of json-logic-js is :mod:`dqquery.emulate.jsonlogic_js`, the importer
  :mod:`dqquery.importers.jsonlogic`, the portal request :mod:`dqquery.targets.rr_portal`; their public names
  stay importable from here (and from ``dqquery``).
* Negation is handled once, by :func:`dqquery.normal.to_nnf`; the compiler only compiles positive literals
  (plus ``not contains``, which has no negated form). The emitted rules are those of the former
  polarity-passing compiler, rule for rule (the compliance corpus and the json-logic-js differential test check them).
* What the target supports is the data :data:`SUPPORT` (:class:`~dqquery.targets.base.Support` per node kind);
  every literal is checked against it before dispatch, so an ``unsupported`` kind is refused with the table's
  reason and ``docs/targets.md`` cannot disagree with the compiler. Forms a ``partial`` kind cannot express are
  refused by its handler, with the reason and what to write instead.
* Every refusal goes through :class:`~dqquery.targets.base.Refusals` (the one refusal path); the hint never
  mentions ``plan`` (the framework adds it).
* Node classes are dispatched by :data:`_RULE_HANDLERS` (node class -> handler), not by ``isinstance`` chains.
* The json-logic rule builders are :func:`rule_and` and :func:`rule_or` (distinct from the query builders
  ``dqquery.semantics.all_of``/``any_of``).
* A query on fields RR never stores compiles (the rule is exact) but warns: the warning is in
  ``Compiled.warnings`` and issued as a :class:`~dqquery.errors.QueryWarning`.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from .. import ast as A
from ..catalog import lookup, rr_unstored_warning
from ..emulate.jsonlogic_js import RR_VARIABLE_PREFIXES, NotModelled, js_apply, passes_on_missing
from ..errors import QueryWarning
from ..importers.jsonlogic import LEGACY_PATH_PREFIXES, ImportNote, from_jsonlogic, from_jsonlogic_report, merge_ranges
from ..jsonlogic_engine import validate_rule
from ..normal import to_nnf
from ..patterns import case_insensitive_class, like_items
from ..query import as_node
from .base import Compiled, Refusals, Support, SupportTable, Target, compile_bound, register, resolve
from .rr_portal import RRPortalTarget, rr_portal_request, similar_to_exact, similar_to_from_like, to_rr_portal_request
from .runregistry import stored_time_text

# The engine model, the importer and the portal request lived here: their names are re-exported (listed in __all__).
__all__ = [
    "EMITTED_OPERATORS",
    "JS_MAX_SAFE_INTEGER",
    "LEGACY_PATH_PREFIXES",
    "RR_VARIABLE_PREFIXES",
    "SUPPORT",
    "ImportNote",
    "JsonLogicTarget",
    "NotModelled",
    "RRPortalTarget",
    "compile_rule",
    "from_jsonlogic",
    "from_jsonlogic_report",
    "js_apply",
    "merge_ranges",
    "passes_on_missing",
    "rr_portal_request",
    "rule_and",
    "rule_or",
    "similar_to_exact",
    "similar_to_from_like",
    "to_jsonlogic",
    "to_rr_portal_request",
]

TARGET = "jsonlogic"

_LIKE_HINT = (
    "json-logic has no pattern matching, `like` ignores case and json-logic's `in` does not; "
    'use `FIELD contains "TEXT"` for a case-sensitive substring test'
)

SUPPORT: dict[str, Support] = {
    "compare": Support(
        "partial",
        "exact for numbers, strings, booleans, statuses and dates/times to the second (compared as RR's stored"
        " YYYY-MM-DDTHH:MM:SSZ text); fractions of a second and integers beyond 2**53 are refused",
    ),
    "in_range": Support("exact", "numbers, and dates/times to the second as RR's stored text"),
    "in_set": Support(
        "partial", "exact for numbers, strings, booleans, statuses and dates/times to the second; fractions of a second are refused"
    ),
    "like": Support(
        "partial",
        "exact when % stands only at the ends (per-character case-insensitive tests), or around text without letters; other patterns are refused",
    ),
    "regex": Support("unsupported", "json-logic has no regular expressions"),
    "contains": Support("partial", "exact with a quoted string; other values are refused"),
    "is_null": Support("exact"),
    "not": Support("exact"),
    "and": Support("exact"),
    "or": Support("exact"),
}
"""Node kind -> how json-logic handles it (the same for the negated forms)."""

REFUSAL_HINTS: dict[str, str] = {
    "regex": 'use `like` with a pattern of non-letters, or `contains "TEXT"`',
}
"""Node kind -> what to write instead, for the kinds :data:`SUPPORT` marks ``unsupported``."""

EMITTED_OPERATORS: frozenset[str] = frozenset({"var", "==", "===", "!=", "!==", "<", "<=", ">", ">=", "in", "!", "and", "or", "substr"})
"""Every operator :func:`to_jsonlogic` may emit (all in json-logic-js 1.2.3 and json-logic-qubit 0.9.1)."""

JS_MAX_SAFE_INTEGER = 2**53 - 1

_ALWAYS_TRUE: dict[str, Any] = {"==": [True, True]}


# =============================================================================================== rule builders


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


def rule_and(rules: Iterable[Any]) -> Any:
    """The json-logic rule ``{"and": [...]}``, flattened; one rule is returned as is."""
    return _joined("and", rules)


def rule_or(rules: Iterable[Any]) -> Any:
    """The json-logic rule ``{"or": [...]}``, flattened; one rule is returned as is."""
    return _joined("or", rules)


def _guarded(path: str, rule: Any) -> Any:
    """``rule``, behind a presence test when it could pass on a missing value in either engine."""
    if any(passes_on_missing(rule).values()):
        return rule_and([_present(path), rule])
    return rule


# =============================================================================================== values


def _literal(value: Any, node: Any, refuse: Refusals) -> Any:
    """The JSON literal of a value node; dates and unsafe integers are refused."""
    if isinstance(value, (A.DateValue, A.DateTimeValue)):
        text = stored_time_text(value)
        if text is None:
            raise refuse.unsupported(
                node,
                "json-logic compares times as text to the second (RR stores YYYY-MM-DDTHH:MM:SSZ)",
                "write the time without fractions of a second",
            )
        return text
    if isinstance(value, A.IntValue) and abs(value.value) > JS_MAX_SAFE_INTEGER:
        raise refuse.unsupported(node, f"{value.value} is beyond the integers JavaScript represents exactly (2**53)")
    return value.value


def _equality(path: str, lit: Any) -> Any:
    """A rule true exactly when the present value equals ``lit`` and false on a missing one.

    Loose ``==`` when both engines already give false on a missing value (the readable, usual form),
    else strict ``===`` (``== false`` and ``== "None"`` pass a missing value in qubit)."""
    loose = {"==": [_var(path), lit]}
    return loose if not any(passes_on_missing(loose).values()) else {"===": [_var(path), lit]}


# =============================================================================================== literals (negation normal form)
# Each handler compiles one literal: a predicate, or ``not contains`` (``negated``); the rule passes exactly when
# the literal is True (for a predicate with a ``negated`` flag, the flag is part of the literal).


def _compare(node: A.Compare, negated: bool, refuse: Refusals) -> Any:
    path = node.field.path
    lit = _literal(node.value, node, refuse)
    op = node.op
    if isinstance(lit, bool) and op == "!=":  # a present boolean that is not b is (not b)
        op, lit = "==", not lit
    if op == "==":
        return _equality(path, lit)
    return _guarded(path, {op: [_var(path), lit]})


def _in_range(node: A.InRange, negated: bool, refuse: Refusals) -> Any:
    path = node.field.path
    low, high = _literal(node.low, node, refuse), _literal(node.high, node, refuse)
    if not negated:
        return _guarded(path, {"<=": [low, _var(path), high]})
    return _guarded(path, {"or": [{"<": [_var(path), low]}, {">": [_var(path), high]}]})


def _in_set(node: A.InSet, negated: bool, refuse: Refusals) -> Any:
    path = node.field.path
    member = {"in": [_var(path), [_literal(v, node, refuse) for v in node.values]]}
    return _guarded(path, member if not negated else {"!": member})


def _caseless(text: str) -> bool:
    """Whether case-insensitive matching of ``text`` equals case-sensitive matching (ASCII non-letters only)."""
    return all(ord(c) < 128 and not c.isalpha() for c in text)


def _like(node: A.Like, negated: bool, refuse: Refusals) -> Any:
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
        raise refuse.unsupported(node, f"cannot express like {json.dumps(node.pattern)} in json-logic", _LIKE_HINT)
    lead, items, trail = parsed
    if any(it is not None and ord(it) > 0xFFFF for it in items):
        raise refuse.unsupported(node, "like patterns with characters outside the Basic Multilingual Plane differ between json-logic engines", _LIKE_HINT)
    v = _var(path)
    n = len(items)
    if lead and trail:
        if n == 0:
            matched: Any = _present(path)  # every present string matches
            return matched if not negated else False
        text = "".join(it for it in items if it is not None)
        if None in items or not _caseless(text):
            raise refuse.unsupported(node, f"cannot express like {json.dumps(node.pattern)} in json-logic", _LIKE_HINT)
        matched = {"in": [text, v]}
        return _guarded(path, matched if not negated else {"!": matched})
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
    matched = rule_and(tests)
    return _guarded(path, matched if not negated else {"!": matched})


def _contains(node: A.Contains, negated: bool, refuse: Refusals) -> Any:
    path = node.field.path
    if not isinstance(node.value, A.StringValue):
        raise refuse.unsupported(node, "contains with a non-string value differs between json-logic engines", 'use a quoted string: contains "TEXT"')
    needle = node.value.value
    row = lookup(path)
    found: Any = {"in": [needle, _var(path)]}
    if needle == "" and (row is None or row.type != "string-list"):
        # json-logic-js's `in` is false on an empty haystack string, but "" contains "".
        found = rule_or([{"===": [_var(path), ""]}, found])
    return _guarded(path, found if not negated else {"!": found})


def _is_null(node: A.IsNull, negated: bool, refuse: Refusals) -> Any:
    return _missing(node.field.path) if not negated else _present(node.field.path)


def _refused(node: Any, negated: bool, refuse: Refusals) -> Any:
    """A kind that has no json-logic form (:data:`SUPPORT` says why; :func:`_literal_rule` refuses it before dispatch)."""
    refusal = _table_refusal(node, negated, refuse)
    raise refusal if refusal is not None else refuse.unsupported(node, f"json-logic has no form of {node.kind}")


_LITERAL_HANDLERS: A.NodeTable[Callable[[Any, bool, Refusals], Any]] = A.NodeTable("jsonlogic.literal", A.PREDICATE_CLASSES, {
    A.Compare: _compare,
    A.InRange: _in_range,
    A.InSet: _in_set,
    A.Like: _like,
    A.Regex: _refused,
    A.Contains: _contains,
    A.IsNull: _is_null,
})
"""Predicate class -> the rule of the literal (the predicate, or its negation when ``negated``)."""


def _table_refusal(node: Any, negated: bool, refuse: Refusals) -> Any:
    """The refusal :data:`SUPPORT` prescribes for this kind and polarity, or ``None``."""
    support = SUPPORT[node.kind].of(negated)
    if support.level != "unsupported":
        return None
    return refuse.unsupported(node, support.reason, REFUSAL_HINTS.get(node.kind, ""))


def _literal_rule(node: Any, negated: bool, refuse: Refusals) -> Any:
    """The rule of one literal: the field must be an RR variable, the kind supported in that polarity."""
    if not node.field.path.startswith(RR_VARIABLE_PREFIXES):
        raise refuse.unsupported(node.field, f"'{node.field.name}' does not exist in Run Registry's json-logic data",
                                 "DIALS fields can only be queried through DIALS")
    refusal = _table_refusal(node, negated, refuse)
    if refusal is not None:
        raise refusal
    return _LITERAL_HANDLERS[type(node)](node, negated, refuse)


# =============================================================================================== structure


def _predicate(node: Any, refuse: Refusals) -> Any:
    return _literal_rule(node, getattr(node, "negated", False), refuse)


def _not(node: A.Not, refuse: Refusals) -> Any:
    """In negation normal form ``not`` stands only above a ``contains`` (which has no negated form)."""
    if not isinstance(node.operand, A.Contains):  # pragma: no cover - to_nnf leaves no other `not`
        raise TypeError(f"not in negation normal form: {node!r}")
    return _literal_rule(node.operand, True, refuse)


_RULE_HANDLERS: A.NodeTable[Callable[[Any, Refusals], Any]] = A.NodeTable("jsonlogic.rule", A.NODE_CLASSES, {
    **{cls: _predicate for cls in A.PREDICATE_CLASSES},
    A.Not: _not,
    A.And: lambda node, refuse: rule_and(_rule(o, refuse) for o in node.operands),
    A.Or: lambda node, refuse: rule_or(_rule(o, refuse) for o in node.operands),
})
"""Node class -> its rule, for a node in negation normal form."""


def _rule(node: Any, refuse: Refusals) -> Any:
    return _RULE_HANDLERS[type(node)](node, refuse)


def compile_rule(query: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The json-logic rule of ``query`` (text or node) and the target's warnings; refusals name ``jsonlogic``."""
    node = as_node(query)
    rule = _rule(to_nnf(node), Refusals(query, TARGET))
    if not isinstance(rule, dict):  # a constant (e.g. `x not like "%"`): make it a rule RR accepts
        rule = _ALWAYS_TRUE if rule else {"!": _ALWAYS_TRUE}
    validate_rule(rule, EMITTED_OPERATORS)
    unstored = rr_unstored_warning(f.path for f in A.fields_of(node))
    if unstored:  # the portal reads RR's stored OMS names only (R3)
        warnings.warn(QueryWarning(unstored), stacklevel=3)
    return rule, (unstored,) if unstored else ()


def to_jsonlogic(query: A.QueryLike) -> dict[str, Any]:
    """The json-logic rule RR's JSON portal evaluates for ``query`` (text or node); see the module docstring.

    Raises ``QueryError("unsupported", target="jsonlogic")`` for what json-logic cannot express exactly.
    The same as ``dqquery.compile(query, "jsonlogic")``, whose ``request`` this returns."""
    return compile_bound(query, resolve(TARGET)).request  # type: ignore[no-any-return]


# =============================================================================================== target

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

    name = TARGET
    title = "Run Registry json-logic"

    def compile(self, query: Any, option: str | None, **settings: Any) -> Compiled:
        rule, warned = compile_rule(query)
        return Compiled(self.name, rule, True, warnings=warned)

    def support(self, option: str | None) -> SupportTable:
        return SUPPORT

    def empty_request(self, option: str | None) -> Any:
        return dict(_ALWAYS_TRUE)

    def examples(self, option: str | None) -> tuple[str, ...]:
        return EXAMPLES

    def traps(self, option: str | None) -> str:
        return TRAPS


register(JsonLogicTarget())
