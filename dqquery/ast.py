"""The typed syntax tree of a query.

Decisions:
* Nodes are frozen pydantic models in a discriminated union (``kind`` for expressions, ``type`` for
  literal values), so a tree validates itself and serialises to and from JSON (``node.model_dump_json()``,
  :func:`node_from_json`).
* Every node may carry a ``span`` (character offsets in the query text) for error messages. Spans are
  excluded from equality, hashing and JSON: two trees are equal when they mean the same query.
* ``And``/``Or`` are n-ary and the parser flattens them (``a and (b and c)`` is one ``And`` of three), so
  the canonical printer needs no parentheses for associativity and ``parse(unparse(n)) == n``.
* A bare boolean field ``x`` is ``Compare(x, "==", true)``; the printer writes it back as ``x``.
* A field reference keeps the canonical short ``name`` (what the printer writes) and the resolved,
  qualified ``path`` (what targets and the evaluator use), e.g. ``tracker-strip`` /
  ``lumisection.rr.tracker-strip``. Paths are the variable names RR's JSON portal evaluates.
* This module keeps data only and imports nothing of dqquery (it is the bottom layer, docs/dev/architecture.md).
  How a node prints (``str``, ``repr``, a notebook's HTML) is in :mod:`dqquery.display`, one layer up, which
  installs itself in :data:`DISPLAY_HOOKS` when imported; the package imports it eagerly, so it is always there.
* :data:`Query` is the type of a checked expression tree and :data:`QueryLike` what every public function
  accepts as a query (``Query | str``); :data:`Node` is ``Query`` with pydantic's ``kind`` discriminator.
* Passes over a tree dispatch on the node's class through a :class:`NodeTable` (class -> handler), not through
  ``isinstance`` chains; every table declares the classes it covers and a test checks it handles all of them.
  :func:`walk` visits a tree without recursion; :data:`NEGATED_OP` and :func:`negated` are the one place that
  says how a predicate is negated.
* Validators are built on first use (pydantic's ``defer_build``, and :func:`node_from_json`'s adapter on its first
  call): the parser builds nodes without validation, so ``import dqquery`` and ``dqquery check`` do not pay for
  twenty validators (issue 13's startup goal, ``tests/benchmarks/bench_startup.py``).
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated, Any, Literal, NamedTuple, TypeAlias, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, SkipValidation, StrictBool, StrictInt, TypeAdapter, field_validator


class Span(NamedTuple):
    """Half-open range ``[start, end)`` of character offsets in the query text."""

    start: int
    end: int


def _frozen(value: Any) -> Any:
    """A hashable copy of a ``model_dump()`` value."""
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


class _Node(BaseModel):
    # defer_build: pydantic builds a node class's validator on its first validation, not at import (the parser
    # builds nodes without validation, so `import dqquery` and `dqquery check` never pay for 20 validators).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
    # Spans are set by the parser from token offsets; they are not validated (hot path) and not compared.
    span: SkipValidation[Span | None] = Field(default=None, exclude=True, repr=False)

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        return self.model_dump() == other.model_dump()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        # Hash what __eq__ compares, so equal trees hash alike (0.0 and -0.0, 1 and 1.0 included).
        return hash((type(self).__name__, _frozen(self.model_dump())))

    def __str__(self) -> str:
        text = DISPLAY_HOOKS.get("str")
        return super().__repr__() if text is None else text(self)

    def __repr__(self) -> str:
        # Queries show as the code that rebuilds them: dqquery.parse('<canonical text>').
        code = DISPLAY_HOOKS.get("repr")
        if code is not None and isinstance(self, NODE_CLASSES):
            return code(self)
        return super().__repr__()

    def _repr_html_(self) -> str:
        html = DISPLAY_HOOKS.get("html")
        return super().__repr__() if html is None else html(self)


DISPLAY_HOOKS: dict[str, Callable[[Any], str]] = {}
"""How nodes print: ``"str"`` (canonical text of an expression or a value), ``"repr"`` (of an expression) and
``"html"`` (notebooks). Filled by :mod:`dqquery.display` on import; empty, nodes print as pydantic models."""


# ---------------------------------------------------------------------------------------------- values


MAX_INT = 2**63 - 1
"""Integers fit the 64-bit columns every service stores."""
MIN_INT = -(2**63)
"""The smallest 64-bit integer (one further from zero than ``-MAX_INT``)."""


class IntValue(_Node):
    """An integer literal (64-bit: what every service stores)."""

    type: Literal["int"] = "int"
    value: Annotated[StrictInt, Field(ge=MIN_INT, le=MAX_INT)]


class FloatValue(_Node):
    """A finite floating-point literal."""

    type: Literal["float"] = "float"
    value: float

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if isinstance(v, bool) or not math.isfinite(v):
            raise ValueError("float literals must be finite numbers")
        return float(v)


class StringValue(_Node):
    """A quoted string literal."""

    type: Literal["string"] = "string"
    value: str


class BoolValue(_Node):
    """``true`` or ``false``."""

    type: Literal["bool"] = "bool"
    value: StrictBool


# What the grammar's NAME terminal accepts (a status word is written as a bare name).
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*(?:\.[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*)*")
NULL_PLACEHOLDER = "\x00null"  # the parser's mark for `x == null`, which the checker turns into an error


class StatusValue(_Node):
    """A bare upper-case word: a Run Registry status constant such as ``GOOD``."""

    type: Literal["status"] = "status"
    value: str

    @field_validator("value")
    @classmethod
    def _a_word(cls, v: str) -> str:
        if v != NULL_PLACEHOLDER and not _WORD.fullmatch(v):
            raise ValueError(f"a status constant is a bare word such as GOOD, not {v!r}")
        return v


class DateValue(_Node):
    """An ISO date, ``2018-05-01``."""

    type: Literal["date"] = "date"
    value: _dt.date

    @field_validator("value", mode="before")
    @classmethod
    def _not_datetime(cls, v: Any) -> Any:
        if isinstance(v, _dt.datetime):
            raise ValueError("use DateTimeValue for a datetime")
        return v


class DateTimeValue(_Node):
    """An ISO datetime, stored in UTC (a time without an offset is taken as UTC)."""

    type: Literal["datetime"] = "datetime"
    value: _dt.datetime

    @field_validator("value")
    @classmethod
    def _utc(cls, v: _dt.datetime) -> _dt.datetime:
        if v.tzinfo is None:
            return v.replace(tzinfo=_dt.UTC)
        try:
            return v.astimezone(_dt.UTC)
        except OverflowError:
            raise ValueError("the datetime is out of range once converted to UTC") from None


Value = Annotated[
    IntValue | FloatValue | StringValue | BoolValue | StatusValue | DateValue | DateTimeValue,
    Field(discriminator="type"),
]
VALUE_CLASSES: tuple[type[_Node], ...] = (
    IntValue,
    FloatValue,
    StringValue,
    BoolValue,
    StatusValue,
    DateValue,
    DateTimeValue,
)


# ---------------------------------------------------------------------------------------------- fields


class FieldRef(_Node):
    """A field as written (canonical short ``name``) and as resolved (qualified ``path``)."""

    name: str
    path: str

    def __str__(self) -> str:
        return self.name


CompareOp = Literal["==", "!=", "<", "<=", ">", ">="]
COMPARE_OPS: tuple[str, ...] = ("==", "!=", "<", "<=", ">", ">=")


# ---------------------------------------------------------------------------------------------- predicates


class Compare(_Node):
    """``field op value``; a bare boolean field is ``field == true``."""

    kind: Literal["compare"] = "compare"
    field: FieldRef
    op: CompareOp
    value: Value


class InRange(_Node):
    """``field in low..high`` (inclusive at both ends), or ``not in``."""

    kind: Literal["in_range"] = "in_range"
    field: FieldRef
    low: Value
    high: Value
    negated: bool = False


class InSet(_Node):
    """``field in [v1, v2, ...]``, or ``not in``."""

    kind: Literal["in_set"] = "in_set"
    field: FieldRef
    values: tuple[Value, ...] = Field(min_length=1)
    negated: bool = False


class Like(_Node):
    """``field like "pattern"`` (SQL LIKE, case-insensitive), or ``not like``."""

    kind: Literal["like"] = "like"
    field: FieldRef
    pattern: str
    negated: bool = False


class Regex(_Node):
    """``field ~ "regex"`` (case-sensitive search), or ``!~``."""

    kind: Literal["regex"] = "regex"
    field: FieldRef
    pattern: str
    negated: bool = False


class Contains(_Node):
    """``field contains value``: case-sensitive substring, or membership for list fields."""

    kind: Literal["contains"] = "contains"
    field: FieldRef
    value: Value


class IsNull(_Node):
    """``field is null`` (the value is missing), or ``is not null``."""

    kind: Literal["is_null"] = "is_null"
    field: FieldRef
    negated: bool = False


class Not(_Node):
    """Logical NOT (three-valued: not unknown is unknown)."""

    kind: Literal["not"] = "not"
    operand: Node


class And(_Node):
    """Logical AND of two or more operands (Kleene); nested Ands are flattened on construction."""

    kind: Literal["and"] = "and"
    operands: tuple[Node, ...] = Field(min_length=2)

    @field_validator("operands")
    @classmethod
    def _flat(cls, v: tuple[Any, ...]) -> tuple[Any, ...]:
        return flatten_operands(v, And)


class Or(_Node):
    """Logical OR of two or more operands (Kleene); nested Ors are flattened on construction."""

    kind: Literal["or"] = "or"
    operands: tuple[Node, ...] = Field(min_length=2)

    @field_validator("operands")
    @classmethod
    def _flat(cls, v: tuple[Any, ...]) -> tuple[Any, ...]:
        return flatten_operands(v, Or)


def flatten_operands(operands: tuple[Any, ...], kind: type[_Node]) -> tuple[Any, ...]:
    """``a and (b and c)`` is ``a and b and c``: the form the parser builds and the printer round-trips."""
    if not any(isinstance(o, kind) for o in operands):
        return operands
    flat: list[Any] = []
    for o in operands:
        flat.extend(o.operands if isinstance(o, kind) else (o,))  # type: ignore[attr-defined]
    return tuple(flat)


Query: TypeAlias = Union[Compare, InRange, InSet, Like, Regex, Contains, IsNull, Not, And, Or]
"""A query as a typed tree: any expression node (what :func:`dqquery.parse` returns)."""
QueryLike: TypeAlias = Union[Query, str]
"""What every public function accepts as a query: query text or a tree (:func:`dqquery.query.as_node`)."""
Node = Annotated[Query, Field(discriminator="kind")]
PREDICATE_CLASSES: tuple[type[_Node], ...] = (Compare, InRange, InSet, Like, Regex, Contains, IsNull)
NODE_CLASSES: tuple[type[_Node], ...] = PREDICATE_CLASSES + (Not, And, Or)
Predicate = Union[Compare, InRange, InSet, Like, Regex, Contains, IsNull]


@functools.cache
def _node_adapter() -> TypeAdapter[Any]:
    """The validator of :data:`Node`, built on first use (see ``_Node.model_config``)."""
    return TypeAdapter(Node)


_FIELDS_OF: dict[type, tuple[tuple[str, Any], ...]] = {}


def trusted(cls: type[Any], **values: Any) -> Any:
    """A node from values already known to be valid (the parser's), without pydantic's validation.

    Decision: this is ``model_construct`` minus its per-call bookkeeping (the node costs about a microsecond
    instead of five); the resulting object is an ordinary frozen model (equality, hashing, ``model_dump``
    and JSON behave the same). Only the parser uses it; everything else validates.
    """
    fields = _FIELDS_OF.get(cls)
    if fields is None:
        fields = tuple((name, info.get_default(call_default_factory=True)) for name, info in cls.model_fields.items())
        _FIELDS_OF[cls] = fields
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", {name: values[name] if name in values else default for name, default in fields})
    object.__setattr__(obj, "__pydantic_fields_set__", set(values))
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


def node_from_json(data: str | bytes | dict[str, Any]) -> Query:
    """Rebuild a node from its JSON text or ``model_dump()`` dict (validated)."""
    if isinstance(data, (str, bytes)):
        return _node_adapter().validate_json(data)
    return _node_adapter().validate_python(data)


def node_to_json(node: Query, indent: int | None = None) -> str:
    """The JSON text of a node (spans omitted)."""
    return _node_adapter().dump_json(node, indent=indent).decode()


def fields_of(node: Query) -> list[FieldRef]:
    """Every field reference in a tree, in source order."""
    out: list[FieldRef] = []

    def walk(n: Any) -> None:
        if isinstance(n, (And, Or)):
            for o in n.operands:
                walk(o)
        elif isinstance(n, Not):
            walk(n.operand)
        else:
            out.append(n.field)

    walk(node)
    return out


def predicates_of(node: Query) -> list[Predicate]:
    """Every predicate (leaf) in a tree, in source order."""
    out: list[Any] = []

    def walk(n: Any) -> None:
        if isinstance(n, (And, Or)):
            for o in n.operands:
                walk(o)
        elif isinstance(n, Not):
            walk(n.operand)
        else:
            out.append(n)

    walk(node)
    return out


def make_and(operands: list[Query]) -> Query:
    """And of the operands, flattening nested Ands; a single operand is returned as is."""
    flat: list[Any] = []
    for o in operands:
        flat.extend(o.operands if isinstance(o, And) else [o])
    return flat[0] if len(flat) == 1 else And(operands=tuple(flat))


def make_or(operands: list[Query]) -> Query:
    """Or of the operands, flattening nested Ors; a single operand is returned as is."""
    flat: list[Any] = []
    for o in operands:
        flat.extend(o.operands if isinstance(o, Or) else [o])
    return flat[0] if len(flat) == 1 else Or(operands=tuple(flat))


# ---------------------------------------------------------------------------------------------- traversal and dispatch


def children(node: Any) -> tuple[Any, ...]:
    """The direct sub-expressions of a node: the operands of ``and``/``or``, the operand of ``not``, none for a predicate."""
    if isinstance(node, (And, Or)):
        return node.operands
    if isinstance(node, Not):
        return (node.operand,)
    return ()


def walk(node: Any) -> Iterator[Any]:
    """Every expression node of a tree, ``node`` first, in pre-order (source order).

    Decisions: only expression nodes (:data:`NODE_CLASSES`) are yielded, not field references or literals (reach
    them through the predicates). The walk is iterative (an explicit stack), so it works at any depth.
    """
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        below = children(current)
        if below:
            stack.extend(reversed(below))


H = TypeVar("H")

NODE_TABLES: list[NodeTable[Any]] = []
"""Every :class:`NodeTable` created, in creation order (``tests/test_dispatch_tables.py`` checks their coverage)."""


class NodeTable(dict[type, H]):
    """A class-to-handler table: ``table[type(node)](node, ...)`` instead of a chain of ``isinstance`` tests.

    Decisions:
    * A table declares the classes it must cover (``covers``: :data:`NODE_CLASSES`, :data:`PREDICATE_CLASSES` or
      :data:`VALUE_CLASSES`) and registers itself in :data:`NODE_TABLES`, so one test checks that every table of
      every module handles every class it declares (adding a node class fails that test until each table has it).
    * Lookup is a plain ``dict`` lookup by exact class (as fast as one ``isinstance`` test). A subclass of a node
      class finds its base's handler; a class without a handler raises ``TypeError`` naming the table.
    """

    def __init__(self, name: str, covers: tuple[type, ...], handlers: Mapping[type, H]) -> None:
        super().__init__(handlers)
        self.name = name
        self.covers = covers
        NODE_TABLES.append(self)

    def __missing__(self, cls: Any) -> H:
        for base in getattr(cls, "__mro__", ())[1:]:
            if base in self:
                return self[base]
        shown = cls.__name__ if isinstance(cls, type) else repr(cls)
        raise TypeError(f"{self.name}: no handler for {shown}")

    def uncovered(self) -> tuple[type, ...]:
        """The declared classes without a handler (empty for a complete table)."""
        return tuple(cls for cls in self.covers if not dict.__contains__(self, cls))

    def unexpected(self) -> tuple[type, ...]:
        """Handled classes the table does not declare (a handler that can never be reached by a node it covers)."""
        return tuple(cls for cls in self if cls not in self.covers)

    def __repr__(self) -> str:
        return f"NodeTable({self.name!r}, {len(self)} handlers)"


NEGATED_OP: dict[str, str] = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
"""The comparison operator with the opposite truth: ``not x < 1`` is ``x >= 1`` (exact in three-valued logic: both
are unknown when ``x`` is missing or of another kind)."""


def _negated_compare(node: Any) -> Any:
    return Compare(field=node.field, op=NEGATED_OP[node.op], value=node.value, span=node.span)  # type: ignore[arg-type]


def _negated_flag(node: Any) -> Any:
    return node.model_copy(update={"negated": not node.negated})


def _no_negated_form(node: Any) -> Any:
    return None


_NEGATED_PREDICATE: NodeTable[Any] = NodeTable(
    "ast.negated",
    PREDICATE_CLASSES,
    {
        Compare: _negated_compare,
        InRange: _negated_flag,
        InSet: _negated_flag,
        Like: _negated_flag,
        Regex: _negated_flag,
        IsNull: _negated_flag,
        Contains: _no_negated_form,
    },
)


def negated(predicate: Query) -> Query | None:
    """The predicate node with the opposite truth (same span), or ``None`` for ``contains`` (it has no negated form:
    its negation stays ``Not(contains)``).

    Decision: every other predicate's negation is exact in three-valued logic, so ``not`` can always be pushed onto
    it: ``x < 1`` -> ``x >= 1``, ``x in [..]`` -> ``x not in [..]``, ``x is null`` -> ``x is not null``.
    """
    return _NEGATED_PREDICATE[type(predicate)](predicate)
