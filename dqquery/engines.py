"""Run a query on a table inside an SQL engine: golden JSONs (:func:`golden_from_table`) and row filters (:func:`filter`).

    >>> import pyarrow as pa, dqquery
    >>> table = pa.table({"run_number": [1, 1, 1, 2], "ls_number": [1, 2, 4, 1], "dt-dt": ["GOOD", "GOOD", "GOOD", "BAD"]})
    >>> dqquery.golden_from_table("dt-dt == GOOD", table).to_dict()
    {'1': [[1, 2], [4, 4]]}

Decisions:
* Engines are a data table (:data:`ENGINES`, name -> :class:`Engine`): an engine opens a table as a
  :class:`Session` that runs a SELECT over it (the table is called :data:`TABLE` in the SQL) and returns Arrow, and
  returns the rows a condition keeps in the table's own type. Everything else (the condition, the layout, the
  dataset rule, the islands) is engine-neutral SQL built as a sqlglot tree and rendered in the engine's dialect.
* The selection and the compression into lumisection ranges run in the engine: each selected row is the range
  ``[lo, hi]`` (a lumisection row is ``[ls, ls]``, a range row ``[ls_first, ls_last]``); per run, ordered by
  ``(lo, hi)``, a row starts a new island unless ``lo <= 1 + max(hi)`` of the rows before it (a window), and each
  island is ``min(lo)..max(hi)``. Overlapping or adjacent ranges (several datasets of a run) merge: the union, as
  ``dqquery.golden`` does. Only the islands come back to Python.
* The selection is ``SELECT DISTINCT`` run, ``lo``, ``hi``: rows that differ only in other columns (the monitoring
  elements of one lumisection in a DIALS table) enter the two windows once. The islands are the same; the windows
  sort a fraction of the rows (the table of ``tests/benchmarks/bench_tables.py``, 10 million rows, one process:
  4.6 s without, 1.6 s with).
* Layouts: a table with ``ls_first`` and ``ls_last`` columns is range-level, else one with ``ls_number`` is
  per-lumisection. On range rows a ``lumisection_number`` predicate is evaluated per piece: the rows are joined
  with the intervals between the evaluator's own break points (:func:`dqquery.evaluator.ls_breaks`, where the truth
  of such a predicate can change) and the predicate reads the piece's first lumisection, which is exact.
* A folder written by ``dqquery snapshot export --level range`` (``meta.json``) is a snapshot: it is read back
  (:func:`dqquery.tables.read_range_tables`), its datasets are selected exactly as ``golden`` selects them (same
  errors), and its constant-value segments become range rows with array operations
  (:func:`dqquery.tables.range_rows_table`). A field the snapshot does not hold is a NULL column there (what
  ``golden`` reads); in any other table a column the query needs and the table lacks is a located
  :class:`~dqquery.errors.QueryError`.
* Column mapping: the sql target's rule (:func:`dqquery.targets.sql.column_of`) for every column, the structural
  ones too: ``run_number`` (``run.run_number``), ``ls_number`` (``lumisection.lumisection_number``), ``dataset``
  (``dataset.name``); ``ls_first``/``ls_last`` map under those two names.
* Datasets: with a ``dataset`` column, ``dataset`` is a pattern as for ``golden`` (``None``: ``online``); the
  table's distinct names are matched in Python with ``golden``'s own matcher (exact SIMILAR TO, a handful of
  names) and the rows restricted with ``IN``. A table knows only the datasets it has rows for: no match is
  :class:`~dqquery.evaluator.UnknownDataset`; a table without rows selects nothing. A table without a
  ``dataset`` column is one dataset: any ``dataset`` other than ``None`` is refused.
* A datetime field held as text (the exported tables keep the snapshot's ISO text) is read as dqquery reads text
  (:func:`dqquery.semantics.to_datetime`): its distinct texts (a run-level field has one per run) are converted in
  Python and mapped to timestamps with a ``CASE`` in the condition, so what the engine compares is exact.
* Filtering keeps the table's type and rows as they are: for pandas, polars and Arrow the engine computes one
  boolean per row (``COALESCE(condition, FALSE)``, in table order) and the table itself is indexed with it (index,
  dtypes and order kept); a DuckDB relation gets a relation, a Parquet path an Arrow table.
* DuckDB: one in-memory connection per thread, kept (a new one costs tens of milliseconds, as much as a small
  query); each table is a relation queried under the name :data:`TABLE` for one statement, so nothing is left
  registered in it. A DuckDB relation given by the user is queried in its own connection. A folder is read as
  Spark reads one: its Parquet files in every subfolder, ``key=value`` subfolders as Hive partition columns.
* Spark (``engine="spark"``, :class:`SparkTableSession`): the same SQL in the spark dialect, run through
  ``SparkSession.getActiveSession()`` (under ``spark-submit``, the cluster's) or a new ``local[*]`` session; a Spark
  DataFrame or a Parquet path stays in Spark, and ``filter`` returns a lazy Spark DataFrame (picked by default for
  a Spark DataFrame). The session time zone is UTC while a query runs, restored afterwards.
* A column whose Arrow type cannot hold its field's catalog type (a status column of integers, a boolean flag held
  as text or 0/1) is a located :class:`ColumnTypeError` (a ``QueryError`` and a ``TableError``) before the engine
  runs: engines would fail with a message naming neither the field nor the column, or cast silently
  (DuckDB reads ``'true'`` as TRUE, dqquery reads text as no boolean).
* A selected row with a NULL run or lumisection bound is an error, never dropped or merged: an island holding one
  has a NULL first lumisection (MIN and MAX skip NULLs), and on range rows cut into pieces a NULL bound gives the
  piece a NULL lumisection number (the predicate on it is unknown, as in ``golden``). Numbers a golden JSON cannot
  hold (0, negative) raise the golden JSON's own error.
* Engine errors are :class:`TableError` (a ``ValueError``) with the engine's message, never the engine's traceback;
  a missing extra is an ``ImportError`` naming it.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from . import ast as A
from .catalog import lookup
from .errors import QueryError
from .lumiranges import MAX_NUMBER, GoldenJSON
from .query import as_node
from .snapshot import ONLINE, UnknownDataset, dataset_matcher

__all__ = ["ENGINES", "TABLE", "ColumnTypeError", "Engine", "Session", "TableError", "filter", "golden_from_table"]

TABLE = "dqquery_table"
"""The name a session gives its table in the SQL it runs."""

_DISTINCT_LIMIT = 100_000
_FAR = 2**62  # beyond any lumisection number: the outer bounds of the break intervals
_PIECE_LS = "dqquery_piece_ls"  # the lumisection number of a range row's piece, in the condition before it is joined


class TableError(ValueError):
    """A table that cannot be read or queried (bad type, layout, engine error), with the reason."""


class ColumnTypeError(QueryError, TableError):
    """A column the query reads holds another type than its field's (a status column of numbers): located in the
    query, raised before the engine runs (which would fail with a message naming neither field nor column)."""


class Session(Protocol):
    """A table opened in an engine."""

    dialect: str  # sqlglot dialect of the SQL it runs

    def run(self, sql: str) -> Any:
        """Run a SELECT over :data:`TABLE`; its rows as a ``pyarrow.Table``."""

    def rows_where(self, condition: str) -> Any:
        """The table's rows for which ``condition`` (SQL over its columns) is true, in the table's own type and order."""

    def close(self) -> None:
        """Release what :meth:`run` needed (connections, temporary views)."""


@dataclass(frozen=True)
class Engine:
    """One engine: its name, its sqlglot dialect and how it opens a table (``open`` raises ``TypeError`` for a table
    type it does not take, and ``ImportError`` naming the extra when its library is missing).

    Adding an engine is one entry: ``ENGINES["name"] = Engine("name", "sqlglot dialect", SessionClass, "what it
    takes")``, where ``SessionClass(table)`` implements :class:`Session`; :func:`golden_from_table` and
    :func:`filter` then build the same SQL, rendered in that dialect."""

    name: str
    dialect: str
    open: Callable[[Any], Session]
    takes: str  # the table types it takes, for messages


# ------------------------------------------------------------------------------------------ DuckDB


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError as missing:
        raise ImportError('running queries on tables needs DuckDB and sqlglot: pip install "dqquery[sql]"') from missing
    return duckdb


def _arrow_of_relation(relation: Any) -> Any:
    fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
    return fetch()


class DuckDBSession:
    """A table in DuckDB: a Parquet path or glob (read by DuckDB), an Arrow table or a polars DataFrame (through
    Arrow, zero-copy), a pandas DataFrame (DuckDB's scan of its arrays), or a DuckDB relation (queried in its own
    connection). Never a Python object per row."""

    dialect = "duckdb"

    def __init__(self, table: Any) -> None:
        duckdb = _duckdb()
        self._errors = (duckdb.Error,)
        self.table = table
        self.kind = _kind_of(table)
        if self.kind == "relation":
            self.relation = table
            return
        self.connection = _connection(duckdb)
        if self.kind == "path":
            try:
                folder = Path(table).is_dir()  # Spark's reading of a folder: key=value subfolders are columns
                self.relation = self.connection.read_parquet(_parquet_glob(table), **({"hive_partitioning": True} if folder else {}))
            except duckdb.Error as exc:
                raise TableError(f"{table}: not readable as Parquet: {_first_line(exc)}") from None
        else:
            try:
                if self.kind == "pandas":
                    self.relation = self.connection.from_df(table)
                else:
                    self.relation = self.connection.from_arrow(table.to_arrow() if self.kind == "polars" else table)
            except duckdb.Error as exc:
                raise TableError(f"DuckDB cannot read the {self.kind} table: {_first_line(exc)}") from None

    def _select(self, sql: str) -> Any:
        try:
            return self.relation.query(TABLE, sql)
        except self._errors as exc:
            raise TableError(f"DuckDB: {_first_line(exc)}") from None

    def run(self, sql: str) -> Any:
        try:
            return _arrow_of_relation(self._select(sql))
        except self._errors as exc:
            raise TableError(f"DuckDB: {_first_line(exc)}") from None

    def rows_where(self, condition: str) -> Any:
        if self.kind == "relation":
            return self._select(f"SELECT * FROM {TABLE} WHERE {condition}")
        if self.kind == "path":
            return self.run(f"SELECT * FROM {TABLE} WHERE {condition}")
        mask = _numpy(self.run(f"SELECT COALESCE({condition}, FALSE) AS keep FROM {TABLE}").column(0), "int8").astype(bool)
        if self.kind == "pandas":
            return self.table[mask]
        if self.kind == "polars":
            return self.table.filter(mask)
        import pyarrow as pa

        return self.table.filter(pa.array(mask))

    def close(self) -> None:
        self.relation = None  # the connection stays (one per thread); the table is released with its relation


_LOCAL = threading.local()


def _connection(duckdb: Any) -> Any:
    """This thread's in-memory DuckDB connection, made on first use (a connection costs tens of milliseconds; the
    tables are relations of one query each, so nothing stays registered in it)."""
    connection = getattr(_LOCAL, "connection", None)
    if connection is None:
        connection = duckdb.connect()
        try:
            connection.execute("SET TimeZone = 'UTC'")
        except duckdb.Error:  # pragma: no cover - DuckDB built without ICU: timestamps without time zone anyway
            pass
        _LOCAL.connection = connection
    return connection


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _kind_of(table: Any) -> str:
    """``path``, ``arrow``, ``pandas``, ``polars`` or ``relation``; ``TypeError`` for anything else."""
    if isinstance(table, (str, os.PathLike)):
        return "path"
    module = type(table).__module__.split(".")[0]
    name = type(table).__name__
    if module == "pyarrow" and name == "Table":
        return "arrow"
    if module == "pandas" and name == "DataFrame":
        return "pandas"
    if module == "polars" and name == "DataFrame":
        return "polars"
    if module in ("duckdb", "_duckdb") and name == "DuckDBPyRelation":
        return "relation"
    if _is_spark_frame(table):
        raise TypeError("not a Spark DataFrame: it stays in Spark, pass engine=\"spark\"")
    if module == "polars" and name == "LazyFrame":
        raise TypeError("not a polars LazyFrame: collect it, or write it to Parquet and pass the path")
    raise TypeError(f"not {type(table).__module__}.{name}")


def _parquet_glob(table: Any) -> str:
    """A path as DuckDB reads it: a folder is its ``*.parquet`` files, in its subfolders too (as Spark reads a folder;
    a ``key=value`` subfolder is a Hive partition, read as a column), not only the top level's."""
    path = Path(table)
    if path.is_dir():
        return str(path / "**" / "*.parquet")
    return str(table)


