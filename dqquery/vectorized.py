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
  block is built per lumisection in Python (only for units where the reference builds one): exactness first.
* A snapshot without any dataset name selects nothing (empty golden JSON), as :func:`matching_datasets` does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import ast as A
from .columnar import LUMINOSITY_KEYS, Column, ColumnarSnapshot
from .evaluator import UnknownDataset, dataset_matcher, ls_breaks
from .lumiranges import MAX_NUMBER, GoldenJSON
from .query import as_node
from .semantics import evaluate_predicate
from .snapshot import ONLINE, Snapshot

__all__ = ["EvaluatedView", "evaluated_view", "golden", "selected_units"]

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
    return EvaluatedView(rr_rows=rr_rows, oms=oms, oms_rows=np.arange(len(oms["unit"]), dtype=np.intp), luminosity=luminosity)


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
        col = snap.oms.get(key)
        no = np.zeros(len(unit), dtype=bool)
        own_range_ok = ~own_covered & ~col.absent[own_row] if col is not None else no
        base_range_ok = ~base_covered & (base_row >= 0) & ~col.absent[np.maximum(base_row, 0)] if col is not None else no
        kept: list[Any] = [lumi[key].value(i) for i in keep.tolist()]
        merged: list[Any] = []
        for n in range(len(unit)):  # a covering block's null is "not there": the next source is read
            if own_ok[n]:
                merged.append(lumi[key].value(int(own_pos[n])))
            elif own_range_ok[n]:
                merged.append(col.value(int(own_row[n])))  # type: ignore[union-attr]
            elif base_ok[n]:
                merged.append(lumi[key].value(int(base_pos[n])))
            elif base_range_ok[n]:
                merged.append(col.value(int(base_row[n])))  # type: ignore[union-attr]
            else:
                merged.append(None)
        table[key] = Column.encode(kept + merged)
    order = np.lexsort((table["ls"], table["unit"]))
    return {k: (v.take(order) if isinstance(v, Column) else v[order]) for k, v in table.items()}


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
    """The sweep: sorted unique break points of every evaluated unit, then each segment's RR and OMS row."""
    stride = snap.stride()
    rr_unit = snap.rr["unit"][view.rr_rows]
    rr_s = rr_unit * stride + snap.rr["start"][view.rr_rows]
    rr_e = rr_unit * stride + snap.rr["end"][view.rr_rows]
    oms_unit = view.oms["unit"][view.oms_rows]
    oms_s = oms_unit * stride + view.oms["start"][view.oms_rows]
    oms_e = oms_unit * stride + view.oms["end"][view.oms_rows]
    parts = [rr_s, rr_e + 1, oms_s, oms_e + 1]
    breaks = _ls_breaks(node, stride)
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


def _merged_ranges(snap: ColumnarSnapshot, seg: Segments) -> GoldenJSON:
    """Union of the selected segments per run, through the trusted constructor."""
    if not len(seg.ls):
        return GoldenJSON()
    run_numbers = snap.runs["run_number"]
    rank_of_row = np.empty(len(run_numbers), dtype=np.int64)
    rank_of_row[np.argsort(run_numbers, kind="stable")] = np.arange(len(run_numbers))
    rank = rank_of_row[seg.run]
    stride = seg.stride
    pos_s = rank * stride + seg.ls
    order = np.argsort(pos_s, kind="stable")
    pos_s = pos_s[order]
    pos_e = (rank * stride + seg.ls_end)[order]
    reach = np.maximum.accumulate(pos_e)
    firsts = np.flatnonzero(np.r_[True, pos_s[1:] > reach[:-1] + 1])
    ends = np.maximum.reduceat(pos_e, firsts)
    base = rank[order][firsts] * stride
    runs = run_numbers[seg.run[order][firsts]]
    starts, stops = (pos_s[firsts] - base).tolist(), (ends - base).tolist()
    if int(runs.max()) > MAX_NUMBER or max(stops) > MAX_NUMBER:
        mapping: dict[int, list[list[int]]] = {}
        for r, a, b in zip(runs.tolist(), starts, stops):
            mapping.setdefault(r, []).append([a, b])
        return GoldenJSON(mapping)  # raises the reference's error for numbers a golden JSON cannot hold
    cuts = [0, *(np.flatnonzero(np.diff(runs)) + 1).tolist(), len(runs)]
    run_list = runs.tolist()
    data = tuple(
        (run_list[a], tuple(zip(starts[a:b], stops[a:b]))) for a, b in zip(cuts, cuts[1:])
    )
    return GoldenJSON._from_data(data)


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
