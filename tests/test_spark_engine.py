"""golden_from_table and filter with engine="spark" (local mode): the same SQL as DuckDB's, run by Spark, gives the
reference golden JSON (dqquery.evaluator.golden) and the reference row selection, on a smaller sample of generated
snapshots than tests/test_engines.py (each call is a few Spark jobs).

Decisions:
* The generators and the comparison are tests/test_engines.py's; the table is handed to Spark as a Spark DataFrame
  (per-lumisection and range layouts) and as a Parquet path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_columnar import lumisection_queries, snapshots_with_deletions
from test_engines import (
    ANY_QUERY,
    ANY_SNAPSHOT,
    DATASETS,
    NULL_BOUNDS,
    _all_datasets,
    _check_table,
    _selected_rows,
    _sql_refusal,
    _with_query_columns,
)
from test_engines import test_a_selected_range_row_with_a_null_bound_is_an_error_not_dropped as _null_bound_check

import dqquery
from dqquery import QueryError
from dqquery.engines import ENGINES, ColumnTypeError, TableError, filter, golden_from_table
from dqquery.snapshot import Snapshot
from dqquery.tables import lumisection_table, range_rows_table

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")

SMALL = settings(max_examples=8, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])


@SMALL
@given(snap=ANY_SNAPSHOT, query=st.one_of(ANY_QUERY, lumisection_queries()), dataset=st.sampled_from(DATASETS),
       layout=st.sampled_from(["lumisection", "range"]))
def test_spark_golden_is_the_reference_golden(spark: Any, snap: Snapshot, query: Any, dataset: str | None, layout: str) -> None:
    table = _all_datasets(snap, lumisection_table if layout == "lumisection" else range_rows_table)
    if table is None:
        return
    table = _with_query_columns(table, query)
    _check_table(table, query, snap, dataset, engine="spark", given=spark.createDataFrame(table))


@settings(max_examples=5, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(snap=snapshots_with_deletions(evaluable=True), query=st.one_of(ANY_QUERY, lumisection_queries()))
def test_spark_filter_selects_the_rows_the_reference_selects(spark: Any, snap: Snapshot, query: Any) -> None:
    table = _all_datasets(snap, lumisection_table)
    if table is None:
        return
    table = _with_query_columns(table, query)
    table = table.append_column("row_id", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    frame = spark.createDataFrame(table)
    refusal = _sql_refusal(query, "spark")
    if refusal is not None:
        with pytest.raises(QueryError) as err:
            filter(frame, query)
        assert ("QueryError", str(err.value)) == refusal
        return
    got = filter(frame, query)  # engine None: spark, for a Spark DataFrame
    assert type(got) is type(frame) and got.columns == frame.columns
    assert sorted(r["row_id"] for r in got.select("row_id").collect()) == _selected_rows(table, query)


def test_spark_reads_a_parquet_path_and_restores_the_time_zone(spark: Any, tmp_path: Any) -> None:
    rows = pa.table({"run_number": [1, 1, 1, 2], "ls_number": [1, 2, 4, 1], "dt-dt": ["GOOD", "GOOD", "GOOD", "BAD"]})
    pq.write_table(rows, tmp_path / "part-0.parquet")
    zone = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "Europe/Zurich")
    try:
        query = "dt-dt == GOOD"
        got = golden_from_table(query, str(tmp_path / "*.parquet"), engine="spark")
        assert got == golden_from_table(query, rows) and got.to_dict() == {"1": [[1, 2], [4, 4]]}
        assert spark.conf.get("spark.sql.session.timeZone") == "Europe/Zurich"
    finally:
        spark.conf.set("spark.sql.session.timeZone", zone)
    assert [r["ls_number"] for r in filter(str(tmp_path), query, engine="spark").orderBy("ls_number").collect()] == [1, 2, 4]


def test_spark_errors_are_table_errors(spark: Any, tmp_path: Any) -> None:
    assert "spark" in ENGINES
    with pytest.raises(TableError, match="not readable as Parquet by Spark"):
        golden_from_table("run_number > 1", str(tmp_path / "nothing-here.parquet"), engine="spark")
    with pytest.raises(TypeError, match="engine 'spark' takes a Spark DataFrame"):
        golden_from_table("run_number > 1", [1, 2], engine="spark")
    with pytest.raises(QueryError, match="Java"):
        golden_from_table('dataset ~ "a$"', spark.createDataFrame(pa.table({"run_number": [1]})), engine="spark")
    not_parquet = tmp_path / "notes.parquet"
    not_parquet.write_text("run_number,ls_number\n1,1\n")
    with pytest.raises(TableError, match=r"notes.parquet: not readable as Parquet by Spark: \[FAILED_READ_FILE") as err:
        golden_from_table("run_number > 1", str(not_parquet), engine="spark")  # a Java exception pyspark does not convert
    assert "An error occurred while calling" not in str(err.value)
    frame = spark.createDataFrame(pa.table({"run_number": [1], "ls_number": [1], "dt-dt": [3]}))
    with pytest.raises(ColumnTypeError, match="the column 'dt-dt' of the field 'dt-dt' holds int64"):
        golden_from_table("dt-dt == GOOD", frame, engine="spark")  # Spark alone: CAST_INVALID_INPUT, naming no column
    with pytest.raises(TypeError, match='not a Spark DataFrame: it stays in Spark, pass engine="spark"'):
        golden_from_table("dt-dt == GOOD", frame, engine="duckdb")
    assert dqquery.golden_from_table is golden_from_table


SMALL_QUERIES = ["dt-dt == GOOD", "lumisection_number in 3..7 and cms_active", "not (dt-dt == BAD) or lumisection_number > 10",
                 "energy > 6000 and class like \"collisions%\""]


@pytest.mark.parametrize("layout", ["lumisection", "range"])
def test_spark_golden_on_a_known_snapshot(spark: Any, layout: str) -> None:
    """Non-empty goldens (the generated sample above is small and often selects nothing), both layouts: Spark's
    islands are the reference's, query by query."""
    from test_columnar import _small_snapshot

    from dqquery import evaluator

    snap = _small_snapshot()
    table = (lumisection_table if layout == "lumisection" else range_rows_table)(snap, "%")
    frame = spark.createDataFrame(table)
    goldens = [evaluator.golden(query, snap, None) for query in SMALL_QUERIES]
    assert all(g.to_dict() for g in goldens)  # each query selects something here
    for query, expected in zip(SMALL_QUERIES, goldens):
        assert golden_from_table(query, frame, engine="spark") == expected, query


