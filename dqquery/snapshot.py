"""Snapshots: Run Registry run, dataset and lumisection data stored as the services return it.

A :class:`Snapshot` is what the local golden-JSON evaluator (:mod:`dqquery.evaluator`) reads. Its layout
mirrors Run Registry responses so fetched data can be saved unchanged::

    {"runs": [<run objects as runs_filtered_ordered returns them: run_number, oms_attributes, rr_attributes, ...>],
     "datasets": [<dataset objects as datasets_filtered_ordered returns them: run_number, name, dataset_attributes, ...>],
     "lumisections": {"<run_number>": {"<dataset name, or online>": {
         "rr":  [<rr_lumisection_ranges items: {"<ws>-<col>": {"status", "comment", "cause"}, ..., "start", "end"}>],
         "oms": [<oms_lumisection_ranges items: {"<bit>": true | false | null, ..., "start", "end"}>],
         "luminosity": {"start": <first LS>, "recorded": [<per LS>], "delivered": [<per LS>]}   # optional
     }}}}

Decisions:
* Run and dataset objects keep every key they came with (``extra="allow"``); only ``run_number``, ``name``,
  ``oms_attributes``, ``rr_attributes`` and ``dataset_attributes`` are interpreted.
* Range lists are validated by hand (not one pydantic model per range) so a full year loads fast: every range is
  an object with integer ``start <= end`` (1-based, inclusive), ranges of one list are in increasing order and
  never overlap. An RR range maps flags to triplet objects (``{"status": ...}``; comment/cause optional).
* Per-lumisection luminosity breaks OMS ranges at every lumisection (Run Registry's own
  ``oms_lumisection_ranges`` leaves it out for that reason). So luminosity may be given either inside OMS ranges
  (``recorded``/``delivered`` keys: the value of *each* lumisection of the range) or, compactly, in the optional
  ``luminosity`` block: dense per-lumisection lists starting at lumisection ``start`` (``null`` allowed). Where a
  block list covers a lumisection, its value wins over the range's key (a ``null`` there means missing). The block alone does not make a lumisection "have OMS
  data": only OMS ranges do.
* Every problem is a :class:`SnapshotError` (a ``ValueError``) that says where: ``run 315257, dataset 'online',
  rr range #3 (start 40, end 12): start is after end``.
* Consistency: run numbers are unique; each dataset and each lumisection entry belongs to a run of ``runs``;
  a (run, dataset name) appears at most once in ``datasets``. A lumisection entry without a dataset object is
  allowed (the evaluator then knows only the dataset's name), since the ``online`` dataset is often not fetched.
* Tables (``to_pandas``/``to_polars``): flat columns named as in the field catalog, so a DataFrame filter reads
  like the query; a lumisection table holds what ``golden`` evaluates (RR and OMS data both present).
* RR data: every RR range is a span of lumisections WITH RR data, flags or not; ``EMPTY`` triplets (RR's
  filler) are dropped from their range, never the range (:func:`without_empty`).
* A dataset other than ``online`` is read as RR's portal reads it: its own OMS lumisections, online's OMS
  values under its own key by key (:meth:`Snapshot.evaluated`, :func:`merged_with_online`); the stored data
  stays as given.
* Nothing is merged silently: run keys of ``lumisections`` must be canonical decimal run numbers (``"315257"``,
  never ``"0315257"``, ``" 315257"``, ``"+315257"`` or ``"315_257"``, which Python's ``int`` would all accept),
  two keys naming one run are an error naming both, and a key twice in one JSON object is an error.
* Luminosity values (the block and OMS ranges' ``recorded``/``delivered``) are finite numbers, numeric strings
  (as RR counts them) or ``null``; ``NaN``, ``Infinity`` and other text are refused, never summed around.
  Files are read strictly (:func:`dqquery.files.load_json_document`: no ``NaN``/``Infinity`` literal, numbers
  of at most :data:`~dqquery.limits.MAX_NUMBER_DIGITS` characters, bounded nesting and size).
* Files: ``.json`` or gzip-compressed JSON (detected from the content, any file name). ``save`` is atomic
  (temporary file in the same directory, fsync, ``os.replace``) and gzips when the name ends with ``.gz``.
* Selecting datasets by name (:func:`matching_datasets`, RR's ``SIMILAR TO`` pattern) and the snapshot's own
  display (:func:`snapshot_repr`, :func:`snapshot_html`, re-exported by :mod:`dqquery.notebook`) live here, with
  the data they read, so this module imports nothing above it (no evaluator, no notebook).
"""

