"""The sql target's renderer: a query as a sqlglot expression tree (the decisions are in :mod:`dqquery.targets.sql`).

Decisions:
* The only module that imports sqlglot; :mod:`dqquery.targets.sql` imports it on the first compile, so that a missing
  ``sql`` extra is an ``ImportError`` naming ``pip install "dqquery[sql]"`` there and nowhere else.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Mapping
from typing import Any

from sqlglot import exp

from .. import ast as A
from ..catalog import lookup as catalog_lookup
from ..patterns import case_insensitive_class, re2_text
from ..patterns_postgres import regex_portability_problem
from ..query import as_node
from .base import Refusals
from .sql_support import _COMPARABLE, _ORDERED, SUPPORT, column_of

__all__ = ["build"]

_SQL_OPS: dict[str, type[exp.Expression]] = {"==": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}

# Non-ASCII characters Python's case-insensitive matching equates with an ASCII letter, mapped to it (a constant:
# computing it scans every code point, 0.2 s at import; tests/test_target_sql.py checks it against that scan).
_FOLD_TO_ASCII: dict[str, str] = {"\u0130": "i", "\u0131": "i", "\u212a": "k", "\u017f": "s"}

# Dialect -> characters its ILIKE lower-cases to two characters (Java: 'İ' -> 'i' + U+0307), so that '_' would not
# match them as it does in dqquery: mapped to their ASCII letter first whenever the pattern has a '_'.
_LOWERS_TO_TWO: dict[str, str] = {"spark": "İ"}

# Spark reads a number literal of more than 38 digits as an error (DECIMAL's maximum precision).
_SPARK_MAX_DIGITS = 38


def _null() -> exp.Expression:
    return exp.cast(exp.Null(), "BOOLEAN")


def _timestamp_text(value: Any) -> str:
    moment = value.value
    if isinstance(moment, _dt.datetime):
        moment = moment.astimezone(_dt.UTC)
    else:
        moment = _dt.datetime(moment.year, moment.month, moment.day, tzinfo=_dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f" if moment.microsecond else "%Y-%m-%d %H:%M:%S")


_LITERAL_SQL: A.NodeTable[Callable[[Any], exp.Expression]] = A.NodeTable("sql.literal", A.VALUE_CLASSES, {
    A.IntValue: lambda v: exp.Literal.number(v.value),
    A.FloatValue: lambda v: exp.Literal.number(repr(v.value)),
    A.StringValue: lambda v: exp.Literal.string(v.value),
    A.StatusValue: lambda v: exp.Literal.string(v.value),  # statuses are upper-case text
    A.BoolValue: lambda v: exp.Boolean(this=v.value),
    A.DateValue: lambda v: exp.cast(exp.Literal.string(_timestamp_text(v)), "TIMESTAMP"),
    A.DateTimeValue: lambda v: exp.cast(exp.Literal.string(_timestamp_text(v)), "TIMESTAMP"),
})
"""Literal class -> its SQL literal."""


def _like_sql_pattern(pattern: str) -> str:
    """dqquery's LIKE pattern as a SQL LIKE pattern with ``\\`` as the escape (a trailing ``\\`` is literal)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            ch, i = pattern[i + 1], i + 2
            out.append("\\" + ch if ch in "%_\\" else ch)
            continue
        out.append("\\\\" if ch == "\\" else ch)
        i += 1
    return "".join(out)


