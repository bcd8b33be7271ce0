"""The packaged 2018 demo reproduces the official golden JSON, and every clause of the demo query matters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dqquery.demo import DEMO_DATASET, DEMO_PATH, DEMO_QUERY_2018, OFFICIAL_2018, load_demo
from dqquery.evaluator import golden
from dqquery.explanation import explain
from dqquery.lumiranges import GoldenJSON

REPO = Path(__file__).resolve().parent.parent


def test_demo_reproduces_the_official_2018_json_exactly() -> None:
    official = GoldenJSON.load(OFFICIAL_2018)
    assert (official.n_runs, official.n_lumisections) == (478, 234529)
    assert golden(DEMO_QUERY_2018, load_demo(), dataset=DEMO_DATASET) == official


def test_shipped_official_file_is_the_reference_file() -> None:
    reference = REPO / "tests" / "data" / "golden" / OFFICIAL_2018.name
    if not reference.exists():
        pytest.skip("reference copy of the 2018 golden JSON not present")
    assert OFFICIAL_2018.read_bytes() == reference.read_bytes()


def test_each_clause_removes_lumisections_on_its_own() -> None:
    report = explain(DEMO_QUERY_2018, load_demo(), dataset=DEMO_DATASET)
    assert len(report.clauses) == 48
    idle = [c.text for c in report.clauses if c.exclusive_ls == 0 or c.exclusive_recorded <= 0]
    assert idle == []
    assert report.golden == GoldenJSON.load(OFFICIAL_2018)
    # a realistic loss: a few percent of the evaluated lumisections, no clause above 1 %
    lost = 1 - report.golden_ls / report.total_ls
    assert 0.01 < lost < 0.15
    assert max(c.inclusive_ls for c in report.clauses) < 0.01 * report.total_ls


def test_online_dataset_lacks_offline_flags() -> None:
    # The online dataset has no offline-only columns (tracker-track, ...): the standard query selects nothing there.
    assert golden(DEMO_QUERY_2018, load_demo()) == GoldenJSON()
    assert golden("tracker-strip == GOOD and cms_active", load_demo()).n_lumisections > 234529


def test_demo_file_is_small_and_in_the_package() -> None:
    import dqquery

    assert DEMO_PATH.parent == Path(dqquery.__file__).resolve().parent / "data"
    assert DEMO_PATH.stat().st_size < 3_000_000


@pytest.mark.slow
def test_generator_is_deterministic(tmp_path: Path) -> None:
    """Regenerating the demo gives the shipped bytes (the script verifies the golden JSON before writing)."""
    out = tmp_path / "demo.json.gz"
    script = REPO / "scripts" / "make_demo_snapshot.py"
    result = subprocess.run([sys.executable, str(script), "--output", str(out)], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == DEMO_PATH.read_bytes()


def test_columnar_demo_file_holds_the_json_demo_snapshot() -> None:
    """The two shipped copies of the demo are the same snapshot (regenerate the columnar one with
    ``dqquery snapshot convert dqquery/data/demo-2018.json.gz dqquery/data/demo-2018.dqc``)."""
    pytest.importorskip("pyarrow")
    from dqquery.columnar import ColumnarSnapshot
    from dqquery.demo import DEMO_COLUMNAR_PATH

    assert DEMO_COLUMNAR_PATH.parent == DEMO_PATH.parent and DEMO_COLUMNAR_PATH.stat().st_size < 3_000_000
    assert ColumnarSnapshot.load(DEMO_COLUMNAR_PATH).to_snapshot() == load_demo()


@pytest.mark.parametrize("columnar", [False, True])
def test_run_demo_reproduces_the_official_file_from_either_file(columnar: bool) -> None:
    from dqquery.demo import run_demo

    if columnar:
        pytest.importorskip("pyarrow")
    run = run_demo(DEMO_QUERY_2018, columnar=columnar)
    assert run.result == GoldenJSON.load(OFFICIAL_2018)
    assert run.load_seconds > 0 and run.evaluate_seconds > 0
    assert run.source.startswith("columnar file" if columnar else "JSON file")


def test_demo_command_prints_its_timing_with_units(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    from dqquery.cli import main

    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^time: load \d+ ms, evaluate \d+ ms \((columnar|JSON) file, (vectorized|reference) evaluator", out, re.M), out
