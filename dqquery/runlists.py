"""Run lists: the runs a query selects, as numbers, as a table, and in the layouts downstream tools read.

    >>> from dqquery.runlists import runs, run_table
    >>> runs("tracker-strip == GOOD", snapshot)                 # doctest: +SKIP
    [315257, 315259, ...]

Decisions:
* A run is listed when it has at least one selected lumisection: the runs of ``golden(query, snapshot,
  dataset)``, so a run list never disagrees with the golden JSON of the same query.
* The table has one row per (run, dataset) that has a selected lumisection: with a dataset pattern matching
  several datasets of one run (Express and Prompt, say) each appears, as the DQM GUI crawler needs one line per
  reconstruction. Each dataset is evaluated alone (its name escaped as an exact pattern).
* ``recorded`` is the recorded luminosity of the row's selected lumisections, in ``/pb``
  (:data:`dqquery.catalog.LUMINOSITY_UNIT`), ``None`` when the snapshot has no luminosity for them.
* ``reco`` is the reconstruction type of the dataset, read from its name by the table :data:`RECO_TYPES`
  (``online`` -> ``Online``, ``/Express/...`` -> ``Express``, ``/PromptReco/...`` -> ``Prompt``,
  ``/ReReco/...`` -> ``ReReco``); any other name gives its first path component.
* Formats (:data:`FORMATS`): ``txt`` one run number per line (or the chosen columns, space-separated);
  ``csv`` with a header (``recorded (/pb)``); ``txt`` with columns starts with a ``#`` header line; ``json`` a list of numbers, or of objects with the chosen columns and the unit in
  the keys' metadata (``{"luminosity_unit": "/pb", "runs": [...]}``); ``dqmgui`` the ``runs.txt`` layout of
  the DQM GUI crawler: ``run_number reco_type`` per line.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .ast import QueryLike
from .catalog import LUMINOSITY_UNIT
from .evaluator import golden
from .luminosity import recorded_in
from .query import as_node
from .snapshot import Snapshot, matching_datasets

__all__ = ["COLUMNS", "FORMATS", "RECO_TYPES", "RunRow", "format_runs", "reco_type", "run_table", "run_table_pandas", "runs"]

RECO_TYPES: tuple[tuple[str, str], ...] = (
    ("online", "Online"),
    ("/Express/", "Express"),
    ("/PromptReco/", "Prompt"),
    ("/ReReco/", "ReReco"),
)
"""(dataset name prefix, reconstruction type as the DQM GUI crawler's ``runs.txt`` writes it)."""

COLUMNS: tuple[str, ...] = ("run_number", "fill_number", "recorded", "dataset", "reco")
"""Columns a run table may show (``recorded`` in /pb)."""

FORMATS: tuple[str, ...] = ("txt", "csv", "json", "dqmgui")

_SIMILAR_TO_SPECIALS = set("%_|*+?{}()[]\\")


def reco_type(dataset: str) -> str:
    """The reconstruction type of a dataset name (see :data:`RECO_TYPES`)."""
    for prefix, reco in RECO_TYPES:
        if dataset == prefix or dataset.startswith(prefix):
            return reco
    parts = [p for p in dataset.split("/") if p]
    return parts[0] if parts else dataset


def exact_pattern(name: str) -> str:
    """A dataset-name pattern (SQL SIMILAR TO) that matches ``name`` only."""
    return "".join("\\" + ch if ch in _SIMILAR_TO_SPECIALS else ch for ch in name)


@dataclass(frozen=True)
class RunRow:
    """One (run, dataset) with at least one selected lumisection."""

    run_number: int
    dataset: str
    fill_number: int | None
    recorded: float | None  # /pb, of the selected lumisections
    lumisections: int  # selected lumisections

    @property
    def reco(self) -> str:
        return reco_type(self.dataset)

    def get(self, column: str) -> Any:
        return getattr(self, column)


def runs(query: QueryLike, snapshot: Snapshot, dataset: str | None = None) -> list[int]:
    """Sorted run numbers with at least one lumisection selected by ``query`` (the runs of its golden JSON)."""
    return sorted(golden(query, snapshot, dataset=dataset).runs)


def run_table(query: QueryLike, snapshot: Snapshot, dataset: str | None = None) -> list[RunRow]:
    """One :class:`RunRow` per (run, matching dataset) with a selected lumisection, by run then dataset."""
    node = as_node(query)
    names = sorted({name for _, name, _, data in matching_datasets(snapshot, dataset) if data is not None})
    rows: list[RunRow] = []
    for name in names:
        pattern = exact_pattern(name)
        selected = golden(node, snapshot, dataset=pattern)
        for run in selected.runs:
            mine = selected.filter_runs([run])
            record = snapshot.runs_by_number[run]
            fill = record.oms_attributes.get("fill_number")
            rows.append(RunRow(run, name, fill if isinstance(fill, int) and not isinstance(fill, bool) else None,
                               recorded_in(mine, snapshot, pattern), mine.n_lumisections))
    rows.sort(key=lambda r: (r.run_number, r.dataset))
    return rows


def run_table_pandas(query: QueryLike, snapshot: Snapshot, dataset: str | None = None) -> Any:
    """:func:`run_table` as a pandas DataFrame (columns :data:`COLUMNS` plus ``lumisections``)."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError('run_table_pandas needs pandas: pip install "dqquery[pandas]"') from exc
    table = run_table(query, snapshot, dataset)
    columns = [*COLUMNS, "lumisections"]
    frame = pd.DataFrame([[row.get(c) for c in columns] for row in table], columns=columns)
    frame.attrs["luminosity_unit"] = LUMINOSITY_UNIT
    return frame


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def check_columns(columns: Sequence[str]) -> None:
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise ValueError(f"unknown column {unknown[0]!r} for a run list; choose from {', '.join(COLUMNS)}")


def format_runs(table: Sequence[RunRow], fmt: str = "txt", columns: Sequence[str] | None = None) -> str:
    """A run table as text in one of :data:`FORMATS`.

    Without ``columns``, ``txt``, ``csv`` and ``json`` list each run number once; with columns, one line per row
    of the table. ``dqmgui`` is always ``run_number reco_type`` per (run, reconstruction), duplicates removed.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown run-list format {fmt!r}; choose from {', '.join(FORMATS)}")
    if columns:
        check_columns(columns)
    if fmt == "dqmgui":
        pairs = sorted({(r.run_number, r.reco) for r in table})
        return "".join(f"{run} {reco}\n" for run, reco in pairs)
    if not columns:
        numbers = sorted({r.run_number for r in table})
        if fmt == "json":
            return json.dumps(numbers) + "\n"
        return ("run_number\n" if fmt == "csv" else "") + "".join(f"{n}\n" for n in numbers)
    if fmt == "json":
        rows = [{c: r.get(c) for c in columns} for r in table]
        return json.dumps({"luminosity_unit": LUMINOSITY_UNIT, "columns": list(columns), "runs": rows}, indent=1) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([_header(c) for c in columns])
        writer.writerows([[_cell(r.get(c)) for c in columns] for r in table])
        return out.getvalue()
    header = "# " + " ".join(_header(c).replace(" ", "") for c in columns) + "\n"
    return header + "".join(" ".join(_cell(r.get(c)) or "-" for c in columns) + "\n" for r in table)


def _header(column: str) -> str:
    return f"recorded ({LUMINOSITY_UNIT})" if column == "recorded" else column
