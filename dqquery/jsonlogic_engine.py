"""A safe way to run json-logic rules locally with json-logic-qubit 0.9.1.

json-logic-qubit is the only pure-Python json-logic engine dqquery depends on, but it is unsafe on rules
you did not write (see ``shared/reference/jsonlogic-and-golden-json.md`` section 1.5):

* an object with two keys is not an error but a literal, and a non-empty literal is *true*: one typo in a
  certification rule would certify everything;
* ``method`` calls any attribute of any value (it can mutate the data and introspect Python objects), and
  ``log`` writes to the logging system;
* its operation registry is process-global: any code in the process can ``add_operation("==", ...)`` and
  silently change what ``==`` means for everybody.

Decisions:
* Every rule is validated before it runs (:func:`validate_rule`): each object has exactly one key, each key is
  an operator of the allow-list, every literal is JSON (str, int, finite float, bool, None, list), and the
  nesting depth is bounded. A malformed rule raises :class:`~dqquery.errors.QueryError`; it never evaluates.
* The allow-list is json-logic-js 1.2.3's operator set (the engine Run Registry uses) without ``log``.
  qubit-only operators (``method``, ``count``) are refused, so a rule that runs here also runs in RR.
* The process-global registry is never written to. Instead each call checks that nothing has been
  registered over an allowed operator and that qubit's built-in dispatch tables still hold the functions they
  held when this module was imported; otherwise :class:`UnsafeEngineError` is raised and nothing runs.
  Custom operations that do not shadow an allowed operator are harmless: the validator refuses their names.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import json_logic as _qubit

from .errors import QueryError

JSON_LOGIC_JS_OPERATORS: frozenset[str] = frozenset(
    """== === != !== > >= < <= !! ! % log in cat substr + * - / min max merge var missing missing_some
    if ?: and or filter map reduce all none some""".split()
)
"""Every operator json-logic-js 1.2.3 (Run Registry's engine) knows (``logic.js``)."""

REFUSED_OPERATORS: dict[str, str] = {
    "method": "it calls arbitrary Python methods (json-logic-qubit only)",
    "log": "it has a side effect (writes to the log)",
    "count": "it is not a json-logic operator (json-logic-qubit only)",
}
"""Operators known to some engine but refused here, with the reason."""

SAFE_OPERATORS: frozenset[str] = JSON_LOGIC_JS_OPERATORS - frozenset(REFUSED_OPERATORS)
"""The default allow-list of :func:`validate_rule` and :func:`apply_rule`."""

MAX_DEPTH = 200
"""Deepest nesting of objects and lists accepted (qubit recurses in Python)."""

_DISPATCH_TABLES: tuple[str, ...] = ("_logical_operations", "_scoped_operations", "_data_operations", "_common_operations")
_PRISTINE: dict[str, dict[str, Any]] = {name: dict(getattr(_qubit, name)) for name in _DISPATCH_TABLES}


class UnsafeEngineError(RuntimeError):
    """json-logic-qubit's process-global registry was altered: evaluation is refused."""


def _rule_error(category: str, message: str, where: str, hint: str = "") -> QueryError:
    location = f" (at {where})" if where else ""
    return QueryError(category, message + location, hint=hint, target="jsonlogic")  # type: ignore[arg-type]


def validate_rule(rule: Any, allowed: Iterable[str] = SAFE_OPERATORS) -> None:
    """Raise :class:`QueryError` unless ``rule`` is a well-formed json-logic rule using only ``allowed`` operators.

    ``syntax``: an object without exactly one key, an unknown operator, a non-JSON value, nesting deeper
    than :data:`MAX_DEPTH`. ``unsupported``: a known operator that is not allowed (``method``, ``log``, ...).
    """
    allowed_set = frozenset(allowed)

    def walk(node: Any, where: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise _rule_error("syntax", f"the rule is nested deeper than {MAX_DEPTH} levels", where)
        if isinstance(node, dict):
            if len(node) != 1:
                keys = ", ".join(repr(k) for k in node) or "none"
                raise _rule_error(
                    "syntax",
                    f"a json-logic object must have exactly one key, the operator; found {keys}",
                    where or "top level",
                    "json-logic engines treat such an object as a (true) literal; split it into separate clauses",
                )
            ((op, args),) = node.items()
            if not isinstance(op, str) or op not in allowed_set:
                if op in REFUSED_OPERATORS or op in JSON_LOGIC_JS_OPERATORS:
                    reason = REFUSED_OPERATORS.get(op, "it is not allowed here")
                    raise _rule_error("unsupported", f"operator {op!r} is refused: {reason}", where)
                raise _rule_error("syntax", f"unknown json-logic operator {op!r}", where or "top level")
            walk(args, f"{where}/{op}" if where else op, depth + 1)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{where}[{i}]", depth + 1)
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise _rule_error("syntax", f"{node!r} is not a JSON number", where)
        elif node is not None and not isinstance(node, (str, int, bool)):
            raise _rule_error("syntax", f"{type(node).__name__} is not a JSON value", where)

    walk(rule, "", 0)


def check_engine(allowed: Iterable[str] = SAFE_OPERATORS) -> None:
    """Raise :class:`UnsafeEngineError` if qubit's operations differ from the pristine ones for ``allowed``."""
    allowed_set = frozenset(allowed)
    shadowed = sorted(set(_qubit._custom_operations) & allowed_set)
    if shadowed:
        raise UnsafeEngineError(
            "json-logic-qubit has custom operations registered over standard operators "
            f"({', '.join(shadowed)}); refusing to evaluate. Remove them with json_logic.rm_operation()."
        )
    for name, pristine in _PRISTINE.items():
        table = getattr(_qubit, name)
        changed = sorted(op for op in allowed_set if table.get(op) is not pristine.get(op))
        if changed:
            raise UnsafeEngineError(f"json-logic-qubit's built-in operators were replaced ({', '.join(changed)}); refusing to evaluate.")


def apply_rule(rule: Any, data: Any = None, allowed: Iterable[str] = SAFE_OPERATORS) -> Any:
    """Validate ``rule``, check the engine, then evaluate it on ``data`` with json-logic-qubit.

    Returns whatever the rule returns (use :func:`truthy` for the pass/fail of a filter). Errors the engine
    raises on ill-typed data (``TypeError``, ``ValueError``, ``ZeroDivisionError``) propagate: a failing
    evaluation is never taken as a pass.
    """
    validate_rule(rule, allowed)
    check_engine(allowed)
    return _qubit.jsonLogic(rule, data)


def js_truthy(value: Any) -> bool:
    """JavaScript truthiness, which is how RR decides pass/fail (``if (jsonLogic.apply(...))``): ``[]`` and ``{}``
    are true; ``false``, ``0``, ``""`` and ``null`` are false."""
    if isinstance(value, (list, dict)):
        return True
    return bool(value)
