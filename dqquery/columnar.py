"""Columnar snapshots: a :class:`~dqquery.snapshot.Snapshot` decoded into range-level numpy columns, and its file.

``ColumnarSnapshot.from_snapshot(snapshot)`` decodes once; ``ColumnarSnapshot.load(path)`` reads either a JSON
snapshot or the columnar file that ``save``/``dqquery snapshot convert`` write; ``to_snapshot()`` gives the
JSON-layout object back, unchanged. :func:`dqquery.vectorized.golden` evaluates a query on it with array
operations. The layout (tables, columns, codes) is documented in ``docs/columnar.md``.

Tables (one row per...): ``runs`` (run), ``units`` (run and dataset name, sorted by run number then name),
``rr`` (RR range), ``oms`` (OMS range) and ``luminosity`` (lumisection of a per-lumisection luminosity block).
The range tables are sorted by unit then ``start``, so ``unit * stride + start`` is a sorted key (the break
points the evaluator sweeps).

Decisions:
* A value column is a :class:`Column` of one of three kinds, chosen from its content: ``bool`` (int8: 1 true,
  0 false, -1 missing; OMS bits), ``float`` (float64, NaN missing; used only when every present value is a
  Python float and none is NaN, so ints stay ints) and ``codes`` (codes into a tuple of distinct values, code 0
  = missing; statuses, strings, ints, lists, anything else). Every column also keeps ``absent`` (the key was
  not there, as opposed to present with ``null``), so nothing of the JSON layout is lost.
* Memory at scale (10^6 runs, ``tests/benchmarks/bench_scale.py``): codes are the narrowest signed integer
  type (:func:`code_dtype`: int8 up to 128 values, so a status is one byte, in memory and as the Arrow
  dictionary indices of the file), and an ``absent`` with no row set is a read-only all-false view that takes
  no memory (a broadcast array; most columns of real data). Index columns (``unit``, ``start``, ``end``, ...)
  stay int64 (the evaluator's ``unit * stride + start`` keys) and are read in place from the Arrow buffers;
  value columns are decoded into fresh arrays, so each table's Arrow buffers are released once it is decoded.
  Arrow IPC members are read without threads (2-7x faster on a busy 2-core machine, measured at 10^6 runs).
  Measured: 10^6 runs load in 1.4-2.0 s at a peak RSS of 557 MB (before: 1.7 s, 1,036 MB); ten years loaded and
  evaluated peak at 172 MB (before: 202 MB).
* An RR flag is two columns: ``<flag>`` (its status) and ``<flag>#triplet`` (the triplet without its status:
  comment, cause). Run, dataset and unit keys that the evaluator does not read (``version``, ``deleted``, ...)
  are kept as one ``extra`` codes column of objects.
* Validation works on whole arrays (:func:`validate`): unique runs and (run, dataset), ``1 <= start <= end``,
  ranges of a unit increasing without overlap, indexes and codes in bounds; the first problem is reported
  with its run, dataset and range number, as :class:`~dqquery.snapshot.SnapshotError`. Every check is linear
  or a sort of the runs; what only an error message needs (a range's number within its unit) is computed for
  the failing row alone.
* The file is an uncompressed ZIP of one Arrow IPC file per table (buffers lz4-compressed) plus ``meta.json``,
  recognised from its content whatever its name. Measured in one run of ``tests/benchmarks/bench_columnar.py``
  (best of 5, warm): benchmark year JSON ``.json.gz`` 313 ms, Arrow IPC + lz4 5.2 ms (0.25 MB), uncompressed
  4.1 ms (2.4 MB), + zstd 9.4 ms, Parquet + zstd 14.9 ms (0.13 MB); demo year JSON 154 ms, Arrow IPC + lz4
  21 ms, Parquet + zstd 32 ms. Arrow IPC wins on load (buffers are read as stored, no page decoding) and lz4
  costs almost nothing over uncompressed at a tenth of the size. numpy's ``.npz`` was not taken: strings,
  dictionaries and lists would need pickle (unsafe to load) or a hand-made encoding, and other tools do not read
  it. pandas, polars and DuckDB read the members directly (``unzip`` then ``pl.read_ipc``): strings and statuses
  are Arrow dictionary columns, bits Arrow booleans, floats float64, all with nulls for missing values.
* This module is the data and its file only: the vectorized evaluator (:mod:`dqquery.vectorized`) builds on it
  and it never imports the evaluator (no ``columnar.golden``: an import cycle, docs/dev/architecture.md).
* numpy and pyarrow are imported here and in :mod:`dqquery.vectorized` only (extra ``dqquery[fast]``).
* Reading trusts nothing in the file: members must be ZIP_STORED (the writer stores them; a deflated member could
  be a zip bomb) and their declared sizes add up to at most :data:`~dqquery.limits.MAX_FILE_BYTES`, checked before
  any read, and no read goes past a declared size; ``meta.json``, the required columns of each table, their kinds,
  ``null_rows`` and the Arrow data are checked (``Table.validate()``: buffers long enough for their columns; full
  validation of each dictionary's values; dictionary indices in bounds, checked on the numpy array where the
  full validation of the whole table cost 0.24 s at 10^6 runs); whatever pyarrow, numpy or json
  still raise becomes a :class:`~dqquery.snapshot.SnapshotError` naming the file, the member and the column.
* Only ``.arrow`` members are read; Parquet members (the benchmark's comparison) need ``_from_zip(path,
  allow_parquet=True)``, so a missing member is reported under the name the file format gives it.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np

from .limits import MAX_FILE_BYTES
from .snapshot import Snapshot, SnapshotError

__all__ = ["FORMAT_NAME", "Column", "ColumnarSnapshot", "is_columnar_file", "load_any"]

PathLike = Union[str, "os.PathLike[str]"]
FORMAT_NAME = "dqquery-columnar"
FORMAT_VERSION = 1
_RANGE_KEYS = ("start", "end")
LUMINOSITY_KEYS = ("recorded", "delivered")
_TABLES = ("runs", "units", "rr", "oms", "luminosity")
DEFAULT_COMPRESSION = "lz4"


class _Absent:
    """The marker of a key that is not there (as opposed to present with ``null``)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()


