"""Plots of golden-JSON results: loss per clause, differences between two golden JSONs, luminosity coverage.

* :func:`plot_loss` draws an :class:`~dqquery.explanation.ExplainReport` as certification reports show it: one
  horizontal bar per clause, sorted by the recorded luminosity it removes, the inclusive loss (every
  lumisection the clause rejects) behind the exclusive loss (lumisections only that clause rejects).
* :func:`plot_diff` draws a :class:`~dqquery.lumiranges.GoldenDiff` on a run-number axis: lumisections only in
  the left file above the axis, only in the right file below it.
* :func:`plot_coverage` draws, per run, the recorded luminosity of a snapshot inside and outside a golden JSON,
  and the cumulative luminosity below.

Decisions:
* matplotlib is an optional extra (``pip install "dqquery[plot]"``), imported on first use; without it every
  function raises :class:`ImportError` naming that command.
* Figures are drawn on a private ``matplotlib.figure.Figure`` with the Agg canvas, never through ``pyplot``:
  no global state, no window, and the backend of a notebook session is left alone.
* Files are written atomically (temporary file in the destination directory, fsync, ``os.replace``); the format
  follows the file suffix (``.png``, ``.svg``, ``.pdf``; PNG when there is none). Each function returns the path.
* Luminosity is shown in the snapshot's unit, which is OMS's and Run Registry's ``pb^-1`` (``unit=`` changes the
  label only). A report without luminosity (all zero) is drawn in lumisections instead.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Union

from .files import atomic_write_bytes
from .luminosity import luminosity_number
from .lumiranges import intersect_ranges
from .snapshot import matching_datasets

if TYPE_CHECKING:  # pragma: no cover
    from .explanation import ExplainReport
    from .lumiranges import GoldenDiff, GoldenJSON
    from .snapshot import Snapshot

__all__ = ["plot_coverage", "plot_diff", "plot_loss"]

PathLike = Union[str, "os.PathLike[str]"]

INSTALL_HINT = 'pip install "dqquery[plot]"'
DEFAULT_UNIT = "pb$^{-1}$"

#: Colours (colour-blind safe pairs from the Okabe-Ito palette).
COLOURS = {
    "inclusive": "#9ecae1",
    "exclusive": "#08519c",
    "left": "#0072B2",
    "right": "#D55E00",
    "in": "#009E73",
    "out": "#D55E00",
}

_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf", ".jpg": "jpg", ".jpeg": "jpg"}


# --------------------------------------------------------------------------------------------- helpers


def _new_figure(width: float, height: float, rows: int = 1, height_ratios: Sequence[float] | None = None) -> tuple[Any, list[Any]]:
    """A pyplot-free figure on an Agg canvas and its axes."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(f"dqquery plots need matplotlib: {INSTALL_HINT}") from exc
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    if rows == 1:
        return fig, [fig.add_subplot()]
    axes = fig.subplots(rows, 1, sharex=True, gridspec_kw={"height_ratios": list(height_ratios or [1] * rows)})
    return fig, list(axes)


def _save(fig: Any, path: PathLike) -> Path:
    """Render to memory, then write atomically."""
    dest = Path(path)
    fmt = _FORMATS.get(dest.suffix.lower(), "png")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    atomic_write_bytes(dest, buf.getvalue())
    return dest


