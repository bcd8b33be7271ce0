"""Queries on tables inside DuckDB (dqquery.engines): golden JSONs and row filters.

The golden JSON computed in DuckDB is compared with the reference evaluator (``dqquery.evaluator.golden``) on
generated snapshots and queries, for the three ways a snapshot becomes a table: one row per lumisection
(``tables.lumisection_table``), range rows (``tables.range_rows_table``) and the folder of ``snapshot export``.
Filters are compared with the reference meaning of one row (``dqquery.semantics.selects``).
"""

from __future__ import annotations

import json
import random
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("duckdb")
pytest.importorskip("sqlglot")

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from test_columnar import (
    OFFLINE_PATTERNS,
    _small_snapshot,
    lumisection_queries,
    offline_queries,
    snapshots_with_deletions,
    snapshots_with_online_underneath,
)

import dqquery
from dqquery import GoldenJSON, QueryError, evaluator
from dqquery.catalog import lookup
from dqquery.cli import main
from dqquery.engines import ENGINES, ColumnTypeError, TableError, filter, golden_from_table
from dqquery.lumiranges import GoldenJSONError
from dqquery.semantics import selects
from dqquery.snapshot import Snapshot
from dqquery.strategies import queries
from dqquery.strategies_snapshot import SNAPSHOT_FIELDS
from dqquery.tables import _ARROW_TYPE_OF_CATALOG, _pa_type, export_tables, lumisection_table, range_rows_table

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
DATASETS = (None, "online", "%", "/PromptReco/%", "%Collisions2018(A|B)%", "/nothing/%")
ANY_QUERY = st.one_of(queries(fields=SNAPSHOT_FIELDS), queries(fields=SNAPSHOT_FIELDS, max_leaves=3), queries(max_leaves=4))
ANY_SNAPSHOT = st.one_of(snapshots_with_deletions(), snapshots_with_deletions(evaluable=True))


def _path_of(column: str) -> str:
    info = lookup(column)
    return info.path if info is not None else column


def _with_query_columns(table: pa.Table, query: Any) -> pa.Table:
    """The table with a NULL column (of the catalog type) for each field the query reads and the table lacks: what the
    snapshot holds for it (the export writes only the keys the snapshot has)."""
    for field in _fields(query):
        info = lookup(field.path)
        if info is not None and info.name not in table.column_names and field.path != "lumisection.lumisection_number":
            table = table.append_column(info.name, pa.nulls(table.num_rows, type=_pa_type(_ARROW_TYPE_OF_CATALOG.get(info.type, "string"))))
    return table


def _fields(query: Any) -> list[Any]:
    from dqquery import ast as A

    return A.fields_of(dqquery.as_node(query))


def _outcome(fn: Any) -> Any:
    """The golden JSON as text, or the error (class and message) the call raised."""
    try:
        return json.dumps(fn().to_dict(), sort_keys=True)
    except evaluator.UnknownDataset as exc:
        return ("UnknownDataset", str(exc))
    except QueryError as exc:
        return ("QueryError", str(exc))


def _sql_refusal(query: Any, dialect: str = "duckdb") -> Any:
    try:
        dqquery.to_sql(query, dialect)
    except QueryError as exc:
        return ("QueryError", str(exc))
    return None


def _check_table(table: pa.Table, query: Any, snap: Snapshot, dataset: str | None, engine: str = "duckdb",
                 given: Any = None) -> None:
    """golden_from_table on a table made from ``snap`` (``given``: the same table in the engine's own type) equals the
    reference golden JSON, with the documented difference: a table knows only the datasets it has rows for."""
    expected = _outcome(lambda: evaluator.golden(query, snap, dataset))
    got = _outcome(lambda: golden_from_table(query, table if given is None else given, engine=engine, dataset=dataset))
    refusal = _sql_refusal(query, engine)
    if refusal is not None:
        assert got == refusal
    elif isinstance(expected, tuple):  # no alive dataset matches: the table has no row of a matching one either
        assert got[0] == "UnknownDataset" if isinstance(got, tuple) else (table.num_rows == 0 and got == "{}")
    elif isinstance(got, tuple):  # the matching datasets have no evaluated lumisection: nothing to select
        assert got[0] == "UnknownDataset" and expected == "{}"
    else:
        assert got == expected


