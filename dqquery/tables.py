"""Snapshots as Parquet tables that SQL engines, pandas and polars read (``dqquery snapshot export``).

``export_tables(snapshot, directory, level="range")`` writes the columnar snapshot's own tables (``runs``,
``units``, ``rr``, ``oms``, ``luminosity``: the schema of ``docs/columnar.md``) as Parquet files with
``meta.json``; :func:`read_range_tables` reads them back into the same :class:`~dqquery.columnar.ColumnarSnapshot`.
``level="lumisection"`` writes one flat table, ``lumisections.parquet`` (:func:`lumisection_table`): one row per
lumisection dqquery evaluates, columns named as the field catalog's short names, so a SQL ``WHERE`` written with
catalog names runs on it.

Decisions:
* One schema: the range level is the columnar file's tables, written by the columnar file's own writer
  (``columnar._table_bytes``), field metadata (``dqquery.kind``, ``dqquery.null_rows``) included, so nothing of
  the snapshot is lost; reading decodes them with the columnar reader's own decoder and validation.
* The lumisection level is exactly what :func:`dqquery.vectorized.golden` evaluates: units from
  :func:`~dqquery.vectorized.selected_units` (matching name, not deleted, with data), lumisections and values from
  :func:`~dqquery.vectorized.evaluated_view` (a unit's own RR x OMS lumisections; offline datasets read online's
  OMS values under their own; the reference's merged luminosity block). Nothing is re-derived here.
* Rows are sorted by run number, dataset name, lumisection number. Values are gathered from the columns' codes
  with array operations (no Python object per row): statuses and strings become Arrow dictionary strings, bits
  booleans, numbers int64 or float64, lists of strings ``list<string>``; a missing value is a null.
* A column's type comes from its values: integers stay int64 unless the catalog says ``float`` or a float is
  present (then float64, exact for integers up to 2^53, and a number compares the same either way). An all-null
  column takes the catalog type (string for ``status``, ``datetime``, ``any``). Dates stay the ISO text the snapshot
  holds (that is what dqquery compares). Values of several kinds in one column (text and numbers, lists of
  mixed items), or integers beyond 2^53 next to floats, have no exact SQL type: the export refuses them with a
  located :class:`~dqquery.snapshot.SnapshotError` instead of changing their meaning.
* Column names: the catalog short name of each field (``run_number``, ``ls_number``, ``dataset``, ``energy``,
  ``dt-dt``, ``cms_active``, ``recorded``); a key the catalog does not list keeps its qualified name
  (``run.oms.my_key``), which the query language accepts too. A dataset attribute called ``name`` is left out
  (``dataset.name`` is the dataset's name; the evaluator never reads the attribute). ``recorded`` and
  ``delivered`` are always present (in /pb).
* :func:`range_rows_table` is the lumisection table compressed into rows of constant values (``ls_first``/``ls_last``
  instead of ``ls_number``): the segments of :func:`~dqquery.vectorized.build_segments` (RR x OMS pieces, each
  lumisection of a luminosity block on its own), with the same value columns built by the same code
  (``_value_columns``), so the two levels cannot drift apart. :mod:`dqquery.engines` runs queries on it.
* Every file is written atomically (:func:`dqquery.files.atomic_write_bytes`); the folder is created when missing.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any, Union

import numpy as np

from .catalog import lookup
from .columnar import (
    _DECODING_ERRORS,
    _TABLES,
    FORMAT_NAME,
    FORMAT_VERSION,
    LUMINOSITY_KEYS,
    Column,
    ColumnarSnapshot,
    _check_meta,
    _check_table,
    _decode_column,
    _table_bytes,
    assembled,
    validate,
)
from .files import atomic_write_bytes
from .snapshot import Snapshot, SnapshotError
from .vectorized import build_segments, evaluated_view, selected_units

__all__ = ["LEVELS", "LUMISECTION_FILE", "export_tables", "lumisection_table", "range_rows_table", "read_range_tables"]

PathLike = Union[str, "os.PathLike[str]"]
LEVELS = ("range", "lumisection")
LUMISECTION_FILE = "lumisections.parquet"
_EXACT_INT = 2**53
_ARROW_TYPE_OF_CATALOG = {"bool": "bool", "int": "int64", "float": "float64", "string-list": "list<string>"}


def _as_columnar(snapshot: ColumnarSnapshot | Snapshot) -> ColumnarSnapshot:
    return snapshot if isinstance(snapshot, ColumnarSnapshot) else ColumnarSnapshot.from_snapshot(snapshot)


# ------------------------------------------------------------------------------------------ lumisection level


def _column_name(path: str) -> str:
    info = lookup(path)
    return info.name if info is not None and info.path == path else path


def _catalog_type(path: str) -> str:
    info = lookup(path)
    return info.type if info is not None else "any"


def _kind_of(values: list[Any]) -> str:
    """The Arrow type of a column's distinct present values, or ``""`` when no exact type holds them all."""
    if all(isinstance(v, str) for v in values):
        return "string"
    if all(type(v) is bool for v in values):
        return "bool"
    if all(type(v) in (int, float) for v in values):
        if all(type(v) is int for v in values):
            return "int64" if all(abs(v) < 2**63 for v in values) else ""
        return "float64" if all(type(v) is float or abs(v) <= _EXACT_INT for v in values) else ""
    if all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in values):
        return "list<string>"
    return ""