# ------------------------------------------------------------------------------------------ Spark


def _spark_session() -> Any:
    """The active SparkSession (a cluster's, under ``spark-submit``), else a new ``local[*]`` one."""
    try:
        from pyspark.sql import SparkSession as _Spark
    except ImportError as missing:
        raise ImportError('running queries on Spark needs pyspark and sqlglot: pip install "dqquery[spark]"') from missing
    return _Spark.getActiveSession() or _Spark.builder.master("local[*]").appName("dqquery").getOrCreate()


def _spark_message(exc: BaseException) -> str:
    """The first line of a Spark error; for a Java exception py4j passes through (its first line is only "An error
    occurred while calling o122.parquet."), the Java exception's own message without its class name."""
    import re

    for line in str(exc).splitlines():
        found = re.match(r"^: (?:[\w.$]+(?:Exception|Error): )?(.+)", line)
        if found:
            return found.group(1).strip()
    return _first_line(exc)


def _is_spark_frame(table: Any) -> bool:
    return type(table).__module__.split(".")[0] == "pyspark" and type(table).__name__ == "DataFrame"


class SparkTableSession:
    """A table in Spark: a Spark DataFrame, a Parquet path or glob (``spark.read.parquet``: HDFS, S3 or local; a
    folder is its Parquet files), or an Arrow table (sent to the session). The table is the temporary view
    :data:`TABLE` while the session is open (one query at a time per SparkSession), and the session time zone is UTC
    meanwhile (the sql target's timestamps are UTC), restored on close. Results come back as Arrow (``toArrow``):
    only the schema, the dataset names and the islands."""

    dialect = "spark"

    def __init__(self, table: Any) -> None:
        self.spark = _spark_session()
        from py4j.protocol import Py4JError
        from pyspark.errors import PySparkException

        self._errors = (PySparkException, Py4JError)  # a Java exception pyspark does not convert (a file that is not Parquet)
        if _is_spark_frame(table):
            self.kind, self.frame = "spark", table
        elif isinstance(table, (str, os.PathLike)):
            self.kind = "path"
            try:
                self.frame = self.spark.read.parquet(os.fspath(table))
            except self._errors as exc:
                raise TableError(f"{table}: not readable as Parquet by Spark: {_spark_message(exc)}") from None
        elif type(table).__module__.split(".")[0] == "pyarrow" and type(table).__name__ == "Table":
            self.kind, self.frame = "arrow", self.spark.createDataFrame(table)
        else:
            raise TypeError(f"not {type(table).__module__}.{type(table).__name__}")
        self._time_zone = self.spark.conf.get("spark.sql.session.timeZone")
        self.spark.conf.set("spark.sql.session.timeZone", "UTC")
        self.frame.createOrReplaceTempView(TABLE)

    def _select(self, sql: str) -> Any:
        try:
            return self.spark.sql(sql)
        except self._errors as exc:
            raise TableError(f"Spark: {_spark_message(exc)}") from None

    def run(self, sql: str) -> Any:
        try:
            return self._select(sql).toArrow()
        except self._errors as exc:
            raise TableError(f"Spark: {_spark_message(exc)}") from None

    def rows_where(self, condition: str) -> Any:
        """A Spark DataFrame (lazy: nothing is collected) for a DataFrame or a path; Arrow for an Arrow table."""
        try:
            rows = self.frame.where(condition)
            return rows.toArrow() if self.kind == "arrow" else rows
        except self._errors as exc:
            raise TableError(f"Spark: {_spark_message(exc)}") from None

    def close(self) -> None:
        self.spark.catalog.dropTempView(TABLE)
        self.spark.conf.set("spark.sql.session.timeZone", self._time_zone)