def _all_datasets(snap: Snapshot, build: Any) -> pa.Table | None:
    try:
        return build(snap, "%")
    except evaluator.UnknownDataset:  # no alive dataset: golden raises for every pattern
        for dataset in DATASETS:
            assert isinstance(_outcome(lambda d=dataset: evaluator.golden("run_number > 0", snap, d)), tuple)
        return None


# ------------------------------------------------------------------------------------------ per-lumisection layout


@SETTINGS
@given(snap=ANY_SNAPSHOT, query=st.one_of(ANY_QUERY, lumisection_queries()), dataset=st.sampled_from(DATASETS),
       kind=st.sampled_from(["arrow", "arrow", "pandas", "polars"]))
def test_lumisection_rows_give_the_reference_golden(snap: Snapshot, query: Any, dataset: str | None, kind: str) -> None:
    """Any query, lumisection-number and per-lumisection luminosity predicates included; DataFrames as Arrow."""
    table = _all_datasets(snap, lumisection_table)
    if table is None:
        return
    table = _with_query_columns(table, query)
    if kind == "arrow":
        _check_table(table, query, snap, dataset)
        return
    frame = table.to_pandas() if kind == "pandas" else pl.from_arrow(table)
    expected = _outcome(lambda: golden_from_table(query, table, dataset=dataset))
    assert _outcome(lambda: golden_from_table(query, frame, dataset=dataset)) == expected


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(snap=snapshots_with_online_underneath(), query=offline_queries(), dataset=st.sampled_from(OFFLINE_PATTERNS))
def test_lumisection_rows_of_offline_datasets(snap: Snapshot, query: Any, dataset: str | None) -> None:
    table = _all_datasets(snap, lumisection_table)
    if table is not None:
        _check_table(_with_query_columns(table, query), query, snap, dataset)


# ------------------------------------------------------------------------------------------ range layout


@SETTINGS
@given(snap=ANY_SNAPSHOT, query=st.one_of(ANY_QUERY, lumisection_queries()), dataset=st.sampled_from(DATASETS),
       seed=st.integers(0, 2**16))
def test_range_rows_give_the_reference_golden(snap: Snapshot, query: Any, dataset: str | None, seed: int) -> None:
    """Range rows in any order (the islands do not depend on it), lumisection-number predicates cut per piece."""
    table = _all_datasets(snap, range_rows_table)
    if table is None:
        return
    order = list(range(table.num_rows))
    random.Random(seed).shuffle(order)
    _check_table(_with_query_columns(table, query).take(pa.array(order, type=pa.int64())), query, snap, dataset)


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(snap=st.one_of(ANY_SNAPSHOT, snapshots_with_online_underneath()),
       query=st.one_of(ANY_QUERY, lumisection_queries(), offline_queries()),
       dataset=st.sampled_from(DATASETS + OFFLINE_PATTERNS))
def test_exported_range_folder_gives_the_reference_golden_exactly(tmp_path_factory: Any, snap: Snapshot, query: Any, dataset: str | None) -> None:
    """The folder of `snapshot export --level range` is the snapshot itself: same golden JSON, same errors."""
    folder = tmp_path_factory.mktemp("range")
    export_tables(snap, folder)
    expected = _sql_refusal(query) or _outcome(lambda: evaluator.golden(query, snap, dataset))
    assert _outcome(lambda: golden_from_table(query, folder, dataset=dataset)) == expected


def test_range_rows_are_fewer_than_lumisections_and_cover_the_same() -> None:
    snap = _small_snapshot()
    rows, per_ls = range_rows_table(snap, None), lumisection_table(snap, None)
    assert rows.num_rows < per_ls.num_rows
    lengths = np.asarray(rows.column("ls_last")) - np.asarray(rows.column("ls_first")) + 1
    assert int(lengths.sum()) == per_ls.num_rows
    assert [c for c in rows.column_names if c not in ("ls_first", "ls_last")] == [c for c in per_ls.column_names if c != "ls_number"]


# ------------------------------------------------------------------------------------------ filter


