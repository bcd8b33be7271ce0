"""The command line end to end, in-process: compile, plan, golden, explain, json arithmetic, demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import dqquery
from dqquery.cli import main
from dqquery.demo import DEMO_DATASET, OFFICIAL_2018, RR_CONFIGS, load_demo
from dqquery.lumiranges import GoldenJSON

CONFIGS = RR_CONFIGS
GOLDEN = Path(__file__).parent / "data" / "golden"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "target,expected",
    [
        ("rr", lambda q: dict(dqquery.to_rr(q))),
        ("rr-raw", lambda q: dict(dqquery.to_rr(q, raw=True))),
        ("rr-datasets", lambda q: dict(dqquery.to_rr(q, kind="datasets"))),
        ("dials:run", lambda q: dqquery.to_dials(q, endpoint="run")),
        ("oms:runs", lambda q: dqquery.to_oms(q, resource="runs")),
        ("jsonlogic", lambda q: dqquery.to_jsonlogic(q)),
    ],
)
def test_compile_prints_the_target_json(capsys, target, expected) -> None:
    query = "run_number in 315000..316000"
    code, out, err = run(capsys, "compile", "--to", target, query)
    assert code == 0, err
    assert json.loads(out) == json.loads(json.dumps(expected(query)))


def test_compile_rejects_an_inexpressible_clause_with_a_located_error(capsys) -> None:
    code, out, err = run(capsys, "compile", "--to", "dials:run", "run_number > 5 or dataset ~ \"x\"")
    assert code == 2 and out == ""
    assert err.startswith("error[unsupported]") and "^" in err and "Traceback" not in err


def test_compile_unknown_target_is_a_user_error(capsys) -> None:
    code, _, err = run(capsys, "compile", "--to", "mongo", "bpix_ready")
    assert code == 2 and "unknown target 'mongo'" in err


@pytest.mark.parametrize("config", sorted(CONFIGS.glob("*.json")), ids=lambda p: p.stem)
def test_compile_from_jsonlogic_prints_a_query_that_means_the_same(tmp_path, capsys, config: Path) -> None:
    rule = json.loads(config.read_text())["json_logic"]
    rule_file = tmp_path / "rule.json"
    rule_file.write_text(json.dumps(rule))
    code, out, err = run(capsys, "compile", "--from-jsonlogic", str(rule_file))
    assert code == 0, err
    assert dqquery.parse(out.strip()) == dqquery.from_jsonlogic(rule)


def test_compile_from_a_malformed_rule_exits_2(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"and": [{"==": [{"var": "lumisection.rr.dt-dt"}, "GOOD"], "typo": 1}]}))
    code, _, err = run(capsys, "compile", "--from-jsonlogic", str(bad))
    assert code == 2 and "Traceback" not in err
    bad.write_text("{not json")
    code, _, err = run(capsys, "compile", "--from-jsonlogic", str(bad))
    assert code == 2 and "not valid JSON" in err


def test_plan_describes_requests_and_residual(capsys) -> None:
    code, out, _ = run(capsys, "plan", "--to", "dials:lumisection", "run_number in [1, 5] and ls_number != 13")
    assert code == 0
    assert "requests (2):" in out and "residual (evaluated locally): run_number in [1, 5] and ls_number != 13" in out
    code, out, err = run(capsys, "plan", "--to", "dials:lumisection", "run_number in [1, 5] and bpix_ready")
    assert code == 2 and "rows do not carry 'bpix_ready'" in err


def test_golden_on_the_demo_snapshot_writes_the_same_json_as_the_library(tmp_path, capsys) -> None:
    out_file = tmp_path / "g.json"
    query = "tracker-strip == GOOD and bpix_ready"
    code, _, err = run(capsys, "golden", query, "--snapshot", "demo", "-o", str(out_file))
    assert code == 0, err
    assert GoldenJSON.load(out_file) == dqquery.golden(query, load_demo(), dataset=DEMO_DATASET)
    assert "runs" in err and "lumisections" in err


def test_golden_compare_exit_status(tmp_path, capsys) -> None:
    query = "tracker-strip == GOOD"
    expected = dqquery.golden(query, load_demo(), dataset=DEMO_DATASET)
    same, other = tmp_path / "same.json", tmp_path / "other.json"
    expected.write(same)
    (expected - GoldenJSON({expected.runs[0]: [[1, 1]]})).write(other)
    assert run(capsys, "golden", query, "--snapshot", "demo", "--compare", str(same))[0] == 0
    code, _, err = run(capsys, "golden", query, "--snapshot", "demo", "--compare", str(other))
    assert code == 1 and "differs" in err


def test_golden_without_a_data_source_says_what_to_give(capsys, monkeypatch) -> None:
    code, _, err = run(capsys, "golden", "bpix_ready")
    assert code == 2 and "--snapshot" in err


def test_golden_with_a_missing_snapshot_file(capsys, tmp_path) -> None:
    code, _, err = run(capsys, "golden", "bpix_ready", "--snapshot", str(tmp_path / "nope.json.gz"))
    assert code == 2 and "cannot read the snapshot" in err


def test_explain_table_and_json_agree_with_the_library(capsys) -> None:
    query = "b_field >= 3.7 and tracker-strip == GOOD and bpix_ready"
    report = dqquery.explain(query, load_demo(), dataset=DEMO_DATASET)
    code, out, _ = run(capsys, "explain", query, "--snapshot", "demo", "--json")
    assert code == 0
    data = json.loads(out)
    assert data == json.loads(json.dumps(report.to_dict(), default=str))
    code, out, _ = run(capsys, "explain", query, "--snapshot", "demo")
    assert code == 0
    for clause in report.clauses:
        assert clause.text in out


def _files(tmp_path: Path) -> tuple[Path, Path, GoldenJSON, GoldenJSON]:
    a = GoldenJSON({315257: [[1, 10], [20, 30]], 315259: [[1, 5]]})
    b = GoldenJSON({315257: [[5, 25]], 315300: [[1, 2]]})
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    a.write(pa)
    b.write(pb)
    return pa, pb, a, b


@pytest.mark.parametrize("op", ["and", "or", "sub"])
def test_json_arithmetic(tmp_path, capsys, op: str) -> None:
    pa, pb, a, b = _files(tmp_path)
    out_file = tmp_path / "out.json"
    assert run(capsys, "json", op, str(pa), str(pb), "-o", str(out_file))[0] == 0
    assert GoldenJSON.load(out_file) == {"and": a & b, "or": a | b, "sub": a - b}[op]


def test_json_diff_exit_status_and_cmssw(tmp_path, capsys) -> None:
    pa, pb, a, _ = _files(tmp_path)
    code, out, _ = run(capsys, "json", "diff", str(pa), str(pb))
    assert code == 1 and out.strip()
    assert run(capsys, "json", "diff", str(pa), str(pa))[0] == 0
    code, out, _ = run(capsys, "json", "cmssw", str(pa))
    assert code == 0 and GoldenJSON.from_cmssw(out.strip()) == a
    code, _, err = run(capsys, "json", "and", str(pa))
    assert code == 2 and "needs two files" in err


def test_json_diff_of_real_files(capsys) -> None:
    f2018 = GOLDEN / "Cert_314472-325175_13TeV_Legacy2018_Collisions18_JSON.txt"
    assert run(capsys, "json", "diff", str(f2018), str(OFFICIAL_2018))[0] == 0


def test_demo_reproduces_the_official_file(capsys, tmp_path) -> None:
    out_file = tmp_path / "demo.json"
    code, out, _ = run(capsys, "demo", "-o", str(out_file))
    assert code == 0
    assert "identical to the official file" in out
    assert GoldenJSON.load(out_file) == GoldenJSON.load(OFFICIAL_2018)


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["golden", "bpix_ready", "--snapshot", "demo", "-o", "/nonexistent-dir/x.json"], "does not exist"),
        (["explain", "bpix_ready", "--snapshot", "demo", "--plot", "/nonexistent-dir/x.png"], "does not exist"),
        (["compile", "--to", "dials:nope", "bpix_ready"], "unknown DIALS endpoint 'nope'"),
        (["compile", "--to", "oms:nope", "run_number == 1"], "unknown OMS resource 'nope'"),
        (["golden", "bpix_ready", "--snapshot", "demo", "--dataset", "/Nope/%"], "no dataset of the snapshot matches"),
    ],
)
def test_user_errors_are_one_line_messages_not_tracebacks(capsys, argv: list[str], needle: str) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) <= 3


def test_json_commands_report_bad_files(tmp_path, capsys) -> None:
    inverted = tmp_path / "inverted.json"
    inverted.write_text('{"315257": [[5, 1]]}')
    ok = tmp_path / "ok.json"
    ok.write_text('{"1": [[1, 2]]}')
    code, _, err = run(capsys, "json", "diff", str(inverted), str(ok))
    assert code == 2 and "run 315257" in err and "inverted" in err
    code, _, err = run(capsys, "json", "and", str(ok), str(ok), "-o", str(tmp_path / "no" / "out.json"))
    assert code == 2 and "does not exist" in err


# ------------------------------------------------------------------------------------ said out loud


def test_compile_says_when_a_filter_is_a_superset_and_exact_refuses_it(capsys) -> None:
    query = "tracker-strip == GOOD and dt-dt == GOOD"
    code, out, err = run(capsys, "compile", "--to", "rr-raw", query)
    assert code == 0 and json.loads(out) == dict(dqquery.to_rr(query, raw=True))
    assert "note: superset" in err and "not necessarily the same one" in err
    code, out, err = run(capsys, "compile", "--exact", "--to", "rr-raw", query)
    assert code == 2 and "--exact" in err
    code, out, err = run(capsys, "compile", "--exact", "--to", "rr-raw", "tracker-strip == GOOD")
    assert code == 0 and err == ""  # one flag clause is exact: nothing to say
    code, out, err = run(capsys, "compile", "--to", "oms:runs", 'hlt_key like "%2556%"')
    assert code == 0 and "note: superset" in err and "LIKE" in err
    code, out, err = run(capsys, "compile", "--to", "rr", "pixel_included == false")
    assert code == 0 and "\nwarning:" in err and err.startswith("note: superset")  # attributes only: a superset (D2)


def test_plot_without_matplotlib_is_a_one_line_error_before_any_work(capsys, monkeypatch, tmp_path) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    code, out, err = run(capsys, "explain", "--snapshot", "demo", "bpix_ready", "--plot", str(tmp_path / "x.png"))
    assert code == 2 and out == "" and err.strip() == 'error: --plot needs matplotlib: pip install "dqquery[plot]"'
    a = GOLDEN / "Cert_314472-325175_13TeV_Legacy2018_Collisions18_JSON.txt"
    code, out, err = run(capsys, "json", "diff", str(a), str(a), "--plot", str(tmp_path / "y.png"))
    assert code == 2 and out == "" and "matplotlib" in err


def test_json_outputs(capsys, tmp_path) -> None:
    a = GOLDEN / "Cert_314472-325175_13TeV_Legacy2018_Collisions18_JSON.txt"
    code, out, err = run(capsys, "json", "diff", str(a), str(a), "-o", str(tmp_path / "d.json"))
    assert code == 2 and "json sub" in err and not (tmp_path / "d.json").exists()
    code, out, err = run(capsys, "json", "cmssw", str(a), "-o", str(tmp_path / "lumis.txt"))
    assert code == 0 and out == ""
    assert (tmp_path / "lumis.txt").read_text().strip() == GoldenJSON.load(a).to_cmssw()
    code, out, err = run(capsys, "json", "cmssw", str(a), str(a))
    assert code == 2 and "one file" in err


def test_golden_summary_has_runs_lumisections_and_luminosity(capsys, tmp_path) -> None:
    from dqquery.plots import recorded_per_run

    query = "run_number in 315257..315270 and tracker-strip == GOOD"
    code, out, err = run(capsys, "golden", "--snapshot", "demo", query, "-o", str(tmp_path / "g.json"))
    assert code == 0
    result = GoldenJSON.load(tmp_path / "g.json")
    expected = sum(inside for inside, _out, _nd in recorded_per_run(result, load_demo(), DEMO_DATASET).values())
    assert f"{result.n_runs} runs, {result.n_lumisections} lumisections, recorded luminosity {expected:.6g}" in err


def test_explain_says_when_the_query_is_one_clause(capsys) -> None:
    code, out, err = run(capsys, "explain", "--snapshot", "demo", "bpix_ready or fpix_ready")
    assert code == 0 and "top level is not an 'and'" in err
    code, out, err = run(capsys, "explain", "--snapshot", "demo", "bpix_ready and fpix_ready")
    assert code == 0 and err == ""


def test_from_jsonlogic_reads_stored_configs_and_portal_requests_and_says_what_differs(capsys, tmp_path) -> None:
    config = CONFIGS / "client_readme_2018A.json"
    code, out, err = run(capsys, "compile", "--from-jsonlogic", str(config))
    stored = json.loads(config.read_text())
    assert code == 0 and dqquery.parse(out.strip()) == dqquery.from_jsonlogic(stored["json_logic"])
    assert "--dataset '/PromptReco/Collisions2018A/DQM'" in err
    assert out.count("hlt_key is null") == 1 and "energy is null" not in out  # RR's leniency, only where it matters
    portal = tmp_path / "request.json"  # what RR's portal receives: the rule as JSON text
    portal.write_text(json.dumps(dqquery.rr_portal_request("tracker-strip == GOOD and bpix_ready", dataset="/A/DQM")))
    code, out, err = run(capsys, "compile", "--from-jsonlogic", str(portal))
    assert code == 0 and out.strip() == "tracker-strip == GOOD and bpix_ready" and "'/A/DQM'" in err


def test_plot_options_write_png_files(capsys, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    loss = tmp_path / "loss.png"
    code, out, err = run(capsys, "explain", "--snapshot", "demo", "b_field >= 3.7 and bpix_ready", "--plot", str(loss))
    assert code == 0 and f"wrote {loss}" in err
    a = GOLDEN / "Cert_314472-325175_13TeV_Legacy2018_Collisions18_JSON.txt"
    b = tmp_path / "b.json"
    (GoldenJSON.load(a) - GoldenJSON({"315257": [[1, 20]]})).write(b)
    diff = tmp_path / "diff.png"
    code, out, err = run(capsys, "json", "diff", str(a), str(b), "--plot", str(diff))
    assert code == 1 and f"wrote {diff}" in err  # they differ
    for png in (loss, diff):
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000  # a real picture, not an empty canvas


def test_a_query_warning_is_shown_once_per_command(capsys, tmp_path) -> None:
    """The query is read several times (check, compile, evaluate): its warning is said once, in every command."""
    for _ in range(2):
        code, out, err = run(capsys, "golden", "--snapshot", "demo", "run.oms.enrgy > 6000", "-o", str(tmp_path / "g.json"))
        assert code == 0 and err.count("did you mean 'run.oms.energy'?") == 1
    code, out, err = run(capsys, "compile", "--to", "rr-raw", "run.oms.enrgy > 6000")
    assert code == 0 and err.count("did you mean 'run.oms.energy'?") == 1