ENGINES: dict[str, Engine] = {
    "duckdb": Engine("duckdb", "duckdb", DuckDBSession, "a Parquet path or glob, a pyarrow Table, a pandas or polars DataFrame, a DuckDB relation"),
    "spark": Engine("spark", "spark", SparkTableSession, "a Spark DataFrame, a Parquet path or glob, a pyarrow Table"),
}
"""Engine name -> :class:`Engine` (``golden_from_table(..., engine=name)``); the first is the default."""


def _engine(name: str | None) -> Engine:
    name = name or next(iter(ENGINES))
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}: the engines are {', '.join(ENGINES)}")
    return ENGINES[name]


# ------------------------------------------------------------------------------------------ SQL


def _sqlglot() -> Any:
    try:
        import sqlglot
    except ImportError as missing:
        raise ImportError('running queries on tables needs DuckDB and sqlglot: pip install "dqquery[sql]"') from missing
    return sqlglot


def _column(path: str, columns: Mapping[str, str] | None) -> str:
    """The table column of a catalog path under the sql target's mapping rule."""
    from .targets.sql import column_of

    info = lookup(path)
    name = info.name if info is not None else path
    return column_of(A.FieldRef(name=name, path=path), columns)


def _located(error: type[QueryError], category: str, message: str, query: Any, field: A.FieldRef, hint: str) -> QueryError:
    """An error about ``field``, located at its place in ``query`` when the query is text."""
    span = getattr(field, "span", None) if isinstance(query, str) else None
    return error(
        category,  # type: ignore[arg-type]
        message,
        query=query if isinstance(query, str) else "",
        offset=span.start if span is not None else None,
        end=span.end if span is not None and span.end > span.start else None,
        hint=hint,
    )


