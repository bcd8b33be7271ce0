"""Loss attribution: which clause of a golden-JSON query removes which lumisections and how much luminosity.

``explain(query, snapshot, dataset=None)`` splits the query's top-level ``and`` into clauses (any other query is
one clause) and reports, per clause, per run and in total:

* *inclusive* loss: lumisections (and their recorded luminosity) for which the clause is not True;
* *exclusive* loss: lumisections for which it is the ONLY clause not True (dropping that clause alone would
  bring them back).

This is what Run Registry's JSON portal reports as ``rules_flagged_false_quantity_luminosity`` (inclusive) and
``rules_flagged_false_combination_luminosity`` (per combination; a one-clause combination is our exclusive), and
what certification teams quote as luminosity loss per subsystem.

Decisions:
* The evaluation is the golden evaluator's (:mod:`dqquery.evaluator`): same datasets, same RR x OMS inner join,
  same three-valued meaning. ``golden`` equals ``dqquery.golden(query, ...)`` exactly and ``anti_golden`` is every
  evaluated lumisection not in it (so they are disjoint and their union is all evaluated lumisections).
* Counting unit: the distinct (run, lumisection). With several matching datasets of one run (union semantics),
  a lumisection outside the golden JSON is removed inclusively by every clause not True in some dataset, and
  exclusively by a clause that is the only one not True in some dataset. Its luminosity is read from the first
  dataset (by name) that evaluates it.
* Luminosity per lumisection comes from ``recorded``/``delivered`` (the snapshot's luminosity block, else the OMS
  range value); as RR does (``+value || 0``), numbers and numeric strings count, anything else counts 0.
  The sums are :mod:`dqquery.luminosity`'s (``recorded_in`` and ``luminosity_number`` are re-exported here); this
  module builds on :mod:`dqquery.evaluator`, which never imports it (docs/dev/architecture.md).
* Printed luminosity is in ``/pb`` (:data:`dqquery.catalog.LUMINOSITY_UNIT`), named in every header and summary,
  with one precision per column (:data:`LUMINOSITY_DECIMALS` decimals); JSON carries ``luminosity_unit``.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any

from .ast import QueryLike
from .catalog import LUMINOSITY_UNIT
from .evaluator import OMS, RR, SEGMENT, STATIC, EvaluationPlan, Unit, _split, compile_plan, matching_units, piece_breaks
from .luminosity import LuminositySums, luminosity_number, recorded_in
from .lumiranges import GoldenJSON, intersect_ranges
from .snapshot import Snapshot

LUMINOSITY_DECIMALS = 3
"""Decimals of every luminosity column (in /pb: 0.001 /pb = 1 /nb, below any per-lumisection value that matters)."""

__all__ = ["ClauseLoss", "ExplainReport", "RunLoss", "explain", "luminosity_number", "recorded_in"]

_EMPTY: dict[str, Any] = {}


@dataclass
class RunLoss:
    """Loss of one clause in one run."""

    inclusive_ls: int = 0
    exclusive_ls: int = 0
    inclusive_recorded: float = 0.0
    exclusive_recorded: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "inclusive_ls": self.inclusive_ls,
            "exclusive_ls": self.exclusive_ls,
            "inclusive_recorded": self.inclusive_recorded,
            "exclusive_recorded": self.exclusive_recorded,
        }


@dataclass
class ClauseLoss:
    """Loss attributed to one clause: totals and ``per_run`` (only runs where it removes something)."""

    text: str
    inclusive_ls: int = 0
    exclusive_ls: int = 0
    inclusive_recorded: float = 0.0
    exclusive_recorded: float = 0.0
    per_run: dict[int, RunLoss] = field(default_factory=dict)

    def _add(self, run: int, n: int, lumi: float, exclusive: bool) -> None:
        stats = self.per_run.get(run)
        if stats is None:
            stats = self.per_run[run] = RunLoss()
        self.inclusive_ls += n
        self.inclusive_recorded += lumi
        stats.inclusive_ls += n
        stats.inclusive_recorded += lumi
        if exclusive:
            self.exclusive_ls += n
            self.exclusive_recorded += lumi
            stats.exclusive_ls += n
            stats.exclusive_recorded += lumi

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "inclusive_ls": self.inclusive_ls,
            "exclusive_ls": self.exclusive_ls,
            "inclusive_recorded": self.inclusive_recorded,
            "exclusive_recorded": self.exclusive_recorded,
            "per_run": {str(run): stats.to_dict() for run, stats in sorted(self.per_run.items())},
        }


@dataclass
class ExplainReport:
    """Per-clause loss, the golden and anti-golden JSONs, and totals over the evaluated lumisections."""

    query: str
    dataset: str
    clauses: list[ClauseLoss]
    golden: GoldenJSON
    anti_golden: GoldenJSON
    total_ls: int
    total_recorded: float
    golden_recorded: float
    rejected_per_run: dict[int, RunLoss] = field(default_factory=dict)  # per run: lumisections and recorded lost

    @property
    def golden_ls(self) -> int:
        return self.golden.n_lumisections

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (golden JSONs in the usual ``{"run": [[a, b]]}`` form)."""
        return {
            "query": self.query,
            "dataset": self.dataset,
            "luminosity_unit": LUMINOSITY_UNIT,
            "total_ls": self.total_ls,
            "total_recorded": self.total_recorded,
            "golden_ls": self.golden_ls,
            "golden_recorded": self.golden_recorded,
            "clauses": [c.to_dict() for c in self.clauses],
            "golden": self.golden.to_dict(),
            "anti_golden": self.anti_golden.to_dict(),
            "rejected_per_run": {
                str(run): {"ls": loss.inclusive_ls, "recorded": loss.inclusive_recorded}
                for run, loss in sorted(self.rejected_per_run.items())
            },
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def _rows(self) -> list[tuple[str, str, str, str, str, str]]:
        def pct(part: float, whole: float) -> str:
            return f"{100.0 * part / whole:.2f}%" if whole else "-"

        rows = []
        for c in self.clauses:
            rows.append(
                (
                    c.text,
                    f"{c.inclusive_ls}",
                    pct(c.inclusive_ls, self.total_ls),
                    f"{c.exclusive_ls}",
                    f"{c.inclusive_recorded:.{LUMINOSITY_DECIMALS}f}",
                    f"{c.exclusive_recorded:.{LUMINOSITY_DECIMALS}f}",
                )
            )
        return rows

    _HEADER = ("clause", "removes LS", "of all", "only it", f"recorded {LUMINOSITY_UNIT}", f"only it (rec. {LUMINOSITY_UNIT})")

    def table(self, width: int = 48) -> str:
        """A readable text table, one clause per line, sorted as in the query."""
        rows = [(t if len(t) <= width else t[: width - 3] + "...", *rest) for t, *rest in self._rows()]
        widths = [max(len(r[k]) for r in [self._HEADER, *rows]) for k in range(6)]
        lines = [
            f"dataset {self.dataset!r}: {self.total_ls} lumisections evaluated "
            f"({self.total_recorded:.{LUMINOSITY_DECIMALS}f} {LUMINOSITY_UNIT} recorded), {self.golden_ls} in the golden JSON "
            f"({self.golden_recorded:.{LUMINOSITY_DECIMALS}f} {LUMINOSITY_UNIT} recorded)",
            "  ".join(h.ljust(widths[k]) if k == 0 else h.rjust(widths[k]) for k, h in enumerate(self._HEADER)),
        ]
        lines.append("  ".join("-" * w for w in widths))
        for r in rows:
            lines.append("  ".join(v.ljust(widths[k]) if k == 0 else v.rjust(widths[k]) for k, v in enumerate(r)))
        return "\n".join(lines)

    def runs_table(self, n: int = 10, clauses_shown: int = 3) -> str:
        """The ``n`` runs that lose the most recorded luminosity (then lumisections), with the clauses that
        remove most in each (lumisections each removes there, inclusively)."""
        worst = sorted(self.rejected_per_run.items(), key=lambda kv: (-kv[1].inclusive_recorded, -kv[1].inclusive_ls, kv[0]))[:n]
        lines = [f"{'run':>7}  {'LS lost':>7}  {'recorded lost ' + LUMINOSITY_UNIT:>17}  clauses (LS each removes)"]
        for run, loss in worst:
            causes = sorted(
                ((c.per_run[run].inclusive_ls, c.text) for c in self.clauses if run in c.per_run), key=lambda t: (-t[0], t[1])
            )
            shown = ", ".join(f"{text} ({ls})" for ls, text in causes[:clauses_shown])
            if len(causes) > clauses_shown:
                shown += f", +{len(causes) - clauses_shown} more"
            lines.append(f"{run:>7}  {loss.inclusive_ls:>7}  {loss.inclusive_recorded:>17.{LUMINOSITY_DECIMALS}f}  {shown}")
        if len(self.rejected_per_run) > n:
            lines.append(f"({len(self.rejected_per_run) - n} more runs lose lumisections; --json lists them all)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:  # a summary: the per-run numbers of a year would fill the screen
        return (
            f"ExplainReport(dataset={self.dataset!r}, {len(self.clauses)} clauses, {self.total_ls} lumisections "
            f"evaluated, {self.golden_ls} in the golden JSON)"
        )

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self._HEADER)
        body = "".join(
            "<tr>" + "".join(f"<td><code>{html.escape(v)}</code></td>" if k == 0 else f"<td>{html.escape(v)}</td>" for k, v in enumerate(r)) + "</tr>"
            for r in self._rows()
        )
        caption = html.escape(
            f"{self.total_ls} lumisections evaluated, {self.golden_ls} in the golden JSON "
            f"({self.golden_recorded:.{LUMINOSITY_DECIMALS}f} of {self.total_recorded:.{LUMINOSITY_DECIMALS}f} {LUMINOSITY_UNIT} recorded)"
        )
        return f"<table><caption>{caption}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def to_pandas(self) -> Any:
        """One row per clause (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("ExplainReport.to_pandas needs pandas: pip install 'dqquery[pandas]'") from exc
        frame = pd.DataFrame([{k: v for k, v in c.to_dict().items() if k != "per_run"} for c in self.clauses])
        frame.attrs["luminosity_unit"] = LUMINOSITY_UNIT
        return frame


# ------------------------------------------------------------------------------------------ computation


Piece = tuple[int, int, int, "LuminositySums", dict[str, Any]]


def _pieces(plan: EvaluationPlan, unit: Unit) -> list[Piece]:
    """``(start, end, mask of clauses not True, luminosity reader, OMS range)`` for every evaluated piece."""
    data, static = unit.data, unit.static
    clauses = plan.clauses
    static_mask = 0
    for k, c in enumerate(clauses):
        if c.level == STATIC and c.run((static, _EMPTY, _EMPTY, 0, data)) is not True:
            static_mask |= 1 << k
    rr_masks = [0] * len(data.rr)
    oms_masks = [0] * len(data.oms)
    for k, c in enumerate(clauses):
        if c.level == RR:
            for i, r in enumerate(data.rr):
                if c.run((static, r, _EMPTY, 0, data)) is not True:
                    rr_masks[i] |= 1 << k
        elif c.level == OMS:
            for j, o in enumerate(data.oms):
                if c.run((static, _EMPTY, o, 0, data)) is not True:
                    oms_masks[j] |= 1 << k
    segment = [(k, c) for k, c in enumerate(clauses) if c.level == SEGMENT]
    breaks = piece_breaks(plan, data) if segment else ()
    lumi = LuminositySums(data)
    out: list[Piece] = []
    for start, end, i, j in intersect_ranges(data.rr, data.oms):
        r, o = data.rr[i], data.oms[j]
        base = static_mask | rr_masks[i] | oms_masks[j]
        for s, e in _split(start, end, breaks):
            mask = base
            for k, c in segment:
                if c.run((static, r, o, s, data)) is not True:
                    mask |= 1 << k
            out.append((s, e, mask, lumi, o))
    return out


def _merge_datasets(per_dataset: list[list[Piece]]) -> list[tuple[int, int, list[int], float]]:
    """Per elementary interval of a run: the masks of every dataset evaluating it and the luminosity of the
    first dataset (by name) that evaluates it."""
    points = sorted({p for pieces in per_dataset for piece in pieces for p in (piece[0], piece[1] + 1)})
    cursors = [0] * len(per_dataset)
    out: list[tuple[int, int, list[int], float]] = []
    for a, b_next in zip(points, points[1:]):
        b = b_next - 1
        masks: list[int] = []
        lumi: float | None = None
        for d, pieces in enumerate(per_dataset):
            k = cursors[d]
            while k < len(pieces) and pieces[k][1] < a:
                k += 1
            cursors[d] = k
            if k < len(pieces) and pieces[k][0] <= a:
                _, _, mask, reader, oms_range = pieces[k]
                masks.append(mask)
                if lumi is None:
                    lumi = reader.recorded(a, b, oms_range)
        if masks:
            out.append((a, b, masks, lumi if lumi is not None else 0.0))
    return out


def explain(query: QueryLike, snapshot: Snapshot, dataset: str | None = None) -> ExplainReport:
    """Per-clause inclusive and exclusive loss (lumisections and recorded luminosity), with the golden and
    anti-golden JSONs. See the module docstring for the definitions."""
    plan = compile_plan(query)
    report_clauses = [ClauseLoss(c.text) for c in plan.clauses]
    by_run: dict[int, list[list[Piece]]] = {}
    for unit in matching_units(plan, snapshot, dataset):
        by_run.setdefault(unit.run.run_number, []).append(_pieces(plan, unit))
    golden_ranges: dict[int, list[tuple[int, int]]] = {}
    anti_ranges: dict[int, list[tuple[int, int]]] = {}
    total_ls = 0
    total_recorded = golden_recorded = 0.0
    rejected_per_run: dict[int, RunLoss] = {}
    for run, per_dataset in by_run.items():
        if len(per_dataset) == 1:
            items = [(s, e, [mask], reader.recorded(s, e, o)) for s, e, mask, reader, o in per_dataset[0]]
        else:
            items = _merge_datasets(per_dataset)
        for s, e, masks, lumi in items:
            n = e - s + 1
            total_ls += n
            total_recorded += lumi
            if any(m == 0 for m in masks):
                golden_ranges.setdefault(run, []).append((s, e))
                golden_recorded += lumi
                continue
            anti_ranges.setdefault(run, []).append((s, e))
            lost = rejected_per_run.setdefault(run, RunLoss())
            lost.inclusive_ls += n
            lost.inclusive_recorded += lumi
            inclusive = 0
            exclusive = 0
            for m in masks:
                inclusive |= m
                if m & (m - 1) == 0:
                    exclusive |= m
            k = 0
            while inclusive >> k:
                if (inclusive >> k) & 1:
                    report_clauses[k]._add(run, n, lumi, bool((exclusive >> k) & 1))
                k += 1
    from .unparse import unparse

    return ExplainReport(
        query=unparse(plan.node),
        dataset=dataset if dataset is not None else "online",
        clauses=report_clauses,
        golden=GoldenJSON(golden_ranges),
        anti_golden=GoldenJSON(anti_ranges),
        total_ls=total_ls,
        total_recorded=total_recorded,
        golden_recorded=golden_recorded,
        rejected_per_run=rejected_per_run,
    )
