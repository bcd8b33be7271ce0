"""Plots: each file is a real, non-trivial image, written atomically; the coverage numbers agree with explain."""

from __future__ import annotations

import builtins
import os
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

pytest.importorskip("matplotlib")

import dqquery
from dqquery import plots
from dqquery.explanation import explain
from dqquery.lumiranges import GoldenJSON
from dqquery.snapshot import Snapshot
from dqquery.strategies import queries, snapshots
from dqquery.strategies_snapshot import SNAPSHOT_FIELDS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _snapshot() -> Snapshot:
    """Three runs, one dataset, flags and bits that make every clause of QUERY remove something."""

    def rr(a: int, b: int, strip: str, dt: str) -> dict[str, Any]:
        return {"tracker-strip": {"status": strip}, "dt-dt": {"status": dt}, "start": a, "end": b}

    def oms(a: int, b: int, ready: bool, lumi: float) -> dict[str, Any]:
        return {"bpix_ready": ready, "recorded": lumi, "start": a, "end": b}

    runs = [{"run_number": n, "oms_attributes": {"energy": 6500.0 if n != 315300 else 450.0}} for n in (315257, 315300, 316100)]
    lumisections = {
        "315257": {"online": {"rr": [rr(1, 40, "GOOD", "GOOD"), rr(41, 60, "BAD", "GOOD")], "oms": [oms(1, 30, True, 0.1), oms(31, 60, False, 0.2)]}},
        "315300": {"online": {"rr": [rr(1, 20, "GOOD", "BAD")], "oms": [oms(1, 20, True, 0.05)]}},
        "316100": {"online": {"rr": [rr(1, 90, "GOOD", "GOOD"), rr(91, 99, "GOOD", "BAD")], "oms": [oms(1, 99, True, 0.3)]}},
    }
    return Snapshot.from_dict({"runs": runs, "lumisections": lumisections})


QUERY = "energy in 6000..7000 and tracker-strip == GOOD and dt-dt == GOOD and bpix_ready"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def assert_real_image(path: Path) -> None:
    """A PNG of a plausible size whose pixels are not one flat colour."""
    from matplotlib.image import imread

    width, height = _png_size(path)
    assert 500 <= width <= 3000 and 250 <= height <= 5000, (width, height)
    assert 10_000 < path.stat().st_size < 2_000_000
    pixels = imread(path)
    assert pixels.shape[:2] == (height, width)
    assert float(pixels[..., :3].std()) > 0.05  # text, bars and axes on a white page
    # More than two colours: the data were drawn, not only a frame.
    rgb = (pixels[..., :3] * 255).astype("uint8").reshape(-1, 3)
    assert len({tuple(p) for p in rgb[:: max(1, len(rgb) // 20000)]}) > 8


def test_plot_loss_writes_a_readable_png(tmp_path: Path) -> None:
    report = explain(QUERY, _snapshot())
    out = plots.plot_loss(report, tmp_path / "loss.png")
    assert out == tmp_path / "loss.png"
    assert_real_image(out)
    assert [p.name for p in tmp_path.iterdir()] == ["loss.png"]  # no temporary file left behind


def test_plot_loss_without_luminosity_counts_lumisections(tmp_path: Path) -> None:
    snap = _snapshot().to_dict()
    for per_dataset in snap["lumisections"].values():
        for data in per_dataset.values():
            for rng in data["oms"]:
                rng.pop("recorded")
    report = explain(QUERY, Snapshot.from_dict(snap))
    assert report.total_recorded == 0 and report.total_ls > 0
    assert_real_image(plots.plot_loss(report, tmp_path / "loss.png"))


def test_plot_loss_on_the_demo_is_tall_enough_for_48_clauses(tmp_path: Path) -> None:
    from dqquery.demo import DEMO_DATASET, DEMO_QUERY_2018, load_demo

    report = explain(DEMO_QUERY_2018, load_demo(), dataset=DEMO_DATASET)
    out = plots.plot_loss(report, tmp_path / "loss.png", max_clauses=None)
    width, height = _png_size(out)
    assert height >= 48 * 20  # at least 20 pixels per bar, so labels do not collide
    assert_real_image(out)


def test_plot_diff_shows_both_sides(tmp_path: Path) -> None:
    a = GoldenJSON({315257: [[1, 100]], 316000: [[1, 20]], 320000: [[5, 9]]})
    b = GoldenJSON({315257: [[1, 80]], 318000: [[1, 400]], 320000: [[5, 9]]})
    out = plots.plot_diff(a.diff(b), tmp_path / "diff.png", left="mine", right="official")
    assert_real_image(out)


def test_plot_diff_of_identical_files_is_still_an_image(tmp_path: Path) -> None:
    a = GoldenJSON({315257: [[1, 100]]})
    out = plots.plot_diff(a.diff(a), tmp_path / "same.png")
    width, height = _png_size(out)
    assert width > 500 and out.stat().st_size > 5_000


def test_plot_coverage(tmp_path: Path) -> None:
    snap = _snapshot()
    out = plots.plot_coverage(dqquery.golden(QUERY, snap), snap, tmp_path / "coverage.png")
    assert_real_image(out)


def test_format_follows_the_suffix(tmp_path: Path) -> None:
    out = plots.plot_diff(GoldenJSON({1: [[1, 2]]}).diff(GoldenJSON({})), tmp_path / "diff.svg")
    assert out.read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_an_existing_file_is_replaced_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "diff.png"
    target.write_bytes(b"previous")
    diff = GoldenJSON({1: [[1, 2]]}).diff(GoldenJSON({2: [[1, 2]]}))

    def failing_replace(src: Any, dst: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        plots.plot_diff(diff, target)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["diff.png"]
    monkeypatch.undo()
    plots.plot_diff(diff, target)
    assert target.read_bytes()[:8] == PNG_MAGIC


def test_the_global_pyplot_backend_is_left_alone(tmp_path: Path) -> None:
    import matplotlib

    before = matplotlib.rcParams["backend"]
    plots.plot_diff(GoldenJSON({1: [[1, 2]]}).diff(GoldenJSON({})), tmp_path / "d.png")
    assert matplotlib.rcParams["backend"] == before


def test_missing_matplotlib_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r'pip install "dqquery\[plot\]"'):
        plots.plot_diff(GoldenJSON({1: [[1, 2]]}).diff(GoldenJSON({})), tmp_path / "d.png")
    assert not (tmp_path / "d.png").exists()


def test_unknown_dataset_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no dataset of the snapshot matches"):
        plots.plot_coverage(GoldenJSON({}), _snapshot(), tmp_path / "c.png", dataset="/Nothing/Here/DQM")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshot=snapshots(), query=queries(fields=SNAPSHOT_FIELDS, max_leaves=4), dataset=st.sampled_from([None, "%", "/PromptReco/%"]))
def test_coverage_numbers_agree_with_explain(snapshot: Snapshot, query: Any, dataset: str | None) -> None:
    """The coverage table is computed independently of explain (per lumisection, not per range), yet must
    give the same luminosity in and out of the golden JSON, with the same first-dataset rule."""
    try:
        report = explain(query, snapshot, dataset=dataset)
    except ValueError:
        assume(False)
    table = plots.recorded_per_run(report.golden, snapshot, dataset)
    inside = sum(v[0] for v in table.values())
    outside = sum(v[1] for v in table.values())
    assert inside == pytest.approx(report.golden_recorded, abs=1e-9)
    assert inside + outside == pytest.approx(report.total_recorded, abs=1e-9)
    assert all(v[2] == 0 for v in table.values())  # the golden JSON came from this snapshot