def _missing_column(query: Any, field: A.FieldRef, column: str, schema: list[str]) -> QueryError:
    shown = ", ".join(repr(c) for c in schema[:30]) + (", ..." if len(schema) > 30 else "")
    return _located(QueryError, "unknown-field",
                    f"the table has no column {column!r} for the field '{field.name}' (its columns: {shown or 'none'})",
                    query, field, f"map the field to a column: columns={{'{field.name}': 'COLUMN'}}")


def _is_text(arrow_type: Any) -> bool:
    import pyarrow as pa

    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    string_view = getattr(pa.types, "is_string_view", lambda _t: False)
    return bool(pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or string_view(arrow_type)
                or pa.types.is_null(arrow_type))


def _holds_catalog_type(arrow_type: Any, catalog_type: str) -> bool:
    """Whether a column of ``arrow_type`` can hold a field of ``catalog_type`` (the snapshot schema's types; a column
    of NULLs holds any). Numbers are integers, floats or decimals; datetimes are timestamps, dates or text (read as
    dqquery reads text); lists hold text."""
    import pyarrow as pa

    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if pa.types.is_null(arrow_type):
        return True
    if catalog_type in ("int", "float"):
        return bool(pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type))
    if catalog_type in ("string", "status"):
        return _is_text(arrow_type)
    if catalog_type == "bool":
        return bool(pa.types.is_boolean(arrow_type))
    if catalog_type in ("datetime", "date"):
        return bool(pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type) or _is_text(arrow_type))
    if catalog_type == "string-list":
        is_list = pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)
        return bool(is_list and _is_text(arrow_type.value_type))
    return True