def _selected_rows(table: pa.Table, query: Any) -> list[int]:
    """Row positions the reference meaning of one row selects."""
    paths = [_path_of(name) for name in table.column_names]
    return [i for i, row in enumerate(table.to_pylist())
            if selects(query, {p: row[n] for p, n in zip(paths, table.column_names) if n != "row_id"})]


@SETTINGS
@given(snap=snapshots_with_deletions(evaluable=True), query=st.one_of(ANY_QUERY, lumisection_queries()), kind=st.sampled_from(["pandas", "polars"]))
def test_filter_selects_the_rows_the_reference_selects(snap: Snapshot, query: Any, kind: str) -> None:
    table = _all_datasets(snap, lumisection_table)
    if table is None:
        return
    table = _with_query_columns(table, query)
    table = table.append_column("row_id", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    frame = table.to_pandas() if kind == "pandas" else pl.from_arrow(table)
    refusal = _sql_refusal(query)
    if refusal is not None:
        with pytest.raises(QueryError) as err:
            filter(frame, query)
        assert ("QueryError", str(err.value)) == refusal
        return
    got = filter(frame, query)
    assert type(got) is type(frame) and list(got.columns) == list(frame.columns)
    assert list(got["row_id"]) == _selected_rows(table, query)


def test_filter_keeps_the_type_index_and_order() -> None:
    frame = pd.DataFrame({"run_number": [5, 3, 9, 1], "dt-dt": pd.Categorical(["GOOD", "BAD", "GOOD", "GOOD"])},
                         index=[40, 10, 30, 20])
    got = filter(frame, "dt-dt == GOOD and run_number > 2")
    assert got.index.tolist() == [40, 30] and got["dt-dt"].dtype == frame["dt-dt"].dtype
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    assert filter(arrow, "run_number < 6").column("run_number").to_pylist() == [5, 3, 1]
    assert filter(pl.from_arrow(arrow), "run_number < 6")["run_number"].to_list() == [5, 3, 1]
    relation = duckdb.from_arrow(arrow)
    picked = filter(relation, "dt-dt == GOOD")
    assert isinstance(picked, duckdb.DuckDBPyRelation) and [r[0] for r in picked.fetchall()] == [5, 9, 1]


def test_filter_on_a_parquet_path_gives_arrow(tmp_path: Any) -> None:
    pq.write_table(pa.table({"run_number": [1, 2, 3], "energy": [6500.0, None, 6800.0]}), tmp_path / "t.parquet")
    got = filter(str(tmp_path / "t.parquet"), "not (energy > 6600)")
    assert isinstance(got, pa.Table) and got.column("run_number").to_pylist() == [1]


# ------------------------------------------------------------------------------------------ inputs and mapping


def test_every_input_type_gives_the_same_golden(tmp_path: Any) -> None:
    snap = _small_snapshot()
    table = lumisection_table(snap, "%")
    query = "dt-dt == GOOD and cms_active"
    expected = evaluator.golden(query, snap)
    pq.write_table(table, tmp_path / "ls.parquet")
    export_tables(snap, tmp_path / "export", level="lumisection")
    inputs = [table, table.to_pandas(), pl.from_arrow(table), duckdb.from_arrow(table), str(tmp_path / "ls.parquet"),
              tmp_path / "ls.parquet", str(tmp_path / "*.parquet"), tmp_path / "export"]
    for given_table in inputs:
        assert golden_from_table(query, given_table) == expected, type(given_table)
    assert expected.n_lumisections == 5


def test_only_the_islands_come_back_from_the_engine(monkeypatch: Any) -> None:
    """100,000 lumisections in 3 datasets: what DuckDB returns to Python is the schema, the dataset names and one row
    per island, never the table's rows."""
    from dqquery.engines import DuckDBSession

    n = 100_000
    ls = np.arange(n, dtype=np.int64) % 2000 + 1
    table = pa.table({"run_number": np.arange(n, dtype=np.int64) // 2000 + 1, "ls_number": ls,
                      "dataset": pa.array(np.array(["online", "a", "b"])[np.arange(n) % 3]),
                      "dt-dt": pa.array(np.where(ls % 500 == 0, "BAD", "GOOD"))})
    returned: list[int] = []
    original = DuckDBSession.run

    def counting(self: Any, sql: str) -> Any:
        result = original(self, sql)
        returned.append(result.num_rows)
        return result

    monkeypatch.setattr(DuckDBSession, "run", counting)
    got = golden_from_table("dt-dt == GOOD", table, dataset="%")
    assert got.n_ranges == 50 * 4 and got.n_lumisections == n - 50 * 4  # 50 runs, 4 BAD lumisections each
    assert returned == [0, 3, got.n_ranges]
    assert filter(pl.from_arrow(table), "dt-dt == BAD").height == 50 * 4


def test_column_mapping_covers_the_structural_columns() -> None:
    table = pa.table({"run": [1, 1, 2], "first": [1, 4, 1], "last": [3, 6, 2], "ds": ["online", "online", "x"], "dt": ["GOOD", "GOOD", "BAD"]})
    columns = {"run_number": "run", "ls_first": "first", "ls_last": "last", "dataset": "ds", "lumisection.rr.dt-dt": "dt"}
    assert golden_from_table("dt-dt == GOOD", table, columns=columns) == GoldenJSON({1: [[1, 6]]})
    assert golden_from_table("ls_number >= 3", table, columns=columns, dataset="%") == GoldenJSON({1: [[3, 6]]})
    per_ls = pa.table({"r": [7, 7], "ls": [2, 3], "dataset": ["online", "online"]})
    assert golden_from_table("ls_number == 3", per_ls, columns={"run.run_number": "r", "ls_number": "ls"}) == GoldenJSON({7: [[3, 3]]})


def test_datetime_text_is_read_as_dqquery_reads_it() -> None:
    table = pa.table({"run_number": [1, 2, 3, 4], "ls_number": [1, 1, 1, 1],
                      "start_time": ["2018-05-01T10:00:00Z", "2018-05-01T12:30:00+02:00", "not a date", None]})
    for query in ("start_time >= 2018-05-01T10:00:00Z", "start_time < 2018-05-01T11:00:00Z", "start_time != 2018-05-01T10:30:00Z"):
        rows = table.to_pylist()
        expected = GoldenJSON({r["run_number"]: [[1, 1]] for r in rows if selects(dqquery.parse(query), {"run.oms.start_time": r["start_time"]})})
        assert golden_from_table(query, table) == expected, query
    timestamps = table.set_column(2, "start_time", pa.array([0, 3600 * 10**6, None, None], type=pa.timestamp("us", tz="UTC")))
    assert golden_from_table("start_time > 1970-01-01T00:30:00Z", timestamps) == GoldenJSON({2: [[1, 1]]})


def test_no_rows_select_nothing_and_adjacent_datasets_merge() -> None:
    empty = pa.table({"run_number": pa.array([], pa.int64()), "ls_number": pa.array([], pa.int64()), "dataset": pa.array([], pa.string())})
    assert golden_from_table("run_number > 0", empty, dataset="/nothing/%") == GoldenJSON()
    two = pa.table({"run_number": [1, 1, 1], "ls_first": [1, 4, 6], "ls_last": [3, 8, 9], "dataset": ["a", "b", "a"]})
    assert golden_from_table("run_number > 0", two, dataset="%").to_dict() == {"1": [[1, 9]]}
    assert golden_from_table("run_number > 0", two, dataset="a").to_dict() == {"1": [[1, 3], [6, 9]]}


@pytest.mark.parametrize("query", ["ls_number in [1e300, 0.5, 1]", "ls_number not in [-1e300, 0.5, 1]",
                                   "ls_number not in -1.7976931348623155e+308..0.004", "ls_number in 0.5..1e300"])
def test_integers_beyond_64_bits_next_to_decimals_run_in_duckdb(query: str) -> None:
    """An integral float literal on an integer column is sent as an integer; DuckDB's BETWEEN and IN cannot mix one
    beyond 64 bits with a DECIMAL, so the sql target compares those separately."""
    table = pa.table({"run_number": [1, 1, 1], "ls_number": [0, 1, 2]})
    expected = [i for i, ls in enumerate([0, 1, 2]) if selects(dqquery.parse(query), {"lumisection.lumisection_number": ls})]
    assert filter(table, query).column("ls_number").to_pylist() == expected


# ------------------------------------------------------------------------------------------ errors


def test_a_missing_column_is_a_located_error() -> None:
    table = pa.table({"run_number": [1], "ls_number": [1], "dt-dt": ["GOOD"]})
    with pytest.raises(QueryError) as err:
        golden_from_table("dt-dt == GOOD and energy > 6000", table)
    assert err.value.category == "unknown-field" and err.value.column == 19
    assert "no column 'energy'" in str(err.value) and "'run_number', 'ls_number', 'dt-dt'" in str(err.value)
    with pytest.raises(QueryError, match="no column 'dt'"):
        filter(table, "dt-dt == GOOD", columns={"dt-dt": "dt"})
    with pytest.raises(TableError, match="no run number column 'run_number'"):
        golden_from_table("dt-dt == GOOD", pa.table({"ls_number": [1]}))
    with pytest.raises(TableError, match="neither a lumisection number column 'ls_number' nor range columns"):
        golden_from_table("dt-dt == GOOD", pa.table({"run_number": [1], "dt-dt": ["GOOD"]}))


def test_refusals_are_the_sql_targets() -> None:
    table = pa.table({"run_number": [1], "ls_number": [1], "dataset": ["online"], "hlt_key": ["x"]})
    query = 'hlt_key like "caf\u00e9%"'
    with pytest.raises(QueryError) as expected:
        dqquery.to_sql(query)
    with pytest.raises(QueryError) as got:
        golden_from_table(query, table)
    assert str(got.value) == str(expected.value) and got.value.category == "unsupported"


def test_bad_table_type_unknown_engine_and_unknown_dataset(tmp_path: Any) -> None:
    table = pa.table({"run_number": [1], "ls_number": [1], "dataset": ["online"]})
    with pytest.raises(TypeError, match="a Parquet path or glob, a pyarrow Table"):
        golden_from_table("run_number > 0", [{"run_number": 1}])
    with pytest.raises(TypeError, match="not builtins.dict"):
        filter({"run_number": [1]}, "run_number > 0")
    with pytest.raises(ValueError, match="unknown engine 'sqlite': the engines are duckdb"):
        golden_from_table("run_number > 0", table, engine="sqlite")
    with pytest.raises(evaluator.UnknownDataset, match="no dataset of the table matches '/nothing/%'.*the table has 'online'"):
        golden_from_table("run_number > 0", table, dataset="/nothing/%")
    with pytest.raises(TableError, match="no dataset column: it is one dataset, so dataset='online' cannot select one"):
        golden_from_table("run_number > 0", table.drop(["dataset"]), dataset="online")
    assert golden_from_table("run_number > 0", table.drop(["dataset"])) == GoldenJSON({1: [[1, 1]]})
    with pytest.raises(TableError, match="not readable as Parquet"):
        golden_from_table("run_number > 0", str(tmp_path / "missing.parquet"))
    export_tables(_small_snapshot(), tmp_path / "range")
    with pytest.raises(evaluator.UnknownDataset, match="no dataset of the snapshot matches"):
        golden_from_table("run_number > 0", tmp_path / "range", dataset="/nothing/%")
    with pytest.raises(TableError, match="no rows to filter"):
        filter(tmp_path / "range", "run_number > 0")


def test_engine_errors_are_translated() -> None:
    connection = duckdb.connect()
    relation = connection.sql("SELECT 1::BIGINT AS run_number, 1::BIGINT AS ls_number")
    connection.close()  # the engine itself fails
    with pytest.raises(TableError, match="^DuckDB: ") as err:
        golden_from_table("run_number > 0", relation)
    assert "Traceback" not in str(err.value)
    with pytest.raises(TableError, match="column 'ls_number' holds string, not integers"):
        golden_from_table("run_number > 0", pa.table({"run_number": [1], "ls_number": ["1"]}))
    with pytest.raises(TableError, match="NULL run or lumisection number"):
        golden_from_table("run_number > 0", pa.table({"run_number": [1], "ls_number": pa.array([None], pa.int64())}))


@pytest.mark.parametrize(("query", "column", "values", "holds"), [
    ("dt-dt == GOOD", "dt-dt", [3], "int64"),  # a status column of numbers
    ("energy > 3", "energy", ["7"], "string"),  # DuckDB would say only: cannot compare VARCHAR and INTEGER_LITERAL
    ("bpix_ready", "bpix_ready", ["true"], "string"),  # DuckDB would cast 'true' to TRUE silently
    ("bpix_ready", "bpix_ready", [1], "int64"),
    ("components contains \"dt\"", "components", [[1]], "list<.*int64>"),
])
@pytest.mark.parametrize("call", ["golden", "filter"])
def test_a_column_of_the_wrong_type_is_a_located_error(query: str, column: str, values: list[Any], holds: str, call: str) -> None:
    table = pa.table({"run_number": [1], "ls_number": [1], column: values})
    with pytest.raises(ColumnTypeError, match=f"the column '{column}' of the field '{column}' holds {holds}") as err:
        golden_from_table(query, table) if call == "golden" else filter(table, query)
    assert isinstance(err.value, TableError) and err.value.category == "type-mismatch"
    assert (err.value.line, err.value.column) == (1, 1) and "^" in str(err.value)


def test_columns_of_the_schema_types_and_their_arrow_variants_are_accepted() -> None:
    table = pa.table({
        "run_number": pa.array([1, 1], pa.int32()), "ls_number": pa.array([1, 2], pa.int16()),
        "dt-dt": pa.array(["GOOD", "BAD"]).dictionary_encode(), "class": pa.array(["a", "b"], pa.large_string()),
        "energy": pa.array([6800, 6500], pa.int32()), "bpix_ready": pa.array([True, None]),
        "components": pa.array([["dt"], []], pa.large_list(pa.string())), "beam1_present": pa.nulls(2),
    })
    query = 'dt-dt == GOOD and class == "a" and energy > 6600 and bpix_ready and components contains "dt" and not beam1_present'
    assert golden_from_table(query, table) == GoldenJSON()  # beam1_present is NULL: unknown
    assert golden_from_table(query.replace(" and not beam1_present", ""), table) == GoldenJSON({1: [[1, 1]]})


NULL_BOUNDS = [([1, 1], [10, None]), ([None, 1], [50, 10]), ([1, 1], [None, None]), ([5, None], [5, None])]


@pytest.mark.parametrize(("firsts", "lasts"), NULL_BOUNDS)
def test_a_selected_range_row_with_a_null_bound_is_an_error_not_dropped(firsts: list[Any], lasts: list[Any], engine: str = "duckdb") -> None:
    """MIN and MAX skip NULLs: [1, NULL] after [1, 10] would vanish into the island [1, 10]."""
    table = pa.table({"run_number": [1, 1], "ls_first": pa.array(firsts, pa.int64()), "ls_last": pa.array(lasts, pa.int64()),
                      "dt-dt": ["GOOD", "GOOD"]})
    for query in ("dt-dt == GOOD", "dt-dt == GOOD and (lumisection_number > 3 or run_number == 1)"):  # the second cuts pieces
        with pytest.raises(TableError, match="NULL run or lumisection number"):
            golden_from_table(query, table, engine=engine)
    assert golden_from_table("dt-dt == BAD", table, engine=engine) == GoldenJSON()  # not selected: no error
    if None in firsts:  # an unknown lumisection number: the predicate on it is unknown, the row not selected
        assert golden_from_table("lumisection_number > 3", table.filter(pa.compute.is_null(table["ls_first"])), engine=engine) == GoldenJSON()


@pytest.mark.parametrize(("run", "ls"), [(0, 1), (1, 0), (-1, 1), (1, -5)])
def test_run_and_lumisection_numbers_a_golden_json_cannot_hold_are_refused(run: int, ls: int) -> None:
    with pytest.raises(GoldenJSONError, match="must be"):
        golden_from_table("run_number < 10", pa.table({"run_number": [run], "ls_number": [ls]}))


def test_tables_of_other_engines_and_lazy_frames_say_what_to_do() -> None:
    with pytest.raises(TypeError, match="not a polars LazyFrame: collect it"):
        golden_from_table("run_number > 0", pl.DataFrame({"run_number": [1], "ls_number": [1]}).lazy())


def test_a_folder_is_read_with_its_subfolders_and_hive_partitions(tmp_path: Any) -> None:
    """As Spark reads a folder: files in subfolders count (they were silently left out), key=value folders are columns."""
    for where, run in (("a.parquet", 1), ("2019/b.parquet", 2), ("2019/deeper/c.parquet", 3)):
        (tmp_path / "nested" / where).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({"run_number": [run], "ls_number": [1], "dt-dt": ["GOOD"]}), tmp_path / "nested" / where)
    assert golden_from_table("dt-dt == GOOD", tmp_path / "nested") == GoldenJSON({1: [[1, 1]], 2: [[1, 1]], 3: [[1, 1]]})
    assert filter(str(tmp_path / "nested"), "run_number > 1").num_rows == 2
    for name, run in (("A", 1), ("B", 2)):
        (tmp_path / "hive" / f"dataset={name}").mkdir(parents=True)
        pq.write_table(pa.table({"run_number": [run], "ls_number": [1], "dt-dt": ["GOOD"]}), tmp_path / "hive" / f"dataset={name}" / "p.parquet")
    assert golden_from_table("dt-dt == GOOD", tmp_path / "hive", dataset="B") == GoldenJSON({2: [[1, 1]]})


