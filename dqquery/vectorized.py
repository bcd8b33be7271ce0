"""The vectorized golden-JSON evaluator: a query over a :class:`~dqquery.columnar.ColumnarSnapshot` with numpy.

``golden(query, columnar, dataset=None)`` returns exactly what :func:`dqquery.evaluator.golden` returns (the
reference semantics; ``tests/test_columnar.py`` checks it on generated snapshots and queries):

1. *Units*: the (run, dataset) rows whose name matches the pattern (SQL ``SIMILAR TO``, :func:`dataset_matcher`),
   neither deleted nor in a deleted run, with lumisection data.
2. *Evaluated lumisections* (:func:`evaluated_view`, the one place that says which lumisections are evaluated and
   with which RR and OMS rows): a unit's own RR ranges and own OMS ranges; a dataset other than ``online``
   reads online's OMS values (and luminosity) under its own, as :meth:`Snapshot.evaluated` does.
3. *Segments*: one sweep over the sorted break points of every unit (``unit * stride + lumisection``: RR and
   OMS range bounds, the lumisection numbers where a ``lumisection_number`` predicate may change, and every
   lumisection of a luminosity block when the query reads ``recorded``/``delivered``) gives elementary
   segments; ``searchsorted`` finds each segment's RR and OMS row, and segments without both are dropped.
4. *Clauses*: each predicate is computed once per distinct value of its column
   (:func:`dqquery.semantics.evaluate_predicate`, so leaves cannot drift from the reference), then gathered
   to its level (run, unit, RR row, OMS row, segment) and to the segments with one fancy index. Truth is int8:
   1 true, 0 unknown, -1 false, so Kleene ``and``/``or``/``not`` are ``minimum``/``maximum``/negation.
5. *Ranges*: selected segments are sorted by (run, start) and merged with a running maximum (the union over
   datasets, as the reference does), then wrapped by ``GoldenJSON._from_data`` (the trusted constructor).

Decisions:
* Every node kind and value type is covered by evaluating leaves on distinct values: a status column has a
  handful, a bit three, a float column ``np.unique`` of its values. No query is refused.
* A top-level ``and`` is evaluated clause by clause, run- and dataset-level clauses first; a segment on which a
  clause is not True is dropped (exact: only True selects), and the segment arrays are compacted once a quarter
  of them is gone (compacting after every clause cost more than evaluating on dead segments).
* The online overlay (issue 9) is built as derived tables in :func:`evaluated_view` only when a selected
  offline unit has online OMS rows under it; the OMS columns are gathered from the snapshot's own table (own
  row, or online's row where the own row lacks the key), so no value is re-encoded. The merged luminosity
  block (only for units where the reference builds one) picks each lumisection's source with array operations
  over one dictionary of the block's and the OMS table's distinct values (:class:`_CodeUnion`).
* ``explain`` keeps a (segments x clauses) matrix of "not True" and reduces it per piece of a run (the pieces of
  all its datasets); ``recorded_in`` and ``explain`` compute each piece's luminosity with the reference's
  formula and add the pieces one by one in the reference's order (numpy's ``sum`` is pairwise), so every
  figure is the same float. Neither imports anything above :mod:`dqquery.explanation`.
* A snapshot without any dataset name selects nothing (empty golden JSON), as :func:`matching_datasets` does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import ast as A
from .columnar import LUMINOSITY_KEYS, Column, ColumnarSnapshot, _value_key
from .evaluator import UnknownDataset, compile_plan, dataset_matcher, ls_breaks
from .explanation import ClauseLoss, ExplainReport, RunLoss
from .luminosity import luminosity_number
from .lumiranges import MAX_NUMBER, GoldenJSON
from .query import as_node
from .semantics import evaluate_predicate
from .snapshot import ONLINE, Snapshot

__all__ = ["EvaluatedView", "evaluated_view", "explain", "golden", "recorded_in", "selected_units"]

TRUE, UNKNOWN, FALSE = 1, 0, -1
_CODE = {True: TRUE, None: UNKNOWN, False: FALSE}


# ------------------------------------------------------------------------------------------ units and view


def selected_units(snap: ColumnarSnapshot, dataset: str | None) -> np.ndarray:
    """Units evaluated for a dataset pattern (``None`` means ``online``): matching name, not deleted, with data.

    Raises :class:`~dqquery.evaluator.UnknownDataset` when no dataset of the snapshot matches (as RR does)."""
    matches = dataset_matcher(dataset)
    name_ok = np.array([matches(n) for n in snap.names], dtype=bool)
    units = snap.units
    alive = ~units["deleted"] & ~snap.runs["deleted"][units["run"]]
    matched = alive & name_ok[units["name"]] if snap.n_units else np.zeros(0, dtype=bool)
    if not snap.names:  # no dataset at all (a fetch that selected no run): nothing to evaluate, as RR's {}
        return matched
    if not matched.any():
        names = list(snap.names)
        shown = ", ".join(repr(n) for n in names[:5]) + (", ..." if len(names) > 5 else "")
        raise UnknownDataset(
            f"no dataset of the snapshot matches {ONLINE if dataset is None else dataset!r}"
            f" (dataset names are matched with SQL SIMILAR TO: % any text, _ one character);"
            f" the snapshot has {shown or 'no datasets'}"
        )
    return matched & units["has_data"]


@dataclass(frozen=True)
class EvaluatedView:
    """Which lumisections are evaluated and with which values: RR rows (of the snapshot's ``rr`` table) and rows
    of an OMS table and a luminosity table (the snapshot's own, or tables derived from them), each sorted by
    unit then start; the evaluated lumisections are the intersection of the RR and OMS rows."""

    rr_rows: np.ndarray
    oms: dict[str, Any]
    oms_rows: np.ndarray
    luminosity: dict[str, Any]
    merged_block: np.ndarray | None = None  # per unit: its luminosity rows are the reference's merged block


def evaluated_view(snap: ColumnarSnapshot, units: np.ndarray) -> EvaluatedView:
    """The evaluated RR and OMS rows of the selected units (boolean mask over units).

    The reference's rule (:meth:`Snapshot.evaluated`, :func:`~dqquery.snapshot.merged_with_online`): a unit is
    evaluated on the intersection of its OWN RR ranges and its OWN OMS ranges. A dataset other than ``online``
    whose run has ``online`` OMS data (and which has OMS data of its own) reads online's OMS values under its own,
    key by key (own wins, even a null): its OMS ranges are cut at online's range bounds and each value column
    takes online's row where the own row lacks the key. Luminosity follows :func:`_merged_luminosity`."""
    empty = np.zeros(0, dtype=np.intp)
    rr_rows = np.flatnonzero(units[snap.rr["unit"]]) if len(snap.rr["unit"]) else empty
    oms_rows = np.flatnonzero(units[snap.oms["unit"]]) if len(snap.oms["unit"]) else empty
    under = _online_unit(snap, units)
    if not (under >= 0).any():
        return EvaluatedView(rr_rows=rr_rows, oms=snap.oms, oms_rows=oms_rows, luminosity=snap.luminosity)
    oms, merged_block = _overlaid_oms(snap, units, under)
    luminosity = _merged_luminosity(snap, oms, under, merged_block) if merged_block.any() else snap.luminosity
    return EvaluatedView(rr_rows=rr_rows, oms=oms, oms_rows=np.arange(len(oms["unit"]), dtype=np.intp), luminosity=luminosity,
                         merged_block=merged_block)


def _online_unit(snap: ColumnarSnapshot, units: np.ndarray) -> np.ndarray:
    """Per unit, the ``online`` unit of its run whose OMS values go under its own, or -1 (``online`` itself, a unit
    not selected, a run without online OMS rows, a unit without OMS rows of its own)."""
    under = np.full(snap.n_units, -1, dtype=np.int64)
    if ONLINE not in snap.names or not snap.n_units:
        return under
    n_oms = np.bincount(snap.oms["unit"], minlength=snap.n_units) if len(snap.oms["unit"]) else np.zeros(snap.n_units, dtype=np.int64)
    online_code = snap.names.index(ONLINE)
    is_online = (snap.units["name"] == online_code) & snap.units["has_data"]
    online_of_run = np.full(snap.n_runs, -1, dtype=np.int64)
    online_units = np.flatnonzero(is_online)
    online_of_run[snap.units["run"][online_units]] = online_units
    candidate = online_of_run[snap.units["run"]]
    ok = units & ~is_online & (candidate >= 0) & (n_oms > 0)
    ok &= n_oms[np.maximum(candidate, 0)] > 0
    under[ok] = candidate[ok]
    return under


def _overlaid_oms(snap: ColumnarSnapshot, units: np.ndarray, under: np.ndarray) -> tuple[dict[str, Any], np.ndarray]:
    """The OMS table of the selected units with online's values under the own ones (:func:`overlay_ranges` on
    arrays), and per unit whether the reference builds a merged luminosity block for it."""
    stride = snap.stride()
    oms_unit = snap.oms["unit"]
    key_s = oms_unit * stride + snap.oms["start"]
    key_e = oms_unit * stride + snap.oms["end"]
    own = np.flatnonzero(units[oms_unit])
    overlaid = own[under[oms_unit[own]] >= 0]
    plain = own[under[oms_unit[own]] < 0]
    # Online's rows, copied into the key space of every unit they go under.
    target = np.flatnonzero(under >= 0)
    online_rows_of = {int(o): np.flatnonzero(oms_unit == o) for o in np.unique(under[target])}
    base_unit = np.concatenate([np.full(len(online_rows_of[int(under[t])]), t, dtype=np.int64) for t in target])
    base_row = np.concatenate([online_rows_of[int(under[t])] for t in target])
    base_s = base_unit * stride + snap.oms["start"][base_row]
    base_e = base_unit * stride + snap.oms["end"][base_row]  # sorted: by target unit, then online's order
    bounds = np.unique(np.concatenate([key_s[overlaid], key_e[overlaid] + 1, base_s, base_e + 1]))
    start, end = bounds[:-1], bounds[1:] - 1
    i = np.searchsorted(key_s[overlaid], start, side="right") - 1
    i_c = np.maximum(i, 0)
    inside = (i >= 0) & (key_e[overlaid][i_c] >= start)
    start, end, own_row = start[inside], end[inside], overlaid[i_c[inside]]
    j = np.searchsorted(base_s, start, side="right") - 1
    j_c = np.maximum(j, 0)
    base_of = np.where((j >= 0) & (base_e[j_c] >= start), base_row[j_c], -1)
    # All rows: the plain ones as they are, the overlaid pieces; sorted by unit then start.
    row_unit = np.concatenate([oms_unit[plain], oms_unit[own_row]])
    row_start = np.concatenate([snap.oms["start"][plain], start - oms_unit[own_row] * stride])
    row_end = np.concatenate([snap.oms["end"][plain], end - oms_unit[own_row] * stride])
    row_own = np.concatenate([plain, own_row])
    row_base = np.concatenate([np.full(len(plain), -1, dtype=np.int64), base_of])
    order = np.lexsort((row_start, row_unit))
    row_unit, row_start, row_end, row_own, row_base = (a[order] for a in (row_unit, row_start, row_end, row_own, row_base))
    table: dict[str, Any] = {"unit": row_unit, "start": row_start, "end": row_end, "#own": row_own, "#base": row_base}
    for key in snap.oms_keys():
        col: Column = snap.oms[key]
        source = np.where(col.absent[row_own] & (row_base >= 0), row_base, row_own)
        table[key] = col.take(source)
    # merged_with_online builds a block when online has one, or when the dataset has one and online has luminosity.
    has_block = snap.units["lumi_start"] != 0
    lumi_in_ranges = np.zeros(snap.n_units, dtype=bool)
    for key in LUMINOSITY_KEYS:
        if key in snap.oms:
            present = ~snap.oms[key].absent
            lumi_in_ranges[np.unique(oms_unit[present])] = True
    u = np.maximum(under, 0)
    merged_block = (under >= 0) & (has_block[u] | (has_block & (has_block[u] | lumi_in_ranges[u])))
    return table, merged_block


def _merged_luminosity(snap: ColumnarSnapshot, oms: dict[str, Any], under: np.ndarray, merged_block: np.ndarray) -> dict[str, Any]:
    """The luminosity table with the reference's merged block for the units of ``merged_block``: every own OMS
    lumisection gets the dataset's value, else online's, else null; a unit's value is its block's where the block
    list covers the lumisection (a null there counts as no value), else its OMS range's key when the range has
    it. Other units keep their own block rows."""
    stride = snap.stride()
    lumi = snap.luminosity
    lumi_key = lumi["unit"] * stride + lumi["ls"]
    keep = np.flatnonzero(~merged_block[lumi["unit"]]) if len(lumi["unit"]) else np.zeros(0, dtype=np.intp)
    rows = np.flatnonzero(merged_block[oms["unit"]])
    lengths = oms["end"][rows] - oms["start"][rows] + 1
    row_of_ls = np.repeat(rows, lengths)
    offsets = np.arange(len(row_of_ls)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    ls = oms["start"][row_of_ls] + offsets
    unit = oms["unit"][row_of_ls]
    own_row, base_row = oms["#own"][row_of_ls], oms["#base"][row_of_ls]

    def block_value(key: str, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Position in the luminosity table, whether the unit's block list covers the lumisection, and whether
        the value there is not null."""
        if not len(lumi_key):
            none = np.zeros(len(u), dtype=bool)
            return np.zeros(len(u), dtype=np.intp), none, none
        k = u * stride + ls
        pos = np.minimum(np.searchsorted(lumi_key, k), len(lumi_key) - 1)
        covered = (lumi_key[pos] == k) & ~lumi[key].absent[pos]
        return pos, covered, covered & ~lumi[key].missing()[pos]

    table: dict[str, Any] = {"unit": np.concatenate([lumi["unit"][keep], unit]), "ls": np.concatenate([lumi["ls"][keep], ls])}
    for key in LUMINOSITY_KEYS:
        own_pos, own_covered, own_ok = block_value(key, unit)
        base_pos, base_covered, base_ok = block_value(key, np.maximum(under[unit], 0))
        base_ok &= base_row >= 0  # online's values (block or range) only where an online OMS range lies under
        col = snap.oms.get(key)
        no = np.zeros(len(unit), dtype=bool)
        own_range_ok = ~own_covered & ~col.absent[own_row] if col is not None else no
        base_range_ok = ~base_covered & (base_row >= 0) & ~col.absent[np.maximum(base_row, 0)] if col is not None else no
        union = _CodeUnion()
        lumi_codes = union.add(lumi[key])
        oms_codes = union.add(col) if col is not None else np.zeros(0, dtype=np.int32)
        # A covering block's null is "not there": the next source is read (own block, own range, online's block,
        # online's range, else null).
        code = np.where(
            own_ok, _take(lumi_codes, own_pos),
            np.where(own_range_ok, _take(oms_codes, own_row),
                     np.where(base_ok, _take(lumi_codes, base_pos), np.where(base_range_ok, _take(oms_codes, np.maximum(base_row, 0)), 0))),
        )
        table[key] = Column(
            "codes",
            np.concatenate([_take(lumi_codes, keep), code]).astype(np.int32),
            np.concatenate([lumi[key].absent[keep], np.zeros(len(unit), dtype=bool)]),
            tuple(union.values),
        )
    order = np.lexsort((table["ls"], table["unit"]))
    return {k: (v.take(order) if isinstance(v, Column) else v[order]) for k, v in table.items()}


class _CodeUnion:
    """One dictionary of distinct values for columns of any kind (code 0 is missing), so values of two tables can
    be picked row by row without building Python objects per row."""

    def __init__(self) -> None:
        self.values: list[Any] = [None]
        self._code: dict[Any, int] = {}

    def add(self, col: Column) -> np.ndarray:
        """``col``'s rows as codes of this union."""
        values, index = col.distinct()
        mapping = np.zeros(len(values), dtype=np.int32)
        for i, v in enumerate(values):
            if v is None:
                continue
            key = _value_key(v)
            if key not in self._code:
                self._code[key] = len(self.values)
                self.values.append(v)
            mapping[i] = self._code[key]
        return mapping[index] if len(index) else np.zeros(0, dtype=np.int32)


def _take(codes: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``codes[rows]``, or zeros (missing) when there are no codes (the rows are then never the ones chosen)."""
    return codes[rows] if len(codes) else np.zeros(len(rows), dtype=np.int32)


# ------------------------------------------------------------------------------------------ segments


@dataclass
class Segments:
    """Elementary segments ``[ls, ls_end]`` of the evaluated lumisections, with the row of every level."""

    unit: np.ndarray
    run: np.ndarray
    ls: np.ndarray
    ls_end: np.ndarray
    rr: np.ndarray  # row of the rr table
    oms: np.ndarray  # row of oms_table
    key: np.ndarray  # unit * stride + ls
    stride: int
    oms_table: dict[str, Any]
    lumi_table: dict[str, Any]


def _ls_breaks(node: Any, stride: int) -> np.ndarray:
    """The reference evaluator's lumisection-number break points (:func:`dqquery.evaluator.ls_breaks`) below ``stride``."""
    return np.array([p for p in ls_breaks(node) if p < stride], dtype=np.int64)


def build_segments(snap: ColumnarSnapshot, view: EvaluatedView, node: Any, uses_luminosity: bool) -> Segments:
    """The sweep: sorted unique break points of every evaluated unit, then each segment's RR and OMS row
    (``node`` gives the lumisection-number break points; ``None``: no predicate, only RR x OMS pieces)."""
    stride = snap.stride()
    rr_unit = snap.rr["unit"][view.rr_rows]
    rr_s = rr_unit * stride + snap.rr["start"][view.rr_rows]
    rr_e = rr_unit * stride + snap.rr["end"][view.rr_rows]
    oms_unit = view.oms["unit"][view.oms_rows]
    oms_s = oms_unit * stride + view.oms["start"][view.oms_rows]
    oms_e = oms_unit * stride + view.oms["end"][view.oms_rows]
    parts = [rr_s, rr_e + 1, oms_s, oms_e + 1]
    breaks = _ls_breaks(node, stride) if node is not None else np.zeros(0, dtype=np.int64)
    if len(breaks):
        units = np.unique(rr_unit)
        parts.append(np.add.outer(units * stride, breaks).ravel())
    if uses_luminosity and len(view.luminosity["unit"]):
        lumi_key = view.luminosity["unit"] * stride + view.luminosity["ls"]
        parts += [lumi_key, lumi_key + 1]
    bounds = np.sort(np.concatenate(parts))
    bounds = bounds[np.r_[True, bounds[1:] != bounds[:-1]]] if len(bounds) else bounds  # sorted unique
    start, end = bounds[:-1], bounds[1:] - 1
    i = np.searchsorted(rr_s, start, side="right") - 1
    j = np.searchsorted(oms_s, start, side="right") - 1
    ok = (i >= 0) & (j >= 0)
    i_c, j_c = np.maximum(i, 0), np.maximum(j, 0)
    if len(rr_e) and len(oms_e):
        ok &= (rr_e[i_c] >= start) & (oms_e[j_c] >= start)
    else:
        ok &= False
    start, end, i_c, j_c = start[ok], end[ok], i_c[ok], j_c[ok]
    unit = start // stride
    return Segments(
        unit=unit,
        run=snap.units["run"][unit],
        ls=start - unit * stride,
        ls_end=end - unit * stride,
        rr=view.rr_rows[i_c],
        oms=view.oms_rows[j_c],
        key=start,
        stride=stride,
        oms_table=view.oms,
        lumi_table=view.luminosity,
    )


# ------------------------------------------------------------------------------------------ clauses


def _table(node: Any, values: list[Any]) -> np.ndarray:
    """The truth code of a predicate on each distinct value."""
    return np.array([_CODE[evaluate_predicate(node, v)] for v in values], dtype=np.int8)


def _on_column(node: Any, col: Column | None, rows: np.ndarray) -> np.ndarray:
    """Truth of a predicate on ``col[rows]`` (a missing column is missing everywhere)."""
    if col is None:
        return np.full(len(rows), _CODE[evaluate_predicate(node, None)], dtype=np.int8)
    values, index = col.distinct()
    return _table(node, values)[index][rows]


def _on_ints(node: Any, data: np.ndarray) -> np.ndarray:
    uniq, inverse = np.unique(data, return_inverse=True)
    return _table(node, uniq.tolist())[inverse.reshape(-1)]


def _luminosity(node: Any, snap: ColumnarSnapshot, seg: Segments, key: str) -> np.ndarray:
    """``recorded``/``delivered``: the block's value where the block's list covers the lumisection, else the
    OMS range's (segments inside a block are single lumisections)."""
    truth = _on_column(node, seg.oms_table.get(key), seg.oms)
    lumi = seg.lumi_table
    if not len(lumi["unit"]) or not len(seg.key):
        return truth
    lumi_key = lumi["unit"] * seg.stride + lumi["ls"]
    pos = np.searchsorted(lumi_key, seg.key)
    pos_c = np.minimum(pos, len(lumi_key) - 1)
    col: Column = lumi[key]
    covered = (lumi_key[pos_c] == seg.key) & ~col.absent[pos_c]
    if covered.any():
        block_truth = _on_column(node, col, pos_c[covered])
        truth[covered] = block_truth
    return truth


def _leaf(node: Any, snap: ColumnarSnapshot, seg: Segments) -> np.ndarray:
    """Truth codes of one predicate on every segment (the data table of where each path lives)."""
    path = node.field.path
    if path == "run.run_number":
        return _on_ints(node, snap.runs["run_number"])[seg.run]
    if path.startswith(("run.oms.", "run.rr.")):
        return _on_column(node, snap.runs.get(path), seg.run)
    if path == "dataset.name":
        return _table(node, list(snap.names))[snap.units["name"]][seg.unit]
    if path.startswith("dataset."):
        return _on_column(node, snap.units.get(path), seg.unit)
    if path.startswith("lumisection.rr."):
        flag = path[15:]
        col = None if flag in ("start", "end") or flag.endswith("#triplet") else snap.rr.get(flag)
        return _on_column(node, col, seg.rr)
    if path.startswith("lumisection.oms."):
        key = path[16:]
        if key in LUMINOSITY_KEYS:
            return _luminosity(node, snap, seg, key)
        col = None if key in ("start", "end", "unit") else seg.oms_table.get(key)
        return _on_column(node, col, seg.oms)
    if path == "lumisection.lumisection_number":
        return _on_ints(node, seg.ls)
    return _on_column(node, None, seg.unit)  # dials.* and anything a snapshot cannot hold: missing


def _truth(node: Any, snap: ColumnarSnapshot, seg: Segments) -> np.ndarray:
    return _TRUTH[type(node)](node, snap, seg)


_TRUTH: A.NodeTable[Callable[[Any, ColumnarSnapshot, Segments], np.ndarray]] = A.NodeTable(
    "vectorized.truth",
    A.NODE_CLASSES,
    {
        A.And: lambda node, snap, seg: np.minimum.reduce([_truth(o, snap, seg) for o in node.operands]),
        A.Or: lambda node, snap, seg: np.maximum.reduce([_truth(o, snap, seg) for o in node.operands]),
        A.Not: lambda node, snap, seg: -_truth(node.operand, snap, seg),
        **dict.fromkeys(A.PREDICATE_CLASSES, _leaf),
    },
)


def _subset(seg: Segments, keep: np.ndarray) -> Segments:
    return Segments(seg.unit[keep], seg.run[keep], seg.ls[keep], seg.ls_end[keep], seg.rr[keep], seg.oms[keep], seg.key[keep],
                    seg.stride, seg.oms_table, seg.lumi_table)


def _cost(node: Any) -> int:
    """Clause order: run- and dataset-level clauses first (fewest distinct values), then the rest."""
    paths = [f.path for f in A.fields_of(node)]
    return sum(2 if p.startswith("lumisection.") else 1 for p in paths)


# ------------------------------------------------------------------------------------------ golden


@functools.lru_cache(maxsize=128)
def _node_of_text(text: str) -> Any:
    return as_node(text)


def _uses_luminosity(node: Any) -> bool:
    return any(f.path in ("lumisection.oms.recorded", "lumisection.oms.delivered") for f in A.fields_of(node))


def _golden_of(snap: ColumnarSnapshot, run: np.ndarray, ls: np.ndarray, ls_end: np.ndarray, stride: int) -> GoldenJSON:
    """Union of ``[ls, ls_end]`` intervals per run (row indexes into ``runs``), through the trusted constructor."""
    if not len(ls):
        return GoldenJSON()
    run_numbers = snap.runs["run_number"]
    rank_of_row = np.empty(len(run_numbers), dtype=np.int64)
    rank_of_row[np.argsort(run_numbers, kind="stable")] = np.arange(len(run_numbers))
    rank = rank_of_row[run]
    pos_s = rank * stride + ls
    order = np.argsort(pos_s, kind="stable")
    pos_s = pos_s[order]
    pos_e = (rank * stride + ls_end)[order]
    reach = np.maximum.accumulate(pos_e)
    firsts = np.flatnonzero(np.r_[True, pos_s[1:] > reach[:-1] + 1])
    ends = np.maximum.reduceat(pos_e, firsts)
    base = rank[order][firsts] * stride
    runs = run_numbers[run[order][firsts]]
    first_ls, last_ls = pos_s[firsts] - base, ends - base
    if int(runs.max()) > MAX_NUMBER or int(last_ls.max()) > MAX_NUMBER:
        mapping: dict[int, list[list[int]]] = {}
        for r, a, b in zip(runs.tolist(), first_ls.tolist(), last_ls.tolist()):
            mapping.setdefault(r, []).append([a, b])
        return GoldenJSON(mapping)  # raises the reference's error for numbers a golden JSON cannot hold
    # Sorted by run then lumisection, merged within each run: the trusted constructor from range keys (no tuples built).
    run_key = runs.astype(np.uint64) << np.uint64(32)
    return GoldenJSON._from_range_keys(run_key | first_ls.astype(np.uint64), run_key | last_ls.astype(np.uint64))


def _merged_ranges(snap: ColumnarSnapshot, seg: Segments) -> GoldenJSON:
    """Union of the selected segments per run, through the trusted constructor."""
    return _golden_of(snap, seg.run, seg.ls, seg.ls_end, seg.stride)


def golden(query: Any, snapshot: ColumnarSnapshot | Snapshot, dataset: str | None = None) -> GoldenJSON:
    """The lumisections of the matching datasets for which the query is True (union over datasets)."""
    node = _node_of_text(query) if isinstance(query, str) else as_node(query)
    snap = snapshot if isinstance(snapshot, ColumnarSnapshot) else ColumnarSnapshot.from_snapshot(snapshot)
    units = selected_units(snap, dataset)
    view = evaluated_view(snap, units)
    seg = build_segments(snap, view, node, _uses_luminosity(node))
    clauses = sorted(node.operands, key=_cost) if isinstance(node, A.And) else [node]
    alive = np.ones(len(seg.ls), dtype=bool)
    for clause in clauses:
        alive &= _truth(clause, snap, seg) == TRUE
        n_alive = int(alive.sum())
        if n_alive == 0:
            break
        if n_alive < 0.75 * len(alive):  # compact once enough segments are gone
            seg, alive = _subset(seg, alive), np.ones(n_alive, dtype=bool)
    return _merged_ranges(snap, _subset(seg, alive))


# ------------------------------------------------------------------------------------------ recorded luminosity


def _luminosity_numbers(col: Column | None, rows: np.ndarray) -> np.ndarray:
    """:func:`~dqquery.luminosity.luminosity_number` of ``col[rows]`` (computed once per distinct value; no column: 0)."""
    if col is None:
        return np.zeros(len(rows), dtype=np.float64)
    values, index = col.distinct()
    numbers = np.array([luminosity_number(v) for v in values], dtype=np.float64)
    return numbers[index][rows] if len(rows) else np.zeros(0, dtype=np.float64)


@dataclass(frozen=True)
class _RecordedSums:
    """What :class:`~dqquery.luminosity.LuminositySums` reads, for every unit of a view: the block's ``start`` and
    the length of its ``recorded`` list (-1: no list, no prefix sums) and, per luminosity row, the running sum
    of its unit's values up to it (each unit summed on its own, left to right from 0.0, as the reference does)."""

    start: np.ndarray
    length: np.ndarray
    key: np.ndarray
    unit: np.ndarray
    running: np.ndarray
    stride: int

    @classmethod
    def of(cls, snap: ColumnarSnapshot, view: EvaluatedView) -> _RecordedSums:
        stride = snap.stride()
        start = snap.units["lumi_start"].copy()
        length = np.where(start != 0, snap.units["lumi_len_recorded"], -1)
        if view.merged_block is not None and view.merged_block.any():
            # The merged block spans the unit's own OMS lumisections, first to last, with a recorded list.
            merged = np.flatnonzero(view.merged_block)
            oms_unit = view.oms["unit"]
            first = np.searchsorted(oms_unit, merged, side="left")
            last = np.searchsorted(oms_unit, merged, side="right") - 1
            start[merged] = view.oms["start"][first]
            length[merged] = view.oms["end"][last] - view.oms["start"][first] + 1
        lumi = view.luminosity
        unit = lumi["unit"]
        values = _luminosity_numbers(lumi.get("recorded"), np.arange(len(unit)))
        running = np.zeros(len(unit), dtype=np.float64)
        if len(unit):
            cuts = np.flatnonzero(np.r_[True, unit[1:] != unit[:-1], True])
            for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist()):  # sequential sums, one unit at a time
                running[a:b] = np.cumsum(np.r_[0.0, values[a:b]])[1:]
        return cls(start, length, unit * stride + lumi["ls"], unit, running, stride)

    def _through(self, unit: np.ndarray, ls: np.ndarray) -> np.ndarray:
        """The unit's running sum over its rows with a lumisection number up to ``ls`` (0.0 before the first)."""
        if not len(self.key):
            return np.zeros(len(unit), dtype=np.float64)
        pos = np.searchsorted(self.key, unit * self.stride + ls, side="right") - 1
        pos_c = np.maximum(pos, 0)
        return np.where((pos >= 0) & (self.unit[pos_c] == unit), self.running[pos_c], 0.0)

    def recorded(self, oms: dict[str, Any], unit: np.ndarray, start: np.ndarray, end: np.ndarray, oms_row: np.ndarray) -> np.ndarray:
        """:meth:`LuminositySums.recorded` of every ``[start, end]`` (inside OMS row ``oms_row`` of ``oms``), with the
        same operations in the same order, so the sums are the same floats."""
        per_ls = _luminosity_numbers(oms.get("recorded"), oms_row)
        n = end - start + 1
        out = per_ls * n
        block_start, length = self.start[unit], self.length[unit]
        lo = np.maximum(start, block_start)
        hi = np.minimum(end, block_start + length - 1)
        inside = np.flatnonzero((length >= 0) & (lo <= hi))
        if len(inside):
            u, a, b = unit[inside], lo[inside], hi[inside]
            sums = self._through(u, b) - self._through(u, a - 1)
            out[inside] = sums + per_ls[inside] * (n[inside] - (b - a + 1))
        return out


def _sequential_sum(values: np.ndarray) -> float:
    """``total = 0.0; total += v`` for every value in order (numpy's ``sum`` adds pairwise: other last bits)."""
    total = 0.0
    for v in values.tolist():
        total += v
    return total


def _as_columnar(snapshot: ColumnarSnapshot | Snapshot) -> ColumnarSnapshot:
    return snapshot if isinstance(snapshot, ColumnarSnapshot) else ColumnarSnapshot.from_snapshot(snapshot)


def recorded_in(result: GoldenJSON, snapshot: ColumnarSnapshot | Snapshot, dataset: str | None = None) -> float | None:
    """:func:`dqquery.luminosity.recorded_in` on a columnar snapshot: the recorded luminosity of the golden JSON's
    lumisections, each counted once with the first matching dataset (by name) with data, where it has RR and OMS
    data (``None`` when none of those datasets has luminosity)."""
    snap = _as_columnar(snapshot)
    selected = selected_units(snap, dataset)
    first = np.flatnonzero(selected)
    first = first[np.r_[True, snap.units["run"][first][1:] != snap.units["run"][first][:-1]]] if len(first) else first
    run_numbers = snap.runs["run_number"]
    wanted_runs = np.array([run for run, _ in result.items()], dtype=np.int64)
    first = first[np.isin(run_numbers[snap.units["run"][first]], wanted_runs)]
    units = np.zeros(snap.n_units, dtype=bool)
    units[first] = True
    view = evaluated_view(snap, units)
    sums = _RecordedSums.of(snap, view)
    has_luminosity = bool(((sums.length[first] >= 0)).any())
    recorded_col = view.oms.get("recorded")
    if not has_luminosity and recorded_col is not None and len(view.oms_rows):
        has_luminosity = bool((~recorded_col.missing()[view.oms_rows]).any())
    if not has_luminosity:
        return None
    seg = build_segments(snap, view, None, False)
    stride = seg.stride
    unit_of_run = np.full(snap.n_runs, -1, dtype=np.int64)
    unit_of_run[snap.units["run"][first]] = first
    order = np.argsort(run_numbers, kind="stable")
    w_run, w_start, w_end = [], [], []
    for run, ranges in result.items():
        k = int(np.searchsorted(run_numbers[order], run))
        if k < len(order) and run_numbers[order[k]] == run and unit_of_run[order[k]] >= 0:
            u = int(unit_of_run[order[k]])
            w_run.extend([u] * len(ranges))
            w_start.extend(a for a, _ in ranges)
            w_end.extend(b for _, b in ranges)
    if not w_run or not len(seg.key):
        return 0.0
    wanted_s = np.array(w_run, dtype=np.int64) * stride + np.array(w_start, dtype=np.int64)
    wanted_e = np.array(w_run, dtype=np.int64) * stride + np.array(w_end, dtype=np.int64)
    seg_e = seg.unit * stride + seg.ls_end
    bounds = np.unique(np.concatenate([seg.key, seg_e + 1, wanted_s, wanted_e + 1]))
    start, end = bounds[:-1], bounds[1:] - 1
    i = np.searchsorted(seg.key, start, side="right") - 1
    j = np.searchsorted(wanted_s, start, side="right") - 1
    i_c, j_c = np.maximum(i, 0), np.maximum(j, 0)
    ok = (i >= 0) & (j >= 0) & (seg_e[i_c] >= start) & (wanted_e[j_c] >= start)
    start, end, i_c = start[ok], end[ok], i_c[ok]
    unit = seg.unit[i_c]
    lumi = sums.recorded(view.oms, unit, start - unit * stride, end - unit * stride, seg.oms[i_c])
    return _sequential_sum(lumi)


# ------------------------------------------------------------------------------------------ explain


def explain(query: Any, snapshot: ColumnarSnapshot | Snapshot, dataset: str | None = None) -> ExplainReport:
    """:func:`dqquery.explain` on a columnar snapshot, from each clause's truth on the segments: the same report
    (counts, golden and anti-golden JSONs, and luminosity sums added in the reference's order, so the same floats)."""
    plan = compile_plan(query)
    snap = _as_columnar(snapshot)
    view = evaluated_view(snap, selected_units(snap, dataset))
    seg = build_segments(snap, view, plan.node, plan.uses_luminosity)
    stride = seg.stride
    not_true = np.stack([_truth(c.node, snap, seg) != TRUE for c in plan.clauses], axis=1)
    # Items: per run, the elementary intervals of all its datasets' segments (the reference's _merge_datasets).
    run_numbers = snap.runs["run_number"]
    rank_of_row = np.empty(len(run_numbers), dtype=np.int64)
    rank_of_row[np.argsort(run_numbers, kind="stable")] = np.arange(len(run_numbers))
    key_s = rank_of_row[seg.run] * stride + seg.ls
    key_e = rank_of_row[seg.run] * stride + seg.ls_end
    bounds = np.unique(np.concatenate([key_s, key_e + 1]))
    first_interval = np.searchsorted(bounds, key_s)
    count = np.searchsorted(bounds, key_e + 1) - first_interval
    row_seg = np.repeat(np.arange(len(key_s)), count)
    row_interval = np.repeat(first_interval, count) + (np.arange(len(row_seg)) - np.repeat(np.cumsum(count) - count, count))
    order = np.lexsort((seg.unit[row_seg], row_interval))  # per interval, datasets by name (units are sorted so)
    row_seg, row_interval = row_seg[order], row_interval[order]
    firsts = np.flatnonzero(np.r_[True, row_interval[1:] != row_interval[:-1]]) if len(row_seg) else np.zeros(0, dtype=np.intp)
    interval = row_interval[firsts]
    lead = row_seg[firsts]  # the first dataset evaluating the interval gives its luminosity
    item_run = seg.run[lead]
    item_unit = seg.unit[lead]
    item_s = bounds[interval] - rank_of_row[item_run] * stride
    item_e = bounds[interval + 1] - 1 - rank_of_row[item_run] * stride
    item_lumi = _RecordedSums.of(snap, view).recorded(view.oms, item_unit, item_s, item_e, seg.oms[lead])
    n_ls = item_e - item_s + 1
    rows_not_true = not_true[row_seg]
    if len(firsts):
        golden_item = np.logical_or.reduceat(~rows_not_true.any(axis=1), firsts)
        inclusive = np.logical_or.reduceat(rows_not_true, firsts, axis=0)
        single = rows_not_true & (rows_not_true.sum(axis=1) == 1)[:, None]
        exclusive = np.logical_or.reduceat(single, firsts, axis=0)
    else:
        golden_item = np.zeros(0, dtype=bool)
        inclusive = exclusive = np.zeros((0, len(plan.clauses)), dtype=bool)
    clauses = [ClauseLoss(c.text) for c in plan.clauses]
    rejected_per_run: dict[int, RunLoss] = {}
    rejected = np.flatnonzero(~golden_item)
    runs_of = run_numbers[item_run].tolist()
    n_list, lumi_list = n_ls.tolist(), item_lumi.tolist()
    for i in rejected.tolist():
        lost = rejected_per_run.setdefault(runs_of[i], RunLoss())
        lost.inclusive_ls += n_list[i]
        lost.inclusive_recorded += lumi_list[i]
    pair_item, pair_clause = np.nonzero(inclusive[rejected])  # item by item, clauses in query order: the reference's order
    pair_exclusive = exclusive[rejected][pair_item, pair_clause].tolist()
    for i, k, excl in zip(rejected[pair_item].tolist(), pair_clause.tolist(), pair_exclusive):
        clauses[k]._add(runs_of[i], n_list[i], lumi_list[i], excl)
    keep = np.flatnonzero(golden_item)
    from .unparse import unparse

    return ExplainReport(
        query=unparse(plan.node),
        dataset=dataset if dataset is not None else ONLINE,
        clauses=clauses,
        golden=_golden_of(snap, item_run[keep], item_s[keep], item_e[keep], stride),
        anti_golden=_golden_of(snap, item_run[rejected], item_s[rejected], item_e[rejected], stride),
        total_ls=int(n_ls.sum()),
        total_recorded=_sequential_sum(item_lumi),
        golden_recorded=_sequential_sum(item_lumi[keep]),
        rejected_per_run=rejected_per_run,
    )