def _wrong_type(query: Any, field: A.FieldRef, column: str, arrow_type: Any, catalog_type: str) -> QueryError:
    return _located(ColumnTypeError, "type-mismatch",
                    f"the column {column!r} of the field '{field.name}' holds {arrow_type}; the field is a {catalog_type}",
                    query, field,
                    f"store it with the snapshot schema's type ({_SCHEMA_TYPE_HINT[catalog_type]}), or map the field to another column")


_SCHEMA_TYPE_HINT = {
    "int": "an integer or float column", "float": "an integer or float column", "string": "a text column",
    "status": "a text column of upper-case statuses", "bool": "a boolean column", "datetime": "a timestamp column",
    "date": "a date or timestamp column", "string-list": "a list of text",
}


def _datetime_case(session: Session, column: str, sqlglot: Any) -> Any:
    """``CASE column WHEN 'text' THEN TIMESTAMP ... END`` over the column's distinct texts (dqquery's reading of them)."""
    import datetime as _dt

    from sqlglot import exp

    from .semantics import to_datetime

    quoted = exp.column(column, quoted=True).sql(dialect=session.dialect)
    texts = session.run(f"SELECT DISTINCT {quoted} AS v FROM {TABLE} LIMIT {_DISTINCT_LIMIT + 1}").column(0).to_pylist()
    if len(texts) > _DISTINCT_LIMIT:
        raise TableError(f"column {column!r}: more than {_DISTINCT_LIMIT} distinct datetime texts; store it as a timestamp column")
    case = exp.Case(this=exp.column(column, quoted=True))
    for text in texts:
        moment = to_datetime(text) if text is not None else None
        if moment is None:
            continue
        utc = moment.astimezone(_dt.UTC).replace(tzinfo=None)
        stamp = utc.strftime("%Y-%m-%d %H:%M:%S.%f" if utc.microsecond else "%Y-%m-%d %H:%M:%S")
        case = case.when(exp.Literal.string(text), exp.cast(exp.Literal.string(stamp), "TIMESTAMP"))
    if not case.args.get("ifs"):
        return exp.cast(exp.Null(), "TIMESTAMP")
    return case.else_(exp.cast(exp.Null(), "TIMESTAMP"))


@dataclass(frozen=True)
class _Condition:
    """The WHERE condition of a query on one table (sqlglot tree) and whether it reads the lumisection number."""

    tree: Any
    reads_ls: bool


def _condition(session: Session, query: Any, columns: Mapping[str, str] | None, schema: Any, ls_column: str | None = None) -> _Condition:
    """The query's condition over the table's columns: refusals as the sql target's, missing columns located,
    datetime text read as dqquery reads it. ``ls_column`` replaces the lumisection number's column (range rows)."""
    from sqlglot import exp

    from .targets.sql import where_expression

    sqlglot = _sqlglot()
    node = as_node(query)
    names = list(schema.names)
    mapping = dict(columns or {})
    if ls_column is not None:
        mapping["lumisection.lumisection_number"] = ls_column
    tree = where_expression(query, session.dialect, mapping)  # the sql target's refusals come first, unchanged
    reads_ls = False
    for field in A.fields_of(node):
        if field.path == "lumisection.lumisection_number" and ls_column is not None:
            reads_ls = True
            continue
        column = _column(field.path, columns)
        if column not in names:
            info = lookup(field.path)
            if info is not None and info.type in ("int", "float", "string", "status", "bool", "datetime", "date", "string-list"):
                raise _missing_column(query, field, column, names)
            continue
        info = lookup(field.path)
        if info is not None and info.type in _SCHEMA_TYPE_HINT and not _holds_catalog_type(schema.field(column).type, info.type):
            raise _wrong_type(query, field, column, schema.field(column).type, info.type)
    replacements: dict[str, Any] = {}
    for field in A.fields_of(node):
        info = lookup(field.path)
        column = _column(field.path, columns)
        if info is not None and info.type in ("datetime", "date") and column in names and column not in replacements:
            if _is_text(schema.field(column).type):
                replacements[column] = _datetime_case(session, column, sqlglot)
    if replacements:
        def swap(node: Any) -> Any:
            if isinstance(node, exp.Column) and not node.table and node.name in replacements:
                return replacements[node.name].copy()
            return node

        tree = tree.transform(swap)
    return _Condition(tree, reads_ls)