def _arrow_of(col: Column | None, rows: np.ndarray, path: str) -> Any:
    """The Arrow array of ``col[rows]`` (see the module docstring for the types)."""
    import pyarrow as pa

    catalog = _catalog_type(path)
    if col is None:
        kind = _ARROW_TYPE_OF_CATALOG.get(catalog, "string")
        return pa.nulls(len(rows), type=_pa_type(kind))
    if col.kind == "bool":
        data = col.data[rows]
        return pa.array(data > 0, mask=data < 0)
    if col.kind == "float":
        data = col.data[rows]
        return pa.array(data, mask=np.isnan(data))
    present = list(col.values[1:])
    codes = col.data[rows].astype(np.int64)
    missing = codes == 0
    if not present:
        return pa.nulls(len(rows), type=_pa_type(_ARROW_TYPE_OF_CATALOG.get(catalog, "string")))
    kind = _kind_of(present)
    if kind == "int64" and catalog == "float":
        kind = "float64" if all(abs(v) <= _EXACT_INT for v in present) else ""
    if not kind:
        shown = sorted({type(v).__name__ for v in present})
        raise SnapshotError(
            f"{path}: its values ({', '.join(shown)}) have no single exact column type; a flat table cannot hold them"
            " without changing what a query means (convert them in the snapshot, or export --level range)"
        )
    indices = np.where(missing, 0, codes - 1)
    if kind == "string":
        return pa.DictionaryArray.from_arrays(pa.array(indices, type=pa.int32(), mask=missing), pa.array(present, type=pa.string()))
    if kind in ("int64", "float64", "bool"):
        table = np.array([0, *present], dtype={"int64": np.int64, "float64": np.float64, "bool": bool}[kind])
        return pa.array(table[codes], mask=missing)
    return pa.array(present, type=_pa_type(kind)).take(pa.array(indices, mask=missing))


def _pa_type(kind: str) -> Any:
    import pyarrow as pa

    return {"bool": pa.bool_(), "int64": pa.int64(), "float64": pa.float64(), "string": pa.string(),
            "list<string>": pa.list_(pa.string())}[kind]