# ------------------------------------------------------------------------------------------ columns


def code_dtype(n_values: int) -> np.dtype:
    """The narrowest signed integer type of codes ``0 .. n_values - 1`` (int8 up to 128 values)."""
    for dtype in (np.int8, np.int16, np.int32):
        if n_values - 1 <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise SnapshotError(f"a column has {n_values} distinct values; at most {np.iinfo(np.int32).max + 1} are supported")


def _compact(flags: np.ndarray) -> np.ndarray:
    """``flags`` itself, or a read-only all-false view that takes no memory when no flag is set (most ``absent``)."""
    return flags if flags.any() else np.broadcast_to(np.False_, flags.shape)


_SCALARS = (str, int, bool, type(None))  # not float: 0.0 == -0.0 would share a code
_KEY_ENCODER = json.JSONEncoder(sort_keys=True, default=repr)  # one encoder: json.dumps with options builds one per call


def _value_key(value: Any) -> Any:
    """A dictionary key that keeps types apart (1, 1.0 and True are different values) and accepts lists.

    An object of strings, ints, booleans and nulls (an RR triplet, most ``extra`` objects) is keyed by its items
    in order, types included (``from_snapshot`` 25% faster than with JSON text keys); anything else unhashable
    by its JSON text."""
    if type(value) is dict and all(type(v) in _SCALARS for v in value.values()):
        return (dict, tuple([(k, type(v), v) for k, v in value.items()]))
    try:
        hash(value)
    except TypeError:
        return ("json", type(value).__name__, _KEY_ENCODER.encode(value))
    return (type(value), value)


@dataclass(frozen=True)
class Column:
    """One value column: ``kind`` (``bool``, ``float`` or ``codes``), ``data``, ``values`` (codes only; index 0 is
    ``None``) and ``absent`` (the key was not there). Missing (``null`` or absent) is -1 / NaN / code 0."""

    kind: str
    data: np.ndarray
    absent: np.ndarray
    values: tuple[Any, ...] = ()

    def __len__(self) -> int:
        return len(self.data)

    @classmethod
    def encode(cls, items: Sequence[Any]) -> Column:
        """Encode Python values (``None`` null, :data:`ABSENT` absent) into the narrowest exact kind."""
        absent = _compact(np.fromiter((v is ABSENT for v in items), dtype=bool, count=len(items)))
        present = [v for v in items if v is not None and v is not ABSENT]
        if present and all(v is True or v is False for v in present):
            data = np.fromiter((-1 if v is None or v is ABSENT else int(v) for v in items), dtype=np.int8, count=len(items))
            return cls("bool", data, absent)
        if present and all(type(v) is float and not math.isnan(v) for v in present):
            data = np.fromiter((math.nan if v is None or v is ABSENT else v for v in items), dtype=np.float64, count=len(items))
            return cls("float", data, absent)
        values: list[Any] = [None]
        index: dict[Any, int] = {}
        codes = np.zeros(len(items), dtype=np.int32)
        for i, v in enumerate(items):
            if v is None or v is ABSENT:
                continue
            key = _value_key(v)
            code = index.get(key)
            if code is None:
                code = index[key] = len(values)
                values.append(v)
            codes[i] = code
        return cls("codes", codes.astype(code_dtype(len(values))), absent, tuple(values))

    def missing(self) -> np.ndarray:
        """Rows whose value is ``null`` or absent."""
        if self.kind == "bool":
            return self.data < 0
        if self.kind == "float":
            return np.isnan(self.data)
        return self.data == 0

    def distinct(self) -> tuple[list[Any], np.ndarray]:
        """``(values, index)``: the distinct Python values (``None`` for missing) and each row's position in them.

        The evaluator computes a predicate once per distinct value and gathers it with ``index``."""
        if self.kind == "bool":
            return [None, False, True], self.data.astype(np.intp) + 1
        if self.kind == "float":
            uniq, inverse = np.unique(self.data, return_inverse=True)
            return [None if math.isnan(x) else x for x in uniq.tolist()], inverse.reshape(-1)
        return list(self.values), self.data

    def value(self, i: int) -> Any:
        """The Python value of row ``i`` (:data:`ABSENT` when the key was not there)."""
        if self.absent[i]:
            return ABSENT
        x = self.data[i]
        if self.kind == "bool":
            return None if x < 0 else bool(x)
        if self.kind == "float":
            return None if math.isnan(x) else float(x)
        return self.values[int(x)]

    def take(self, index: np.ndarray) -> Column:
        return Column(self.kind, self.data[index], self.absent[index], self.values)


def _encode_table(rows: Sequence[dict[str, Any]], prefix: str = "") -> dict[str, Column]:
    """One :class:`Column` per key of a list of dicts (absent where a dict lacks the key)."""
    keys: dict[str, None] = {}
    for r in rows:
        for k in r:
            keys.setdefault(k, None)
    return {prefix + k: Column.encode([r.get(k, ABSENT) for r in rows]) for k in sorted(keys)}