from __future__ import annotations

import html
import json
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictInt, ValidationError, field_validator, model_validator

from .files import atomic_write_text, load_json_document, nesting_exceeds, read_maybe_gzip
from .limits import MAX_JSON_DEPTH
from .lumiranges import intersect_ranges
from .patterns import similar_to_regex

__all__ = ["ONLINE", "DatasetRecord", "LumisectionData", "RunRecord", "Snapshot", "SnapshotError", "UnknownDataset",
           "dataset_matcher", "matching_datasets", "snapshot_html", "snapshot_repr"]

ONLINE = "online"
"""Run Registry's name of the online dataset of every run."""

PathLike = Union[str, "os.PathLike[str]"]
_RANGE_KEYS = ("start", "end")


class SnapshotError(ValueError):
    """A snapshot file or object is invalid; the message says where."""


_CANONICAL_RUN = re.compile(r"[1-9][0-9]{0,18}")


def _run_key(key: object) -> int:
    """The run number of a ``lumisections`` key: a canonical decimal string or an int (never ``bool``)."""
    if isinstance(key, str) and _CANONICAL_RUN.fullmatch(key):
        return int(key)
    if _is_int(key) and key >= 1:  # type: ignore[operator]
        return key  # type: ignore[return-value]
    raise SnapshotError(
        f"lumisections: key {key!r} is not a run number written in canonical decimal (digits, no sign, no leading zero)"
    )


