"""Notebook display helpers: short reprs, HTML tables and pandas frames for queries, snapshots and golden JSONs.

Jupyter shows ``_repr_html_`` when an object has one and ``repr`` otherwise. The classes themselves live in other
modules; they hook these functions in with one line each (``def _repr_html_(self): return node_html(self)``), so
the display code stays in one place and the core modules import nothing for it.

Decisions:
* A query's ``repr`` is the call that rebuilds it, ``dqquery.parse('<canonical text>')``: short, exact, and
  pasteable. (pydantic's default repr of a 48-clause query is several kilobytes of nested models.)
* HTML is plain ``<table>``/``<code>`` markup with every piece of user text escaped (queries contain quotes and
  ``<``); no scripts, no CSS beyond inline alignment, so it renders in Jupyter, VS Code and GitHub alike.
* Summaries of a snapshot are computed on ranges (never per lumisection), so displaying a full year is instant.
* pandas is optional (``pip install "dqquery[pandas]"``); ``golden_to_pandas`` imports it on first use.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover
    from .lumiranges import GoldenJSON
    from .snapshot import Snapshot

__all__ = ["golden_to_pandas", "node_html", "node_repr", "snapshot_html", "snapshot_repr"]


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


# ------------------------------------------------------------------------------------------------ queries


def _is_expression(node: Any) -> bool:
    from .ast import NODE_CLASSES

    return isinstance(node, NODE_CLASSES)


def node_repr(node: Any) -> str:
    """``dqquery.parse('<canonical text>')`` for an expression node; pydantic's repr for values and fields."""
    if not _is_expression(node):
        return f"{type(node).__name__}({', '.join(f'{k}={v!r}' for k, v in node.model_dump().items())})"
    from .unparse import unparse

    return f"dqquery.parse({unparse(node)!r})"


def node_html(node: Any) -> str:
    """The canonical query and the fields it reads (short name, qualified name, type, level)."""
    from .ast import fields_of
    from .catalog import lookup
    from .unparse import unparse

    if not _is_expression(node):
        return f"<code>{html.escape(node_repr(node))}</code>"
    seen: dict[str, Any] = {}
    for ref in fields_of(node):
        seen.setdefault(ref.path, ref)
    rows = []
    for path, ref in seen.items():
        info = lookup(path)
        kind = info.type if info is not None else "?"
        level = info.level if info is not None else "?"
        rows.append(
            f"<tr><td><code>{html.escape(ref.name)}</code></td><td><code>{html.escape(path)}</code></td>"
            f"<td>{html.escape(kind)}</td><td>{html.escape(level)}</td></tr>"
        )
    return (
        "<div class='dqquery-query'>"
        f"<pre style='white-space:pre-wrap'>{html.escape(unparse(node))}</pre>"
        "<table><thead><tr><th>field</th><th>qualified name</th><th>type</th><th>level</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


# ------------------------------------------------------------------------------------------------ snapshots


def _dataset_summary(snapshot: Snapshot) -> dict[str, tuple[int, int, int]]:
    """Per dataset name: (runs with lumisection data, lumisections with RR and OMS data, with only one side)."""
    from .evaluator import intersect_ranges

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


# ------------------------------------------------------------------------------------------------ golden JSONs


def golden_to_pandas(golden: GoldenJSON, per: Literal["range", "lumisection"] = "range") -> Any:
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