def _luminosity_arrow(key: str, view: Any, oms_row: np.ndarray, unit: np.ndarray, ls: np.ndarray, stride: int) -> Any:
    """``recorded``/``delivered`` per lumisection: the view's luminosity block where its list covers the lumisection
    (a null there is the value), else the OMS range's (``vectorized._luminosity``'s rule, on lumisections)."""
    import pyarrow as pa

    path = f"lumisection.oms.{key}"
    from_range = _arrow_of(view.oms.get(key), oms_row, path)
    lumi = view.luminosity
    if not len(lumi["unit"]) or not len(ls):
        return from_range
    lumi_key = lumi["unit"] * stride + lumi["ls"]
    wanted = unit * stride + ls
    pos = np.minimum(np.searchsorted(lumi_key, wanted), len(lumi_key) - 1)
    col: Column = lumi[key]
    covered = (lumi_key[pos] == wanted) & ~col.absent[pos]
    if not covered.any():
        return from_range
    from_block = _arrow_of(col, pos, path)
    if from_block.type != from_range.type:  # e.g. int64 block values and float64 range values: both as float64
        both = [from_block, from_range]
        if not all(pa.types.is_integer(a.type) or pa.types.is_floating(a.type) or pa.types.is_null(a.type) for a in both):
            raise SnapshotError(f"{path}: its block and range values have different types ({from_block.type}, {from_range.type})")
        from_block, from_range = (a.cast(pa.float64()) for a in both)
    import pyarrow.compute as pc

    if pa.types.is_dictionary(from_block.type):  # strings (numeric text): one plain string column
        from_block, from_range = from_block.cast(pa.string()), from_range.cast(pa.string())
    return pc.if_else(pa.array(covered), from_block, from_range)


def _value_columns(snap: ColumnarSnapshot, view: Any, unit: np.ndarray, run: np.ndarray, rr_row: np.ndarray,
                   oms_row: np.ndarray, ls: np.ndarray, stride: int) -> dict[str, Any]:
    """The catalog-named value columns of rows given by their unit, run, RR row, OMS row and (first) lumisection."""
    import pyarrow as pa

    names = pa.array(list(snap.names), type=pa.string())
    columns: dict[str, Any] = {
        "dataset": pa.DictionaryArray.from_arrays(pa.array(snap.units["name"][unit].astype(np.int32)), names),
    }
    sources: list[tuple[str, Column | None, np.ndarray]] = []
    sources += [(path, col, run) for path, col in snap.runs.items() if path.startswith(("run.oms.", "run.rr."))]
    sources += [(path, col, unit) for path, col in snap.units.items() if path.startswith("dataset.") and path != "dataset.name"]
    sources += [(f"lumisection.rr.{flag}", snap.rr[flag], rr_row) for flag in snap.rr_flags()]
    sources += [(f"lumisection.oms.{key}", view.oms[key], oms_row) for key in snap.oms_keys() if key not in LUMINOSITY_KEYS]
    for path, col, rows in sources:
        name = _column_name(path)
        if name in columns or name in ("run_number", "ls_number", "ls_first", "ls_last"):
            raise SnapshotError(f"{path}: its column name {name!r} is taken by another field")
        columns[name] = _arrow_of(col, rows, path)
    for key in LUMINOSITY_KEYS:
        columns[key] = _luminosity_arrow(key, view, oms_row, unit, ls, stride)
    return columns


def lumisection_table(snapshot: ColumnarSnapshot | Snapshot, dataset: str | None = "%") -> Any:
    """One row per lumisection dqquery evaluates in the datasets matching ``dataset`` (a pattern as for ``golden``;
    ``None``: ``online``; default every dataset), as a ``pyarrow.Table`` with catalog-named columns.

    Raises :class:`~dqquery.evaluator.UnknownDataset` when no dataset matches, and :class:`SnapshotError` for a
    column without an exact type (see the module docstring)."""
    import pyarrow as pa

    snap = _as_columnar(snapshot)
    units = selected_units(snap, dataset)
    view = evaluated_view(snap, units)
    seg = build_segments(snap, view, None, False)
    lengths = seg.ls_end - seg.ls + 1
    of_seg = np.repeat(np.arange(len(lengths)), lengths)
    ls = seg.ls[of_seg] + (np.arange(len(of_seg)) - np.repeat(np.cumsum(lengths) - lengths, lengths))
    unit, run, rr_row, oms_row = seg.unit[of_seg], seg.run[of_seg], seg.rr[of_seg], seg.oms[of_seg]
    columns: dict[str, Any] = {
        "run_number": pa.array(snap.runs["run_number"][run]),
        "ls_number": pa.array(ls.astype(np.int64)),
        **_value_columns(snap, view, unit, run, rr_row, oms_row, ls, seg.stride),
    }
    meta = {b"dqquery.level": b"lumisection", b"dqquery.luminosity_unit": b"/pb"}
    return pa.table(columns).replace_schema_metadata(meta)