# ------------------------------------------------------------------------------------------ the snapshot


@dataclass
class ColumnarSnapshot:
    """A snapshot as range-level columns (see the module docstring and ``docs/columnar.md``).

    ``runs``: ``run_number`` (int64), ``deleted`` (bool), ``in_lumisections`` (bool), ``extra`` and one
    :class:`Column` per ``run.oms.<key>`` / ``run.rr.<key>``. ``units``: ``run`` (index into runs), ``name``
    (code into ``names``), ``dataset_position`` (index into the snapshot's ``datasets`` list, -1 without a
    dataset object), ``deleted``, ``has_data``, ``lumi_start`` (0 without a luminosity block),
    ``lumi_len_recorded``/``lumi_len_delivered`` (-1 without that list), ``extra``, ``lumi_extra``,
    ``dataset_extra`` and ``dataset.<key>`` columns. ``rr``/``oms``: ``unit``, ``start``, ``end`` and value
    columns. ``luminosity``: ``unit``, ``ls``, ``recorded``, ``delivered``.
    """

    runs: dict[str, Any]
    units: dict[str, Any]
    rr: dict[str, Any]
    oms: dict[str, Any]
    luminosity: dict[str, Any]
    names: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------------------ sizes and helpers

    @property
    def n_runs(self) -> int:
        return len(self.runs["run_number"])

    @property
    def n_units(self) -> int:
        return len(self.units["run"])

    def rr_flags(self) -> list[str]:
        """The RR flag names (columns of ``rr`` holding statuses)."""
        return [k for k in self.rr if k not in ("unit", "start", "end") and not k.endswith("#triplet")]

    def oms_keys(self) -> list[str]:
        return [k for k in self.oms if k not in ("unit", "start", "end")]

    def stride(self) -> int:
        """A multiplier that keeps ``unit * stride + lumisection`` keys of different units apart."""
        ends = [self.rr["end"], self.oms["end"], self.luminosity["ls"]]
        top = max((int(a.max()) for a in ends if len(a)), default=0)
        return top + 2

    # ------------------------------------------------------------------------------ decoding

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot) -> ColumnarSnapshot:
        """Decode a validated :class:`Snapshot` (one pass over its ranges)."""
        run_objs = snapshot.runs
        run_index = {r.run_number: i for i, r in enumerate(run_objs)}
        run_extra = [r.model_extra or {} for r in run_objs]
        runs: dict[str, Any] = {
            "run_number": np.array([r.run_number for r in run_objs], dtype=np.int64),
            "deleted": np.array([e.get("deleted") is True for e in run_extra], dtype=bool),
            "in_lumisections": np.array([r.run_number in snapshot.lumisections for r in run_objs], dtype=bool),
            "extra": Column.encode(run_extra),
        }
        runs.update(_encode_table([r.oms_attributes for r in run_objs], "run.oms."))
        runs.update(_encode_table([r.rr_attributes for r in run_objs], "run.rr."))

        # Units: every (run, name) of the datasets list and of lumisections, sorted by run number then name.
        keys: dict[tuple[int, str], int] = {}
        for i, ds in enumerate(snapshot.datasets):
            keys[(ds.run_number, ds.name)] = i
        for run_number, per_dataset in snapshot.lumisections.items():
            for name in per_dataset:
                keys.setdefault((run_number, name), -1)
        order = sorted(keys)
        names = tuple(sorted({name for _, name in order}))
        name_code = {n: i for i, n in enumerate(names)}
        datasets = snapshot.datasets
        unit_ds = [datasets[keys[k]] if keys[k] >= 0 else None for k in order]
        unit_data = [snapshot.lumisections.get(run, {}).get(name) for run, name in order]
        blocks = [d.luminosity if d is not None else None for d in unit_data]
        units: dict[str, Any] = {
            "run": np.array([run_index[run] for run, _ in order], dtype=np.int64),
            "name": np.array([name_code[name] for _, name in order], dtype=np.int64),
            "dataset_position": np.array([keys[k] for k in order], dtype=np.int64),
            "deleted": np.array([ds is not None and (ds.model_extra or {}).get("deleted") is True for ds in unit_ds], dtype=bool),
            "has_data": np.array([d is not None for d in unit_data], dtype=bool),
            "lumi_start": np.array([b["start"] if b else 0 for b in blocks], dtype=np.int64),
            **{
                f"lumi_len_{key}": np.array([len(b[key]) if b and isinstance(b.get(key), list) else -1 for b in blocks], dtype=np.int64)
                for key in LUMINOSITY_KEYS
            },
            "extra": Column.encode([(d.model_extra or {}) if d is not None else ABSENT for d in unit_data]),
            "lumi_extra": Column.encode(
                [{k: v for k, v in b.items() if k != "start" and not (k in LUMINOSITY_KEYS and isinstance(v, list))} if b else ABSENT
                 for b in blocks]
            ),
            "dataset_extra": Column.encode([(ds.model_extra or {}) if ds is not None else ABSENT for ds in unit_ds]),
        }
        units.update(_encode_table([ds.dataset_attributes if ds is not None else {} for ds in unit_ds], "dataset."))

        rr_unit: list[int] = []
        rr_rows: list[dict[str, Any]] = []
        oms_unit: list[int] = []
        oms_rows: list[dict[str, Any]] = []
        lumi_unit: list[int] = []
        lumi_ls: list[int] = []
        lumi_values: dict[str, list[Any]] = {k: [] for k in LUMINOSITY_KEYS}
        for u, data in enumerate(unit_data):
            if data is None:
                continue
            rr_unit.extend([u] * len(data.rr))
            rr_rows.extend(data.rr)
            oms_unit.extend([u] * len(data.oms))
            oms_rows.extend(data.oms)
            block = data.luminosity
            if block:
                lists = {k: block.get(k) if isinstance(block.get(k), list) else None for k in LUMINOSITY_KEYS}
                n = max((len(v) for v in lists.values() if v is not None), default=0)
                lumi_unit.extend([u] * n)
                lumi_ls.extend(range(block["start"], block["start"] + n))
                for k, v in lists.items():
                    have = v or []
                    lumi_values[k].extend(have[i] if i < len(have) else ABSENT for i in range(n))
        rr: dict[str, Any] = {
            "unit": np.array(rr_unit, dtype=np.int64),
            "start": np.array([r["start"] for r in rr_rows], dtype=np.int64),
            "end": np.array([r["end"] for r in rr_rows], dtype=np.int64),
        }
        flags = sorted({k for r in rr_rows for k in r if k not in _RANGE_KEYS})
        for flag in flags:
            triplets = [r.get(flag, ABSENT) for r in rr_rows]
            rr[flag] = Column.encode([t.get("status", ABSENT) if t is not ABSENT else ABSENT for t in triplets])
            rr[flag + "#triplet"] = Column.encode(
                [{k: v for k, v in t.items() if k != "status"} if t is not ABSENT else ABSENT for t in triplets]
            )
        oms: dict[str, Any] = {
            "unit": np.array(oms_unit, dtype=np.int64),
            "start": np.array([r["start"] for r in oms_rows], dtype=np.int64),
            "end": np.array([r["end"] for r in oms_rows], dtype=np.int64),
        }
        oms.update(_encode_table([{k: v for k, v in r.items() if k not in _RANGE_KEYS} for r in oms_rows]))
        luminosity: dict[str, Any] = {
            "unit": np.array(lumi_unit, dtype=np.int64),
            "ls": np.array(lumi_ls, dtype=np.int64),
            **{k: Column.encode(v) for k, v in lumi_values.items()},
        }
        return cls(runs, units, rr, oms, luminosity, names, {"snapshot_extra": snapshot.model_extra or {}})

    # ------------------------------------------------------------------------------ back to JSON layout

    def to_snapshot(self) -> Snapshot:
        """The :class:`Snapshot` this was decoded from (every key and value kept)."""
        runs = []
        run_numbers = self.runs["run_number"].tolist()
        run_cols = {k: v for k, v in self.runs.items() if k.startswith("run.")}
        for i, number in enumerate(run_numbers):
            obj: dict[str, Any] = {"run_number": number, "oms_attributes": {}, "rr_attributes": {}}
            for name, col in run_cols.items():
                v = col.value(i)
                if v is not ABSENT:
                    side = "oms_attributes" if name.startswith("run.oms.") else "rr_attributes"
                    obj[side][name[8:] if side == "oms_attributes" else name[7:]] = v
            obj.update(self.runs["extra"].value(i))
            runs.append(obj)
        positions = self.units["dataset_position"].tolist()
        unit_run = self.units["run"].tolist()
        unit_name = self.units["name"].tolist()
        ds_cols = {k[8:]: v for k, v in self.units.items() if k.startswith("dataset.")}
        datasets: list[tuple[int, dict[str, Any]]] = []
        for u, pos in enumerate(positions):
            if pos < 0:
                continue
            attrs = {k: c.value(u) for k, c in ds_cols.items()}
            obj = {"run_number": run_numbers[unit_run[u]], "name": self.names[unit_name[u]],
                   "dataset_attributes": {k: v for k, v in attrs.items() if v is not ABSENT}}
            obj.update(self.units["dataset_extra"].value(u))
            datasets.append((pos, obj))
        lumisections: dict[str, dict[str, Any]] = {
            str(n): {} for n, flag in zip(run_numbers, self.runs["in_lumisections"].tolist()) if flag
        }
        rr_bounds = _unit_bounds(self.rr["unit"], self.n_units)
        oms_bounds = _unit_bounds(self.oms["unit"], self.n_units)
        lumi_bounds = _unit_bounds(self.luminosity["unit"], self.n_units)
        flags = self.rr_flags()
        oms_keys = self.oms_keys()
        has_data = self.units["has_data"].tolist()
        for u in range(self.n_units):
            if not has_data[u]:
                continue
            entry: dict[str, Any] = {"rr": [], "oms": []}
            for i in range(rr_bounds[u], rr_bounds[u + 1]):
                rng: dict[str, Any] = {}
                for flag in flags:
                    triplet = self.rr[flag + "#triplet"].value(i)
                    if triplet is ABSENT:
                        continue
                    status = self.rr[flag].value(i)
                    rng[flag] = {"status": status, **triplet} if status is not ABSENT else dict(triplet)
                rng["start"], rng["end"] = int(self.rr["start"][i]), int(self.rr["end"][i])
                entry["rr"].append(rng)
            for i in range(oms_bounds[u], oms_bounds[u + 1]):
                rng = {k: v for k in oms_keys if (v := self.oms[k].value(i)) is not ABSENT}
                rng["start"], rng["end"] = int(self.oms["start"][i]), int(self.oms["end"][i])
                entry["oms"].append(rng)
            start = int(self.units["lumi_start"][u])
            if start:
                block: dict[str, Any] = {"start": start, **self.units["lumi_extra"].value(u)}
                a = lumi_bounds[u]
                for key in LUMINOSITY_KEYS:
                    n = int(self.units[f"lumi_len_{key}"][u])
                    if n >= 0:
                        block[key] = [self.luminosity[key].value(i) for i in range(a, a + n)]
                entry["luminosity"] = block
            extra = self.units["extra"].value(u)
            entry.update(extra if extra is not ABSENT else {})
            lumisections.setdefault(str(run_numbers[unit_run[u]]), {})[self.names[unit_name[u]]] = entry
        data = {
            "runs": runs,
            "datasets": [obj for _, obj in sorted(datasets, key=lambda p: p[0])],
            "lumisections": lumisections,
            **self.meta.get("snapshot_extra", {}),
        }
        return Snapshot.from_dict(data)

    # ------------------------------------------------------------------------------ files

    def save(self, path: PathLike) -> None:
        """Write the columnar file atomically (see the module docstring for the container)."""
        from .files import atomic_write_bytes

        atomic_write_bytes(path, _to_zip(self))

    @classmethod
    def load(cls, path: PathLike) -> ColumnarSnapshot:
        """Read a columnar file, or decode a JSON snapshot (plain or gzip-compressed)."""
        if is_columnar_file(path):
            try:
                return _from_zip(path)
            except SnapshotError as exc:
                raise SnapshotError(f"{path}: {exc}") from None
        return cls.from_snapshot(Snapshot.load(path))