def _fmt(x: float) -> str:
    """Compact number: 3 significant digits below 1000, thousands separators above."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def _runs(n: int) -> str:
    return f"{n:,} run" + ("" if n == 1 else "s")


def _shorten(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _plain_run_axis(ax: Any) -> None:
    ax.ticklabel_format(axis="x", style="plain", useOffset=False)
    ax.set_xlabel("run number")


# --------------------------------------------------------------------------------------------- loss


def plot_loss(
    report: ExplainReport,
    path: PathLike,
    *,
    max_clauses: int | None = 40,
    measure: Literal["auto", "recorded", "lumisections"] = "auto",
    unit: str = DEFAULT_UNIT,
) -> Path:
    """Draw the loss per clause of an explain report (see the module docstring) and write it to ``path``.

    Clauses are sorted by inclusive loss, largest on top; only the ``max_clauses`` largest are drawn (the
    title says how many are left out). ``measure="auto"`` uses recorded luminosity when the report has any,
    else lumisection counts.
    """
    if measure == "auto":
        measure = "recorded" if report.total_recorded > 0 else "lumisections"
    if measure == "recorded":
        inclusive = [c.inclusive_recorded for c in report.clauses]
        exclusive = [c.exclusive_recorded for c in report.clauses]
        total, kept_total, label = report.total_recorded, report.golden_recorded, f"recorded luminosity lost ({unit})"
        unit_text = f" {unit}"
    else:
        inclusive = [float(c.inclusive_ls) for c in report.clauses]
        exclusive = [float(c.exclusive_ls) for c in report.clauses]
        total, kept_total, label = float(report.total_ls), float(report.golden_ls), "lumisections lost"
        unit_text = " LS"
    order = sorted(range(len(report.clauses)), key=lambda k: (-inclusive[k], -exclusive[k], k))
    hidden = 0
    if max_clauses is not None and len(order) > max_clauses:
        hidden = len(order) - max_clauses
        order = order[:max_clauses]
    order.reverse()  # barh draws bottom-up: largest on top

    names = [_shorten(report.clauses[k].text) for k in order]
    inc = [inclusive[k] for k in order]
    exc = [exclusive[k] for k in order]
    fig, (ax,) = _new_figure(10.0, 1.6 + 0.28 * max(len(order), 3))
    ys = list(range(len(order)))
    ax.barh(ys, inc, height=0.75, color=COLOURS["inclusive"], label="inclusive: the clause rejects it")
    ax.barh(ys, exc, height=0.45, color=COLOURS["exclusive"], label="exclusive: only this clause rejects it")
    ax.set_yticks(ys, names, fontsize=8, family="monospace")
    ax.set_ylim(-0.7, len(ys) - 0.3)
    ax.set_xlabel(label)
    peak = max(inc, default=0.0)
    ax.set_xlim(0, peak * 1.18 if peak > 0 else 1.0)
    for y, a, b in zip(ys, inc, exc):
        if a > 0:
            ax.text(a + peak * 0.01, y, f"{_fmt(a)} ({_fmt(b)})", va="center", fontsize=7, color="#333333")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2, fontsize=8, frameon=False,
               title="bar labels: inclusive (exclusive)", title_fontsize=8)

    lost = total - kept_total
    share = f" ({100.0 * kept_total / total:.2f}%)" if total else ""
    title = f"Loss per clause \u2014 dataset {report.dataset}"
    subtitle = (
        f"kept {_fmt(kept_total)}{unit_text} of {_fmt(total)}{unit_text}{share}; "
        f"lost {_fmt(lost)}{unit_text} ({report.golden_ls:,} of {report.total_ls:,} lumisections kept)"
    )
    if hidden:
        subtitle += f"\n{hidden} clause{'s' if hidden > 1 else ''} with smaller loss not shown"
    ax.set_title(f"{title}\n{subtitle}", fontsize=10, loc="left")
    return _save(fig, path)


# --------------------------------------------------------------------------------------------- diff


def plot_diff(diff: GoldenDiff, path: PathLike, *, left: str = "left", right: str = "right") -> Path:
    """Draw, per run, the lumisections only in the left golden JSON (up) and only in the right one (down).

    Runs sit on a run-number axis; each differing run is a stem of fixed pixel width with a dot at its end,
    so a one-lumisection difference in one run stays visible across a whole year. The five largest
    differences are labelled with their run numbers.
    """
    only_left = {run: sum(b - a + 1 for a, b in ranges) for run, ranges in diff.only_left.items()}
    only_right = {run: sum(b - a + 1 for a, b in ranges) for run, ranges in diff.only_right.items()}
    runs = sorted(set(only_left) | set(only_right))
    fig, (ax,) = _new_figure(11.0, 4.8)
    if not runs:
        ax.text(0.5, 0.5, "identical: no lumisection differs", ha="center", va="center", fontsize=14, transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(f"{left} vs {right}", fontsize=10, loc="left")
        return _save(fig, path)
    for side, counts, sign in (("left", only_left, 1), ("right", only_right, -1)):
        if not counts:
            continue
        xs = sorted(counts)
        ys = [sign * counts[r] for r in xs]
        colour = COLOURS[side]
        name = left if side == "left" else right
        ax.vlines(xs, 0, ys, colors=colour, linewidth=2.0)
        ax.plot(xs, ys, "o", color=colour, markersize=3.5, label=f"only in {name}")
    ax.axhline(0, color="black", linewidth=0.8)
    peak = max([*only_left.values(), *only_right.values()])
    ax.set_ylim(-peak * 1.18 if only_right else -peak * 0.05, peak * 1.18 if only_left else peak * 0.05)
    ax.yaxis.set_major_formatter(_abs_formatter())
    ax.set_ylabel("lumisections (left up, right down)")
    pad = max((runs[-1] - runs[0]) * 0.03, 2.0)
    ax.set_xlim(runs[0] - pad, runs[-1] + pad)
    _plain_run_axis(ax)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    largest = sorted(runs, key=lambda r: (-(only_left.get(r, 0) + only_right.get(r, 0)), r))[:5]
    for run in largest:
        y = only_left[run] if run in only_left else -only_right[run]
        ax.annotate(str(run), (run, y), xytext=(0, 4 if y > 0 else -11), textcoords="offset points", ha="center", fontsize=7)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(
        f"Lumisections that differ, per run: {left} vs {right}\n"
        f"only in {left}: {diff.only_left.n_lumisections:,} LS in {_runs(diff.only_left.n_runs)}; "
        f"only in {right}: {diff.only_right.n_lumisections:,} LS in {_runs(diff.only_right.n_runs)}",
        fontsize=10,
        loc="left",
    )
    return _save(fig, path)


def _abs_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: f"{abs(v):,.0f}")


# --------------------------------------------------------------------------------------------- coverage


def recorded_per_run(golden: GoldenJSON, snapshot: Snapshot, dataset: str | None = None) -> dict[int, tuple[float, float, int]]:
    """Per run of the matching datasets: ``(recorded in the golden JSON, recorded outside it, golden
    lumisections without data)``.

    Only lumisections with both RR and OMS data count (as in :func:`dqquery.golden`); with several matching
    datasets a lumisection counts once, with the luminosity of the first dataset (by name), as in
    :func:`dqquery.explain`. Raises :class:`~dqquery.evaluator.UnknownDataset` when no dataset matches.
    """
    per_run: dict[int, dict[int, float]] = {}
    for run, _name, _ds, data in matching_datasets(snapshot, dataset):
        if data is None:
            continue
        lumi = per_run.setdefault(run.run_number, {})
        for start, end, _i, j in intersect_ranges(data.rr, data.oms):
            range_value = data.oms[j].get("recorded")
            for ls in range(start, end + 1):
                if ls not in lumi:
                    lumi[ls] = luminosity_number(data.luminosity_value("recorded", ls, range_value))
    out: dict[int, tuple[float, float, int]] = {}
    for run in sorted(set(per_run) | set(golden.runs)):
        lumi = per_run.get(run, {})
        inside = outside = 0.0
        for ls, value in lumi.items():
            if (run, ls) in golden:
                inside += value
            else:
                outside += value
        no_data = sum(1 for a, b in golden.ranges(run) for ls in range(a, b + 1) if ls not in lumi) if run in golden.runs else 0
        out[run] = (inside, outside, no_data)
    return out


def plot_coverage(
    golden: GoldenJSON,
    snapshot: Snapshot,
    path: PathLike,
    dataset: str | None = None,
    *,
    unit: str = DEFAULT_UNIT,
) -> Path:
    """Draw, per run, the recorded luminosity inside and outside ``golden`` (top) and its cumulative sum (bottom).

    Runs are placed in order, one bar slot each (tick labels give run numbers): on a true run-number axis the
    bars of neighbouring runs would overlap and hide each other.
    """
    table = recorded_per_run(golden, snapshot, dataset)
    runs = list(table)
    inside = [table[r][0] for r in runs]
    outside = [table[r][1] for r in runs]
    no_data = sum(table[r][2] for r in runs)
    xs = list(range(len(runs)))
    fig, (top, bottom) = _new_figure(11.0, 6.5, rows=2, height_ratios=[1.4, 1.0])
    top.bar(xs, inside, width=0.9, color=COLOURS["in"], label="in the golden JSON", linewidth=0)
    top.bar(xs, outside, width=0.9, bottom=inside, color=COLOURS["out"], label="not in the golden JSON", linewidth=0)
    top.set_ylabel(f"recorded per run ({unit})")
    top.legend(loc="upper left", fontsize=8)
    top.grid(axis="y", color="#dddddd", linewidth=0.6)
    top.set_axisbelow(True)

    cum_in: list[float] = []
    cum_all: list[float] = []
    a = b = 0.0
    for x, y in zip(inside, outside):
        a += x
        b += x + y
        cum_in.append(a)
        cum_all.append(b)
    bottom.plot(xs, cum_all, color=COLOURS["out"], label="all evaluated lumisections")
    bottom.plot(xs, cum_in, color=COLOURS["in"], label="in the golden JSON")
    bottom.fill_between(xs, cum_in, cum_all, color=COLOURS["out"], alpha=0.15)
    bottom.set_ylabel(f"cumulative ({unit})")
    bottom.legend(loc="upper left", fontsize=8)
    bottom.grid(color="#dddddd", linewidth=0.6)
    bottom.set_xlabel(f"run number ({len(runs)} runs, in order)")
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    bottom.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))
    bottom.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: str(runs[int(v)]) if 0 <= int(v) < len(runs) and v == int(v) else ""))
    bottom.set_xlim(-1, max(len(runs), 1))

    total_in, total = sum(inside), sum(inside) + sum(outside)
    share = f" ({100.0 * total_in / total:.2f}%)" if total else ""
    unit_text = f" {unit}"
    title = (
        f"Recorded luminosity per run \u2014 dataset {dataset or 'online'}\n"
        f"in the golden JSON: {_fmt(total_in)}{unit_text} of {_fmt(total)}{unit_text}{share}, "
        f"{golden.n_runs} runs, {golden.n_lumisections:,} lumisections"
    )
    if no_data:
        title += f"; {no_data:,} of its lumisections have no RR+OMS data in the snapshot"
    top.set_title(title, fontsize=10, loc="left")
    return _save(fig, path)
