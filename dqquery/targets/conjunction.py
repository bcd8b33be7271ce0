"""A query as a conjunction of predicates grouped by field: the shape of the targets whose parameters are AND-ed
(DIALS, OMS).

Decisions:
* The query is first put in negation normal form (:func:`dqquery.normal.to_nnf`, exact in three-valued logic),
  so the only ``not`` left is directly above a ``contains``; its field is the ``contains``' field.
* An ``or`` anywhere is the caller's refusal: ``on_or(or_node)`` builds the error (with the target's reason),
  this module raises it. Nothing is dropped.
* Groups keep the order in which each field first appears, and each group keeps its predicates' order, so
  compiled parameters and the first refusal follow the query text.
* The support table is consulted per predicate before any target-specific code runs
  (:func:`refuse_unsupported`): a (kind, polarity) the table calls ``unsupported`` is refused with the
  table's reason, the text ``docs/targets.md`` shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .. import ast as A
from ..normal import conjuncts, to_nnf
from ..query import as_node
from .base import Refusals, SupportTable

__all__ = ["field_of", "grouped_by_field", "polarity", "refuse_unsupported"]


def field_of(atom: Any) -> Any:
    """The field reference a predicate (or a negated ``contains``) tests."""
    return atom.operand.field if isinstance(atom, A.Not) else atom.field


def grouped_by_field(query: Any, on_or: Callable[[Any], Exception]) -> dict[str, list[Any]]:
    """Field path -> the negation-normal-form predicates on it, of a query that must be a conjunction
    (``on_or(node)`` is raised for an ``or``)."""
    groups: dict[str, list[Any]] = {}
    for atom in conjuncts(to_nnf(as_node(query)), on_or):
        groups.setdefault(field_of(atom).path, []).append(atom)
    return groups


def polarity(atom: Any) -> tuple[str, bool]:
    """A negation-normal-form predicate's node kind and whether it is negated (``not like``, ``not in``,
    ``is not null``, ``not contains``): the key of a target's support table."""
    if isinstance(atom, A.Not):
        return atom.operand.kind, True
    return atom.kind, bool(getattr(atom, "negated", False))


def refuse_unsupported(table: SupportTable, atoms: Iterable[Any], refusals: Refusals) -> None:
    """Consult the support table before dispatch: the first predicate whose kind and polarity the table calls
    ``unsupported`` is refused with the table's reason (so the docs and the behaviour agree)."""
    for atom in atoms:
        kind, negated = polarity(atom)
        support = table[kind].of(negated)
        if support.level == "unsupported":
            raise refusals.unsupported(atom, support.reason)
