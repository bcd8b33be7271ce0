"""Compile a query to a SQL WHERE condition over a flat table (DuckDB, Spark SQL, PostgreSQL, SQLite), through sqlglot.

    >>> import dqquery
    >>> dqquery.to_sql('run_number > 316000 and dt-dt == GOOD', "duckdb")
    '"run_number" > 316000 AND "dt-dt" = \\'GOOD\\''

Decisions:
* The condition is a sqlglot expression tree (:func:`where_expression`), never pasted text: identifiers are
  always quoted and literals quoted by sqlglot, then rendered per dialect (``Compiled.request`` is the text).
  Three modules: this one (the target, registered), :mod:`~dqquery.targets.sql_support` (dialects, support
  tables, column mapping) and :mod:`~dqquery.targets.sql_render` (the only importer of sqlglot, imported on the
  first compile), so ``import dqquery``, the registry and the support matrix work without the ``sql`` extra; a
  compile without it is an ``ImportError`` saying ``pip install "dqquery[sql]"``.
* Column mapping: a field's column is its canonical short catalog name (``dt-dt``, ``run_number``, ``energy``);
  ``columns={key: column}`` overrides it, where ``key`` is the qualified path (``lumisection.rr.dt-dt``) or the
  short name (the path wins when both are given). The column is assumed to hold the catalog type: numbers,
  text (statuses as upper-case text such as ``'GOOD'``), SQL booleans, timestamps in UTC, lists of text
  (``components``) without NULL elements. A field the catalog has no type for (an unlisted ``run.oms.x``) is
  refused: SQL compares values of different types differently from dqquery.
* Meaning is exact. SQL's NULL logic is dqquery's three-valued (Kleene) logic and WHERE keeps only true rows, so
  ``and``/``or``/``not`` map one to one (``x != 1`` and ``not (x > 1)`` do not select NULL). A comparison that
  dqquery calls always unknown (a literal of a kind the column's type never compares with, an order on text or
  booleans) is ``CAST(NULL AS BOOLEAN)``; ranges and sets are built from the same comparisons. An integral float
  literal on an integer column is sent as an integer, and an integer no double equals is compared with a float
  column through the doubles next to it, so no engine rounds where Python compares exactly.
* ``like`` (case-insensitive, whole value, ``\\`` escapes) is ``ILIKE ... ESCAPE '\\'`` on DuckDB, Spark and
  PostgreSQL and ``LIKE ... ESCAPE '\\'`` on SQLite (whose LIKE folds ASCII letters only). dqquery folds case
  as Python's ``re.IGNORECASE``: an ASCII letter also matches ``İ ı`` (i), ``K`` (Kelvin sign, k) and ``ſ`` (s),
  which no engine's ILIKE does, so when the pattern holds i, k or s the value is first mapped with ``REPLACE``
  (``ſ`` -> ``s``...). A pattern with a non-ASCII cased letter (``é``) is refused: the engines fold those by
  their own (locale or Unicode lower-case) rules. Spark's ILIKE lower-cases with Java, where ``İ`` becomes two
  characters (``i`` and a combining dot) that one ``_`` does not match: for Spark a pattern with ``_`` maps ``İ``
  to ``i`` first (found by running the conditions on Spark, tests/test_spark_sql.py).
* Spark reads a number literal of more than 38 digits as an error (DECIMAL's precision): an integer column compared
  with such an integer (or an integral float such as ``1e300``) is ``column = column`` (always true, NULL on NULL)
  or ``column <> column`` (always false), since no integer column holds it.
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

from collections.abc import Mapping
from typing import Any

from .. import ast as A
from .base import Compiled, SupportTable, Target, compile_bound, register, resolve
from .sql_support import DIALECTS, SUPPORT, column_of

__all__ = ["DIALECTS", "SUPPORT", "SqlTarget", "column_of", "to_sql", "where_expression"]


def _renderer() -> Any:
    """:mod:`dqquery.targets.sql_render` (sqlglot), imported on the first compile."""
    try:
        from . import sql_render
    except ImportError as missing:
        if getattr(missing, "name", None) != "sqlglot" and "sqlglot" not in str(missing):
            raise
        raise ImportError('the sql target needs sqlglot: pip install "dqquery[sql]"') from missing
    return sql_render


def _dialect(dialect: str) -> str:
    return resolve(f"sql:{dialect}").option or DIALECTS[0]


def where_expression(query: A.QueryLike, dialect: str = "duckdb", columns: Mapping[str, str] | None = None) -> Any:
    """The WHERE condition of ``query`` as a sqlglot expression (render it with ``.sql(dialect)``)."""
    return _renderer().build(query, _dialect(dialect), columns)


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
        expression = _renderer().build(query, dialect, settings.get("columns"))
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
