"""The sql target's Spark SQL, EXECUTED on Spark (local mode): it selects exactly the rows dqquery.semantics selects.

The corpus' ``sql_spark`` texts and generated queries on generated rows (the generators of tests/test_target_sql.py)
run on one local SparkSession (the ``spark`` fixture, tests/spark_session.py).

Decisions:
* A Spark job costs ~0.1-1 s, so each test runs a whole batch of (condition, rows) pairs in ONE job: one DataFrame
  holding every pair's rows tagged by the pair's number, and one ``CASE batch WHEN i THEN (condition i) END``
  condition. When the batch fails to run, each condition is run alone to name the one Spark rejects.
* Columns carry the catalog types as Spark types; timestamps are UTC (the session time zone is UTC).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from test_target_sql import FIELDS, _expected, _valid_regex, cases, corpus_rows, like_cases, regex_cases

import dqquery
from dqquery import ast as A
from dqquery.errors import QueryError
from dqquery.semantics import selects

pytest.importorskip("sqlglot")

SPARK_TYPES = {"int": "LongType", "float": "DoubleType", "string": "StringType", "status": "StringType",
               "bool": "BooleanType", "datetime": "TimestampType", "string-list": "ArrayType"}
"""Catalog type -> the Spark SQL type of its column (pyspark.sql.types class name)."""

Pair = tuple[str, list[dict[str, Any]]]


def _spark_type(ctype: str) -> Any:
    from pyspark.sql import types as T

    if ctype == "string-list":
        return T.ArrayType(T.StringType(), containsNull=False)
    return getattr(T, SPARK_TYPES[ctype])()


def _spark_cell(ctype: str, value: Any) -> Any:
    """A naive datetime of the generators is UTC: Spark gets it with its time zone (else it reads local time)."""
    if ctype == "datetime" and isinstance(value, _dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=_dt.UTC)
    return value


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def selected_on_spark(spark: Any, types: dict[str, str], pairs: list[Pair]) -> list[set[int]]:
    """For each (condition, rows) pair, the row numbers ``SELECT ... WHERE condition`` keeps on Spark, in one job.

    ``types`` maps each column to its catalog type; a row lacking a column holds NULL there."""
    from pyspark.sql import types as T

    schema = T.StructType([T.StructField("batch", T.IntegerType(), False), T.StructField("id", T.IntegerType(), False)]
                          + [T.StructField(name, _spark_type(ctype)) for name, ctype in types.items()])
    data = [(b, i, *(_spark_cell(ctype, row.get(name)) for name, ctype in types.items()))
            for b, (_, rows) in enumerate(pairs) for i, row in enumerate(rows)]
    frame = spark.createDataFrame(data, schema)
    frame.createOrReplaceTempView("dq_rows")
    chosen = " ".join(f"WHEN {b} THEN ({condition})" for b, (condition, _) in enumerate(pairs))
    out: list[set[int]] = [set() for _ in pairs]
    try:
        found = spark.sql(f"SELECT batch, id FROM dq_rows WHERE CASE batch {chosen} END").collect()
    except Exception as batch_error:
        for condition, _ in pairs:  # name the condition Spark rejects
            try:
                spark.sql(f"SELECT id FROM dq_rows WHERE {condition}").collect()
            except Exception as err:
                raise AssertionError(f"Spark rejects the condition {condition!r}: {str(err)[:800]}") from err
        raise batch_error
    for row in found:
        out[row["batch"]].add(row["id"])
    return out


def _compiled_batch(batch: list[tuple[Any, list[dict[str, Any]]]]) -> list[tuple[Any, str, list[dict[str, Any]]]]:
    """(query, Spark condition, rows) for each generated case the target compiles; a refusal must be a located
    ``unsupported`` error naming ``sql:spark``."""
    out = []
    for query, rows in batch:
        try:
            condition = dqquery.to_sql(query, "spark")
        except QueryError as err:
            assert err.category == "unsupported", err
            assert err.target == "sql:spark"
            continue
        out.append((query, condition, rows))
    return out


def _check_batch(spark: Any, batch: list[tuple[Any, list[dict[str, Any]]]]) -> None:
    """Run every compiled case of ``batch`` on Spark in one job; report the smallest case Spark disagrees on."""
    compiled = _compiled_batch(batch)
    assert len(compiled) >= len(batch) // 2, f"only {len(compiled)} of {len(batch)} generated cases compile for Spark"
    types = {name: ctype for name, (_, _, ctype) in FIELDS.items()}
    got = selected_on_spark(spark, types, [(condition, rows) for _, condition, rows in compiled])
    wrong = [(query, condition, rows, selected) for (query, condition, rows), selected in zip(compiled, got)
             if selected != _expected(query, rows)]
    if wrong:
        query, condition, rows, selected = min(wrong, key=lambda w: (len(w[2]), len(w[1])))
        raise AssertionError(f"{len(wrong)} of {len(compiled)} cases differ; the smallest: {dqquery.unparse(query)!r} as "
                             f"{condition!r} selects rows {sorted(selected)} on Spark, dqquery {sorted(_expected(query, rows))}: {rows}")


def generated(strategy: Any, count: int) -> list[Any]:
    """``count`` examples of ``strategy``, drawn by hypothesis (derandomized, so every run draws the same ones).

    Drawn in a test of their own that does not touch Spark, then all run in one Spark job: a @given test per example
    would cost a Spark job each (and a shrink a job per step), and a list of hundreds of cases overruns one example's
    data. The price: a failure is not shrunk; :func:`_check_batch` reports the smallest failing case instead."""
    drawn: list[Any] = []

    @settings(max_examples=count, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def draw(example: Any) -> None:
        drawn.append(example)

    draw()
    return drawn


def test_spark_selects_what_dqquery_selects(spark: Any) -> None:
    _check_batch(spark, generated(cases("duckdb"), 240))  # "duckdb": every field (Spark has all its column types)


def test_spark_like_folds_case_as_dqquery(spark: Any) -> None:
    _check_batch(spark, generated(like_cases(), 200))


def test_spark_regex_as_dqquery(spark: Any) -> None:
    _check_batch(spark, generated(regex_cases().filter(_valid_regex), 200))


# ------------------------------------------------------------------ the corpus' Spark texts run on Spark


def _corpus_spark() -> list[tuple[str, str]]:
    import yaml

    corpus = Path(__file__).parent / "compliance" / "targets.yaml"
    return [(c["query"], c["sql_spark"]) for c in yaml.safe_load(corpus.read_text(encoding="utf-8"))
            if c.get("sql_spark", "unsupported") != "unsupported"]


CORPUS_SPARK = _corpus_spark()


@pytest.fixture(scope="module")
def corpus_on_spark(spark: Any) -> dict[str, tuple[set[int], set[int]]]:
    """Every corpus ``sql_spark`` text run on its case's rows (tests/test_target_sql.py's corpus rows), in one job:
    query -> (selected by Spark, selected by dqquery)."""
    types: dict[str, str] = {}
    pairs, expected = [], []
    for query, condition in CORPUS_SPARK:
        node = dqquery.parse(query)
        refs = {ref.name: dqquery.catalog.lookup(ref.path) for ref in A.fields_of(node)}
        case_types = {name: row.type for name, row in refs.items()}  # type: ignore[union-attr]
        for name, ctype in case_types.items():
            assert types.setdefault(name, ctype) == ctype, f"column {name} has two catalog types in the corpus"
        rows = corpus_rows(node, case_types)
        paths = {name: row.path for name, row in refs.items()}  # type: ignore[union-attr]
        pairs.append((condition, rows))
        expected.append({i for i, row in enumerate(rows) if selects(node, {paths[k]: v for k, v in row.items()})})
    got = selected_on_spark(spark, types, pairs)
    return {query: (spark_rows, dq_rows) for (query, _), spark_rows, dq_rows in zip(CORPUS_SPARK, got, expected)}


@pytest.mark.parametrize(("query", "condition"), CORPUS_SPARK, ids=[q for q, _ in CORPUS_SPARK])
def test_corpus_spark_conditions_execute_on_spark(query: str, condition: str, corpus_on_spark: Any) -> None:
    """Each corpus text runs on Spark over columns of the catalog's types and selects what dqquery selects on a NULL
    row, rows of the query's own literals and rows of neighbouring values."""
    on_spark, by_dqquery = corpus_on_spark[query]
    assert on_spark == by_dqquery, condition


def test_corpus_has_spark_texts() -> None:
    assert len(CORPUS_SPARK) >= 50  # the corpus is the registry's: every case has a sql_spark column


def test_without_pyspark_ci_fails_and_a_developer_machine_skips(monkeypatch: Any) -> None:
    import sys

    from spark_session import start_local_spark

    monkeypatch.setitem(sys.modules, "pyspark", None)  # an import of pyspark now fails as if it were not installed
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true but Spark cannot start: pyspark is not installed"):
        start_local_spark()
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="pyspark is not installed"):
        start_local_spark()