def _canonical_lumisections(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """``data`` with the ``lumisections`` keys checked and turned into ints; two keys naming one run are an error."""
    block = data.get("lumisections")
    if not isinstance(block, Mapping):
        return data
    keyed: dict[int, Any] = {}
    spelled: dict[int, object] = {}
    for key, value in block.items():
        run = _run_key(key)
        if run in keyed:
            raise SnapshotError(f"lumisections: keys {spelled[run]!r} and {key!r} both name run {run}")
        keyed[run] = value
        spelled[run] = key
    return {**data, "lumisections": keyed}


def _luminosity_problem(value: Any) -> str | None:
    """Why ``value`` is not a usable luminosity (``None`` when it is a finite number, numeric string or null)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return "not a number"
    try:
        number = float(value) if not isinstance(value, str) or len(value) <= 100 else math.nan
    except ValueError:
        return "text, not a number"
    except OverflowError:  # an int beyond any float
        return "not a finite number"
    return None if math.isfinite(number) else "not a finite number"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_empty_triplet(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("status") == "EMPTY"


def without_empty(ranges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """RR ranges without their ``EMPTY`` triplets; every range is kept, even one left with no flag.

    Decision (the one EMPTY rule, checked on every recorded ``rr_lumisections`` answer and portal job): a range
    of a snapshot is a lumisection span WITH RR data (an RR event), flags or not; a lumisection without RR data
    is simply not in any range. ``EMPTY`` is only RR's filler for a flag that has no status in a lumisection, so
    it is dropped from the range (the flag is missing: ``x is null``) and never decides whether the lumisection
    has RR data. RR's portal evaluates a flag-less RR event like any other and never a gap, which is what
    this gives. RR's lumisection API fills gaps with ``EMPTY`` too, so a fetch must tell gaps from flag-less
    events itself (``dqquery.fetch`` does, from ``get_rr_lumisection_history``).
    """
    if not any(_is_empty_triplet(v) for r in ranges for v in r.values()):
        return ranges
    return [{k: v for k, v in r.items() if k in _RANGE_KEYS or not _is_empty_triplet(v)} for r in ranges]


_LUMINOSITY_KEYS = ("recorded", "delivered")


def overlay_ranges(own: list[dict[str, Any]], base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``own``'s ranges with ``base``'s values underneath, key by key (own keys win, even a null value).

    Only lumisections of ``own`` are returned: ``base`` fills keys, never lumisections. Both lists are sorted
    and disjoint (the snapshot's invariant); so is the result.
    """
    out: list[dict[str, Any]] = []
    j, m = 0, len(base)
    for rng in own:
        start, end = rng["start"], rng["end"]
        values = {k: v for k, v in rng.items() if k not in _RANGE_KEYS}
        while j < m and base[j]["end"] < start:
            j += 1
        k, position = j, start
        while position <= end:
            if k < m and base[k]["start"] <= position:
                piece_end = min(end, base[k]["end"])
                under = {key: v for key, v in base[k].items() if key not in _RANGE_KEYS}
                out.append({**under, **values, "start": position, "end": piece_end})
                if base[k]["end"] <= end:
                    k += 1
            else:
                piece_end = end if k >= m else min(end, base[k]["start"] - 1)
                out.append({**values, "start": position, "end": piece_end})
            position = piece_end + 1
        j = k
    return out


def _own_luminosity(data: LumisectionData, oms_range: Mapping[str, Any], key: str, ls: int) -> tuple[bool, Any]:
    """``(present, value)`` of one luminosity key on one lumisection: the block's value where the block covers
    it (a null there means the key is absent), else the OMS range's key when the range has it."""
    block = data.luminosity
    if block:
        values = block.get(key)
        i = ls - block["start"]
        if values is not None and 0 <= i < len(values):
            return values[i] is not None, values[i]
    if key in oms_range:
        return True, oms_range[key]
    return False, None


def _has_luminosity(data: LumisectionData) -> bool:
    return bool(data.luminosity) or any(key in rng for rng in data.oms for key in _LUMINOSITY_KEYS)


def _merged_block(data: LumisectionData, online: LumisectionData) -> dict[str, Any]:
    """A luminosity block over the dataset's own OMS span, per lumisection: the dataset's value (its block, else
    its range key), else online's (its block, else its range key), else null."""
    first, last = data.oms[0]["start"], data.oms[-1]["end"]
    block: dict[str, list[Any]] = {key: [None] * (last - first + 1) for key in _LUMINOSITY_KEYS}
    k, base = 0, online.oms
    for rng in data.oms:
        for ls in range(rng["start"], rng["end"] + 1):
            while k < len(base) and base[k]["end"] < ls:
                k += 1
            under = base[k] if k < len(base) and base[k]["start"] <= ls else None
            for key in _LUMINOSITY_KEYS:
                present, value = _own_luminosity(data, rng, key, ls)
                if not present and under is not None:
                    present, value = _own_luminosity(online, under, key, ls)
                block[key][ls - first] = value
    return {"start": first, **block}


def merged_with_online(data: LumisectionData, online: LumisectionData | None) -> LumisectionData:
    """What RR's JSON portal evaluates for a dataset other than ``online`` (rule D3/R1 of the recorded answers).

    Decisions: the lumisections are the dataset's OWN OMS lumisections (with its RR ranges, as always); on each,
    the OMS values are online's values overlaid key by key by the dataset's own (own value wins, even a null; a
    key the dataset lacks comes from online). ``recorded``/``delivered`` follow the same rule per lumisection,
    the luminosity blocks included. A dataset without own OMS data evaluates nothing, whatever online has.
    Speed: ranges are overlaid range by range; a per-lumisection luminosity block is built only when a block is
    involved and online has luminosity to give (otherwise the dataset's block, if any, is already the answer).
    """
    if online is None or not online.oms or not data.oms:
        return data
    oms = overlay_ranges(data.oms, online.oms)
    luminosity = data.luminosity
    if online.luminosity or (data.luminosity and _has_luminosity(online)):
        luminosity = _merged_block(data, online)
    return LumisectionData.model_construct(rr=data.rr, oms=oms, luminosity=luminosity)


class RunRecord(BaseModel):
    """One run object as ``runs_filtered_ordered`` returns it (unknown keys are kept)."""

    model_config = ConfigDict(extra="allow")
    run_number: StrictInt = Field(ge=1)
    oms_attributes: dict[str, Any] = Field(default_factory=dict)
    rr_attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("oms_attributes", "rr_attributes", mode="before")
    @classmethod
    def _null_is_empty(cls, v: Any) -> Any:
        return {} if v is None else v


class DatasetRecord(BaseModel):
    """One dataset object as ``datasets_filtered_ordered`` returns it (unknown keys are kept)."""

    model_config = ConfigDict(extra="allow")
    run_number: StrictInt = Field(ge=1)
    name: str
    dataset_attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("dataset_attributes", mode="before")
    @classmethod
    def _null_is_empty(cls, v: Any) -> Any:
        return {} if v is None else v


class LumisectionData(BaseModel):
    """RR and OMS lumisection ranges of one (run, dataset), and optional per-lumisection luminosity."""

    model_config = ConfigDict(extra="allow")
    rr: list[dict[str, Any]] = Field(default_factory=list)
    oms: list[dict[str, Any]] = Field(default_factory=list)
    luminosity: dict[str, Any] | None = None

    @field_validator("rr")
    @classmethod
    def _without_empty(cls, ranges: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return without_empty(ranges)

    def luminosity_value(self, key: str, ls: int, range_value: Any = None) -> Any:
        """The ``recorded``/``delivered`` value of one lumisection: the block's when it covers ``ls`` for that
        key, else ``range_value`` (the value of the OMS range holding ``ls``)."""
        block = self.luminosity
        if block:
            values = block.get(key)
            i = ls - block["start"]
            if values is not None and 0 <= i < len(values):
                return values[i]
        return range_value

    def luminosity_span(self) -> tuple[int, int] | None:
        """First and last lumisection the luminosity block covers, or ``None``."""
        block = self.luminosity
        if not block:
            return None
        n = max((len(block[k]) for k in ("recorded", "delivered") if block.get(k) is not None), default=0)
        return (block["start"], block["start"] + n - 1) if n else None


def _where(run: Any, dataset: str, side: str, index: int | None = None, rng: Any = None) -> str:
    text = f"run {run}, dataset {dataset!r}, {side}"
    if index is not None:
        text += f" range #{index}"
        if isinstance(rng, Mapping):
            text += f" (start {rng.get('start')!r}, end {rng.get('end')!r})"
    return text


def _check_ranges(run: Any, dataset: str, side: str, ranges: list[dict[str, Any]]) -> None:
    """Validate one range list: integer bounds, start <= end, increasing and non-overlapping."""
    previous_end = 0
    for i, rng in enumerate(ranges):
        start, end = rng.get("start"), rng.get("end")
        if not _is_int(start) or not _is_int(end):
            raise SnapshotError(f"{_where(run, dataset, side, i, rng)}: 'start' and 'end' must be integers")
        if start < 1:
            raise SnapshotError(f"{_where(run, dataset, side, i, rng)}: lumisection numbers start at 1")
        if start > end:
            raise SnapshotError(f"{_where(run, dataset, side, i, rng)}: start is after end (inverted range)")
        if start <= previous_end:
            raise SnapshotError(
                f"{_where(run, dataset, side, i, rng)}: overlaps or precedes the previous range (which ends at "
                f"{previous_end}); ranges must be in increasing order without overlap"
            )
        previous_end = end
        if side == "rr":
            for key, triplet in rng.items():
                if key in _RANGE_KEYS:
                    continue
                if not isinstance(triplet, Mapping):
                    raise SnapshotError(
                        f"{_where(run, dataset, side, i, rng)}: flag {key!r} must be a triplet object "
                        f'{{"status": ..., "comment": ..., "cause": ...}}, got {type(triplet).__name__}'
                    )
                status = triplet.get("status")
                if status is not None and not isinstance(status, str):
                    raise SnapshotError(
                        f"{_where(run, dataset, side, i, rng)}: flag {key!r} has a non-string status {status!r}"
                    )
        else:
            for key in ("recorded", "delivered"):
                problem = _luminosity_problem(rng.get(key))
                if problem:
                    raise SnapshotError(f"{_where(run, dataset, side, i, rng)}: {key} is {rng.get(key)!r}, {problem}")


def _check_luminosity(run: Any, dataset: str, block: Mapping[str, Any]) -> None:
    where = f"run {run}, dataset {dataset!r}, luminosity"
    start = block.get("start")
    if not _is_int(start) or start < 1:
        raise SnapshotError(f"{where}: 'start' must be an integer >= 1")
    for key in ("recorded", "delivered"):
        values = block.get(key)
        if values is None:
            continue
        if not isinstance(values, list):
            raise SnapshotError(f"{where}: {key!r} must be a list of per-lumisection numbers")
        for i, v in enumerate(values):
            problem = _luminosity_problem(v)
            if problem:
                raise SnapshotError(f"{where}: {key}[{i}] (lumisection {start + i}) is {v!r}, {problem}")


class Snapshot(BaseModel):
    """Runs, datasets and lumisection ranges (see the module docstring for the layout)."""

    model_config = ConfigDict(extra="allow")

    def __eq__(self, other: object) -> bool:
        # The data decides; private caches (built on first use by the evaluator) do not.
        return isinstance(other, Snapshot) and self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]  # mutable data: not hashable

    def __str__(self) -> str:  # print(snapshot) too: counts, not megabytes of data
        return self.__repr__()

    def __repr__(self) -> str:  # counts, not the whole year of data
        return snapshot_repr(self)

    def _repr_html_(self) -> str:
        return snapshot_html(self)
    runs: list[RunRecord] = Field(default_factory=list)
    datasets: list[DatasetRecord] = Field(default_factory=list)
    lumisections: dict[int, dict[str, LumisectionData]] = Field(default_factory=dict)
    _runs_index: dict[int, RunRecord] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _consistent(self) -> Snapshot:
        seen: set[int] = set()
        for i, run in enumerate(self.runs):
            if run.run_number in seen:
                raise SnapshotError(f"runs[{i}]: run {run.run_number} appears twice")
            seen.add(run.run_number)
        names: set[tuple[int, str]] = set()
        for i, ds in enumerate(self.datasets):
            if ds.run_number not in seen:
                raise SnapshotError(f"datasets[{i}] ({ds.name!r}): run {ds.run_number} is not in 'runs'")
            if (ds.run_number, ds.name) in names:
                raise SnapshotError(f"datasets[{i}]: run {ds.run_number}, dataset {ds.name!r} appears twice")
            names.add((ds.run_number, ds.name))
        for run_number, per_dataset in self.lumisections.items():
            if run_number not in seen:
                raise SnapshotError(f"lumisections: run {run_number} has lumisection data but is not in 'runs'")
            for name, data in per_dataset.items():
                _check_ranges(run_number, name, "rr", data.rr)
                _check_ranges(run_number, name, "oms", data.oms)
                if data.luminosity is not None:
                    _check_luminosity(run_number, name, data.luminosity)
        return self

    # ------------------------------------------------------------------------------------------ I/O

    @classmethod
    def from_dict(cls, data: Any) -> Snapshot:
        """Validate a decoded snapshot; raises :class:`SnapshotError` naming the place of the first problem."""
        if not isinstance(data, Mapping):
            raise SnapshotError(f"a snapshot must be a JSON object, got {type(data).__name__}")
        if nesting_exceeds(data):
            raise SnapshotError(f"the snapshot nests arrays and objects more than {MAX_JSON_DEPTH} levels deep")
        data = _canonical_lumisections(data)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SnapshotError(_describe_validation_error(exc, data)) from None
        except RecursionError:
            raise SnapshotError("the snapshot is nested too deeply") from None

    @classmethod
    def load(cls, path: PathLike) -> Snapshot:
        """Read a snapshot from JSON or gzip-compressed JSON."""
        raw = read_maybe_gzip(path, SnapshotError)
        data = load_json_document(raw, lambda message: SnapshotError(f"{path}: {message}"))
        try:
            return cls.from_dict(data)
        except SnapshotError as exc:
            raise SnapshotError(f"{path}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready layout (run keys of ``lumisections`` as strings; unset luminosity omitted)."""
        out = self.model_dump(mode="json", exclude_none=False)
        for per_dataset in out["lumisections"].values():
            for data in per_dataset.values():
                if data.get("luminosity") is None:
                    data.pop("luminosity", None)
        out["lumisections"] = {str(k): v for k, v in out["lumisections"].items()}
        return out

    def save(self, path: PathLike, *, indent: int | None = None) -> None:
        """Write atomically; gzip-compressed when the file name ends with ``.gz``."""
        text = json.dumps(self.to_dict(), indent=indent, separators=None if indent else (",", ":"))
        atomic_write_text(path, text)

    # ------------------------------------------------------------------------------------------ helpers

    @property
    def runs_by_number(self) -> dict[int, RunRecord]:
        """Run objects by run number."""
        if self._runs_index is None or len(self._runs_index) != len(self.runs):
            self._runs_index = {r.run_number: r for r in self.runs}
        return self._runs_index

    def datasets_of(self, run: int) -> dict[str, DatasetRecord | None]:
        """Every dataset of a run known to the snapshot (dataset objects and lumisection entries), by name.

        A name that only appears in ``lumisections`` maps to ``None`` (no dataset object).
        """
        out: dict[str, DatasetRecord | None] = {}
        for ds in self.datasets:
            if ds.run_number == run:
                out[ds.name] = ds
        for name in self.lumisections.get(run, {}):
            out.setdefault(name, None)
        return dict(sorted(out.items()))

    def evaluated(self, run: int, name: str) -> LumisectionData | None:
        """The lumisection data RR's portal evaluates for one (run, dataset): the dataset's own ranges, its OMS
        values merged with online's for a dataset other than ``online`` (:func:`merged_with_online`)."""
        per_dataset = self.lumisections.get(run) or {}
        data = per_dataset.get(name)
        if data is None or name == ONLINE:
            return data
        return merged_with_online(data, per_dataset.get(ONLINE))

    def dataset_names(self) -> list[str]:
        """Sorted distinct dataset names."""
        names = {ds.name for ds in self.datasets}
        for per_dataset in self.lumisections.values():
            names.update(per_dataset)
        return sorted(names)

    def iter_datasets(self) -> Iterator[tuple[RunRecord, str, DatasetRecord | None, LumisectionData | None]]:
        """``(run, dataset name, dataset object or None, lumisection data or None)`` in run then name order."""
        by_run: dict[int, dict[str, DatasetRecord | None]] = {}
        for ds in self.datasets:
            by_run.setdefault(ds.run_number, {})[ds.name] = ds
        for run_number, per_dataset in self.lumisections.items():
            names = by_run.setdefault(run_number, {})
            for name in per_dataset:
                names.setdefault(name, None)
        runs = self.runs_by_number
        for run_number in sorted(by_run):
            per_ls = self.lumisections.get(run_number, {})
            for name in sorted(by_run[run_number]):
                yield runs[run_number], name, by_run[run_number][name], per_ls.get(name)

    def n_lumisections(self) -> int:
        """Lumisections with both RR and OMS data, summed over (run, dataset)."""
        return sum(
            end - start + 1
            for per_dataset in self.lumisections.values()
            for data in per_dataset.values()
            for start, end, _, _ in intersect_ranges(data.rr, data.oms)
        )

    def table_rows(self, level: str = "lumisection", dataset: str | None = None) -> list[dict[str, Any]]:
        """Flat rows for a DataFrame (see :meth:`to_pandas`), as plain dictionaries."""
        if level == "range":
            return self._range_rows()
        if level == "run":
            return [_run_columns(run) for run in sorted(self.runs, key=lambda r: r.run_number)]
        if level != "lumisection":
            raise ValueError(f"level must be 'run', 'lumisection' or 'range', not {level!r}")
        rows: list[dict[str, Any]] = []
        for run, name, ds, data in matching_datasets(self, dataset):
            if data is None:
                continue
            base = {**_run_columns(run), "dataset": name, **(ds.dataset_attributes if ds is not None else {})}
            for start, end, i, j in intersect_ranges(data.rr, data.oms):
                piece = dict(base)
                piece.update({k: v.get("status") for k, v in data.rr[i].items() if k not in _RANGE_KEYS})
                oms = data.oms[j]
                piece.update({k: v for k, v in oms.items() if k not in _RANGE_KEYS})
                for ls in range(start, end + 1):
                    rows.append({"run_number": run.run_number, "dataset": name, "ls_number": ls, **piece,
                                 "recorded": data.luminosity_value("recorded", ls, oms.get("recorded")),
                                 "delivered": data.luminosity_value("delivered", ls, oms.get("delivered"))})
        return rows

    def _range_rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for run_number, per_dataset in sorted(self.lumisections.items()):
            for name in sorted(per_dataset):
                data = self.evaluated(run_number, name)
                for start, end, i, j in intersect_ranges(data.rr, data.oms):
                    row: dict[str, Any] = {"run_number": run_number, "dataset": name, "start": start, "end": end}
                    for k, v in data.rr[i].items():
                        if k not in _RANGE_KEYS:
                            row[f"rr.{k}"] = v.get("status")
                    for k, v in data.oms[j].items():
                        if k not in _RANGE_KEYS:
                            row[f"oms.{k}"] = v
                    rows.append(row)
        return rows

    def to_pandas(self, level: str = "range", dataset: str | None = None) -> Any:
        """A pandas DataFrame of the snapshot; needs pandas.

        ``level="run"``: one row per run, flat columns named as in the field catalog (``run_number``,
        ``fill_number``, ``energy``, ``b_field``, ``class``...). ``level="lumisection"``: one row per evaluated
        lumisection (RR and OMS data both present, as ``golden`` evaluates) of the datasets matching ``dataset``
        (a pattern as for ``golden``; ``None``: online): the run columns, ``dataset``, the dataset attributes,
        ``ls_number``, each RR flag's status (``tracker-strip``...), each OMS bit (``bpix_ready``...), and
        ``recorded``/``delivered`` in /pb. So ``df[df["tracker-strip"] == "GOOD"]`` selects what
        ``tracker-strip == GOOD`` selects. ``level="range"`` (the default, kept for compatibility): one row per
        (run, dataset, RR range x OMS range) with ``rr.<flag>`` and ``oms.<key>`` columns.
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("Snapshot.to_pandas needs pandas: pip install 'dqquery[pandas]'") from exc
        frame = pd.DataFrame(self.table_rows(level, dataset))
        frame.attrs["luminosity_unit"] = "/pb"
        return frame

    def to_polars(self, level: str = "range", dataset: str | None = None) -> Any:
        """The same table as :meth:`to_pandas`, as a polars DataFrame; needs polars."""
        try:
            import polars as pl
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("Snapshot.to_polars needs polars: pip install polars") from exc
        return pl.DataFrame(self.table_rows(level, dataset), infer_schema_length=None, strict=False)


def _run_columns(run: RunRecord) -> dict[str, Any]:
    """A run's attributes as flat catalog-named columns (OMS first, then RR; ``run_number`` wins)."""
    return {"run_number": run.run_number, **run.oms_attributes, **run.rr_attributes, **{"run_number": run.run_number}}


def _describe_validation_error(exc: ValidationError, data: Mapping[str, Any]) -> str:
    """A pydantic error rewritten with run numbers and dataset names instead of list indexes."""
    err = exc.errors()[0]
    loc = list(err["loc"])
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    where = ".".join(str(p) for p in loc)
    if loc and loc[0] in ("runs", "datasets") and len(loc) >= 2 and isinstance(loc[1], int):
        items = data.get(loc[0]) or []
        item = items[loc[1]] if loc[1] < len(items) else None
        label = f"{loc[0]}[{loc[1]}]"
        if isinstance(item, Mapping) and "run_number" in item:
            label += f" (run {item.get('run_number')!r}"
            label += f", dataset {item.get('name')!r})" if loc[0] == "datasets" else ")"
        rest = ".".join(str(p) for p in loc[2:])
        where = f"{label}{': ' + rest if rest else ''}"
    elif loc and loc[0] == "lumisections" and len(loc) >= 2:
        parts = [f"run {loc[1]}"]
        if len(loc) >= 3:
            parts.append(f"dataset {loc[2]!r}")
        if len(loc) >= 4:
            side = str(loc[3])
            parts.append(f"{side} range #{loc[4]}" if len(loc) >= 5 and isinstance(loc[4], int) else side)
        where = "lumisections: " + ", ".join(parts)
    count = exc.error_count()
    more = f" (and {count - 1} more problem{'s' if count > 2 else ''})" if count > 1 else ""
    return f"{where}: {msg}{more}" if where else f"{msg}{more}"


# ------------------------------------------------------------------------------------------------ dataset selection


def dataset_matcher(pattern: str | None) -> Callable[[str], bool]:
    """A predicate on dataset names for an RR ``dataset_name_filter`` (``None`` means ``online``)."""
    regex = similar_to_regex(ONLINE if pattern is None else pattern)
    return lambda name: regex.fullmatch(name) is not None


class UnknownDataset(ValueError):
    """No dataset of the snapshot matches the dataset pattern (RR's portal refuses such a request too)."""


def _deleted(record: Any) -> bool:
    return record is not None and (record.model_extra or {}).get("deleted") is True


def matching_datasets(snapshot: Snapshot, dataset: str | None) -> Iterator[tuple[RunRecord, str, DatasetRecord | None, LumisectionData | None]]:
    """``(run, name, dataset object, lumisection data)`` of every dataset whose name matches the pattern
    (``None`` means ``online``), in run then name order. The data is what RR's portal evaluates
    (:meth:`Snapshot.evaluated`: a dataset other than ``online`` has online's OMS values under its own).

    Raises :class:`UnknownDataset` when the snapshot has datasets and none matches (as RR's JSON portal does);
    a snapshot without any dataset yields nothing (a fetch that selected no run: the portal answers ``{}``).
    """
    matches = dataset_matcher(dataset)
    matched_any = False
    for run, name, ds, data in snapshot.iter_datasets():
        if _deleted(run) or _deleted(ds):  # RR hides deleted runs and datasets from every query and the portal
            continue
        if matches(name):
            matched_any = True
            yield run, name, ds, (snapshot.evaluated(run.run_number, name) if data is not None else None)
    if not matched_any:
        names = snapshot.dataset_names()
        if not names:  # nothing was selected (a fetch whose query selects no run): nothing to evaluate, as RR's {}
            return
        shown = ", ".join(repr(n) for n in names[:5]) + (", ..." if len(names) > 5 else "")
        raise UnknownDataset(
            f"no dataset of the snapshot matches {ONLINE if dataset is None else dataset!r}"
            f" (dataset names are matched with SQL SIMILAR TO: % any text, _ one character);"
            f" the snapshot has {shown or 'no datasets'}"
        )


# ------------------------------------------------------------------------------------------------ display


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _dataset_summary(snapshot: Snapshot) -> dict[str, tuple[int, int, int]]:
    """Per dataset name: (runs with lumisection data, lumisections with RR and OMS data, with only one side)."""
    out: dict[str, list[int]] = {}
    for per_dataset in snapshot.lumisections.values():
        for name, data in per_dataset.items():
            row = out.setdefault(name, [0, 0, 0])
            both = sum(e - s + 1 for s, e, _, _ in intersect_ranges(data.rr, data.oms))
            rr = sum(r["end"] - r["start"] + 1 for r in data.rr)
            oms = sum(o["end"] - o["start"] + 1 for o in data.oms)
            row[0] += 1
            row[1] += both
            row[2] += (rr - both) + (oms - both)
    return {name: (a, b, c) for name, (a, b, c) in sorted(out.items())}


def snapshot_repr(snapshot: Snapshot) -> str:
    """``Snapshot(489 runs 315257-325175, 5 datasets)``: counts only, never the data."""
    numbers = [r.run_number for r in snapshot.runs]
    span = f" {min(numbers)}-{max(numbers)}" if numbers else ""
    return f"Snapshot({_plural(len(numbers), 'run')}{span}, {_plural(len(snapshot.dataset_names()), 'dataset')})"


def snapshot_html(snapshot: Snapshot) -> str:
    """One row per dataset name: runs with lumisection data, lumisections evaluated (RR and OMS data) and
    lumisections with only one side (never in a golden JSON)."""
    rows = "".join(
        f"<tr><td><code>{html.escape(name)}</code></td><td style='text-align:right'>{runs:,}</td>"
        f"<td style='text-align:right'>{both:,}</td><td style='text-align:right'>{one:,}</td></tr>"
        for name, (runs, both, one) in _dataset_summary(snapshot).items()
    )
    return (
        "<table class='dqquery-snapshot'>"
        f"<caption>{html.escape(snapshot_repr(snapshot))}</caption>"
        "<thead><tr><th>dataset</th><th>runs with lumisection data</th><th>lumisections with RR and OMS data</th>"
        "<th>lumisections with only RR or only OMS data</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )
