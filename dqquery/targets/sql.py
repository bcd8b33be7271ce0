"""Compile a query to a SQL WHERE condition over a flat table (DuckDB, Spark SQL, PostgreSQL, SQLite), through sqlglot.

    >>> import dqquery
    >>> dqquery.to_sql('run_number > 316000 and dt-dt == GOOD', "duckdb")
    '"run_number" > 316000 AND "dt-dt" = \\'GOOD\\''

Decisions:
* The condition is a sqlglot expression tree (:func:`where_expression`), never pasted text: identifiers are
  always quoted and literals quoted by sqlglot, then rendered per dialect (``Compiled.request`` is the text).
  sqlglot is imported here only, and this module only on first use of the ``sql`` target (``import dqquery``
  stays light); without it an ``ImportError`` says ``pip install "dqquery[sql]"``.
* Column mapping: a field's column is its canonical short catalog name (``dt-dt``, ``run_number``, ``energy``);
  ``columns={key: column}`` overrides it, where ``key`` is the qualified path (``lumisection.rr.dt-dt``) or the
  short name (the path wins when both are given). The column is assumed to hold the catalog type: numbers,
  text (statuses as upper-case text such as ``'GOOD'``), SQL booleans, timestamps in UTC, lists of text
  (``components``) without NULL elements. A field the catalog has no type for (an unlisted ``run.oms.x``) is
  refused: SQL compares values of different types differently from dqquery.
* Meaning is exact. SQL's NULL logic is dqquery's three-valued (Kleene) logic and WHERE keeps only true rows, so
  ``and``/``or``/``not`` map one to one (``x != 1`` and ``not (x > 1)`` do not select NULL). A comparison that
  dqquery calls always unknown (a literal of a kind the column's type never compares with, an order on text or
  booleans) is ``CAST(NULL AS BOOLEAN)``; ranges and sets are built from the same comparisons.
* ``like`` (case-insensitive, whole value, ``\\`` escapes) is ``ILIKE ... ESCAPE '\\'`` on DuckDB, Spark and
  PostgreSQL and ``LIKE ... ESCAPE '\\'`` on SQLite (whose LIKE folds ASCII letters only). dqquery folds case
  as Python's ``re.IGNORECASE``: an ASCII letter also matches ``İ ı`` (i), ``K`` (Kelvin sign, k) and ``ſ`` (s),
  which no engine's ILIKE does, so when the pattern holds i, k or s the value is first mapped with ``REPLACE``
  (``ſ`` -> ``s``...). A pattern with a non-ASCII cased letter (``é``) is refused: the engines fold those by
  their own (locale or Unicode lower-case) rules.
* ``~`` passes the same portability check as DIALS, then: DuckDB ``REGEXP_MATCHES`` (RE2, the engine dqquery
  evaluates with: lookaheads refused, RE2 has none); Spark ``RLIKE`` (Java) with ``(?d)`` so that only ``\\n``
  ends a line, refusing ``$``, ``\\Z`` and ``\\s`` (they differ in Java); PostgreSQL ``~`` with ``(?p)`` when the
  pattern has a ``.`` (in PostgreSQL ``.`` matches a newline), refusing ``[^`` together with it; SQLite has no
  regular expressions: refused.
* ``contains`` on text is a case-sensitive substring test (``STRPOS``/``INSTR``/``LOCATE`` > 0); on a list field
  it is ``ARRAY_CONTAINS`` (DuckDB, Spark) or ``@>`` (PostgreSQL); SQLite has no arrays: refused.
* Datetimes are ``CAST('YYYY-MM-DD HH:MM:SS[.ffffff]' AS TIMESTAMP)`` in UTC (a date is its midnight UTC);
  SQLite has no timestamp type: refused there.
* :data:`SUPPORT` (per dialect) is consulted before dispatch; the handlers (``_PREDICATE_SQL``, by class) refuse the
  finer cases with their reasons.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from typing import Any

from .. import ast as A
from ..catalog import lookup as catalog_lookup
from ..patterns import case_insensitive_class
from ..patterns_postgres import regex_portability_problem
from ..query import as_node
from .base import Compiled, Refusals, Support, SupportTable, Target, compile_bound, register, resolve

try:
    import sqlglot  # noqa: F401
    from sqlglot import exp
except ImportError as _missing:  # pragma: no cover - exercised without the extra only
    raise ImportError('the sql target needs sqlglot: pip install "dqquery[sql]"') from _missing

__all__ = ["DIALECTS", "SUPPORT", "SqlTarget", "column_of", "to_sql", "where_expression"]

DIALECTS: tuple[str, ...] = ("duckdb", "spark", "postgres", "sqlite")
"""The dialects (target options), the default first."""

# Catalog type -> the literal classes a column of that type compares with (dqquery.semantics' coercions); any other
# literal makes the comparison unknown.
_COMPARABLE: dict[str, tuple[type, ...]] = {
    "int": (A.IntValue, A.FloatValue),
    "float": (A.IntValue, A.FloatValue),
    "string": (A.StringValue, A.StatusValue),
    "status": (A.StringValue, A.StatusValue),
    "bool": (A.BoolValue,),
    "datetime": (A.DateValue, A.DateTimeValue),
    "date": (A.DateValue, A.DateTimeValue),
    "string-list": (),
}
_ORDERED = (A.IntValue, A.FloatValue, A.DateValue, A.DateTimeValue)
_SQL_OPS: dict[str, type[exp.Expression]] = {"==": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}

# Non-ASCII characters Python's case-insensitive matching equates with an ASCII letter (İ ı K ſ), mapped to it.
_FOLD_TO_ASCII: dict[str, str] = {
    other: letter
    for letter in "abcdefghijklmnopqrstuvwxyz"
    for other in case_insensitive_class(letter)
    if not other.isascii()
}

_BASE: dict[str, Support] = {
    "compare": Support("exact"),
    "in_range": Support("exact"),
    "in_set": Support("exact"),
    "like": Support("partial", "patterns with non-ASCII letters are refused (each engine folds them its own way)"),
    "regex": Support("partial", "portable regexes only (the DIALS check), minus what the engine's regex dialect reads differently"),
    "contains": Support("exact"),
    "is_null": Support("exact"),
    "not": Support("exact"),
    "and": Support("exact"),
    "or": Support("exact"),
}
SUPPORT: dict[str, dict[str, Support]] = {
    "duckdb": dict(_BASE, regex=Support("partial", "portable regexes without lookaheads (DuckDB's RE2 has none)")),
    "spark": dict(_BASE, regex=Support("partial", "portable regexes without $, \\Z or \\s (Java reads them differently)")),
    "postgres": dict(_BASE, regex=Support("partial", "portable regexes; [^...] is refused in a pattern with '.' (newline handling)")),
    "sqlite": dict(
        _BASE,
        regex=Support("unsupported", "SQLite has no regular expressions"),
        contains=Support("partial", "on text only: SQLite has no list columns"),
        **dict.fromkeys(("compare", "in_range", "in_set"), Support("partial", "not on datetimes: SQLite has no timestamp type")),
    ),
}
"""Dialect -> node kind -> :class:`~dqquery.targets.base.Support`: consulted before dispatch, shown in ``docs/targets.md``."""


def column_of(ref: A.FieldRef, columns: Mapping[str, str] | None = None) -> str:
    """The table column of a field: ``columns[path]``, else ``columns[name]``, else the short catalog name."""
    columns = columns or {}
    return columns.get(ref.path) or columns.get(ref.name) or ref.name


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
        return _SQL_OPS[op](this=column, expression=_LITERAL_SQL[type(value)](value))

    def compare(self, node: A.Compare, column: exp.Expression, ftype: str) -> exp.Expression:
        return self.compare_value(node, column, ftype, node.op, node.value)

    def in_range(self, node: A.InRange, column: exp.Expression, ftype: str) -> exp.Expression:
        low = self.compare_value(node, column, ftype, ">=", node.low)
        high = self.compare_value(node, column, ftype, "<=", node.high)
        inside: exp.Expression = exp.Between(this=column, low=low.expression, high=high.expression)
        if isinstance(low, exp.Cast) or isinstance(high, exp.Cast):
            inside = exp.Paren(this=exp.and_(low, high))
        return exp.Not(this=inside) if node.negated else inside

    def in_set(self, node: A.InSet, column: exp.Expression, ftype: str) -> exp.Expression:
        values = list(dict.fromkeys(node.values))
        tests = [self.compare_value(node, column, ftype, "==", v) for v in values]
        usable = [t.expression for t in tests if isinstance(t, exp.EQ)]
        parts: list[exp.Expression] = [exp.In(this=column, expressions=usable)] if usable else []
        if len(usable) < len(tests):
            parts.append(_null())  # a value of another kind: unknown unless another value matches
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
            if letter in node.pattern.lower():
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
        if self.dialect == "spark":
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


def _dialect(dialect: str) -> str:
    return resolve(f"sql:{dialect}").option or DIALECTS[0]


def _build(query: A.QueryLike, dialect: str, columns: Mapping[str, str] | None) -> exp.Expression:
    refuse = Refusals(query, f"sql:{dialect}")
    return _Compiler(query, dialect, columns, refuse).expression(as_node(query))


def where_expression(query: A.QueryLike, dialect: str = "duckdb", columns: Mapping[str, str] | None = None) -> exp.Expression:
    """The WHERE condition of ``query`` as a sqlglot expression (render it with ``.sql(dialect)``)."""
    return _build(query, _dialect(dialect), columns)


def to_sql(query: A.QueryLike, dialect: str = "duckdb", columns: Mapping[str, str] | None = None) -> str:
    """The WHERE condition of ``query`` as SQL text for ``dialect`` (``duckdb``, ``spark``, ``postgres``, ``sqlite``);
    ``columns`` maps a field's path or short name to its column."""
    bound = resolve(f"sql:{dialect}")
    return compile_bound(query, bound, columns=columns).request  # type: ignore[no-any-return]


