"""``dqquery snapshot export`` (dqquery.tables): Parquet tables that mean what dqquery evaluates.

The lumisection table is checked against the reference evaluator (``dqquery.evaluator.golden``) by reading it back
with pyarrow and evaluating the query row by row with ``dqquery.semantics.selects``; the range tables against the
columnar snapshot they were written from.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("pyarrow")

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

from dqquery import GoldenJSON, evaluator
from dqquery.catalog import lookup
from dqquery.cli import main
from dqquery.columnar import Column, ColumnarSnapshot
from dqquery.semantics import selects
from dqquery.snapshot import Snapshot, SnapshotError
from dqquery.strategies import queries
from dqquery.strategies_snapshot import SNAPSHOT_FIELDS
from dqquery.tables import LUMISECTION_FILE, export_tables, lumisection_table, read_range_tables

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
DATASETS = (None, "online", "%", "/PromptReco/%", "%Collisions2018(A|B)%", "/nothing/%")


def _path_of(column: str) -> str:
    info = lookup(column)
    return info.path if info is not None else column


def _golden_from_rows(table: pa.Table, query: Any) -> GoldenJSON:
    """The query evaluated on every row of the table, one row at a time (the reference meaning of one row)."""
    paths = [_path_of(name) for name in table.column_names]
    selected: dict[int, list[list[int]]] = {}
    for row in table.to_pylist():
        values = {path: row[name] for path, name in zip(paths, table.column_names)}
        if selects(query, values):
            selected.setdefault(row["run_number"], []).append([row["ls_number"], row["ls_number"]])
    return GoldenJSON(selected)


def _outcome(fn: Any) -> Any:
    try:
        return json.dumps(fn().to_dict(), sort_keys=True)
    except evaluator.UnknownDataset as exc:
        return ("UnknownDataset", str(exc))


def _read_back(tmp_path_factory: Any, snap: Snapshot, dataset: str | None) -> pa.Table:
    folder = tmp_path_factory.mktemp("ls")
    export_tables(snap, folder, level="lumisection", dataset=dataset)
    return pq.read_table(folder / LUMISECTION_FILE)


def _check_lumisection_table(tmp_path_factory: Any, snap: Snapshot, query: Any, dataset: str | None) -> None:
    expected = _outcome(lambda: evaluator.golden(query, snap, dataset))
    got = _outcome(lambda: _golden_from_rows(_read_back(tmp_path_factory, snap, dataset), query))
    assert got == expected


@SETTINGS
@given(
    snap=st.one_of(snapshots_with_deletions(), snapshots_with_deletions(evaluable=True)),
    query=st.one_of(queries(fields=SNAPSHOT_FIELDS), queries(fields=SNAPSHOT_FIELDS, max_leaves=3), queries(max_leaves=4)),
    dataset=st.sampled_from(DATASETS),
)
def test_lumisection_table_rows_select_the_reference_golden(tmp_path_factory: Any, snap: Snapshot, query: Any, dataset: str | None) -> None:
    _check_lumisection_table(tmp_path_factory, snap, query, dataset)


@SETTINGS
@given(snap=snapshots_with_deletions(evaluable=True), query=lumisection_queries(), dataset=st.sampled_from([None, "%", "/PromptReco/%"]))
def test_lumisection_table_within_ranges(tmp_path_factory: Any, snap: Snapshot, query: Any, dataset: str | None) -> None:
    """Lumisection numbers and per-lumisection luminosity (blocks over OMS ranges) on every row."""
    _check_lumisection_table(tmp_path_factory, snap, query, dataset)


@SETTINGS
@given(snap=snapshots_with_online_underneath(), query=offline_queries(), dataset=st.sampled_from(OFFLINE_PATTERNS))
def test_lumisection_table_of_offline_datasets(tmp_path_factory: Any, snap: Snapshot, query: Any, dataset: str | None) -> None:
    """Offline datasets carry online's OMS values under their own, and the merged luminosity block."""
    _check_lumisection_table(tmp_path_factory, snap, query, dataset)


def _same_content(a: ColumnarSnapshot, b: ColumnarSnapshot) -> None:
    """Every table has the same columns, index arrays and, per row, the same value and absence (codes may differ)."""
    assert a.names == b.names and a.meta == b.meta
    for name in ("runs", "units", "rr", "oms", "luminosity"):
        ta, tb = a.__dict__[name], b.__dict__[name]
        assert list(ta) == list(tb), name
        for col in ta:
            x, y = ta[col], tb[col]
            if isinstance(x, np.ndarray):
                assert isinstance(y, np.ndarray) and x.tolist() == y.tolist(), (name, col)
                continue
            assert isinstance(y, Column) and x.kind == y.kind, (name, col)
            assert [json.dumps(x.value(i), default=repr) for i in range(len(x))] == [json.dumps(y.value(i), default=repr) for i in range(len(y))]
            assert x.absent.tolist() == y.absent.tolist(), (name, col)


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(snap=st.one_of(snapshots_with_deletions(), snapshots_with_online_underneath()))
def test_range_tables_round_trip(tmp_path_factory: Any, snap: Snapshot) -> None:
    folder = tmp_path_factory.mktemp("range")
    columnar = ColumnarSnapshot.from_snapshot(snap)
    export_tables(columnar, folder)
    back = read_range_tables(folder)
    _same_content(columnar, back)
    assert json.dumps(back.to_snapshot().to_dict(), sort_keys=True) == json.dumps(snap.to_dict(), sort_keys=True)