_ISLANDS = """
WITH selected AS (SELECT 1 AS r, 1 AS lo, 1 AS hi),
flagged AS (
  SELECT r, lo, hi,
         CASE WHEN lo <= MAX(hi) OVER (PARTITION BY r ORDER BY lo, hi ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) + 1
              THEN 0 ELSE 1 END AS starts
  FROM selected
),
numbered AS (
  SELECT r, lo, hi, SUM(starts) OVER (PARTITION BY r ORDER BY lo, hi ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS island
  FROM flagged
)
SELECT r, CASE WHEN COUNT(lo) = COUNT(*) AND COUNT(hi) = COUNT(*) THEN MIN(lo) END AS first_ls, MAX(hi) AS last_ls
FROM numbered GROUP BY r, island ORDER BY r, first_ls
"""
"""Gaps and islands over the selected ranges (the ``selected`` CTE is replaced by the selection). An island holding
a row with a NULL bound has a NULL first lumisection, which :func:`_golden_of_islands` refuses: MIN and MAX skip
NULLs, so a range row ``[1, NULL]`` after ``[1, 10]`` would otherwise vanish into the island ``[1, 10]``."""

_ISLANDS_OF_LUMISECTIONS = """
WITH selected AS (SELECT 1 AS r, 1 AS lo, 1 AS hi),
numbered AS (SELECT r, lo, hi, lo - ROW_NUMBER() OVER (PARTITION BY r ORDER BY lo) AS island FROM selected)
SELECT r, MIN(lo) AS first_ls, MAX(hi) AS last_ls FROM numbered GROUP BY r, island ORDER BY r, first_ls
"""
"""The same for single lumisections (``lo = hi``, each once per run): consecutive numbers share ``lo - rank``, one
window instead of two (3x faster on a 50-million-row table)."""


@dataclass(frozen=True)
class _Layout:
    run: str
    first: str
    last: str
    is_range: bool
    dataset: str | None


def _layout(schema: Any, columns: Mapping[str, str] | None) -> _Layout:
    names = list(schema.names)
    mapping = columns or {}
    run = _column("run.run_number", columns)
    first, last = mapping.get("ls_first", "ls_first"), mapping.get("ls_last", "ls_last")
    ls = _column("lumisection.lumisection_number", columns)
    dataset = _column("dataset.name", columns)
    shown = ", ".join(repr(c) for c in names[:30]) + (", ..." if len(names) > 30 else "")
    if run not in names:
        raise TableError(f"the table has no run number column {run!r} (its columns: {shown or 'none'}); map it with columns={{'run_number': ...}}")
    if first in names and last in names:
        return _integers(schema, _Layout(run, first, last, True, dataset if dataset in names else None))
    if ls in names:
        return _integers(schema, _Layout(run, ls, ls, False, dataset if dataset in names else None))
    raise TableError(f"the table has neither a lumisection number column {ls!r} nor range columns {first!r} and {last!r} "
                     f"(its columns: {shown or 'none'}); map them with columns={{'ls_number': ...}} or {{'ls_first': ..., 'ls_last': ...}}")


def _integers(schema: Any, layout: _Layout) -> _Layout:
    """The layout, once its run and lumisection columns are known to hold integers (a golden JSON holds nothing else)."""
    import pyarrow as pa

    for column in dict.fromkeys((layout.run, layout.first, layout.last)):
        kind = schema.field(column).type
        if not (pa.types.is_integer(kind) or pa.types.is_null(kind)):
            raise TableError(f"column {column!r} holds {kind}, not integers: run and lumisection numbers must be integers")
    return layout


def _dataset_filter(session: Session, layout: _Layout, dataset: str | None) -> Any:
    """``dataset IN (...)`` for the table's names matching ``dataset``, ``None`` for no restriction, ``False`` when
    the table has no rows (nothing to select)."""
    from sqlglot import exp

    if layout.dataset is None:
        if dataset is not None:
            raise TableError(f"the table has no dataset column: it is one dataset, so dataset={dataset!r} cannot select one "
                             "(leave dataset=None, or map the dataset column with columns={'dataset': ...})")
        return None
    column = exp.column(layout.dataset, quoted=True)
    found = session.run(f"SELECT DISTINCT {column.sql(dialect=session.dialect)} AS v FROM {TABLE}").column(0).to_pylist()
    names = [n for n in found if n is not None]  # a row without a dataset name belongs to no dataset
    if not names:
        return False
    matches = dataset_matcher(dataset)
    chosen = sorted(n for n in names if matches(n))
    if not chosen:
        shown = ", ".join(repr(n) for n in sorted(names)[:5]) + (", ..." if len(names) > 5 else "")
        raise UnknownDataset(
            f"no dataset of the table matches {ONLINE if dataset is None else dataset!r}"
            f" (dataset names are matched with SQL SIMILAR TO: % any text, _ one character); the table has {shown}"
        )
    if len(chosen) == len(found):
        return None
    return exp.In(this=column, expressions=[exp.Literal.string(n) for n in chosen])


