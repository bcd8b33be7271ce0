"""Golden JSONs (lumi masks): immutable sets of (run, lumisection) pairs stored as ranges.

A *golden JSON* (also called a lumi mask or, in CMSSW, a ``LumiList``) maps run numbers to inclusive
lumisection ranges: ``{"315257": [[1, 88], [91, 92]], ...}``. :class:`GoldenJSON` is that set.

Decisions:

* **LumiList-compatible normalisation.** Every way of building a :class:`GoldenJSON` sorts the ranges
  of each run and merges overlapping *and adjacent* ones (``[[1, 5], [6, 9]] -> [[1, 9]]``), then drops
  runs left without ranges, exactly like CMSSW's ``FWCore/PythonUtilities/python/LumiList.py``. Two
  objects holding the same pairs are therefore equal, hash equally and serialise identically.
* **Stricter than LumiList on input.** LumiList accepts anything; here inverted ranges, zero, negative or
  non-integer run/lumisection numbers (``bool`` and ``3.0`` included), ranges that are not
  ``[first, last]`` pairs and non-numeric run keys raise :class:`GoldenJSONError`, a ``ValueError``,
  naming the run and the offending range. Run keys may be ``int`` or ``str`` in canonical decimal (as in
  JSON files: ``"315257"``; never ``"0315257"``, ``" 315257"``, ``"+315257"`` or ``"315_257"``). A key
  written twice in a file is an error (a JSON decoder would keep only the second); in a Python mapping,
  ``315257`` and ``"315257"`` are both kept: their ranges are united, so nothing is lost. Numbers must fit CMSSW's unsigned 32-bit types. Files are read strictly
  (:func:`dqquery.files.load_json_document`: no ``NaN``, bounded number length, nesting and size).
* **Immutable and never mutating.** The caller's input is copied, never edited (LumiList edits it in
  place). Instances have ``__slots__``, refuse attribute assignment, are hashable and can be used as
  dict keys or set members. Every operation returns a new object.
* **Range arithmetic.** ``&``, ``|``, ``-``, ``^``, comparisons and counts work on ranges with a
  per-run interval sweep, never by expanding to pairs, so full-year files (~250k lumisections) take well
  under a millisecond per run-set operation. ``len()`` is the number of lumisections (LumiList's is the
  number of runs); ``in`` only accepts ``(run, ls)`` pairs.
* **numpy is optional.** It is imported lazily and only used by :meth:`GoldenJSON.contains_many`,
  :meth:`GoldenJSON.from_runs_and_lumis` and the fast decoding of :meth:`GoldenJSON.from_json`/:meth:`GoldenJSON.load`,
  which fall back to pure Python (lists; the strict decoder) without it.
* **Loading on whole arrays, the strict path as reference.** ``from_json``/``load`` first match the text against
  the golden-JSON shape (RE2, linear time: quoted digit keys, lists of ``[digits, digits]``, JSON whitespace) and
  decode every number at once with numpy; keys, zero, leading zeros, numbers above 2**32-1, inverted ranges and
  duplicate keys are checked on the arrays, and unsorted/overlapping/adjacent ranges are merged on the arrays.
  Any text that is not of that shape or fails a check goes through the strict reference path (JSON decoder,
  per-range validation), so every refusal keeps its located message; a property test asserts both paths give
  the same object or the same error. Measured (tests/benchmarks/bench_lumiranges.py) faster than LumiList
  (WMCore's published copy of CMSSW's) on the real certification files.
* **Arrays first, tuples on demand.** A loaded object holds two sorted uint64 arrays of range keys
  ``run << 32 | lumisection`` (first and last of each merged range); the tuples that set algebra, iteration and
  output use are built the first time one of them is needed. ``GoldenJSON._from_range_keys`` is the trusted
  constructor from such arrays, ``GoldenJSON._from_data`` the one from tuples.
* **Membership on dense tables.** :meth:`GoldenJSON.contains_many` uses two cached tables (run -> row, and a
  row x lumisection boolean table) when both fit in :data:`DENSE_TABLE_BYTES` (a year of certification: ~1.5 MB),
  so a query is a handful of gathers; otherwise one ``searchsorted`` over the interleaved range boundaries (a
  key is inside iff an odd number of boundaries are <= it). Out-of-range values are checked with two
  reductions per array only for dtypes that can hold them. Measured faster than coffea's ``LumiMask``.
* **Output layout.** :meth:`GoldenJSON.to_json` writes the layout of the certification files: one run per
  line, two-space indent, run keys sorted numerically; a run whose line would exceed ``width`` (80 by
  default, as in the 2018 Legacy file; the 2016 and 2022 files use 44) is broken into one range per
  line. No trailing newline. ``load`` accepts any whitespace and gzip-compressed files.
* **Atomic write.** :meth:`GoldenJSON.write` writes a temporary file in the destination directory,
  fsyncs it and ``os.replace``\\ s it over the destination; on any failure the destination is untouched
  and the temporary file is removed.
* **Range helpers for the layers above.** :func:`intersect_ranges` (the RR x OMS inner join of sorted range
  lists) and :func:`golden_to_pandas` live here, at the bottom layer (docs/dev/architecture.md), so snapshots,
  the evaluators and fetching share them without importing each other.
"""

from __future__ import annotations

import dataclasses
import heapq
import html
import json
import numbers
import os
import re
import reprlib
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Union

from .files import atomic_write_text, load_json_document, read_maybe_gzip

__all__ = ["GoldenDiff", "GoldenJSON", "GoldenJSONError", "golden_to_pandas", "intersect_ranges"]

#: Largest run or lumisection number (CMSSW ``RunNumber_t``/``LuminosityBlockNumber_t`` are uint32).
MAX_NUMBER = 2**32 - 1
#: Largest size of each of :meth:`GoldenJSON.contains_many`'s dense tables (run -> row, row x lumisection -> bool);
#: a year of certification (~500 runs x ~3,000 lumisections) needs about 1.5 MB.
DENSE_TABLE_BYTES = 1 << 24

Range = tuple[int, int]
RunRanges = tuple[Range, ...]
Data = tuple[tuple[int, RunRanges], ...]
PathLike = Union[str, "os.PathLike[str]"]