def _unit_bounds(unit: np.ndarray, n_units: int) -> list[int]:
    """``bounds[u]:bounds[u + 1]`` are the rows of unit ``u`` in a table sorted by unit."""
    return np.searchsorted(unit, np.arange(n_units + 1), side="left").tolist()


# ------------------------------------------------------------------------------------------ validation


def validate(snap: ColumnarSnapshot) -> None:
    """Check the invariants of :class:`Snapshot` on whole arrays; raise :class:`SnapshotError` at the first problem."""
    runs = snap.runs["run_number"]
    n_runs, n_units = len(runs), snap.n_units
    if len(runs) and runs.min() < 1:
        raise SnapshotError(f"runs[{int(np.argmin(runs))}]: run_number must be >= 1")
    uniq, counts = np.unique(runs, return_counts=True)
    if (counts > 1).any():
        raise SnapshotError(f"run {int(uniq[np.argmax(counts > 1)])} appears twice")
    for name, arr in snap.runs.items():
        if len(arr) != n_runs:
            raise SnapshotError(f"runs: column {name!r} has {len(arr)} rows, not {n_runs}")
    for name, arr in snap.units.items():
        if len(arr) != n_units:
            raise SnapshotError(f"units: column {name!r} has {len(arr)} rows, not {n_units}")
    unit_run, unit_name = snap.units["run"], snap.units["name"]
    if n_units and (unit_run.min() < 0 or unit_run.max() >= n_runs or unit_name.min() < 0 or unit_name.max() >= len(snap.names)):
        raise SnapshotError("units: a run or dataset-name index is out of range")
    if n_units:
        key = runs[unit_run] * (len(snap.names) + 1) + unit_name
        if (np.diff(key) <= 0).any():
            u = int(np.argmax(np.diff(key) <= 0)) + 1
            raise SnapshotError(f"{_unit_label(snap, u)}: units must be unique and sorted by run number then name")
    for table_name in ("rr", "oms"):
        table = snap.__dict__[table_name]
        _check_range_table(snap, table_name, table)
    lumi = snap.luminosity
    for name, arr in lumi.items():
        if len(arr) != len(lumi["unit"]):
            raise SnapshotError(f"luminosity: column {name!r} has {len(arr)} rows, not {len(lumi['unit'])}")
    if len(lumi["unit"]) and (lumi["unit"].min() < 0 or lumi["unit"].max() >= n_units):
        raise SnapshotError("luminosity: a unit index is out of range")
    if (snap.units["lumi_start"] < 0).any():
        u = int(np.argmax(snap.units["lumi_start"] < 0))
        raise SnapshotError(f"{_unit_label(snap, u)}, luminosity: 'start' must be an integer >= 1")
    lengths = np.maximum(np.maximum(snap.units["lumi_len_recorded"], snap.units["lumi_len_delivered"]), 0)
    lengths[snap.units["lumi_start"] == 0] = 0
    unit = lumi["unit"]
    counts = np.bincount(unit, minlength=n_units) if len(unit) else np.zeros(n_units, dtype=np.int64)
    if (np.diff(unit) < 0).any() or (counts != lengths).any():
        raise SnapshotError("luminosity: rows must be sorted by unit, one per lumisection of each block")
    if len(unit):
        first = _first_of_group(unit)
        expected = snap.units["lumi_start"][unit] + (np.arange(len(unit)) - first)
        if (lumi["ls"] != expected).any():
            u = int(unit[np.argmax(lumi["ls"] != expected)])
            raise SnapshotError(f"{_unit_label(snap, u)}, luminosity: lumisection numbers must follow the block's start")


def _first_of_group(sorted_keys: np.ndarray) -> np.ndarray:
    """For each row of a sorted array, the row where its run of equal keys begins (linear, unlike searchsorted)."""
    n = len(sorted_keys)
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    return np.repeat(starts, np.diff(np.r_[starts, n]))


def _unit_label(snap: ColumnarSnapshot, u: int) -> str:
    run = int(snap.runs["run_number"][snap.units["run"][u]])
    return f"run {run}, dataset {snap.names[int(snap.units['name'][u])]!r}"


def _check_range_table(snap: ColumnarSnapshot, side: str, table: dict[str, Any]) -> None:
    unit, start, end = table["unit"], table["start"], table["end"]
    n = len(unit)
    for name, arr in table.items():
        if len(arr) != n:
            raise SnapshotError(f"{side}: column {name!r} has {len(arr)} rows, not {n}")
    if not n:
        return
    if unit.min() < 0 or unit.max() >= snap.n_units:
        raise SnapshotError(f"{side}: a unit index is out of range")
    if (np.diff(unit) < 0).any():
        raise SnapshotError(f"{side}: rows must be sorted by unit")
    problems = [
        (start < 1, "lumisection numbers start at 1"),
        (start > end, "start is after end (inverted range)"),
        (np.r_[False, (unit[1:] == unit[:-1]) & (start[1:] <= end[:-1])],
         "overlaps or precedes the previous range; ranges must be in increasing order without overlap"),
    ]
    bad = np.zeros(n, dtype=bool)
    for mask, _ in problems:
        bad |= mask
    if bad.any():
        i = int(np.argmax(bad))
        reason = next(text for mask, text in problems if mask[i])
        u = int(unit[i])
        raise SnapshotError(
            f"{_unit_label(snap, u)}, {side} range #{i - int(np.searchsorted(unit, u))} (start {int(start[i])}, end {int(end[i])}): {reason}"
        )