class _Compiler:
    def __init__(self, query: Any, dialect: str, columns: Mapping[str, str] | None, refuse: Refusals) -> None:
        self.query, self.dialect, self.columns, self.refuse = query, dialect, columns, refuse
        self.table = SUPPORT[dialect]

    def expression(self, node: Any) -> exp.Expression:
        return _NODE_SQL[type(node)](self, node)

    # ------------------------------------------------------------------------------- logic (Kleene in SQL too)

    def and_(self, node: A.And) -> exp.Expression:
        return exp.and_(*(self._grouped(o) for o in node.operands))

    def or_(self, node: A.Or) -> exp.Expression:
        return exp.or_(*(self._grouped(o) for o in node.operands))

    def not_(self, node: A.Not) -> exp.Expression:
        return exp.Not(this=self._grouped(node.operand))

    def _grouped(self, node: Any) -> exp.Expression:
        inner = self.expression(node)
        return exp.Paren(this=inner) if isinstance(node, (A.And, A.Or)) else inner

    # ------------------------------------------------------------------------------- predicates

    def predicate(self, node: Any) -> exp.Expression:
        negated = bool(getattr(node, "negated", False))
        support = self.table[node.kind].of(negated)
        if support.level == "unsupported":  # the support table, before the handler
            raise self.refuse.unsupported(node, support.reason)
        row = catalog_lookup(node.field.path)
        if row is None or row.type not in _COMPARABLE:
            raise self.refuse.unsupported(
                node,
                f"the catalog does not give a type for '{node.field.name}', and SQL compares values of different types "
                "differently from dqquery",
            )
        column = exp.column(column_of(node.field, self.columns), quoted=True)
        return _PREDICATE_SQL[type(node)](self, node, column, row.type)

    def compare_value(self, node: Any, column: exp.Expression, ftype: str, op: str, value: Any) -> exp.Expression:
        if not isinstance(value, _COMPARABLE[ftype]) or (op not in ("==", "!=") and not isinstance(value, _ORDERED)):
            return _null()  # dqquery: always unknown
        if isinstance(value, (A.DateValue, A.DateTimeValue)) and self.dialect == "sqlite":
            raise self.refuse.unsupported(node, self.table["compare"].reason)
        if ftype == "int" and self.dialect == "spark" and _integral(value) is not None \
                and len(str(abs(_integral(value)))) > _SPARK_MAX_DIGITS:
            return _int_column_beyond(column, op, _integral(value))
        if ftype == "int" and isinstance(value, A.FloatValue) and value.value.is_integer():
            # the same number as an integer: the engine then compares integers exactly (not both rounded to DOUBLE)
            return _SQL_OPS[op](this=column, expression=exp.Literal.number(int(value.value)))
        if ftype == "float" and isinstance(value, A.IntValue) and float(value.value) != value.value:
            return _float_column_against(column, op, value.value)
        return _SQL_OPS[op](this=column, expression=_LITERAL_SQL[type(value)](value))

    def compare(self, node: A.Compare, column: exp.Expression, ftype: str) -> exp.Expression:
        return self.compare_value(node, column, ftype, node.op, node.value)

    def in_range(self, node: A.InRange, column: exp.Expression, ftype: str) -> exp.Expression:
        low = self.compare_value(node, column, ftype, ">=", node.low)
        high = self.compare_value(node, column, ftype, "<=", node.high)
        inside: exp.Expression = exp.Between(this=column, low=low.expression, high=high.expression)
        if not (isinstance(low, exp.GTE) and isinstance(high, exp.LTE)) or _beyond_int64(low.expression) or _beyond_int64(high.expression):
            # unknown, a test without one literal bound, or (DuckDB) an integer beyond 64 bits, which its BETWEEN refuses
            # to mix with a DECIMAL bound: two comparisons
            inside = exp.Paren(this=exp.and_(low, high))
        return exp.Not(this=inside) if node.negated else inside

    def in_set(self, node: A.InSet, column: exp.Expression, ftype: str) -> exp.Expression:
        values = list(dict.fromkeys(node.values))
        tests = [self.compare_value(node, column, ftype, "==", v) for v in values]
        listed = [isinstance(t, exp.EQ) and not isinstance(t.expression, exp.Column) and not _beyond_int64(t.expression)
                  for t in tests]
        usable = [t.expression for t, ok in zip(tests, listed) if ok]
        parts: list[exp.Expression] = [exp.In(this=column, expressions=usable)] if usable else []
        # NULL (a value of another kind), a big-integer test, column = column, or an integer beyond 64 bits (DuckDB's IN
        # cannot mix it with a DECIMAL)
        parts += [t for t, ok in zip(tests, listed) if not ok]
        found = parts[0] if len(parts) == 1 else exp.Paren(this=exp.or_(*parts))
        return exp.Not(this=found) if node.negated else found

    def like(self, node: A.Like, column: exp.Expression, ftype: str) -> exp.Expression:
        if ftype not in ("string", "status"):
            return _null()
        foreign = sorted({c for c in node.pattern if not c.isascii() and len(case_insensitive_class(c)) > 1})
        if foreign:
            raise self.refuse.unsupported(
                node,
                f"the pattern has non-ASCII letters ({''.join(foreign)}) that {self.dialect} folds by its own rules, "
                "not as dqquery (Python's case folding)",
                "use a regex with explicit classes (~ \"[éÉ]\") or only ASCII letters",
            )
        subject: exp.Expression = column
        for other, letter in _FOLD_TO_ASCII.items():
            if letter in node.pattern.lower() or ("_" in node.pattern and other in _LOWERS_TO_TWO.get(self.dialect, "")):
                subject = exp.Anonymous(this="REPLACE", expressions=[subject, exp.Literal.string(other), exp.Literal.string(letter)])
        pattern = exp.Literal.string(_like_sql_pattern(node.pattern))
        match_class = exp.Like if self.dialect == "sqlite" else exp.ILike
        match = exp.Escape(this=match_class(this=subject, expression=pattern), expression=exp.Literal.string("\\"))
        return exp.Not(this=match) if node.negated else match

    def regex(self, node: A.Regex, column: exp.Expression, ftype: str) -> exp.Expression:
        if ftype not in ("string", "status"):
            return _null()
        problem = regex_portability_problem(node.pattern) or _DIALECT_REGEX_PROBLEM[self.dialect](node.pattern)
        if problem:
            raise self.refuse.unsupported(node, f"{problem} ({self.dialect})")
        pattern = node.pattern
        if self.dialect == "duckdb":  # RE2, as dqquery: its own RE2 text (\Z is RE2's \z)
            pattern = re2_text(pattern)
        elif self.dialect == "spark":
            pattern = "(?d)" + pattern
        elif self.dialect == "postgres" and "." in pattern:
            pattern = "(?p)" + pattern
        match = exp.RegexpLike(this=column, expression=exp.Literal.string(pattern))
        return exp.Not(this=match) if node.negated else match

    def contains(self, node: A.Contains, column: exp.Expression, ftype: str) -> exp.Expression:
        if not isinstance(node.value, A.StringValue) or ftype not in ("string", "status", "string-list"):
            return _null()
        needle = exp.Literal.string(node.value.value)
        if ftype != "string-list":
            return exp.GT(this=exp.StrPosition(this=column, substr=needle), expression=exp.Literal.number(0))
        if self.dialect == "sqlite":
            raise self.refuse.unsupported(node, "SQLite has no list columns")
        if self.dialect == "postgres":
            return exp.ArrayContainsAll(this=column, expression=exp.Array(expressions=[needle]))
        return exp.ArrayContains(this=column, expression=needle)

    def is_null(self, node: A.IsNull, column: exp.Expression, ftype: str) -> exp.Expression:
        test = exp.Is(this=column, expression=exp.Null())
        return exp.Not(this=test) if node.negated else test


