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
