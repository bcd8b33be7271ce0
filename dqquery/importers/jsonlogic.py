"""Import Run Registry json-logic rules as dqquery queries.

:func:`from_jsonlogic` recognises the shapes RR users write (``shared/reference/run-registry.md`` section 4) and
maps them onto the query tree. Where RR's two-valued reading of a missing value (json-logic-js, modelled by
:mod:`dqquery.emulate.jsonlogic_js`) would select differently from dqquery's three-valued one, the import
writes RR's reading out (``(not hlt_key contains "WMass" or hlt_key is null)``), so the query selects exactly
what RR selects; :func:`from_jsonlogic_report` lists the clauses json-logic-qubit still reads differently
(see :class:`ImportNote`).

Decisions:
* Importers live in :mod:`dqquery.importers`, one module per service dialect, apart from the compilers: an
  import reads a service's language, a compiler writes it, and they share only facts about the service
  (here :data:`~dqquery.emulate.jsonlogic_js.RR_VARIABLE_PREFIXES` and the engine model).
* Operators are dispatched by a table (:data:`_OPERATOR_HANDLERS`, operator -> handler); an operator outside
  it is refused with a reason (json-logic-qubit's refused operators named as such), never skipped.
* Errors name the target ``jsonlogic`` and quote the clause; an import never yields a query that selects
  everything in place of a rule it could not read.
* Variables of RR's legacy SQL compiler (``dataset.dataset_attributes.*``) are read as the JSON portal's
  (:data:`LEGACY_PATH_PREFIXES`).
* :func:`import_jsonlogic` is the importers' common form (:class:`~dqquery.importers.findings.Imported` with
  findings) built on :func:`from_jsonlogic`, whose API is unchanged: a scan of the rule reports what needs no
  import (unknown variables, ``in`` with reversed arguments, substring tests), and a rule with such an error gets
  no query rather than one that selects something else. ``jsonlogic-missing-value-passes`` is read off the import
  itself: each ``(L or x is null)`` leaf it had to write.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import ast as A
from ..catalog import FIELDS, lookup
from ..check import check
from ..emulate.jsonlogic_js import RR_VARIABLE_PREFIXES, NotModelled, js_apply, passes_on_missing
from ..errors import QueryError, unsupported
from ..files import load_json_document
from ..jsonlogic_engine import REFUSED_OPERATORS, js_truthy, validate_rule
from ..limits import MAX_LIST_ITEMS, MAX_QUERY_CHARS

# The names dqquery.targets.jsonlogic re-exports (tests/test_target_jsonlogic.py); import_jsonlogic and CONTEXTS are
# exported by dqquery itself.
__all__ = ["LEGACY_PATH_PREFIXES", "ImportNote", "from_jsonlogic", "from_jsonlogic_report", "merge_ranges"]

TARGET = "jsonlogic"

LEGACY_PATH_PREFIXES: dict[str, str] = {"dataset.dataset_attributes.": "dataset."}
"""Variable prefixes of RR's legacy SQL compiler, mapped to the JSON portal's (import only)."""


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
    """An import error quoting ``clause``; a refusal goes through the one refusal path (:func:`errors.unsupported`)."""
    if category == "unsupported":
        return unsupported(TARGET, f"{message}: {json.dumps(clause)}", hint=hint)
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
        handler = _OPERATOR_HANDLERS.get(op)
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


_OPERATOR_HANDLERS: dict[str, Callable[..., Any]] = {
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


def merge_ranges(node: A.Query) -> A.Query:
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


def from_jsonlogic(rule: Any) -> A.Query:
    """Import an RR json-logic rule as a checked query tree (see :func:`from_jsonlogic_report` for the
    caveat on missing data)."""
    return from_jsonlogic_report(rule)[0]


# ------------------------------------------------------------------------------------------------ with findings

CONTEXTS: tuple[str, ...] = ("json_portal", "rr-component-classifier")
"""Where an RR json-logic rule is evaluated: the JSON portal (qualified variables, ``run.oms.energy``) or a
component classifier (per lumisection on ``{...run, ...oms_lumisection}``: bare names, ``gemp_ready``)."""


class _NotJson(Exception):
    pass


def _strict_json(text: str) -> Any:
    """Strict JSON (a key twice, NaN, deep nesting refused: :func:`dqquery.files.load_json_document`)."""
    return load_json_document(text, _NotJson)


def _rule_text(text: str | bytes) -> tuple[Any, list[Any]]:
    """A rule given as text: strict JSON, else (reported) without its ``//`` comment lines, else from its first
    ``{`` (a file that carries a line before the rule); ``None`` when none of these parses."""
    from .findings import finding

    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if len(text) > _MAX_RULE_CHARS:
        raise QueryError("syntax", f"the rule is {len(text):,} characters long; the limit is {_MAX_RULE_CHARS:,}", target=TARGET)
    try:
        return _strict_json(text), []
    except _NotJson as err:
        findings = [finding("jsonlogic-file-not-json", f"the rule is not JSON dqquery reads: {err}", fix="remove what is not JSON")]
    lines = text.splitlines()
    comments = [i for i, line in enumerate(lines, start=1) if line.lstrip().startswith("//")]
    if comments:
        findings.append(finding("jsonlogic-comments", f"// comment lines at line {', '.join(map(str, comments[:5]))}", fix="delete the // lines"))
        text = "\n".join(line for line in lines if not line.lstrip().startswith("//"))
    for candidate in (text, text[text.find("{") :] if "{" in text else ""):
        try:
            return _strict_json(candidate), findings
        except _NotJson:
            continue
    return None, findings


def _json_nodes(rule: Any) -> list[tuple[str, Any]]:
    """Every dict of the rule with its place (``and[3].in``), iteratively (the rule is already bounded)."""
    out, stack = [], [("", rule)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            out.append((where, node))
            stack.extend(((f"{where}.{k}" if where else k), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(node))
    return sorted(out, key=lambda item: item[0])


def _portal_path(name: str) -> str | None:
    """The catalog path of a JSON-portal variable, ``None`` when the portal never provides it."""
    for old, new in LEGACY_PATH_PREFIXES.items():
        if name.startswith(old):
            name = new + name[len(old) :]
    row = lookup(name)
    return name if row is not None and row.path == name and name.startswith(RR_VARIABLE_PREFIXES) else None


def _portal_hint(name: str) -> str:
    """What to write for an unknown portal variable: the portal variables with the same last name (``run.name`` ->
    ``dataset.name``) first, then what the portal provides."""
    last = name.rsplit(".", 1)[-1]
    same = [f.path for f in FIELDS if f.path.rsplit(".", 1)[-1] == last and f.path != name and _portal_path(f.path) == f.path]
    listing = "the portal provides run.oms.*, run.rr.*, run.run_number, dataset.*, lumisection.*"
    return f"did you mean {', '.join(same[:3])}? {listing}" if same else listing


def _classifier_path(name: str) -> str | None:
    """The catalog path of a component-classifier variable (a bare lumisection or run attribute name)."""
    row = lookup(name)
    if row is None or "." in name or row.type == "any":
        return None
    return row.path if row.path.startswith(("lumisection.oms.", "run.oms.", "run.rr.", "run.run_number")) else None


def _scan(rule: Any, context: str) -> tuple[list[Any], dict[str, str]]:
    """Findings that need no import (unknown variables, ``in``'s argument order) and the classifier's renames."""
    from .findings import finding

    findings, renames = [], {}
    resolve = _portal_path if context == "json_portal" else _classifier_path
    for where, node in _json_nodes(rule):
        if len(node) != 1:
            continue
        ((op, args),) = node.items()
        if op == "var":
            name = (args[0] if args else None) if isinstance(args, list) else args
            if isinstance(name, str):
                path = resolve(name)
                if path is None:
                    hint = "" if context != "json_portal" else _portal_hint(name)
                    findings.append(finding("jsonlogic-unknown-var", f"'{name}' is not a variable the rule is given: it reads null", where, fix=hint))
                else:
                    renames[name] = path
        elif op == "in" and isinstance(args, list) and len(args) == 2:
            needle, haystack = args
            if _is_var(needle) and isinstance(haystack, str):
                findings.append(
                    finding(
                        "jsonlogic-in-args-reversed",
                        f"{json.dumps(node)} tests whether the value is a substring of {json.dumps(haystack)}",
                        where,
                        fix=json.dumps({"in": [haystack, needle]}),
                    )
                )
            elif isinstance(needle, str) and _is_var(haystack):
                findings.append(finding("jsonlogic-in-substring", f"{json.dumps(node)} is a case-sensitive substring test", where))
    return findings, renames


def _renamed(rule: Any, renames: dict[str, str]) -> Any:
    if isinstance(rule, dict):
        if len(rule) == 1 and "var" in rule and isinstance(rule["var"], str):
            return {"var": renames.get(rule["var"], rule["var"])}
        return {k: _renamed(v, renames) for k, v in rule.items()}
    if isinstance(rule, list):
        return [_renamed(v, renames) for v in rule]
    return rule


def _missing_passes(node: Any) -> list[str]:
    """Fields whose missing value the query (like RR) lets pass: the ``(L or x is null)`` leaves of the import."""
    out = []
    for sub in A.walk(node):
        if (
            isinstance(sub, A.Or)
            and len(sub.operands) == 2
            and isinstance(sub.operands[1], A.IsNull)
            and not sub.operands[1].negated
            and {f.path for f in A.fields_of(sub.operands[0])} == {sub.operands[1].field.path}
        ):
            out.append(sub.operands[1].field.path)
    return out


def import_jsonlogic(rule: Any, context: str = "json_portal", dataset_name_filter: str | None = None) -> Any:
    """Import an RR json-logic rule (dict or text) as an :class:`~dqquery.importers.findings.Imported`: the query
    :func:`from_jsonlogic` makes of it (RR's reading of missing values written out) and the findings.

    ``context``: ``"json_portal"`` (qualified variables) or ``"rr-component-classifier"`` (bare names, evaluated per
    lumisection). ``dataset_name_filter``: the portal's dataset filter sent with the rule (matched with SIMILAR
    TO, so ``_`` is a wildcard). Text that is not JSON is reported and read without its ``//`` comment lines
    (or from its first ``{``) when that parses. ``query`` is ``None`` when the rule has an error finding or cannot
    be imported (a ``jsonlogic-malformed`` or ``not-expressible`` finding says why)."""
    from ..errors import CATEGORIES
    from .common import guard_input
    from .findings import Imported, finding

    if context not in CONTEXTS:
        raise QueryError("unknown-value", f"context must be one of {', '.join(CONTEXTS)}, not {context!r}", target=TARGET)
    findings: list[Any] = []
    if isinstance(rule, (str, bytes)):
        rule, findings = _rule_text(rule)
        if rule is None:
            return Imported(None, "jsonlogic", context, tuple(findings))
    guard_input(rule, TARGET)
    if context != "json_portal":
        findings.append(finding("jsonlogic-classifier-context", "a component-classifier rule: its variables are bare attribute names"))
    if dataset_name_filter is not None and "_" in dataset_name_filter:
        findings.append(
            finding(
                "dataset-filter-similar-to-wildcard",
                f"in {json.dumps(dataset_name_filter)} each '_' matches any one character (SIMILAR TO)",
                "dataset_name_filter",
                fix="escape '_' as '\\_' to match it literally, or keep it knowing it matches any character",
            )
        )
    scanned, renames = _scan(rule, context)
    findings += scanned
    if any(f.severity == "error" for f in findings if f.code not in ("jsonlogic-file-not-json", "jsonlogic-comments")):
        return Imported(None, "jsonlogic", context, tuple(findings))
    try:
        query = from_jsonlogic(_renamed(rule, renames) if context != "json_portal" else rule)
    except QueryError as err:
        code = "jsonlogic-malformed" if err.category in ("syntax",) else "not-expressible"
        assert err.category in CATEGORIES
        return Imported(None, "jsonlogic", context, (*findings, finding(code, err.message, fix=err.hint)))
    for path in _missing_passes(query):
        findings.append(
            finding(
                "jsonlogic-missing-value-passes",
                f"RR (json-logic-js) lets a lumisection without {path} pass this clause; the import writes it as 'or {lookup(path).name if lookup(path) else path} is null'",
                path,
            )
        )
    return Imported(query, "jsonlogic", context, tuple(findings))