def _integral(value: Any) -> int | None:
    """The integer a literal is (an integer, or an integral float), else None."""
    if isinstance(value, A.IntValue):
        return int(value.value)
    if isinstance(value, A.FloatValue) and value.value.is_integer():
        return int(value.value)
    return None


def _int_column_beyond(column: exp.Expression, op: str, n: int) -> exp.Expression:
    """``column op n`` for an integer column and an ``n`` beyond any integer column (more digits than Spark reads):
    the order is known, so the test is ``column = column`` (true) or ``column <> column`` (false), NULL on NULL."""
    holds = {"<": n > 0, "<=": n > 0, ">": n < 0, ">=": n < 0, "==": False, "!=": True}[op]
    return (exp.EQ if holds else exp.NEQ)(this=column, expression=column.copy())


def _beyond_int64(literal: Any) -> bool:
    """An integer literal no 64-bit integer holds (an integral float literal such as 1e300 sent as an integer)."""
    if isinstance(literal, exp.Neg):
        literal = literal.this
    if not isinstance(literal, exp.Literal) or literal.is_string:
        return False
    text = str(literal.this)
    return text.isdigit() and int(text) >= 2**63


def _float_column_against(column: exp.Expression, op: str, n: int) -> exp.Expression:
    """``column op n`` for a DOUBLE column and an integer no double equals: with the doubles just below and above ``n``
    (an engine would round ``n`` itself to a double, and then equal a value Python calls different)."""
    below = math.nextafter(float(n), -math.inf) if float(n) > n else float(n)
    above = math.nextafter(float(n), math.inf) if float(n) < n else float(n)
    at_most = exp.LTE(this=column, expression=exp.Literal.number(repr(below)))
    at_least = exp.GTE(this=column, expression=exp.Literal.number(repr(above)))
    # y < n is y <= below; y > n is y >= above; y == n never holds (NULL on NULL); y != n always holds (NULL on NULL)
    return {"<": at_most, "<=": at_most, ">": at_least, ">=": at_least,
            "==": exp.Paren(this=exp.and_(at_most, at_least)), "!=": exp.Paren(this=exp.or_(at_most, at_least))}[op]