_CANONICAL = re.compile(r"0|[1-9][0-9]{0,29}")  # bounded: the range check then names the run
_DIGITS = re.compile(r"[0-9]{1,30}")  # a run number to look up (bounded: int() of thousands of digits is refused)
_CMSSW_ITEM = re.compile(r"([0-9]{1,10}):([0-9]{1,10})(?:-([0-9]{1,10}):([0-9]{1,10}))?")
_short_repr = reprlib.Repr()
_short_repr.maxlist = 6
_short_repr.maxstring = 40
_short_repr.maxother = 40


class GoldenJSONError(ValueError):
    """Invalid golden-JSON input (bad run key, range, lumisection number, file content or text)."""


def _numpy() -> Any:
    """Return the numpy module, or None when it is not installed (imported lazily; patched in tests)."""
    try:
        import numpy
    except ImportError:  # pragma: no cover - exercised by patching this function
        return None
    return numpy


# --------------------------------------------------------------------------------------------------
# validation and normalisation helpers
# --------------------------------------------------------------------------------------------------


def _is_int(value: object) -> bool:
    """True for integers (Python or numpy), False for bool, float, str and everything else."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _describe(value: object) -> str:
    return f"{type(value).__name__} {_short_repr.repr(value)}"


def _run_key(key: object, ranges: object) -> int:
    """Convert a mapping key (int or numeric str) to a run number, or raise naming key and ranges."""
    if isinstance(key, str) and _CANONICAL.fullmatch(key):
        run = int(key)
    elif _is_int(key):
        run = int(key)  # type: ignore[call-overload]
    else:
        raise GoldenJSONError(
            f"run key {_short_repr.repr(key)} (ranges {_short_repr.repr(ranges)}) is not a run number in canonical "
            "decimal (digits, no sign, no leading zero)"
        )
    if run < 1 or run > MAX_NUMBER:
        raise GoldenJSONError(
            f"run {run} (ranges {_short_repr.repr(ranges)}): run numbers must be between 1 and {MAX_NUMBER}"
        )
    return run


def _check_range(run: int, rng: object) -> Range:
    """Validate one ``[first, last]`` item of ``run`` and return it as a tuple."""
    if not isinstance(rng, (list, tuple)) or len(rng) != 2:
        raise GoldenJSONError(f"run {run}: range {_short_repr.repr(rng)} is not a [first, last] pair")
    first, last = rng
    for value in (first, last):
        if not _is_int(value):
            raise GoldenJSONError(
                f"run {run}: range {_short_repr.repr(rng)}: lumisection numbers must be integers, "
                f"got {_describe(value)}"
            )
    first, last = int(first), int(last)
    if first < 1 or last < 1:
        raise GoldenJSONError(f"run {run}: range {_short_repr.repr(rng)}: lumisection numbers must be >= 1")
    if first > MAX_NUMBER or last > MAX_NUMBER:
        raise GoldenJSONError(
            f"run {run}: range {_short_repr.repr(rng)}: lumisection numbers must be <= {MAX_NUMBER}"
        )
    if first > last:
        raise GoldenJSONError(f"run {run}: range {_short_repr.repr(rng)} is inverted (first > last)")
    return first, last


def _merge_sorted(ranges: Iterable[Range]) -> RunRanges:
    """Merge overlapping and adjacent ranges of an iterable sorted by first element."""
    out: list[list[int]] = []
    for first, last in ranges:
        if out and first <= out[-1][1] + 1:
            if last > out[-1][1]:
                out[-1][1] = last
        else:
            out.append([first, last])
    return tuple((a, b) for a, b in out)


def _intersect(a: RunRanges, b: RunRanges) -> RunRanges:
    """Intersection of two normalised range tuples (two-pointer sweep)."""
    out: list[Range] = []
    i = j = 0
    na, nb = len(a), len(b)
    while i < na and j < nb:
        a0, a1 = a[i]
        b0, b1 = b[j]
        lo = a0 if a0 > b0 else b0
        hi = a1 if a1 < b1 else b1
        if lo <= hi:
            out.append((lo, hi))
        if a1 < b1:
            i += 1
        else:
            j += 1
    return tuple(out)


def _subtract(a: RunRanges, b: RunRanges) -> RunRanges:
    """``a`` minus ``b`` for two normalised range tuples (sweep; splits ranges as needed)."""
    out: list[Range] = []
    j = 0
    nb = len(b)
    for first, last in a:
        cur = first
        while j < nb and b[j][1] < cur:
            j += 1
        k = j
        while k < nb and b[k][0] <= last:
            b0, b1 = b[k]
            if b0 > cur:
                out.append((cur, b0 - 1))
            if b1 + 1 > cur:
                cur = b1 + 1
            if cur > last:
                break
            k += 1
        if cur <= last:
            out.append((cur, last))
    return tuple(out)


def _union(a: RunRanges, b: RunRanges) -> RunRanges:
    """Union of two normalised range tuples."""
    if not a:
        return b
    if not b:
        return a
    return _merge_sorted(heapq.merge(a, b))


def _count(ranges: RunRanges) -> int:
    return sum(last - first + 1 for first, last in ranges)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _format_ranges(ranges: Sequence[Range], limit: int | None = None) -> str:
    shown = ranges if limit is None else ranges[:limit]
    text = ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in shown)
    if limit is not None and len(ranges) > limit:
        text += f",... ({len(ranges) - limit} more)"
    return text


def _pairs_to_data(grouped: Mapping[int, Iterable[int]]) -> Data:
    """Build normalised data from ``{run: iterable of lumisections}`` (already validated)."""
    data = []
    for run in sorted(grouped):
        lumis = sorted(set(grouped[run]))
        if not lumis:
            continue
        ranges: list[Range] = []
        start = prev = lumis[0]
        for ls in lumis[1:]:
            if ls != prev + 1:
                ranges.append((start, prev))
                start = ls
            prev = ls
        ranges.append((start, prev))
        data.append((run, tuple(ranges)))
    return tuple(data)


def _pair_error(run: object, ls: object, reason: str) -> GoldenJSONError:
    return GoldenJSONError(f"run {_short_repr.repr(run)}, lumisection {_short_repr.repr(ls)}: {reason}")


def _check_pair(run: object, ls: object) -> tuple[int, int]:
    if not _is_int(run):
        raise _pair_error(run, ls, f"run numbers must be integers, got {_describe(run)}")
    if not _is_int(ls):
        raise _pair_error(run, ls, f"lumisection numbers must be integers, got {_describe(ls)}")
    r, n = int(run), int(ls)  # type: ignore[call-overload]
    if not 1 <= r <= MAX_NUMBER:
        raise _pair_error(run, ls, f"run numbers must be between 1 and {MAX_NUMBER}")
    if not 1 <= n <= MAX_NUMBER:
        raise _pair_error(run, ls, f"lumisection numbers must be between 1 and {MAX_NUMBER}")
    return r, n


_WS = rb"[ \t\n\r]*"
_NUM = rb"[1-9][0-9]{0,9}"  # no zero, no leading zero, at most 10 digits (2**32 - 1 has 10)
_PAIR = rb"\[" + _WS + _NUM + _WS + rb"," + _WS + _NUM + _WS + rb"\]"
_RANGE_LIST = rb"\[" + _WS + rb"(?:" + _PAIR + _WS + rb"(?:," + _WS + _PAIR + _WS + rb")*)?\]"
_ENTRY = rb'"' + _NUM + rb'"' + _WS + rb":" + _WS + _RANGE_LIST
#: The shape of a golden JSON: an object of run keys (digits in quotes) to lists of ``[digits, digits]`` pairs,
#: with JSON whitespace between tokens; numbers without leading zeros, from 1 to 10 digits. Matched with RE2
#: (linear time, and several times faster than ``re`` here), compiled on first use.
_GOLDEN_SHAPE_PATTERN = _WS + rb"\{" + _WS + rb"(?:" + _ENTRY + _WS + rb"(?:," + _WS + _ENTRY + _WS + rb")*)?\}" + _WS
_GOLDEN_SHAPE: Any = None
#: digits stay, a quote becomes a minus sign, everything else a space: ``"315257": [[1, 88]]`` becomes
#: ``-315257-    1  88  ``; the closing quote's ``"- "`` is then blanked, so run keys read as negative numbers.
_NUMBERS_ONLY = bytes(c if 48 <= c <= 57 else 45 if c == 34 else 32 for c in range(256))


def _fast_range_keys(text: str | bytes) -> tuple[Any, Any] | None:
    """Decode golden-JSON text of the usual shape into normalised ``(starts, ends)`` uint64 keys, on whole arrays.

    Returns None (the caller then takes the strict reference path, which names the offending run and range)
    without numpy, when the text is not of :data:`_GOLDEN_SHAPE_PATTERN` (so zero and leading zeros too), or
    when a check on the arrays fails: a number above 2**32-1, an inverted range or a run key written twice.
    Unsorted, overlapping and adjacent ranges are sorted and merged here, as the reference does.
    """
    global _GOLDEN_SHAPE
    np = _numpy()
    if np is None:
        return None
    if isinstance(text, str):
        if not text.isascii():
            return None
        raw = text.encode("ascii")
    else:
        raw = text[3:] if text[:3] == b"\xef\xbb\xbf" else text
    if _GOLDEN_SHAPE is None:
        import re2

        _GOLDEN_SHAPE = re2.compile(_GOLDEN_SHAPE_PATTERN)
    if _GOLDEN_SHAPE.fullmatch(raw) is None:
        return None
    numbers = np.fromstring(raw.translate(_NUMBERS_ONLY).replace(b"- ", b"  "), dtype=np.int64, sep=" ")
    if numbers.size == 1 and numbers[0] == 0:  # numpy reads text without numbers ("{}") as [0]; 0 is not in the shape
        return np.empty(0, np.uint64), np.empty(0, np.uint64)
    is_key = numbers < 0
    runs = -numbers[is_key]
    if int(runs.max(initial=0)) > MAX_NUMBER:
        return None
    if runs.size > 1 and not (runs[1:] > runs[:-1]).all() and np.unique(runs).size != runs.size:
        return None  # a run key written twice: the reference names it
    key_index = np.cumsum(is_key) - 1
    in_range = ~is_key
    if (numbers.size - runs.size) % 2:  # pragma: no cover - the shape guarantees pairs; never trust a lost number
        return None
    firsts, lasts = numbers[in_range][0::2], numbers[in_range][1::2]
    if (firsts > lasts).any() or int(lasts.max(initial=0)) > MAX_NUMBER:
        return None
    runs, firsts, lasts = runs.astype(np.uint64), firsts.astype(np.uint64), lasts.astype(np.uint64)
    run_of_range = runs[key_index[in_range][0::2]]
    starts = (run_of_range << np.uint64(32)) | firsts
    ends = (run_of_range << np.uint64(32)) | lasts
    if starts.size > 1 and not (starts[1:] - np.uint64(1) > ends[:-1]).all():  # (no overflow at 2**64 - 1)
        order = np.argsort(starts, kind="stable")
        starts, ends = starts[order], np.maximum.accumulate(ends[order])
        # a range opens a new merged range unless it starts inside or right after the ones before it (same run:
        # a key's lumisection part is >= 1, so run boundaries always separate)
        opens = np.empty(starts.size, dtype=bool)
        opens[0] = True
        opens[1:] = starts[1:] - np.uint64(1) > ends[:-1]
        first_of_group = np.flatnonzero(opens)
        last_of_group = np.append(first_of_group[1:] - 1, starts.size - 1)
        starts, ends = starts[first_of_group], ends[last_of_group]
    return starts, ends


def _fits_uint32(arr: Any) -> bool:
    """True when every value of the integer array ``arr`` is in ``0..2**32-1`` (by dtype, else by min and max)."""
    if arr.dtype.kind == "u" and arr.dtype.itemsize <= 4:
        return True
    return bool(arr.min() >= 0) and bool(arr.max() <= MAX_NUMBER)


# --------------------------------------------------------------------------------------------------
# the type
# --------------------------------------------------------------------------------------------------


class GoldenJSON:
    """An immutable set of (run, lumisection) pairs stored as sorted, merged, inclusive ranges.

    ``GoldenJSON({"315257": [[1, 88], [91, 92]]})`` (int or str run keys), ``GoldenJSON()`` (empty),
    :meth:`load`, :meth:`from_json`, :meth:`from_pairs`, :meth:`from_runs_and_lumis`, :meth:`from_cmssw`.
    """

    __slots__ = (
        "__weakref__", "_arrays", "_boundaries", "_bounds_cache", "_by_run_cache", "_data_cache", "_dense", "_hash",
        "_n_ls", "_n_ranges", "_n_runs",
    )

    _data_cache: Data | None
    _by_run_cache: dict[int, RunRanges] | None
    _bounds_cache: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] | None
    _n_ls: int
    _n_ranges: int
    _n_runs: int
    _hash: int | None
    _arrays: Any
    _boundaries: Any
    _dense: Any

    # ----------------------------------------------------------------------------- construction

    def __init__(self, mapping: Mapping[Any, Iterable[Sequence[int]]] | GoldenJSON | None = None) -> None:
        """Build from ``{run: [[first, last], ...]}``; validates, copies and normalises the input."""
        if mapping is None:
            self._set_data(())
            return
        if isinstance(mapping, GoldenJSON):
            self._install(mapping._data_cache, mapping._arrays, mapping._n_ls, mapping._n_ranges, mapping._n_runs)
            return
        if not isinstance(mapping, Mapping):
            raise GoldenJSONError(
                f"a golden JSON must be a mapping {{run: [[first, last], ...]}}, got {_describe(mapping)}"
            )
        collected: dict[int, list[Range]] = {}
        for key, ranges in mapping.items():
            run = _run_key(key, ranges)
            if isinstance(ranges, (str, bytes, Mapping)) or not isinstance(ranges, Iterable):
                raise GoldenJSONError(
                    f"run {run}: expected a list of [first, last] ranges, got {_describe(ranges)}"
                )
            checked = [_check_range(run, rng) for rng in ranges]
            collected.setdefault(run, []).extend(checked)
        data = []
        for run in sorted(collected):
            merged = _merge_sorted(sorted(collected[run]))
            if merged:
                data.append((run, merged))
        self._set_data(tuple(data))

    def _set_data(self, data: Data) -> None:
        """Install already-normalised data (the lookup tables and arrays are derived on first use)."""
        n_ls = n_ranges = 0
        for _, ranges in data:
            n_ls += _count(ranges)
            n_ranges += len(ranges)
        self._install(data, None, n_ls, n_ranges, len(data))

    def _install(self, data: Data | None, arrays: Any, n_ls: int, n_ranges: int, n_runs: int) -> None:
        setter = object.__setattr__
        setter(self, "_data_cache", data)
        setter(self, "_by_run_cache", None)
        setter(self, "_bounds_cache", None)
        setter(self, "_n_ls", n_ls)
        setter(self, "_n_ranges", n_ranges)
        setter(self, "_n_runs", n_runs)
        setter(self, "_hash", None)
        setter(self, "_arrays", arrays)
        setter(self, "_boundaries", None)
        setter(self, "_dense", None)

    @classmethod
    def _from_range_keys(cls, starts: Any, ends: Any) -> GoldenJSON:
        """Wrap normalised ranges given as uint64 numpy keys ``run << 32 | ls`` without validation (internal, trusted).

        ``starts``/``ends`` are the inclusive first/last keys of each range, sorted, within one run each, and
        neither overlapping nor adjacent. The Python tuples (``_data``) are only built if an operation needs them.
        """
        np = _numpy()
        n_ranges = int(starts.size)
        if n_ranges:
            run_of = starts >> np.uint64(32)
            n_runs = int(np.count_nonzero(run_of[1:] != run_of[:-1])) + 1
            n_ls = int((ends - starts).sum(dtype=np.uint64)) + n_ranges
        else:
            n_runs = n_ls = 0
        obj = cls.__new__(cls)
        obj._install(None, (starts, ends), n_ls, n_ranges, n_runs)
        return obj

    @property
    def _data(self) -> Data:
        """``((run, ((first, last), ...)), ...)``: the normalised content as tuples (built from the arrays on demand)."""
        data = self._data_cache
        if data is None:
            np = _numpy()
            starts, ends = self._arrays
            low = np.uint64(MAX_NUMBER)
            runs = (starts >> np.uint64(32)).tolist()
            pairs = zip((starts & low).tolist(), (ends & low).tolist())
            grouped: dict[int, list[Range]] = {}
            for run, pair in zip(runs, pairs):
                grouped.setdefault(run, []).append(pair)
            data = tuple((run, tuple(ranges)) for run, ranges in grouped.items())
            object.__setattr__(self, "_data_cache", data)
        return data

    @property
    def _by_run(self) -> dict[int, RunRanges]:
        by_run = self._by_run_cache
        if by_run is None:
            by_run = dict(self._data)
            object.__setattr__(self, "_by_run_cache", by_run)
        return by_run

    @property
    def _bounds(self) -> dict[int, tuple[tuple[int, ...], tuple[int, ...]]]:
        bounds = self._bounds_cache
        if bounds is None:
            bounds = {run: (tuple(a for a, _ in ranges), tuple(b for _, b in ranges)) for run, ranges in self._data}
            object.__setattr__(self, "_bounds_cache", bounds)
        return bounds

    @classmethod
    def _from_data(cls, data: Data) -> GoldenJSON:
        """Wrap already-normalised data without validation (internal)."""
        obj = cls.__new__(cls)
        obj._set_data(tuple(item for item in data if item[1]))
        return obj

    @classmethod
    def from_json(cls, text: str | bytes) -> GoldenJSON:
        """Parse golden-JSON text (any whitespace; duplicate run keys are an error).

        Text of the certification-file shape is decoded and validated on whole numpy arrays
        (:func:`_fast_range_keys`); anything else, and every invalid file, goes through the strict reference
        path (:meth:`_from_json_strict`), which names the offending run and range.
        """
        fast = _fast_range_keys(text)
        if fast is not None:
            return cls._from_range_keys(*fast)
        return cls._from_json_strict(text)

    @classmethod
    def _from_json_strict(cls, text: str | bytes) -> GoldenJSON:
        """The reference decoding: strict JSON decoder, then the validating constructor (tests compare against it)."""
        obj = load_json_document(text, GoldenJSONError)
        if not isinstance(obj, dict):
            raise GoldenJSONError(f"a golden JSON must be a JSON object, got {_describe(obj)}")
        return cls(obj)

    @classmethod
    def load(cls, path: PathLike) -> GoldenJSON:
        """Read a golden JSON file (plain or gzip-compressed, detected from its content)."""
        raw = read_maybe_gzip(path, GoldenJSONError)
        try:
            return cls.from_json(raw)
        except GoldenJSONError as exc:
            raise GoldenJSONError(f"{path}: {exc}") from exc

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[int, int]]) -> GoldenJSON:
        """Build from an iterable of ``(run, lumisection)`` pairs (duplicates and any order allowed)."""
        grouped: dict[int, list[int]] = {}
        for item in pairs:
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise GoldenJSONError(f"expected a (run, lumisection) pair, got {_describe(item)}")
            run, ls = _check_pair(item[0], item[1])
            grouped.setdefault(run, []).append(ls)
        return cls._from_data(_pairs_to_data(grouped))

    @classmethod
    def from_runs_and_lumis(cls, runs: Sequence[int] | Any, lumis: Sequence[int] | Any) -> GoldenJSON:
        """Build from two parallel sequences/arrays of run and lumisection numbers (vectorised with numpy)."""
        np = _numpy()
        if np is None:
            runs_list, lumis_list = list(runs), list(lumis)
            if len(runs_list) != len(lumis_list):
                raise GoldenJSONError(
                    f"runs and lumis must have the same length, got {len(runs_list)} and {len(lumis_list)}"
                )
            return cls.from_pairs(zip(runs_list, lumis_list))
        r = np.asarray(runs)
        ls = np.asarray(lumis)
        if r.ndim != 1 or ls.ndim != 1 or r.shape != ls.shape:
            raise GoldenJSONError(
                f"runs and lumis must be one-dimensional and of the same length, got shapes {r.shape} and {ls.shape}"
            )
        if r.size == 0:
            return cls()
        for name, arr in (("run", r), ("lumisection", ls)):
            if arr.dtype.kind not in "iu":
                bad = arr.flat[0]
                raise GoldenJSONError(
                    f"{name} numbers must be integers, got array of dtype {arr.dtype} (first value {bad!r})"
                )
        bad_mask = (r < 1) | (r > MAX_NUMBER) | (ls < 1) | (ls > MAX_NUMBER)
        if bad_mask.any():
            i = int(np.flatnonzero(bad_mask)[0])
            raise _pair_error(
                int(r[i]), int(ls[i]), f"run and lumisection numbers must be between 1 and {MAX_NUMBER}"
            )
        keys = np.unique((r.astype(np.uint64) << np.uint64(32)) | ls.astype(np.uint64))
        breaks = np.flatnonzero(np.diff(keys) != 1)
        starts = keys[np.concatenate(([0], breaks + 1))]
        ends = keys[np.concatenate((breaks, [keys.size - 1]))]
        return cls._from_range_keys(starts, ends)

    @classmethod
    def from_cmssw(cls, text: str) -> GoldenJSON:
        """Parse a CMSSW lumi-range string such as ``"315257:1-315257:88,315257:91"``.

        Items spanning two runs (``1:5-2:10``) are rejected: their extent within the runs is unbounded.
        """
        if not isinstance(text, str):
            raise GoldenJSONError(f"expected a CMSSW lumi-range string, got {_describe(text)}")
        collected: dict[int, list[Sequence[int]]] = {}
        if not text.strip():
            return cls()
        for raw_item in text.split(","):
            item = raw_item.strip()
            if not item:
                raise GoldenJSONError(f"empty item in CMSSW lumi-range string {_short_repr.repr(text)}")
            m = _CMSSW_ITEM.fullmatch(item)
            if m is None:
                raise GoldenJSONError(f"cannot parse CMSSW lumi range {item!r} (expected R:a or R:a-R:b)")
            run_a, first = int(m.group(1)), int(m.group(2))
            if m.group(3) is None:
                run_b, last = run_a, first
            else:
                run_b, last = int(m.group(3)), int(m.group(4))
            if run_a != run_b:
                raise GoldenJSONError(
                    f"run {run_a}: CMSSW lumi range {item!r} spans runs {run_a} to {run_b}; not supported"
                )
            collected.setdefault(run_a, []).append([first, last])
        return cls(collected)

    # ----------------------------------------------------------------------------- immutability

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self)._from_data, (self._data,))

    def __copy__(self) -> GoldenJSON:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> GoldenJSON:
        return self

    # ----------------------------------------------------------------------------- basic protocol

    def __hash__(self) -> int:
        if self._hash is None:
            object.__setattr__(self, "_hash", hash(self._data))
        return self._hash  # type: ignore[return-value]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GoldenJSON):
            return NotImplemented
        if self._n_ls != other._n_ls or self._n_ranges != other._n_ranges:
            return False
        if self._data_cache is None and other._data_cache is None:
            return all(bool((a == b).all()) for a, b in zip(self._arrays, other._arrays))
        return self._data == other._data

    def __ne__(self, other: object) -> bool:
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    def __bool__(self) -> bool:
        return self._n_ranges > 0

    def __len__(self) -> int:
        """Number of lumisections (not runs, unlike CMSSW's LumiList)."""
        return self._n_ls

    def __contains__(self, item: object) -> bool:
        """``(run, ls) in g``. Anything but a pair of integers raises TypeError."""
        if not isinstance(item, (tuple, list)) or len(item) != 2 or not all(_is_int(v) for v in item):
            raise TypeError(
                f"GoldenJSON membership needs a (run, lumisection) pair of integers, got {_describe(item)};"
                " use `run in g.runs` to test a run"
            )
        bounds = self._bounds.get(int(item[0]))
        if bounds is None:
            return False
        ls = int(item[1])
        starts, ends = bounds
        i = bisect_right(starts, ls) - 1
        return i >= 0 and ls <= ends[i]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        """All (run, lumisection) pairs in increasing order."""
        for run, ranges in self._data:
            for first, last in ranges:
                for ls in range(first, last + 1):
                    yield run, ls

    # ----------------------------------------------------------------------------- accessors

    @property
    def runs(self) -> tuple[int, ...]:
        """Run numbers, sorted numerically."""
        return tuple(run for run, _ in self._data)

    @property
    def n_runs(self) -> int:
        return self._n_runs

    @property
    def n_ranges(self) -> int:
        return self._n_ranges

    @property
    def n_lumisections(self) -> int:
        return self._n_ls

    def ranges(self, run: int | str) -> list[list[int]]:
        """The ``[first, last]`` ranges of ``run`` (fresh lists; empty if the run is absent)."""
        if (isinstance(run, str) and _DIGITS.fullmatch(run)) or _is_int(run):
            key = int(run)
        else:
            raise TypeError(f"run must be an integer, got {_describe(run)}")
        return [[a, b] for a, b in self._by_run.get(key, ())]

    def items(self) -> Iterator[tuple[int, RunRanges]]:
        """``(run, ((first, last), ...))`` in run order (the internal immutable tuples)."""
        return iter(self._data)

    # ----------------------------------------------------------------------------- set algebra

    def _binary(self, other: object, op: Callable[[RunRanges, RunRanges], RunRanges], runs: str) -> Any:
        if not isinstance(other, GoldenJSON):
            return NotImplemented
        mine, theirs = self._by_run, other._by_run
        if runs == "both":
            # both dicts iterate in run order; walk the smaller one
            small, big = (mine, theirs) if len(mine) <= len(theirs) else (theirs, mine)
            keys: Iterable[int] = [r for r in small if r in big]
        elif runs == "left":
            keys = mine
        else:
            keys = sorted(mine.keys() | theirs.keys())
        data = []
        empty: RunRanges = ()
        for run in keys:
            result = op(mine.get(run, empty), theirs.get(run, empty))
            if result:
                data.append((run, result))
        return type(self)._from_data(tuple(data))

    def __and__(self, other: GoldenJSON) -> GoldenJSON:
        return self._binary(other, _intersect, "both")

    def __or__(self, other: GoldenJSON) -> GoldenJSON:
        return self._binary(other, _union, "all")

    def __sub__(self, other: GoldenJSON) -> GoldenJSON:
        return self._binary(other, _subtract, "left")

    def __xor__(self, other: GoldenJSON) -> GoldenJSON:
        return self._binary(other, lambda a, b: _union(_subtract(a, b), _subtract(b, a)), "all")

    def isdisjoint(self, other: GoldenJSON) -> bool:
        return not (self & other)

    def issubset(self, other: GoldenJSON) -> bool:
        return not (self - other)

    def issuperset(self, other: GoldenJSON) -> bool:
        return not (other - self)

    def __le__(self, other: object) -> bool:
        if not isinstance(other, GoldenJSON):
            return NotImplemented
        return self.issubset(other)

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, GoldenJSON):
            return NotImplemented
        return self.issuperset(other)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, GoldenJSON):
            return NotImplemented
        return self != other and self.issubset(other)

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, GoldenJSON):
            return NotImplemented
        return self != other and self.issuperset(other)

    def filter_runs(self, runs: Callable[[int], object] | Iterable[int | str]) -> GoldenJSON:
        """Keep the runs for which ``runs(run)`` is true, or the runs listed in ``runs`` (ints or strs)."""
        if callable(runs):
            predicate = runs
        else:
            wanted = set()
            for r in runs:
                if (isinstance(r, str) and _DIGITS.fullmatch(r)) or _is_int(r):
                    wanted.add(int(r))
                else:
                    raise TypeError(f"run numbers must be integers, got {_describe(r)}")
            predicate = wanted.__contains__
        return type(self)._from_data(tuple(item for item in self._data if predicate(item[0])))

    def restrict(self, run_min: int | None = None, run_max: int | None = None) -> GoldenJSON:
        """Keep runs with ``run_min <= run <= run_max`` (inclusive; ``None`` means unbounded)."""
        lo = 0 if run_min is None else run_min
        hi = MAX_NUMBER if run_max is None else run_max
        return type(self)._from_data(tuple(item for item in self._data if lo <= item[0] <= hi))

    # ----------------------------------------------------------------------------- vectorised membership

    def _range_arrays(self) -> tuple[Any, Any]:
        """Flattened uint64 keys ``run << 32 | ls`` of range starts and ends (cached)."""
        if self._arrays is None:
            np = _numpy()
            starts = [(run << 32) | a for run, ranges in self._data for a, _ in ranges]
            ends = [(run << 32) | b for run, ranges in self._data for _, b in ranges]
            arrays = (np.array(starts, dtype=np.uint64), np.array(ends, dtype=np.uint64))
            object.__setattr__(self, "_arrays", arrays)
        return self._arrays  # type: ignore[no-any-return]

    def _boundary_array(self) -> Any:
        """``[start0, end0 + 1, start1, end1 + 1, ...]`` as uint64 keys (cached): a key is inside a range exactly
        when the count of boundaries <= key is odd. Strictly increasing because ranges are merged (never adjacent);
        the last ``end + 1`` is left out when it would overflow (run and lumisection both 2**32 - 1)."""
        if self._boundaries is None:
            np = _numpy()
            starts, ends = self._range_arrays()
            boundaries = np.empty(2 * starts.size, dtype=np.uint64)
            boundaries[0::2] = starts
            boundaries[1::2] = ends + np.uint64(1)
            if starts.size and int(ends[-1]) == 2**64 - 1:
                boundaries = boundaries[:-1]
            object.__setattr__(self, "_boundaries", boundaries)
        return self._boundaries

    def _dense_table(self) -> Any:
        """``(first run, row offsets, width, flat bool table)`` when both fit in :data:`DENSE_TABLE_BYTES`, else False
        (cached).

        The table has one row of ``width`` cells per run (one more than the largest lumisection, plus a last column
        that is always False) and a last, all-False row. ``offsets[run - first_run + 1]`` is the flat index of the
        run's row; index 0, the last index and runs without ranges point at the all-False row. A lookup is then
        two clips, two gathers and an add, with no masks.
        """
        if self._dense is None:
            np = _numpy()
            starts, ends = self._range_arrays()
            low = np.uint64(MAX_NUMBER)
            run_of = (starts >> np.uint64(32)).astype(np.int64)
            runs = np.unique(run_of)
            span = int(runs[-1] - runs[0]) + 1
            width = int((ends & low).max()) + 2
            dense: Any = False
            if (span + 2) * 8 <= DENSE_TABLE_BYTES and (runs.size + 1) * width <= DENSE_TABLE_BYTES:
                offsets = np.full(span + 2, runs.size * width, dtype=np.int64)  # the all-False row
                offsets[runs - runs[0] + 1] = np.arange(runs.size, dtype=np.int64) * width
                row_start = offsets[run_of - runs[0] + 1]
                # +1 at each range's first cell, -1 right after its last one (still in the row: the last column is
                # spare; never another range's first cell: ranges are not adjacent), then a running sum
                change = np.zeros((runs.size + 1) * width, dtype=np.int8)
                change[row_start + (starts & low).astype(np.int64)] = 1
                change[row_start + (ends & low).astype(np.int64) + 1] = -1
                table = np.cumsum(change, dtype=np.int8).view(bool)
                dense = (int(runs[0]), offsets, width, table)
            object.__setattr__(self, "_dense", dense)
        return self._dense

    def contains_many(self, runs: Any, lumis: Any) -> Any:
        """Vectorised ``(run, ls) in self``: a boolean numpy array (broadcast shape), or a list without numpy.

        Integers outside 1..2**32-1 are simply not contained; non-integer arrays raise TypeError. One
        ``searchsorted`` of the ``run << 32 | ls`` keys over the range boundaries; the out-of-range check is two
        reductions per array, and is skipped for unsigned arrays of at most 32 bits.
        """
        np = _numpy()
        if np is None:
            runs_list, lumis_list = list(runs), list(lumis)
            if len(runs_list) != len(lumis_list):
                raise ValueError(f"runs and lumis differ in length: {len(runs_list)} and {len(lumis_list)}")
            return [(r, ls) in self for r, ls in zip(runs_list, lumis_list)]
        r = np.asarray(runs)
        ls = np.asarray(lumis)
        if r.size == 0 and r.dtype.kind == "f":
            r = r.astype(np.int64)
        if ls.size == 0 and ls.dtype.kind == "f":
            ls = ls.astype(np.int64)
        for name, arr in (("runs", r), ("lumis", ls)):
            if arr.dtype.kind not in "iu":
                raise TypeError(f"{name} must be an integer array, got dtype {arr.dtype}")
        r, ls = np.broadcast_arrays(r, ls)
        if not self._n_ranges or r.size == 0:
            return np.zeros(r.shape, dtype=bool)
        valid = None
        if not (_fits_uint32(r) and _fits_uint32(ls)):
            # run or lumisection 0 never matches (no range starts below 1), so out-of-range values become 0
            valid = (r >= 0) & (r <= MAX_NUMBER) & (ls >= 0) & (ls <= MAX_NUMBER)
            r = np.where(valid, r, 0)
            ls = np.where(valid, ls, 0)
        dense = self._dense_table()
        if dense is not False:
            first_run, offsets, width, table = dense
            if r.dtype == np.uint64:  # (values <= 2**32-1 here) so that mixing with int64 stays integer
                r = r.astype(np.int64)
            if ls.dtype == np.uint64:
                ls = ls.astype(np.int64)
            index = np.subtract(r, first_run - 1, dtype=np.int64)
            np.clip(index, 0, offsets.size - 1, out=index)  # below or above the runs: the all-False row
            flat = offsets[index]
            if ls.dtype.itemsize < 4:  # (width - 1 may not fit an 8- or 16-bit type)
                ls = ls.astype(np.int64)
            flat += np.minimum(ls, width - 1)  # beyond the largest lumisection: the spare, always False column
            return table[flat].reshape(r.shape)
        keys = r.astype(np.uint64)
        keys <<= np.uint64(32)
        keys |= ls.astype(np.uint64, copy=False)
        position = np.searchsorted(self._boundary_array(), keys, side="right")
        return np.asarray(position & 1, dtype=bool).reshape(r.shape)

    # ----------------------------------------------------------------------------- output

    def to_dict(self) -> dict[str, list[list[int]]]:
        """``{str(run): [[first, last], ...]}`` with keys in numeric order (fresh lists)."""
        return {str(run): [[a, b] for a, b in ranges] for run, ranges in self._data}

    def to_json(self, compact: bool = False, *, width: int | None = 80) -> str:
        """Golden-JSON text: the certification-file layout (one run per line), or minimal with ``compact``.

        In the default layout a run whose line (with its trailing comma) is longer than ``width`` is written
        with one range per line; ``width=None`` never breaks a run.
        """
        if compact:
            return json.dumps(self.to_dict(), separators=(",", ":"))
        if not self._data:
            return "{}"
        lines = []
        last_index = len(self._data) - 1
        for i, (run, ranges) in enumerate(self._data):
            one = f'  "{run}": [' + ", ".join(f"[{a}, {b}]" for a, b in ranges) + "]"
            if width is None or len(one) + (i != last_index) <= width:
                lines.append(one)
            else:
                inner = ",\n".join(f"    [{a}, {b}]" for a, b in ranges)
                lines.append(f'  "{run}": [\n{inner}\n  ]')
        return "{\n" + ",\n".join(lines) + "\n}"

    def write(self, path: PathLike, *, compact: bool = False, width: int | None = 80) -> None:
        """Atomically write :meth:`to_json` to ``path`` (gzip-compressed if it ends in ``.gz``).

        The text goes to a temporary file in the same directory, which is fsynced and then ``os.replace``\\ d
        over ``path``; on failure ``path`` is untouched and the temporary file removed. An existing
        destination's permission bits are kept.
        """
        atomic_write_text(path, self.to_json(compact=compact, width=width), compresslevel=9)

    def to_pandas(self, per: str = "range") -> Any:
        """A pandas DataFrame: one row per ``(run, first, last)`` range, or per lumisection (``per="lumisection"``)."""
        return golden_to_pandas(self, per)

    def to_polars(self, per: str = "range") -> Any:
        """The same table as :meth:`to_pandas`, as a polars DataFrame; needs polars."""
        try:
            import polars as pl
        except ImportError as exc:
            raise ImportError("GoldenJSON.to_polars needs polars: pip install polars") from exc
        if per == "range":
            rows = [(run, a, b, b - a + 1) for run, ranges in self.items() for a, b in ranges]
            return pl.DataFrame(rows, schema=[("run", pl.Int64), ("first", pl.Int64), ("last", pl.Int64),
                                              ("lumisections", pl.Int64)], orient="row")
        if per == "lumisection":
            return pl.DataFrame(list(self), schema=[("run", pl.Int64), ("lumisection", pl.Int64)], orient="row")
        raise ValueError(f"per must be 'range' or 'lumisection', not {per!r}")

    def to_cmssw(self) -> str:
        """CMSSW lumi-range string as ``LumiList.getCMSSWString``: ``"R:a-R:b,R:c"`` (single LS as ``R:c``)."""
        parts = []
        for run, ranges in self._data:
            for a, b in ranges:
                parts.append(f"{run}:{a}" if a == b else f"{run}:{a}-{run}:{b}")
        return ",".join(parts)

    def diff(self, other: GoldenJSON) -> GoldenDiff:
        """What is only in ``self`` (left) and only in ``other`` (right)."""
        if not isinstance(other, GoldenJSON):
            raise TypeError(f"can only diff against a GoldenJSON, got {_describe(other)}")
        return GoldenDiff(only_left=self - other, only_right=other - self)

    # ----------------------------------------------------------------------------- display

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({_plural(self.n_runs, 'run')}, {_plural(self._n_ranges, 'range')}, "
            f"{_plural(self._n_ls, 'lumisection')})"
        )

    def _repr_html_(self, max_runs: int = 20) -> str:
        rows = []
        for run, ranges in self._data[:max_runs]:
            rows.append(
                f"<tr><td>{run}</td><td>{html.escape(_format_ranges(ranges, 8))}</td>"
                f"<td style='text-align:right'>{_count(ranges):,}</td></tr>"
            )
        if self.n_runs > max_runs:
            rows.append(f"<tr><td colspan='3'>&hellip; {self.n_runs - max_runs:,} more runs</td></tr>")
        return (
            "<table class='dqquery-goldenjson'>"
            f"<caption>{html.escape(repr(self))}</caption>"
            "<thead><tr><th>run</th><th>lumisection ranges</th><th>lumisections</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )


@dataclasses.dataclass(frozen=True)
class GoldenDiff:
    """Result of :meth:`GoldenJSON.diff`: the pairs only in the left and only in the right operand."""

    only_left: GoldenJSON
    only_right: GoldenJSON

    @property
    def identical(self) -> bool:
        return not self.only_left and not self.only_right

    def summary(self, max_runs: int = 5, left: str = "left", right: str = "right") -> str:
        """Counts on each side plus the first ``max_runs`` differing runs, one per line."""
        if self.identical:
            return "identical"
        lines = [
            f"only in {left}: {_plural(self.only_left.n_runs, 'run')}, "
            f"{_plural(self.only_left.n_lumisections, 'lumisection')}",
            f"only in {right}: {_plural(self.only_right.n_runs, 'run')}, "
            f"{_plural(self.only_right.n_lumisections, 'lumisection')}",
        ]
        differing = sorted(set(self.only_left.runs) | set(self.only_right.runs))
        for run in differing[:max_runs]:
            pieces = []
            for label, side in ((left, self.only_left), (right, self.only_right)):
                ranges = side._by_run.get(run)
                if ranges:
                    pieces.append(f"only {label} {_format_ranges(ranges, 6)}")
            lines.append(f"  run {run}: " + "; ".join(pieces))
        if len(differing) > max_runs:
            lines.append(f"  ... and {len(differing) - max_runs:,} more differing runs")
        return "\n".join(lines)


def intersect_ranges(
    rr: Sequence[dict[str, Any]], oms: Sequence[dict[str, Any]]
) -> list[tuple[int, int, int, int]]:
    """``(start, end, rr index, oms index)`` of every non-empty intersection of two sorted range lists
    (``{"start": a, "end": b, ...}`` objects, inclusive, increasing, not overlapping within a list)."""
    out: list[tuple[int, int, int, int]] = []
    i = j = 0
    n, m = len(rr), len(oms)
    while i < n and j < m:
        a, b = rr[i], oms[j]
        a_end, b_end = a["end"], b["end"]
        start = a["start"] if a["start"] > b["start"] else b["start"]
        end = a_end if a_end < b_end else b_end
        if start <= end:
            out.append((start, end, i, j))
        if a_end < b_end:
            i += 1
        else:
            j += 1
    return out


def golden_to_pandas(golden: GoldenJSON, per: str = "range") -> Any:
    """A DataFrame of a golden JSON.

    ``per="range"``: one row per range, columns ``run``, ``first``, ``last``, ``lumisections`` (sorted, merged
    ranges as stored). ``per="lumisection"``: one row per (``run``, ``lumisection``) pair, for joining with
    per-lumisection tables.
    """
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError('GoldenJSON.to_pandas needs pandas: pip install "dqquery[pandas]"') from exc
    if per == "range":
        rows = [(run, a, b, b - a + 1) for run, ranges in golden.items() for a, b in ranges]
        frame = pd.DataFrame(rows, columns=["run", "first", "last", "lumisections"])
    elif per == "lumisection":
        frame = pd.DataFrame(list(golden), columns=["run", "lumisection"])
    else:
        raise ValueError(f"per must be 'range' or 'lumisection', not {per!r}")
    return frame.astype("int64")