# ------------------------------------------------------------------------------------------ the file


def is_columnar_file(path: PathLike) -> bool:
    """Whether a file is meant as a columnar snapshot: a ZIP (JSON snapshots are text or gzip); ``load`` then checks
    that its ``meta.json`` names :data:`FORMAT_NAME`."""
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != b"PK\x03\x04":
                return False
    except OSError:
        return False
    return True


def _arrow_column(col: Any) -> tuple[Any, dict[bytes, bytes]]:
    """An Arrow array for a numpy array or :class:`Column`, and the field metadata that restores it exactly."""
    import pyarrow as pa

    if isinstance(col, np.ndarray):
        return pa.array(col), {}
    missing = col.missing()
    meta = {b"dqquery.kind": col.kind.encode()}
    null_present = missing & ~col.absent
    if null_present.any():  # the default for a missing row is "absent": list the rows that hold an explicit null
        meta[b"dqquery.null_rows"] = json.dumps(np.flatnonzero(null_present).tolist()).encode()
    if col.kind == "bool":
        return pa.array(col.data > 0, mask=missing), meta
    if col.kind == "float":
        return pa.array(col.data, mask=missing), meta
    dictionary = list(col.values[1:])
    index_type = pa.from_numpy_dtype(code_dtype(len(dictionary)))  # the narrowest: int8 for up to 128 values
    indices = pa.array(np.where(missing, 0, col.data - 1), type=index_type, mask=missing)  # 0 under nulls: readers check bounds
    if all(isinstance(v, str) for v in dictionary):
        values = pa.array(dictionary, type=pa.string())
    elif all(type(v) is int and abs(v) < 2**63 for v in dictionary):
        values = pa.array(dictionary, type=pa.int64())
    else:
        values = pa.array([json.dumps(v) for v in dictionary], type=pa.string())
        meta[b"dqquery.encoding"] = b"json"
    return pa.DictionaryArray.from_arrays(indices, values), meta


def _bits(buffer: Any, offset: int, n: int) -> np.ndarray:
    """An Arrow bitmap (validity or boolean values) as a numpy bool array."""
    raw = np.frombuffer(buffer, dtype=np.uint8)
    return np.unpackbits(raw, bitorder="little")[offset : offset + n].astype(bool)


def _arrow_numpy(array: Any, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(values, missing)`` of a primitive Arrow array, read from its buffers.

    Decision: ``Array.to_numpy`` imports pandas on every call path (0.5 s); the buffers are what it would read."""
    import pyarrow as pa

    n, offset = len(array), array.offset
    validity, data = array.buffers()[:2]
    missing = ~_bits(validity, offset, n) if validity is not None and array.null_count else np.broadcast_to(np.False_, (n,))
    if pa.types.is_boolean(array.type):
        values = _bits(data, offset, n) if n else np.zeros(0, dtype=bool)
    else:
        values = np.frombuffer(data, dtype=array.type.to_pandas_dtype(), count=offset + n)[offset:] if n else np.zeros(0, dtype=dtype)
    return values.astype(dtype, copy=False), missing


def _from_arrow(array: Any, meta: dict[bytes, bytes] | None) -> Any:
    """The inverse of :func:`_arrow_column`."""
    import pyarrow as pa

    meta = meta or {}
    kind = meta.get(b"dqquery.kind", b"").decode()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks != 1 else array.chunk(0)
    if kind == "codes" and not isinstance(array.type, pa.DictionaryType):
        array = array.dictionary_encode()  # Parquet keeps dictionaries of strings only
    if not kind:
        if not (pa.types.is_integer(array.type) or pa.types.is_boolean(array.type)):
            raise SnapshotError(f"an index column (no dqquery.kind) has Arrow type {array.type}")
        values, missing = _arrow_numpy(array, np.int64 if not pa.types.is_boolean(array.type) else bool)
        if missing.any():
            raise SnapshotError("an index column has missing values")
        return values
    if kind not in ("bool", "float", "codes"):
        raise SnapshotError(f"unknown column kind {kind!r}")
    n = len(array)
    if kind == "codes":
        if not isinstance(array.type, pa.DictionaryType):
            raise SnapshotError(f"a column of kind 'codes' has Arrow type {array.type}")
        array.dictionary.validate(full=True)  # offsets and UTF-8 of the values (small) before reading them
        dictionary = array.dictionary.to_pylist()
        indices, missing = _arrow_numpy(array.indices, array.indices.type.to_pandas_dtype())
        present = indices[~missing] if missing.any() else indices  # whatever lies under a null is not read
        if len(present) and (int(present.max()) >= len(dictionary) or int(present.min()) < 0):
            raise SnapshotError("a code is out of its dictionary")
        values = indices.astype(code_dtype(len(dictionary) + 1))  # code = index + 1, in a fresh array (0 = missing)
        values += 1
        if meta.get(b"dqquery.encoding") == b"json":
            dictionary = [json.loads(v) for v in dictionary]
    else:
        values, missing = _arrow_numpy(array, np.int8 if kind == "bool" else np.float64)
    if missing.any():
        if not values.flags.writeable:  # a float column read in place from its Arrow buffer
            values = values.copy()
        values[missing] = {"codes": 0, "bool": -1, "float": math.nan}[kind]
    absent = missing
    if b"dqquery.null_rows" in meta:
        rows = json.loads(meta[b"dqquery.null_rows"])
        if not isinstance(rows, list) or not all(type(r) is int and 0 <= r < n for r in rows):
            raise SnapshotError(f"dqquery.null_rows must list row numbers from 0 to {n - 1}")
        if rows:
            absent = missing.copy()
            absent[np.array(rows, dtype=np.intp)] = False
    return Column(kind, values, _compact(absent), (None, *dictionary) if kind == "codes" else ())


def _table_bytes(columns: dict[str, Any], member_format: str, compression: str | None) -> bytes:
    import pyarrow as pa

    arrays, fields = [], []
    for name, col in columns.items():
        array, meta = _arrow_column(col)
        arrays.append(array)
        fields.append(pa.field(name, array.type, metadata=meta or None))
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    sink = io.BytesIO()
    if member_format == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, sink, compression=compression or "none")
    else:
        options = pa.ipc.IpcWriteOptions(compression=compression)
        with pa.ipc.new_file(sink, table.schema, options=options) as writer:
            writer.write_table(table)
    return sink.getvalue()


def _read_bytes(zf: zipfile.ZipFile, member: str) -> bytes:
    """A member's bytes, never more than its declared size (checked by :func:`_check_members` beforehand)."""
    try:
        info = zf.getinfo(member)
    except KeyError:
        raise SnapshotError(f"{member}: the member is missing from the file") from None
    with zf.open(info) as fh:
        data = fh.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise SnapshotError(f"{member}: holds {len(data)} bytes, not the declared {info.file_size}")
    return data


def _check_members(zf: zipfile.ZipFile) -> None:
    """Refuse compressed members and declared sizes over :data:`~dqquery.limits.MAX_FILE_BYTES`, before reading."""
    total = 0
    for info in zf.infolist():
        if info.compress_type != zipfile.ZIP_STORED:
            raise SnapshotError(f"{info.filename}: the member is compressed (method {info.compress_type}); {FORMAT_NAME} members are stored")
        if info.file_size != info.compress_size:
            raise SnapshotError(f"{info.filename}: a stored member declares {info.file_size} bytes but holds {info.compress_size}")
        total += info.file_size
        if info.file_size > MAX_FILE_BYTES or total > MAX_FILE_BYTES:
            raise SnapshotError(f"{info.filename}: the members add up to more than {MAX_FILE_BYTES} bytes (the limit on snapshot files)")


def _read_member(zf: zipfile.ZipFile, name: str, allow_parquet: bool = False) -> Any:
    """The Arrow table of member ``<name>.arrow``; ``allow_parquet`` (the benchmark only) also reads ``<name>.parquet``."""
    import pyarrow as pa

    member = f"{name}.arrow"
    if allow_parquet and member not in zf.namelist() and f"{name}.parquet" in zf.namelist():
        import pyarrow.parquet as pq

        return pq.read_table(pa.py_buffer(_read_bytes(zf, f"{name}.parquet")))
    options = pa.ipc.IpcReadOptions(use_threads=False)  # threads cost 2-7x on a busy machine (measured at 10^6 runs)
    table = pa.ipc.open_file(pa.py_buffer(_read_bytes(zf, member)), options=options).read_all()
    table.validate()  # buffers as long as the columns before numpy reads them; _from_arrow checks dictionaries and indices
    return table


def _to_zip(snap: ColumnarSnapshot, member_format: str = "arrow", compression: str | None = DEFAULT_COMPRESSION) -> bytes:
    """The file's bytes; ``member_format``/``compression`` other than the defaults exist for the benchmark."""
    meta = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "names": list(snap.names), **snap.meta}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("meta.json", json.dumps(meta))
        for name in _TABLES:
            zf.writestr(f"{name}.{member_format}", _table_bytes(snap.__dict__[name], member_format, compression))
    return buffer.getvalue()


