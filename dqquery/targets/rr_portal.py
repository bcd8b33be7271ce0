"""Run Registry's JSON portal request: the body of ``POST /json_portal/generate`` for a query.

The body is ``{"json_logic": <the rule as JSON text>, "dataset_name_filter": <a SQL SIMILAR TO pattern>}``
(``shared/reference/run-registry.md`` section 4; the recorded answers are in ``tests/data/conformance/``). The
rule is the ``jsonlogic`` target's; this module adds the dataset name filter, in SQL's SIMILAR TO syntax.

Decisions:
* A target of its own, ``rr-portal:PATTERN`` (the option is the dataset name filter, any text), not plannable:
  the portal answers golden JSON, not rows a residual could be re-checked on.
* The rule is compiled by the ``jsonlogic`` target, reached through the registry
  (:func:`dqquery.targets.base.get`): one compiler, and no import cycle with the compatibility re-exports of
  :mod:`dqquery.targets.jsonlogic`. The rule's refusals name ``jsonlogic``, and its warnings (a field RR
  does not store) are this target's warnings too.
* Which clause can become the filter is a table (:data:`_DATASET_FILTER_HANDLERS`, node class -> filter or
  ``None``), covering every node class.
* Without a pattern, one top-level ``dataset`` clause (``==``, ``in [...]``, ``like``) becomes the filter and
  leaves the rule; ``like`` letters become ``[aA]`` classes (plus the non-ASCII characters Python's
  case-insensitive matching equates with them, :data:`_NON_ASCII_CASE_VARIANTS`), so the filter selects exactly
  the names the clause selects. Neither: the one refusal path (naming ``rr-portal``), with a hint saying what
  to add.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .. import ast as A
from ..query import as_node
from .base import Compiled, Refusals, SupportTable, Target, compile_bound, get, register, resolve

__all__ = ["RRPortalTarget", "rr_portal_request", "similar_to_exact", "similar_to_from_like", "to_rr_portal_request"]

TARGET = "rr-portal"
RULE_TARGET = "jsonlogic"

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


def _equal_name(node: A.Compare) -> str | None:
    return similar_to_exact(node.value.value) if node.op == "==" and isinstance(node.value, A.StringValue) else None


def _one_of_names(node: A.InSet) -> str | None:
    if node.negated or not all(isinstance(v, A.StringValue) for v in node.values):
        return None
    names = [similar_to_exact(v.value) for v in node.values]
    return names[0] if len(names) == 1 else "(" + "|".join(names) + ")"


def _name_like(node: A.Like) -> str | None:
    return None if node.negated else similar_to_from_like(node.pattern)


_DATASET_FILTER_HANDLERS: A.NodeTable[Callable[[Any], str | None]] = A.NodeTable("jsonlogic.portal_dataset_filter", A.NODE_CLASSES, {
    A.Compare: _equal_name,
    A.InSet: _one_of_names,
    A.Like: _name_like,
    **{cls: lambda node: None for cls in (A.InRange, A.Regex, A.Contains, A.IsNull, A.Not, A.And, A.Or)},
})
"""Node class -> the ``dataset_name_filter`` equivalent to a ``dataset.name`` clause of that class, or ``None``."""


def _dataset_filter(node: Any) -> str | None:
    """The ``dataset_name_filter`` equivalent to a ``dataset.name`` clause, or ``None``."""
    if getattr(node, "field", None) is None or node.field.path != "dataset.name":
        return None
    return _DATASET_FILTER_HANDLERS[type(node)](node)


def rr_portal_request(query: A.QueryLike, dataset: str | None = None) -> dict[str, Any]:
    """The body of RR's ``POST /json_portal/generate``: ``{"json_logic": <JSON text>, "dataset_name_filter": ...}``.

    ``dataset`` is passed through as RR's ``dataset_name_filter`` (a SQL SIMILAR TO pattern). Without it, one
    top-level ``dataset == "X"``, ``dataset in [...]`` or ``dataset like "..."`` clause becomes the filter
    (case-insensitive ``like`` letters become ``[aA]`` classes) and leaves the logic; if it was the whole
    query, the logic becomes "the dataset has a name" (true for every lumisection RR evaluates), because RR
    refuses an empty rule. Neither: ``QueryError``. The same as ``dqquery.compile(query, "rr-portal:DATASET").request``."""
    return compile_bound(query, resolve(TARGET + (f":{dataset}" if dataset else ""))).request  # type: ignore[no-any-return]


to_rr_portal_request = rr_portal_request
"""The name used in ``docs/dev/contracts.md``."""


_HAS_A_NAME: dict[str, Any] = {"!==": [{"var": "dataset.name"}, None]}
"""The rule when the query was only its dataset clause: true for every lumisection RR evaluates."""


def _portal_request(query: Any, dataset: str | None) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The request body and the rule's warnings."""
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
        raise Refusals(query, TARGET).unsupported(
            None,
            "Run Registry's JSON portal needs a dataset name filter",
            'pass dataset="/PromptReco/Collisions2018A/DQM" (a SIMILAR TO pattern) or add a clause dataset == "..." '
            'or dataset like "..." to the query',
        )
    warnings: tuple[str, ...] = ()
    if not operands:
        rule: Any = _HAS_A_NAME
    else:
        compiled = get(RULE_TARGET).compile(A.make_and(operands) if operands != [node] else query, None)
        rule, warnings = compiled.request, compiled.warnings
    return {"json_logic": json.dumps(rule), "dataset_name_filter": name_filter}, warnings


class RRPortalTarget(Target):
    """The body of Run Registry's ``POST /json_portal/generate``; the option is the dataset name filter (a SQL
    SIMILAR TO pattern), taken from a top-level ``dataset`` clause when absent."""

    name = TARGET
    title = "Run Registry JSON portal request"
    options = None
    plannable = False

    def compile(self, query: Any, option: str | None, **settings: Any) -> Compiled:
        request, warnings = _portal_request(query, option or None)
        return Compiled(self.spec(option), request, True, warnings=warnings)

    def support(self, option: str | None) -> SupportTable:
        return get(RULE_TARGET).support(None)

    def matrix_options(self) -> tuple[str | None, ...]:
        return ()


register(RRPortalTarget())