def test_the_executors_run_no_python(spark: Any, monkeypatch: Any) -> None:
    """Every statement golden_from_table and filter run is Spark SQL without a Python node in its physical plan (no
    UDF, no Python worker): on a cluster only the driver needs dqquery (docs/engines.md, 'On a cluster')."""
    from test_columnar import _small_snapshot

    from dqquery.engines import SparkTableSession

    plans: list[str] = []
    original = SparkTableSession._select

    def planned(self: Any, sql: str) -> Any:
        frame = original(self, sql)
        plans.append(frame._jdf.queryExecution().executedPlan().toString())
        return frame

    monkeypatch.setattr(SparkTableSession, "_select", planned)
    rows = range_rows_table(_small_snapshot(), "%")
    rows = rows.append_column("start_time", pa.array(["2018-05-01T10:00:00Z"] * rows.num_rows))  # datetime text: a CASE
    frame = spark.createDataFrame(rows)
    assert golden_from_table("dt-dt == GOOD and lumisection_number in 3..7 and start_time > 2018-01-01", frame,
                             engine="spark", dataset="%").to_dict()
    picked = filter(frame, 'dt-dt == GOOD and class like "collisions%"')
    plans.append(picked._jdf.queryExecution().executedPlan().toString())
    assert len(plans) >= 4 and any("Window" in plan for plan in plans)
    assert not [plan for plan in plans if "Python" in plan or "ArrowEval" in plan]


@pytest.mark.parametrize(("firsts", "lasts"), NULL_BOUNDS)
def test_spark_refuses_a_selected_range_row_with_a_null_bound(spark: Any, firsts: list[Any], lasts: list[Any]) -> None:
    _null_bound_check(firsts, lasts, engine="spark")