def test_without_the_spark_extra_the_message_says_how_to_install(monkeypatch: Any) -> None:
    for name in ("pyspark", "pyspark.sql"):
        monkeypatch.setitem(sys.modules, name, None)
    table = pa.table({"run_number": [1], "ls_number": [1]})
    for call in (lambda: golden_from_table("run_number > 0", table, engine="spark"),
                 lambda: filter(table, "run_number > 0", engine="spark")):
        with pytest.raises(ImportError, match=r'pip install "dqquery\[spark\]"'):
            call()


def test_without_the_sql_extra_the_message_says_how_to_install(monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)
    with pytest.raises(ImportError, match=r'pip install "dqquery\[sql\]"'):
        golden_from_table("run_number > 0", pa.table({"run_number": [1], "ls_number": [1]}))


def test_engines_are_a_table_and_the_api_is_exported() -> None:
    assert list(ENGINES)[0] == "duckdb" and ENGINES["duckdb"].dialect == "duckdb"
    assert dqquery.golden_from_table is golden_from_table and dqquery.filter is filter


# ------------------------------------------------------------------------------------------ command line


def test_cli_golden_from_a_table(tmp_path: Any, capsys: Any) -> None:
    snap = _small_snapshot()
    export_tables(snap, tmp_path / "ls", level="lumisection")
    export_tables(snap, tmp_path / "range")
    path = str(tmp_path / "ls" / "lumisections.parquet")
    expected = evaluator.golden("dt-dt == GOOD", snap)
    assert main(["golden", "dt-dt == GOOD", "--table", path]) == 0
    out, err = capsys.readouterr()
    assert GoldenJSON.from_json(out) == expected and "golden JSON: 1 runs, 10 lumisections" in err
    assert main(["golden", "dt-dt == GOOD", "--table", str(tmp_path / "range"), "--engine", "duckdb", "-o", str(tmp_path / "g.json")]) == 0
    assert GoldenJSON.load(tmp_path / "g.json") == expected and "wrote" in capsys.readouterr().err
    assert main(["golden", "dt-dt == GOOD", "--table", path, "--compare", str(tmp_path / "g.json")]) == 0
    assert main(["golden", "energy > 1 and xyz_field == 1", "--table", path]) == 2
    assert main(["golden", "dt-dt == GOOD", "--table", path, "--snapshot", "demo"]) == 2
    assert "does not go with --snapshot" in capsys.readouterr().err
    assert main(["golden", "dt-dt == GOOD", "--table", path, "--engine", "nope"]) == 2
    assert "unknown engine 'nope'" in capsys.readouterr().err
    assert main(["golden", "dt-dt == GOOD", "--table", path, "--dataset", "/nothing/%"]) == 2
    err = capsys.readouterr().err
    assert "no dataset of the table matches" in err and "Traceback" not in err
    assert main(["golden", "dt-dt == GOOD", "--engine", "duckdb", "--snapshot", "demo"]) == 2


def test_cli_compile_to_duckdb_prints_the_sql(capsys: Any) -> None:
    assert main(["compile", "--to", "sql:duckdb", "dt-dt == GOOD and not (energy > 6000)"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == dqquery.to_sql("dt-dt == GOOD and not (energy > 6000)", "duckdb")
    assert '"dt-dt" = \'GOOD\'' in out
