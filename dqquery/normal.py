"""Normal forms of a query, shared by the compilers and ``plan``.

Decisions: every rewrite here is exact in three-valued (Kleene) logic. De Morgan's laws, double negation
and distributivity hold there, and every predicate except ``contains`` has an exact negated form
(``not x < 1`` is ``x >= 1``: both are unknown when ``x`` is missing or of another kind): :func:`dqquery.ast.negated`,
the one negated-operator table (:data:`dqquery.ast.NEGATED_OP`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import ast as A

MAX_REQUESTS = 16


def negate(node: A.Query) -> A.Query:
    """The negation of a node, pushed down to the predicates (negation normal form)."""
    return _NEGATE[type(node)](node)


def to_nnf(node: A.Query) -> A.Query:
    """Negation normal form: ``not`` only directly above a ``contains``."""
    return _TO_NNF[type(node)](node)


def _negate_predicate(node: Any) -> Any:
    flipped = A.negated(node)
    return A.Not(operand=node, span=node.span) if flipped is None else flipped  # contains has no negated form


_NEGATE: A.NodeTable[Callable[[Any], Any]] = A.NodeTable(
    "normal.negate",
    A.NODE_CLASSES,
    {
        A.Not: lambda node: to_nnf(node.operand),
        A.And: lambda node: _with_span(A.make_or([negate(o) for o in node.operands]), node),
        A.Or: lambda node: _with_span(A.make_and([negate(o) for o in node.operands]), node),
        **dict.fromkeys(A.PREDICATE_CLASSES, _negate_predicate),
    },
)
_TO_NNF: A.NodeTable[Callable[[Any], Any]] = A.NodeTable(
    "normal.to_nnf",
    A.NODE_CLASSES,
    {
        A.Not: lambda node: negate(node.operand),
        A.And: lambda node: _with_span(A.make_and([to_nnf(o) for o in node.operands]), node),
        A.Or: lambda node: _with_span(A.make_or([to_nnf(o) for o in node.operands]), node),
        **dict.fromkeys(A.PREDICATE_CLASSES, lambda node: node),
    },
)


def _with_span(new: Any, old: Any) -> Any:
    """Keep the source span of a rebuilt ``and``/``or`` so errors still point at the clause."""
    if isinstance(new, (A.And, A.Or)) and new.span is None and old.span is not None:
        return new.model_copy(update={"span": old.span})
    return new


def dnf_conjuncts(node: Any, limit: int = MAX_REQUESTS) -> list[list[Any]] | None:
    """The disjuncts of the disjunctive normal form, each a list of literals; ``None`` past ``limit``."""
    node = to_nnf(node)

    def walk(n: Any) -> list[list[Any]] | None:
        if isinstance(n, A.Or):
            out: list[list[Any]] = []
            for o in n.operands:
                part = walk(o)
                if part is None:
                    return None
                out.extend(part)
                if len(out) > limit:
                    return None
            return out
        if isinstance(n, A.And):
            acc: list[list[Any]] = [[]]
            for o in n.operands:
                part = walk(o)
                if part is None:
                    return None
                acc = [a + b for a in acc for b in part]
                if len(acc) > limit:
                    return None
            return acc
        return [[n]]

    return walk(node)


def conjuncts(node: Any, on_or: Callable[[Any], Exception]) -> list[Any]:
    """The predicates of a negation-normal-form conjunction; ``on_or(or_node)`` is raised for an ``or``."""
    if isinstance(node, A.And):
        out: list[Any] = []
        for o in node.operands:
            out.extend(conjuncts(o, on_or))
        return out
    if isinstance(node, A.Or):
        raise on_or(node)
    return [node]