_INDEX_COLUMNS = {
    "runs": ("run_number", "deleted", "in_lumisections"),
    "units": ("run", "name", "dataset_position", "deleted", "has_data", "lumi_start", "lumi_len_recorded", "lumi_len_delivered"),
    "rr": ("unit", "start", "end"),
    "oms": ("unit", "start", "end"),
    "luminosity": ("unit", "ls"),
}
"""Per table, the columns stored without a kind (plain integer or boolean arrays); all others are :class:`Column`."""
_OBJECT_COLUMNS = {"runs": ("extra",), "units": ("extra", "lumi_extra", "dataset_extra"), "luminosity": LUMINOSITY_KEYS}
"""Per table, the :class:`Column` columns every file has (``extra`` ones hold JSON objects)."""
_DECODING_ERRORS = (ArithmeticError, AttributeError, IndexError, KeyError, NotImplementedError, RecursionError, TypeError, ValueError)
"""What pyarrow, numpy and json raise on hostile members; each becomes a :class:`SnapshotError` naming the member."""


def _check_meta(meta: Any) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise SnapshotError(f"meta.json: must be a JSON object, not {type(meta).__name__}")
    if meta.get("format") != FORMAT_NAME:
        raise SnapshotError(f"not a {FORMAT_NAME} file (meta.json names {meta.get('format')!r})")
    if meta.get("version") != FORMAT_VERSION:
        raise SnapshotError(f"{FORMAT_NAME} version {meta.get('version')!r} is not supported (this dqquery reads {FORMAT_VERSION})")
    names = meta.get("names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise SnapshotError("meta.json: 'names' must be a list of dataset names (strings)")
    if not isinstance(meta.get("snapshot_extra", {}), dict):
        raise SnapshotError("meta.json: 'snapshot_extra' must be a JSON object")
    return meta


def _check_table(name: str, columns: dict[str, Any]) -> None:
    """Required columns present, of the right kind (index arrays vs :class:`Column`), ``extra`` values objects."""
    index = _INDEX_COLUMNS[name]
    for col in (*index, *_OBJECT_COLUMNS.get(name, ())):
        if col not in columns:
            raise SnapshotError(f"the column {col!r} is missing")
    for col, value in columns.items():
        if (col in index) != isinstance(value, np.ndarray):
            raise SnapshotError(f"column {col!r}: {'an index column must not have' if col in index else 'a value column needs'} a dqquery.kind")
        if col.endswith("extra") and not all(v is None or isinstance(v, dict) for v in value.values):
            raise SnapshotError(f"column {col!r}: values must be JSON objects")
    if name == "rr":
        for flag in [k for k in columns if k not in index and not k.endswith("#triplet")]:
            if f"{flag}#triplet" not in columns:
                raise SnapshotError(f"the column {flag + '#triplet'!r} is missing")


def _decode_column(table: Any, field_: Any) -> Any:
    try:
        return _from_arrow(table.column(field_.name), field_.metadata)
    except SnapshotError as exc:
        raise SnapshotError(f"column {field_.name!r}: {exc}") from None


def _from_zip(path: PathLike, allow_parquet: bool = False) -> ColumnarSnapshot:
    """Read a columnar file: sizes checked before reading, every member and column checked before use.

    ``allow_parquet`` accepts Parquet members (written only by ``tests/benchmarks/bench_columnar.py``)."""
    import pyarrow as pa

    tables: dict[str, dict[str, Any]] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            _check_members(zf)
            meta_bytes = _read_bytes(zf, "meta.json")
            try:
                meta = json.loads(meta_bytes)
            except (RecursionError, ValueError) as exc:
                raise SnapshotError(f"meta.json: not readable JSON: {exc}") from None
            meta = _check_meta(meta)
            for name in _TABLES:
                try:
                    table = _read_member(zf, name, allow_parquet)
                    tables[name] = {f.name: _decode_column(table, f) for f in table.schema}
                    _check_table(name, tables[name])
                except SnapshotError as exc:
                    raise (exc if str(exc).startswith(f"{name}.") else SnapshotError(f"{name}.arrow: {exc}")) from None
                except (pa.ArrowException, OSError, *_DECODING_ERRORS) as exc:  # pyarrow raises OSError on broken IPC
                    raise SnapshotError(f"{name}.arrow: not readable: {exc}") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError) as exc:
        raise SnapshotError(f"not a readable {FORMAT_NAME} file: {exc}") from None
    snap = assembled(tables, meta)
    try:
        validate(snap)
    except SnapshotError:
        raise
    except (IndexError, TypeError, ValueError) as exc:
        raise SnapshotError(f"the tables do not fit together: {exc}") from None
    return snap


def assembled(tables: dict[str, Any], meta: dict[str, Any]) -> ColumnarSnapshot:
    """The snapshot of decoded tables and their ``meta.json`` (not yet validated): the one assembly step of the
    columnar file and of the exported Parquet tables (:mod:`dqquery.tables`)."""
    for name in ("deleted", "in_lumisections"):
        tables["runs"][name] = tables["runs"][name].astype(bool)
    for name in ("deleted", "has_data"):
        tables["units"][name] = tables["units"][name].astype(bool)
    meta = dict(meta)
    names = tuple(meta.pop("names"))
    meta.pop("format"), meta.pop("version")
    return ColumnarSnapshot(**tables, names=names, meta=meta)


def load_any(path: PathLike) -> Snapshot:
    """A :class:`Snapshot` from a JSON snapshot or a columnar file (for commands that need the JSON layout)."""
    if is_columnar_file(path):
        return ColumnarSnapshot.load(path).to_snapshot()
    return Snapshot.load(path)