def _golden_sql(session: Session, condition: _Condition, layout: _Layout, restriction: Any, breaks: list[int]) -> str:
    from sqlglot import exp

    first, last = exp.column(layout.first, quoted=True), exp.column(layout.last, quoted=True)
    where = condition.tree if restriction is None else exp.and_(exp.Paren(this=condition.tree), restriction)
    lo: Any = first
    hi: Any = last
    joined: list[tuple[Any, Any]] = []
    if condition.reads_ls:  # range rows cut at the break points; the predicate reads the piece's first lumisection
        bounds = [-_FAR, *breaks, _FAR]
        rows = [exp.Tuple(expressions=[exp.Literal.number(a), exp.Literal.number(b - 1 if b != _FAR else _FAR)])
                for a, b in zip(bounds[:-1], bounds[1:])]
        pieces = exp.Values(expressions=rows, alias=exp.TableAlias(this=exp.to_identifier("dqquery_pieces"),
                                                                   columns=[exp.to_identifier("p_lo"), exp.to_identifier("p_hi")]))
        p_lo, p_hi = exp.column("p_lo", table="dqquery_pieces"), exp.column("p_hi", table="dqquery_pieces")
        # a row with a NULL bound joins every piece with a NULL lo or hi (GREATEST and LEAST skip NULLs): the
        # predicate then reads an unknown lumisection number, and a selected row is refused by the islands' check
        overlaps = exp.and_(exp.or_(exp.LTE(this=p_lo, expression=last), exp.Is(this=last.copy(), expression=exp.Null())),
                            exp.or_(exp.GTE(this=p_hi, expression=first), exp.Is(this=first.copy(), expression=exp.Null())))
        joined.append((pieces, overlaps))
        lo = exp.Case().when(exp.Is(this=first.copy(), expression=exp.Null()), exp.Null()).else_(
            exp.Greatest(this=first.copy(), expressions=[p_lo.copy()]))
        hi = exp.Case().when(exp.Is(this=last.copy(), expression=exp.Null()), exp.Null()).else_(
            exp.Least(this=last.copy(), expressions=[p_hi.copy()]))
        piece_ls = lo

        def swap(node: Any) -> Any:
            return piece_ls.copy() if isinstance(node, exp.Column) and not node.table and node.name == _PIECE_LS else node

        where = where.transform(swap)
    source = exp.select(exp.column(layout.run, quoted=True).as_("r"), lo.as_("lo"), hi.as_("hi")).from_(exp.table_(TABLE))
    for other, on in joined:
        source = source.join(other, on=on)
    source = source.where(where).distinct()  # each (run, lo, hi) once: see the module docstring
    single_lumisections = not layout.is_range and not joined
    return _islands_sql(session.dialect, single_lumisections).replace(_MARKER, source.sql(dialect=session.dialect), 1)


_MARKER = "SELECT 'dqquery selected rows' AS r"


@functools.cache
def _islands_sql(dialect: str, single_lumisections: bool = False) -> str:
    """:data:`_ISLANDS` (or :data:`_ISLANDS_OF_LUMISECTIONS`) rendered for ``dialect`` once (sqlglot), the
    ``selected`` CTE's body a marker that :func:`_golden_sql` replaces by the rendered selection."""
    from sqlglot import exp

    tree = _sqlglot().parse_one(_ISLANDS_OF_LUMISECTIONS if single_lumisections else _ISLANDS, read="duckdb")
    for cte in tree.find_all(exp.CTE):
        if cte.alias == "selected":
            cte.set("this", exp.select(exp.Literal.string("dqquery selected rows").as_("r")))
    text = tree.sql(dialect=dialect)
    if text.count(_MARKER) != 1:  # pragma: no cover - a dialect that renders the marker differently
        raise AssertionError(f"the islands SQL for {dialect} does not hold the marker once: {text}")
    return text  # type: ignore[no-any-return]


def _numpy(column: Any, dtype: str) -> Any:
    """A chunked Arrow column without nulls as one numpy array of ``dtype`` (``int64`` or ``int8``), read from the
    chunks' buffers: pyarrow's ``to_numpy`` imports pandas, half a second on the first call."""
    import numpy as np
    import pyarrow as pa

    arrow_type = {"int64": pa.int64(), "int8": pa.int8()}[dtype]
    parts = []
    for chunk in column.chunks:
        chunk = chunk.cast(arrow_type)
        parts.append(np.frombuffer(chunk.buffers()[1], dtype=dtype, count=len(chunk), offset=chunk.offset * np.dtype(dtype).itemsize))
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


def _golden_of_islands(result: Any) -> GoldenJSON:
    """The engine's islands (sorted by run then first lumisection, disjoint, not adjacent) as a GoldenJSON."""
    import numpy as np

    if result.num_rows == 0:
        return GoldenJSON()
    if any(result.column(i).null_count for i in range(3)):
        raise TableError("selected rows have a NULL run or lumisection number: a golden JSON cannot hold them")
    runs, firsts, lasts = (_numpy(result.column(i), "int64") for i in range(3))
    if int(runs.min()) < 1 or int(firsts.min()) < 1 or int(runs.max()) > MAX_NUMBER or int(lasts.max()) > MAX_NUMBER \
            or bool((firsts > lasts).any()):
        mapping: dict[int, list[list[int]]] = {}
        for r, a, b in zip(runs.tolist(), firsts.tolist(), lasts.tolist()):
            mapping.setdefault(r, []).append([a, b])
        return GoldenJSON(mapping)  # raises the golden JSON's own error for numbers it cannot hold
    key = runs.astype(np.uint64) << np.uint64(32)
    return GoldenJSON._from_range_keys(key | firsts.astype(np.uint64), key | lasts.astype(np.uint64))