def range_rows_table(snapshot: ColumnarSnapshot | Snapshot, dataset: str | None = "%") -> Any:
    """The rows of :func:`lumisection_table` compressed into runs of constant values: one row per elementary segment
    of :func:`~dqquery.vectorized.build_segments` (RR x OMS pieces, each lumisection of a luminosity block on its own),
    with ``ls_first``/``ls_last`` (inclusive) instead of ``ls_number``; the other columns are the same."""
    import pyarrow as pa

    snap = _as_columnar(snapshot)
    units = selected_units(snap, dataset)
    view = evaluated_view(snap, units)
    seg = build_segments(snap, view, None, True)
    columns: dict[str, Any] = {
        "run_number": pa.array(snap.runs["run_number"][seg.run]),
        "ls_first": pa.array(seg.ls.astype(np.int64)),
        "ls_last": pa.array(seg.ls_end.astype(np.int64)),
        **_value_columns(snap, view, seg.unit, seg.run, seg.rr, seg.oms, seg.ls, seg.stride),
    }
    meta = {b"dqquery.level": b"range", b"dqquery.luminosity_unit": b"/pb"}
    return pa.table(columns).replace_schema_metadata(meta)


# ------------------------------------------------------------------------------------------ writing and reading


def _parquet_bytes(table: Any) -> bytes:
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _folder(directory: PathLike) -> Path:
    folder = Path(directory)
    if folder.exists() and not folder.is_dir():
        raise SnapshotError(f"{folder}: exists and is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def export_tables(snapshot: ColumnarSnapshot | Snapshot, directory: PathLike, level: str = "range",
                  dataset: str | None = "%") -> list[Path]:
    """Write the snapshot's tables as Parquet files into ``directory``; returns the files written.

    ``level="range"``: ``meta.json`` and ``<table>.parquet`` for each table of the columnar schema (``dataset``
    is not used: every table is written whole). ``level="lumisection"``: ``lumisections.parquet``
    (:func:`lumisection_table` of the datasets matching ``dataset``)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    snap = _as_columnar(snapshot)
    if level == "lumisection":
        payload = _parquet_bytes(lumisection_table(snap, dataset))
        return [atomic_write_bytes(_folder(directory) / LUMISECTION_FILE, payload)]
    payloads = {f"{name}.parquet": _table_bytes(snap.__dict__[name], "parquet", "zstd") for name in _TABLES}
    meta = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "names": list(snap.names), **snap.meta}
    folder = _folder(directory)
    written = [atomic_write_bytes(folder / name, payload) for name, payload in payloads.items()]
    written.append(atomic_write_bytes(folder / "meta.json", json.dumps(meta).encode()))
    return written


def read_range_tables(directory: PathLike) -> ColumnarSnapshot:
    """The :class:`ColumnarSnapshot` of a folder written by ``export_tables(..., level="range")`` (checked as a
    columnar file is: meta, required columns, kinds, then :func:`~dqquery.columnar.validate`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = Path(directory)
    try:
        meta = _check_meta(json.loads((folder / "meta.json").read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise SnapshotError(f"{folder}: no meta.json (not a folder written by `dqquery snapshot export`)") from None
    except (UnicodeDecodeError, RecursionError, ValueError) as exc:
        raise SnapshotError(f"{folder / 'meta.json'}: {exc}") from None
    tables: dict[str, dict[str, Any]] = {}
    for name in _TABLES:
        path = folder / f"{name}.parquet"
        try:
            table = pq.read_table(path)
            tables[name] = {f.name: _decode_column(table, f) for f in table.schema}
            _check_table(name, tables[name])
        except FileNotFoundError:
            raise SnapshotError(f"{path}: the table is missing") from None
        except SnapshotError as exc:
            raise SnapshotError(f"{path}: {exc}") from None
        except (pa.ArrowException, OSError, *_DECODING_ERRORS) as exc:
            raise SnapshotError(f"{path}: not readable: {exc}") from None
    snap = assembled(tables, meta)
    try:
        validate(snap)
    except (IndexError, TypeError, ValueError) as exc:
        raise SnapshotError(f"{folder}: {exc}") from None
    return snap