def _no_lookahead(pattern: str) -> str | None:
    return "DuckDB's RE2 has no lookaheads" if "(?=" in pattern or "(?!" in pattern else None


def _java_problem(pattern: str) -> str | None:
    plain = pattern.replace("\\\\", "")
    if "$" in plain.replace("\\$", "") or "\\Z" in plain or "\\s" in plain:
        return "$, \\Z and \\s mean something else in Java regexes (line terminators, \\x0B)"
    return None


def _postgres_problem(pattern: str) -> str | None:
    if "." in pattern and "[^" in pattern:
        return "PostgreSQL's '.' matches a newline unless (?p), which also keeps [^...] from matching one"
    return None


_DIALECT_REGEX_PROBLEM: dict[str, Callable[[str], str | None]] = {
    "duckdb": _no_lookahead,
    "spark": _java_problem,
    "postgres": _postgres_problem,
    "sqlite": lambda pattern: "SQLite has no regular expressions",
}

_PREDICATE_SQL: A.NodeTable[Callable[..., exp.Expression]] = A.NodeTable("sql.predicate", A.PREDICATE_CLASSES, {
    A.Compare: _Compiler.compare,
    A.InRange: _Compiler.in_range,
    A.InSet: _Compiler.in_set,
    A.Like: _Compiler.like,
    A.Regex: _Compiler.regex,
    A.Contains: _Compiler.contains,
    A.IsNull: _Compiler.is_null,
})
"""Predicate class -> its SQL (``(compiler, node, column, catalog type)``)."""

_NODE_SQL: A.NodeTable[Callable[[_Compiler, Any], exp.Expression]] = A.NodeTable("sql.node", A.NODE_CLASSES, {
    A.And: _Compiler.and_,
    A.Or: _Compiler.or_,
    A.Not: _Compiler.not_,
    **dict.fromkeys(A.PREDICATE_CLASSES, _Compiler.predicate),
})
"""Node class -> its SQL."""


def build(query: A.QueryLike, dialect: str, columns: Mapping[str, str] | None) -> exp.Expression:
    """The WHERE condition of ``query`` for ``dialect`` as a sqlglot tree (refusals located, naming ``sql:DIALECT``)."""
    refuse = Refusals(query, f"sql:{dialect}")
    return _Compiler(query, dialect, columns, refuse).expression(as_node(query))
