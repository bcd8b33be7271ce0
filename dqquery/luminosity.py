"""Recorded luminosity: how much luminosity a set of lumisections carries, counted as Run Registry counts it.

``recorded_in(golden, snapshot, dataset)`` is the recorded luminosity of a golden JSON's lumisections (what the
``golden`` command and run tables print); :func:`dqquery.explain` uses the same sums for its losses.

Decisions:
* One module for the concept, below its users (the ``golden`` command, :mod:`dqquery.runlists`,
  :mod:`dqquery.explanation`, :mod:`dqquery.plots`) and above the data it reads (:mod:`dqquery.snapshot`,
  :mod:`dqquery.lumiranges`): it imports no evaluator, so none of them imports another for it.
* Luminosity per lumisection comes from ``recorded`` (the snapshot's luminosity block, else the OMS range
  value); as RR does (``+value || 0``), numbers and numeric strings count, anything else counts 0.
* Each lumisection counts once, with the first matching dataset (by name) that has lumisection data, and only
  where it has both RR and OMS data (what the evaluators evaluate); sums are taken per range with prefix sums,
  never per lumisection.
"""

from __future__ import annotations

import math
from typing import Any

from .lumiranges import GoldenJSON, intersect_ranges
from .snapshot import LumisectionData, Snapshot, matching_datasets

__all__ = ["LuminositySums", "luminosity_number", "recorded_in"]


def luminosity_number(value: Any) -> float:
    """A luminosity value as RR counts it: numbers and numeric strings; missing or anything else is 0."""
    if isinstance(value, bool) or value is None:
        return 0.0
    if isinstance(value, (int, float)):
        x = float(value)
    elif isinstance(value, str):
        try:
            x = float(value)
        except ValueError:
            return 0.0
    else:
        return 0.0
    return x if math.isfinite(x) else 0.0


def recorded_in(golden: GoldenJSON, snapshot: Snapshot, dataset: str | None = None) -> float | None:
    """Recorded luminosity of the golden JSON's lumisections in the snapshot (``None`` when it has none).

    Each lumisection counts once, with the first matching dataset (by name) that has lumisection data, and
    only where it has both RR and OMS data, as in :func:`dqquery.explain`; sums are taken per range.
    """
    per_run: dict[int, LumisectionData] = {}
    for run, _name, _ds, data in matching_datasets(snapshot, dataset):
        if data is not None and run.run_number not in per_run:
            per_run[run.run_number] = data
    total, has_luminosity = 0.0, False
    for run in golden.runs:
        data = per_run.get(run)
        if data is None:
            continue
        reader = LuminositySums(data)
        has_luminosity = has_luminosity or reader.prefix is not None or any(o.get("recorded") is not None for o in data.oms)
        wanted = [{"start": a, "end": b} for a, b in golden.ranges(run)]
        evaluated = [{"start": s, "end": e, "oms": j} for s, e, _i, j in intersect_ranges(data.rr, data.oms)]
        for s, e, k, _w in intersect_ranges(evaluated, wanted):
            total += reader.recorded(s, e, data.oms[evaluated[k]["oms"]])
    return total if has_luminosity else None


class LuminositySums:
    """Recorded-luminosity sums over lumisection intervals of one (run, dataset)."""

    def __init__(self, data: LumisectionData) -> None:
        self.data = data
        block = data.luminosity or {}
        values = block.get("recorded")
        self.start = block.get("start", 1)
        self.prefix: list[float] | None = None
        if values is not None:
            prefix = [0.0]
            for v in values:
                prefix.append(prefix[-1] + luminosity_number(v))
            self.prefix = prefix

    def recorded(self, start: int, end: int, oms_range: dict[str, Any]) -> float:
        """Sum over ``[start, end]`` (all inside ``oms_range``)."""
        per_ls = luminosity_number(oms_range.get("recorded"))
        if self.prefix is None:
            return per_ls * (end - start + 1)
        n = len(self.prefix) - 1
        lo, hi = max(start, self.start), min(end, self.start + n - 1)
        if lo > hi:
            return per_ls * (end - start + 1)
        inside = self.prefix[hi - self.start + 1] - self.prefix[lo - self.start]
        return inside + per_ls * ((end - start + 1) - (hi - lo + 1))