# ------------------------------------------------------------------------------------------ public API


def _snapshot_folder(table: Any) -> Path | None:
    if isinstance(table, (str, os.PathLike)) and Path(table).is_dir() and (Path(table) / "meta.json").is_file():
        return Path(table)
    return None


def _refusals_first(query: A.QueryLike, engine: Engine) -> None:
    """What the sql target refuses is refused before any data is read (the same located error)."""
    from .targets.sql import where_expression

    _sqlglot()
    where_expression(query, engine.dialect)


def _open(engine: Engine, table: Any) -> Session:
    _sqlglot()
    try:
        return engine.open(table)
    except TypeError as exc:
        raise TypeError(f"engine {engine.name!r} takes {engine.takes}: {exc}") from None


def golden_from_table(query: A.QueryLike, table: Any, engine: str = "duckdb", dataset: str | None = None,
                      columns: Mapping[str, str] | None = None) -> GoldenJSON:
    """The golden JSON of ``query`` on ``table``, selected and compressed into ranges inside ``engine``.

    ``table``: a Parquet path or glob, a folder written by ``dqquery snapshot export`` (range level), an Arrow table,
    a pandas or polars DataFrame, a DuckDB relation. ``dataset``: a pattern as for :func:`dqquery.golden` (``None``:
    ``online``), for tables with a ``dataset`` column. ``columns``: field path or short name -> column (the sql
    target's mapping), structural columns included (see the module docstring)."""
    chosen = _engine(engine)
    node = as_node(query)
    _refusals_first(query, chosen)
    folder = _snapshot_folder(table)
    if folder is not None:
        if columns:
            raise TableError(f"{folder}: a snapshot folder has dqquery's own column names; columns= does not apply")
        table = _folder_rows(folder, node, dataset)
        dataset = "%"
    session = _open(chosen, table)
    try:
        schema = session.run(f"SELECT * FROM {TABLE} LIMIT 0").schema
        layout = _layout(schema, columns)
        condition = _condition(session, query, columns, schema, ls_column=_PIECE_LS if layout.is_range else None)
        restriction = _dataset_filter(session, layout, dataset)
        if restriction is False:
            return GoldenJSON()
        from .evaluator import ls_breaks

        breaks = sorted(set(ls_breaks(node))) if condition.reads_ls else []
        return _golden_of_islands(session.run(_golden_sql(session, condition, layout, restriction, breaks)))
    finally:
        session.close()


def _folder_rows(folder: Path, node: Any, dataset: str | None) -> Any:
    """The range rows of a snapshot folder for ``dataset`` (``golden``'s selection), with a NULL column for each
    catalog field the query reads and the snapshot does not hold."""
    import pyarrow as pa

    from .tables import _ARROW_TYPE_OF_CATALOG, _pa_type, range_rows_table, read_range_tables

    rows = range_rows_table(read_range_tables(folder), dataset)
    for field in A.fields_of(node):
        info = lookup(field.path)
        name = _column(field.path, None)
        if info is not None and name not in rows.column_names and field.path != "lumisection.lumisection_number":
            rows = rows.append_column(name, pa.nulls(rows.num_rows, type=_pa_type(_ARROW_TYPE_OF_CATALOG.get(info.type, "string"))))
    return rows


def filter(table: Any, query: A.QueryLike, columns: Mapping[str, str] | None = None, engine: str | None = None) -> Any:
    """The rows of ``table`` the query selects, in the table's own type and order (pandas -> pandas, polars -> polars,
    Arrow -> Arrow, DuckDB relation -> relation, Parquet path -> Arrow; Spark DataFrame -> Spark DataFrame), through the
    same SQL condition. ``engine``: ``None`` is ``spark`` for a Spark DataFrame, else ``duckdb``."""
    chosen = _engine(engine or ("spark" if _is_spark_frame(table) else None))
    _refusals_first(query, chosen)
    if _snapshot_folder(table) is not None:
        raise TableError(f"{table}: a snapshot folder has no rows to filter; filter its lumisection export "
                         "(dqquery snapshot export --level lumisection) or use golden_from_table")
    session = _open(chosen, table)
    try:
        schema = session.run(f"SELECT * FROM {TABLE} LIMIT 0").schema
        condition = _condition(session, query, columns, schema)
        return session.rows_where(condition.tree.sql(dialect=session.dialect))
    finally:
        session.close()
