"""Run lists (``dqquery.runs``, ``run_table``, ``dqquery runs``) and flat DataFrames, checked against ``golden``."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dqquery
from dqquery.cli import main
from dqquery.evaluator import UnknownDataset, golden
from dqquery.lumiranges import GoldenJSON
from dqquery.runlists import exact_pattern, format_runs, reco_type, run_table, runs
from dqquery.strategies_snapshot import DATASET_NAMES, snapshots

PROPERTY = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
PATTERNS = (None, "/PromptReco/Collisions2018_/DQM", "%", "/ReReco/Run2018A_UL2019/DQM")

# Query shapes with the same condition written for pandas (RR flags hold their status string, OMS bits booleans).
SHAPES = {
    "flag": (lambda v: f"tracker-strip == {v}", lambda df, v: df["tracker-strip"] == v),
    "bit": (lambda v: "bpix_ready" if v else "bpix_ready == false", lambda df, v: df["bpix_ready"] == v),
    "flag_and_bit": (lambda v: f"dt-dt == {v} and cms_active", lambda df, v: (df["dt-dt"] == v) & (df["cms_active"] == True)),  # noqa: E712
    "flag_or_flag": (lambda v: f"csc-csc == {v} or tracker-pixel == {v}", lambda df, v: (df["csc-csc"] == v) | (df["tracker-pixel"] == v)),
}


def _golden_or_none(query, snapshot, dataset):
    try:
        return golden(query, snapshot, dataset=dataset)
    except UnknownDataset:
        return None


@pytest.mark.parametrize("shape", sorted(SHAPES))
@PROPERTY
@given(snapshot=snapshots(max_runs=4), flag_value=st.sampled_from(["GOOD", "BAD"]), bit_value=st.booleans(),
       dataset=st.sampled_from(PATTERNS))
def test_a_filtered_lumisection_table_selects_what_golden_selects(shape, snapshot, flag_value, bit_value, dataset):
    """Round trip: the lumisection DataFrame filtered with pandas on the query's condition = golden's lumisections."""
    pytest.importorskip("pandas")
    text, condition = SHAPES[shape]
    value = bit_value if shape == "bit" else flag_value
    expected = _golden_or_none(text(value), snapshot, dataset)
    if expected is None:
        return
    frame = snapshot.to_pandas(level="lumisection", dataset=dataset)
    for column in ("tracker-strip", "dt-dt", "csc-csc", "tracker-pixel", "bpix_ready", "cms_active"):
        if column not in frame:
            frame[column] = None
    chosen = frame[condition(frame, value)] if len(frame) else frame
    got = GoldenJSON.from_pairs(zip(chosen["run_number"].tolist(), chosen["ls_number"].tolist())) if len(chosen) else GoldenJSON()
    assert got == expected


@PROPERTY
@given(snapshots(), st.sampled_from(sorted(SHAPES)), st.sampled_from(PATTERNS))
def test_run_lists_are_the_runs_of_the_golden_json(snapshot, shape, dataset):
    """A run is listed when it has at least one selected lumisection; each table row's lumisections are golden's."""
    query = SHAPES[shape][0]("GOOD" if shape != "bit" else True)
    expected = _golden_or_none(query, snapshot, dataset)
    if expected is None:
        return
    assert runs(query, snapshot, dataset) == sorted(expected.runs) == dqquery.runs(query, snapshot, dataset)
    table = run_table(query, snapshot, dataset)
    assert sorted({r.run_number for r in table}) == sorted(expected.runs)
    for row in table:
        alone = golden(query, snapshot, dataset=exact_pattern(row.dataset)).filter_runs([row.run_number])
        assert row.lumisections == alone.n_lumisections > 0
        assert alone <= expected


@PROPERTY
@given(snapshots())
def test_the_run_table_has_one_row_per_run_with_catalog_columns(snapshot):
    pytest.importorskip("pandas")
    frame = snapshot.to_pandas(level="run")
    assert frame["run_number"].tolist() == sorted(r.run_number for r in snapshot.runs)
    for run in snapshot.runs:
        row = frame[frame["run_number"] == run.run_number].iloc[0]
        for key, value in run.oms_attributes.items():
            if not isinstance(value, list) and value is not None:
                assert row[key] == value


@pytest.mark.parametrize("name", DATASET_NAMES + ("/A_B/%(x)|y*/DQM",))
def test_an_exact_pattern_matches_only_its_name(name):
    from dqquery.evaluator import dataset_matcher

    matches = dataset_matcher(exact_pattern(name))
    assert matches(name)
    assert not any(matches(other) for other in (*DATASET_NAMES, name + "x", "x" + name) if other != name)


def test_reco_types_follow_the_dqm_gui_crawler_names():
    assert [reco_type(n) for n in DATASET_NAMES] == ["Online", "Prompt", "Prompt", "ReReco"]
    assert reco_type("/Express/Collisions2018/DQM") == "Express"
    assert reco_type("/Cosmics/Run2018/DQM") == "Cosmics"


# ------------------------------------------------------------------------------------------- on the demo

QUERY = "energy in 6000..7000 and tracker-strip == GOOD and bpix_ready"


def _cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_dqquery_runs_formats_agree_with_golden_on_the_demo(capsys):
    from dqquery.demo import DEMO_DATASET, load_demo

    expected = golden(QUERY, load_demo(), dataset=DEMO_DATASET)
    code, out, _ = _cli(capsys, "runs", QUERY, "--snapshot", "demo")
    assert code == 0 and [int(x) for x in out.split()] == sorted(expected.runs)
    code, out, _ = _cli(capsys, "runs", QUERY, "--snapshot", "demo", "--format", "json")
    assert json.loads(out) == sorted(expected.runs)
    code, out, _ = _cli(capsys, "runs", QUERY, "--snapshot", "demo", "--format", "dqmgui")
    lines = [line.split() for line in out.splitlines()]
    assert [int(r) for r, _ in lines] == sorted(expected.runs) and {reco for _, reco in lines} == {"ReReco"}
    code, out, _ = _cli(capsys, "runs", QUERY, "--snapshot", "demo", "--format", "csv",
                        "--columns", "run_number,fill_number,recorded,dataset,reco")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [int(r["run_number"]) for r in rows] == sorted(expected.runs)
    assert "recorded (/pb)" in rows[0]
    from dqquery.explanation import recorded_in

    total = sum(float(r["recorded (/pb)"]) for r in rows)
    assert total == pytest.approx(recorded_in(expected, load_demo(), DEMO_DATASET), abs=0.001 * len(rows))


def test_dqquery_runs_rejects_an_unknown_column(capsys):
    code, _, err = _cli(capsys, "runs", QUERY, "--snapshot", "demo", "--columns", "run_number,lumi")
    assert code == 2 and "unknown column 'lumi'" in err and "recorded" in err


def test_format_runs_json_with_columns_names_the_unit():
    from dqquery.runlists import RunRow

    table = [RunRow(1, "online", 7, 1.5, 3), RunRow(1, "/Express/X/DQM", 7, None, 1)]
    data = json.loads(format_runs(table, "json", ["run_number", "recorded", "reco"]))
    assert data["luminosity_unit"] == "/pb"
    assert data["runs"] == [{"run_number": 1, "recorded": 1.5, "reco": "Online"}, {"run_number": 1, "recorded": None, "reco": "Express"}]
    assert format_runs(table, "dqmgui") == "1 Express\n1 Online\n"
    assert format_runs(table, "txt") == "1\n"


def test_to_polars_has_the_pandas_rows():
    pytest.importorskip("polars")
    pytest.importorskip("pandas")
    from dqquery.testing import sample_snapshot

    snap = sample_snapshot(3, ls_per_run=5)
    assert snap.to_polars(level="lumisection").height == len(snap.to_pandas(level="lumisection"))


def test_golden_json_to_polars_has_the_pandas_rows():
    pytest.importorskip("polars")
    pytest.importorskip("pandas")
    g = GoldenJSON({315257: [[1, 3], [7, 9]], 315259: [[2, 2]]})
    for per in ("range", "lumisection"):
        assert g.to_polars(per).rows() == [tuple(r) for r in g.to_pandas(per).itertuples(index=False)]
    with pytest.raises(ValueError, match="per must be"):
        g.to_polars("run")


@PROPERTY
@given(snapshots())
def test_to_polars_equals_to_pandas_for_every_level(snapshot):
    pytest.importorskip("polars")
    pytest.importorskip("pandas")
    for level in ("run", "lumisection"):
        try:
            frame = snapshot.to_pandas(level=level, dataset="%")
        except UnknownDataset:  # as golden: a pattern matching no dataset is an error, not an empty table
            with pytest.raises(UnknownDataset):
                snapshot.to_polars(level=level, dataset="%")
            continue
        polars_frame = snapshot.to_polars(level=level, dataset="%")
        assert polars_frame.height == len(frame)
        if len(frame):
            assert polars_frame["run_number"].to_list() == frame["run_number"].tolist()


def test_dqquery_runs_from_fetched_data_equals_runs_from_the_snapshot(serve, capsys, tmp_path):
    from dqquery.testing import run_registry, sample_snapshot

    snap = sample_snapshot(6, ls_per_run=20, seed=3)
    server = serve(run_registry(snap))
    query = "energy > 6000 and dt-dt == GOOD"
    code, out, err = _cli(capsys, "runs", query, "--rr", server.url, "--cache", str(tmp_path / "c.sqlite"))
    assert code == 0, err
    assert [int(x) for x in out.split()] == runs(query, snap) != []
    assert "answered from the cache" in err