class SqlTarget(Target):
    """A SQL WHERE condition over a flat table, one option per dialect."""

    name = "sql"
    title = "SQL WHERE condition (sqlglot)"
    options = DIALECTS
    option_aliases = {"postgresql": "postgres", "sparksql": "spark"}
    plannable = False
    service = "SQL"
    option_word = "dialect"

    def support(self, option: str | None) -> SupportTable:
        return SUPPORT[option or DIALECTS[0]]

    def compile(self, query: A.QueryLike, option: str | None, **settings: Any) -> Compiled:
        dialect = option or DIALECTS[0]
        expression = _build(query, dialect, settings.get("columns"))
        return Compiled(self.spec(dialect), expression.sql(dialect=dialect), exact=True)

    def examples(self, option: str | None) -> tuple[str, ...]:
        return ("run_number in 316000..317000 and dt-dt == GOOD", 'not (energy > 6000) or dataset like "%Collisions%"')

    def traps(self, option: str | None) -> str:
        return (
            "- WHERE keeps only true rows and SQL's NULL logic is dqquery's: `x != 1` and `not (x > 1)` never select NULL.\n"
            "- Case folding: dqquery folds as Python; `İ ı K ſ` in the data are mapped to ASCII before ILIKE/LIKE, "
            "patterns with other non-ASCII letters are refused.\n"
        )


register(SqlTarget())