def test_small_snapshot_tables(tmp_path: Any) -> None:
    snap = _small_snapshot()
    table = lumisection_table(snap, None)
    assert table.column_names[:3] == ["run_number", "ls_number", "dataset"]
    assert table.column("ls_number").to_pylist() == list(range(1, 13))
    assert table.column("dt-dt").to_pylist() == ["GOOD"] * 10 + [None, None]
    assert table.column("cms_active").to_pylist() == [True] * 5 + [None] * 7
    assert table.column("recorded").to_pylist() == [0.1, 0.1, 0.2, None, 0.4, *[None] * 7]
    assert table.column("energy").type == pa.float64() and table.column("fill_number").type == pa.int64()
    assert table.schema.field("dt-dt").type == pa.dictionary(pa.int32(), pa.string())
    assert lumisection_table(snap, "/PromptReco/%").num_rows == 0  # an offline dataset without OMS data evaluates nothing


def test_polars_reads_both_levels(tmp_path: Any) -> None:
    pl = pytest.importorskip("polars")
    snap = _small_snapshot()
    export_tables(snap, tmp_path / "range")
    export_tables(snap, tmp_path / "ls", level="lumisection")
    frame = pl.read_parquet(tmp_path / "ls" / LUMISECTION_FILE)
    picked = frame.filter((pl.col("dt-dt").cast(pl.String) == "GOOD") & pl.col("cms_active"))
    got = GoldenJSON.from_runs_and_lumis(picked["run_number"].to_list(), picked["ls_number"].to_list())
    assert got == evaluator.golden("dt-dt == GOOD and cms_active", snap) and got.n_lumisections == 5
    rr = pl.read_parquet(tmp_path / "range" / "rr.parquet")
    assert rr["dt-dt"].cast(pl.String).to_list() == ["BAD", "GOOD", None]  # units sorted by name: /PromptReco... before online
    assert pl.read_parquet(tmp_path / "range" / "runs.parquet")["run_number"].to_list() == [315257, 315258]


def test_mixed_types_are_refused_with_the_field_named(tmp_path: Any) -> None:
    data = _small_snapshot().to_dict()
    data["runs"][1]["oms_attributes"] = {"energy": "6.5 TeV"}
    data["lumisections"]["315258"] = data["lumisections"]["315257"]
    with pytest.raises(SnapshotError, match=r"run\.oms\.energy: its values \(float, str\) have no single exact column type"):
        export_tables(Snapshot.from_dict(data), tmp_path, level="lumisection")
    export_tables(Snapshot.from_dict(data), tmp_path)  # the range tables hold anything
    assert read_range_tables(tmp_path).to_snapshot() == Snapshot.from_dict(data)


def test_bad_input_is_a_located_error(tmp_path: Any) -> None:
    snap = _small_snapshot()
    with pytest.raises(ValueError, match="level must be one of range, lumisection"):
        export_tables(snap, tmp_path, level="run")
    (tmp_path / "file").write_text("x")
    with pytest.raises(SnapshotError, match="exists and is not a folder"):
        export_tables(snap, tmp_path / "file")
    with pytest.raises(evaluator.UnknownDataset):
        export_tables(snap, tmp_path / "x", level="lumisection", dataset="/nothing/%")
    with pytest.raises(SnapshotError, match="no meta.json"):
        read_range_tables(tmp_path)
    export_tables(snap, tmp_path / "r")
    (tmp_path / "r" / "oms.parquet").unlink()
    with pytest.raises(SnapshotError, match=r"oms\.parquet: the table is missing"):
        read_range_tables(tmp_path / "r")
    (tmp_path / "r" / "oms.parquet").write_bytes(b"not parquet")
    with pytest.raises(SnapshotError, match=r"oms\.parquet: not readable"):
        read_range_tables(tmp_path / "r")


def test_cli_export(tmp_path: Any, capsys: Any) -> None:
    source = tmp_path / "s.json"
    _small_snapshot().save(source)
    assert main(["snapshot", "export", "--format", "parquet", str(source), str(tmp_path / "r")]) == 0
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == sorted(
        ["meta.json", "runs.parquet", "units.parquet", "rr.parquet", "oms.parquet", "luminosity.parquet"])
    assert main(["snapshot", "export", "--level", "lumisection", "--dataset", "online", str(source), str(tmp_path / "l")]) == 0
    assert "lumisections.parquet" in capsys.readouterr().err
    assert pq.read_table(tmp_path / "l" / LUMISECTION_FILE).num_rows == 12
    assert main(["snapshot", "export", "--dataset", "online", str(source), str(tmp_path / "r")]) == 2
    assert "--dataset selects lumisections" in capsys.readouterr().err
    assert main(["snapshot", "export", "--level", "lumisection", "--dataset", "/nothing/%", str(source), str(tmp_path / "n")]) != 0
    err = capsys.readouterr().err
    assert "no dataset of the snapshot matches" in err and "Traceback" not in err
