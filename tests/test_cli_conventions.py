"""Command-line conventions (issue 11 item 8): closed pipes, ``python -m dqquery``, ``-`` for standard input,
``--json``, what ``fetch`` reports, ``dqquery cache`` and ``dqquery serve``."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dqquery.cli import CLOSED_PIPE_STATUS, main
from dqquery.lumiranges import GoldenJSON
from dqquery.testing import run_registry, sample_snapshot

ROOT = Path(__file__).resolve().parents[1]
QUERY = "energy > 6000 and dt-dt == GOOD"


def run(*argv: str, stdin: str | None = None, timeout: float = 120, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dqquery", *argv], input=stdin, capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_python_dash_m_dqquery_is_the_command():
    done = run("check", "tracker-strip == good")
    assert (done.returncode, done.stdout) == (0, "tracker-strip == GOOD\n")


def run_into_closed_pipe(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``dqquery ARGV`` with standard output a pipe nobody reads any more (its reading end closed before the
    command starts): every write fails, whatever the timing, unlike ``| head -1``, whose reader may still be
    there when a short output is written in one go."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", "dqquery", *argv], stdout=write_end, stderr=subprocess.PIPE, text=True,
                              timeout=timeout, cwd=ROOT)
    finally:
        os.close(write_end)


def assert_quiet_closed_pipe(done: subprocess.CompletedProcess[str]) -> None:
    for noise in ("Broken pipe", "BrokenPipeError", "Traceback", "Exception ignored"):
        assert noise not in done.stderr, (done.args, done.stderr)
    assert done.returncode == CLOSED_PIPE_STATUS, (done.args, done.returncode, done.stderr)


@pytest.mark.slow
def test_a_closed_pipe_exits_quietly_after_writing_the_files(tmp_path):
    """``dqquery demo -o FILE`` into a closed pipe: no 'Broken pipe' message, status 141, and the file is written."""
    out = tmp_path / "golden.json"
    assert_quiet_closed_pipe(run_into_closed_pipe("demo", "-o", str(out)))
    assert GoldenJSON.load(out).n_runs > 400


def test_head_reading_a_line_of_the_demo_gets_no_error_and_the_file(tmp_path):
    """The user's pipeline: ``| head -1`` may close before or after the demo wrote the rest (status 141 or 0)."""
    out = tmp_path / "golden.json"
    pipeline = f"{sys.executable} -m dqquery demo -o {out} | head -1; echo status=${{PIPESTATUS[0]}}"
    done = subprocess.run(["bash", "-c", pipeline], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert "Broken pipe" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    first, status = done.stdout.splitlines()
    assert first.startswith("note: the demo data are SYNTHETIC") and status in (f"status={CLOSED_PIPE_STATUS}", "status=0")
    assert GoldenJSON.load(out).n_runs > 400


def _every_printing_command(folder: Path) -> list[list[str]]:
    """Every sub-command (and json operation) that prints on standard output, with arguments that work.
    Left out: ``serve`` (it runs until stopped; its message is tested below), ``fetch`` (needs a server; its
    report goes to standard error) and ``snapshot`` (``convert`` reports on standard error only)."""
    from dqquery.evaluator import golden

    snap = folder / "s.json"
    sample_snapshot(3, ls_per_run=5, seed=1).save(snap)
    a, b = folder / "a.json", folder / "b.json"
    golden(QUERY, sample_snapshot(3, ls_per_run=5, seed=1)).write(a)
    GoldenJSON({1: [[1, 8]], 3: [[1, 5]]}).write(b)
    rule = sorted((ROOT / "dqquery" / "data" / "rr_configs").glob("*.json"))[0]
    return [["check", QUERY], ["parse", QUERY], ["fields"], ["compile", "--to", "rr", QUERY],
            ["compile", "--from-jsonlogic", str(rule)], ["plan", "--to", "rr", QUERY],
            ["golden", QUERY, "--snapshot", str(snap)], ["explain", QUERY, "--snapshot", str(snap)],
            ["runs", QUERY, "--snapshot", str(snap)], ["cache", "info", "--cache", str(folder / "c.sqlite")],
            *(["json", op, str(a), str(b)] for op in ("and", "or", "sub", "diff")), ["json", "cmssw", str(a)],
            ["demo"], ["examples", str(folder / "examples")], ["lint", str(rule)]]


def test_every_printing_command_exits_quietly_on_a_closed_pipe(tmp_path):
    from dqquery.cli import build_parser

    commands = _every_printing_command(tmp_path)
    subcommands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(subcommands) - {c[0] for c in commands} == {"serve", "fetch", "snapshot"}  # a new sub-command joins this list
    for argv in commands:
        done = run_into_closed_pipe(*argv)
        assert_quiet_closed_pipe(done)


def test_json_diff_writes_its_plot_although_stdout_is_closed(tmp_path):
    pytest.importorskip("matplotlib")
    a, b, png = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "d.png"
    GoldenJSON({1: [[1, 10]], 2: [[1, 5]]}).write(a)
    GoldenJSON({1: [[1, 8]], 3: [[1, 5]]}).write(b)
    pipeline = f"{sys.executable} -m dqquery json diff {a} {b} --plot {png} | head -1; echo status=${{PIPESTATUS[0]}}"
    done = subprocess.run(["bash", "-c", pipeline], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert "Broken pipe" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert png.exists() and png.stat().st_size > 0
    assert done.stdout.splitlines()[-1] in (f"status={CLOSED_PIPE_STATUS}", "status=1")  # 1: head read it all first


def test_a_dash_reads_standard_input_wherever_a_file_is_read(tmp_path):
    """Every input file argument: queries (- and @-), json A/B, --snapshot (golden, explain, runs; serve below),
    --compare, --from-jsonlogic. (--cache is an SQLite file, -o and --plot are outputs, examples takes a folder.)"""
    g = GoldenJSON({315000: [[1, 3], [7, 7]]})
    done = run("json", "cmssw", "-", stdin=g.to_json())
    assert (done.returncode, done.stdout) == (0, "315000:1-315000:3,315000:7\n"), done.stderr
    path = tmp_path / "b.json"
    GoldenJSON({315000: [[1, 3]]}).write(path)
    done = run("json", "sub", "-", str(path), stdin=g.to_json())
    assert GoldenJSON(json.loads(done.stdout)) == GoldenJSON({315000: [[7, 7]]})
    snap = sample_snapshot(3, ls_per_run=5, seed=1)
    done = run("golden", "dt-dt == GOOD", "--snapshot", "-", stdin=json.dumps(snap.to_dict()))
    assert done.returncode == 0, done.stderr
    from dqquery.evaluator import golden

    assert GoldenJSON(json.loads(done.stdout)) == golden("dt-dt == GOOD", snap)
    assert run("json", "and", "-", "-", stdin="{}").returncode == 2
    for dash in ("-", "@-"):
        assert run("check", dash, stdin="dt-dt == good\n").stdout == "dt-dt == GOOD\n"
    rule = (ROOT / "dqquery" / "data" / "rr_configs" / "client_readme_2018A.json").read_text(encoding="utf-8")
    from_stdin, from_file = run("compile", "--from-jsonlogic", "-", stdin=rule), run("compile", "--from-jsonlogic", str(
        ROOT / "dqquery" / "data" / "rr_configs" / "client_readme_2018A.json"))
    assert from_stdin.returncode == 0 and from_stdin.stdout == from_file.stdout != ""
    expected = golden("dt-dt == GOOD", snap)
    compared = run("golden", "dt-dt == GOOD", "--snapshot", str(_saved(snap, tmp_path)), "--compare", "-", stdin=expected.to_json())
    assert compared.returncode == 0, compared.stderr
    for command in ("explain", "runs"):
        done = run(command, "dt-dt == GOOD", "--snapshot", "-", stdin=json.dumps(snap.to_dict()))
        assert done.returncode == 0 and done.stdout, (command, done.stderr)
    bad = run("json", "cmssw", "-", stdin="[1, 2")
    assert bad.returncode == 2 and bad.stderr.startswith("error: the golden JSON on standard input: not valid JSON")
    bad = run("golden", "dt-dt == GOOD", "--snapshot", "-", stdin='{"runs": 3}')
    assert bad.returncode == 2 and bad.stderr.startswith("error: the snapshot on standard input: runs")


def _saved(snapshot, folder: Path) -> Path:
    path = folder / "snap.json"
    snapshot.save(path)
    return path


def test_check_plan_and_fields_print_json(capsys):
    code, out, _ = cli(capsys, "check", "--json", "energy > 6000 and tracker-strip == good")
    assert code == 0 and json.loads(out) == {"canonical": "energy > 6000 and tracker-strip == GOOD",
                                             "fields": ["lumisection.rr.tracker-strip", "run.oms.energy"]}
    code, out, _ = cli(capsys, "plan", "--json", "--to", "rr", "energy > 6000 and tracker-strip == GOOD")
    plan = json.loads(out)
    assert code == 0 and plan["target"] == "rr" and plan["requests"] and "exact" in plan
    code, out, _ = cli(capsys, "fields", "--json", "--grep", "run.oms.energy")
    assert code == 0 and json.loads(out) == [{"name": "energy", "path": "run.oms.energy", "type": "float", "unit": "GeV",
                                              "level": "run", "aliases": [], "doc": "OMS run attribute"}]


def test_fields_and_golden_print_units(capsys):
    code, out, _ = cli(capsys, "fields", "--grep", "lumi")
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "/pb" in lines["recorded_lumi"] and "/pb" in lines["recorded"]
    assert out.splitlines()[0].split()[:3] == ["name", "type", "unit"]
    code, _, err = cli(capsys, "golden", "tracker-strip == GOOD", "--snapshot", "demo")
    assert code == 0 and "recorded luminosity" in err and err.rstrip().endswith("/pb")
    code, out, _ = cli(capsys, "explain", "tracker-strip == GOOD and bpix_ready", "--snapshot", "demo", "--runs", "2")
    assert out.count("/pb") >= 4  # summary (twice), the two luminosity column headers, the runs table


def test_fetch_reports_what_it_fetched_and_the_cache(serve, capsys, tmp_path):
    snap = sample_snapshot(4, ls_per_run=10, seed=5)
    server = serve(run_registry(snap))
    cache = tmp_path / "cache.sqlite"
    argv = ["fetch", QUERY, "--rr", server.url, "--cache", str(cache), "-o", str(tmp_path / "s.json")]
    code, _, err = cli(capsys, *argv)
    assert code == 0, err
    from dqquery.snapshot import Snapshot

    fetched = Snapshot.load(tmp_path / "s.json")
    counts = f"{len(fetched.runs)} runs, {sum(1 for _ in fetched.iter_datasets())} datasets, {fetched.n_lumisections()} lumisections"
    assert fetched.runs and counts in err and "0 answered from the cache" in err
    assert str(cache) in err and "B" in err.split(str(cache))[1]
    code, _, err = cli(capsys, *argv)
    assert "0 from the network" in err


def test_fetch_shows_plain_progress_without_tqdm(monkeypatch, capsys):
    import builtins

    from dqquery.sources.http import run_concurrently

    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    results, errors = run_concurrently(range(5), lambda k: k, workers=2, desc="lumisections", progress=True)
    assert results == {k: k for k in range(5)} and not errors
    assert capsys.readouterr().err.splitlines()[-1] == "lumisections: 5/5"


def test_cache_info_prune_and_clear_commands(serve, capsys, tmp_path):
    server = serve(run_registry(sample_snapshot(3, ls_per_run=5, seed=2)))
    cache = str(tmp_path / "c.sqlite")
    assert cli(capsys, "fetch", QUERY, "--rr", server.url, "--cache", cache, "-o", str(tmp_path / "s.json"))[0] == 0
    code, out, _ = cli(capsys, "cache", "info", "--cache", cache, "--json")
    info = json.loads(out)
    assert code == 0 and info["entries"] > 0 and info["per_service"] == {"rr": info["entries"]} and info["size_bytes"] > 0
    code, out, err = cli(capsys, "cache", "prune", "--older-than", "30d", "--cache", cache)
    assert code == 0 and "removed 0 answers" in err
    code, out, err = cli(capsys, "cache", "clear", "--cache", cache)
    assert code == 0 and f"removed {info['entries']} answers" in err and "0 answers" in out
    assert cli(capsys, "cache", "prune", "--cache", cache)[0] == 2
    code, _, err = cli(capsys, "cache", "prune", "--older-than", "soon", "--cache", cache)
    assert code == 2 and "e.g. 30d" in err
    code, out, _ = cli(capsys, "cache", "info", "--cache", str(tmp_path / "none.sqlite"))
    assert code == 0 and "does not exist yet" in out and not (tmp_path / "none.sqlite").exists()


@pytest.mark.slow
def test_serve_says_where_it_listens_and_how_to_stop(tmp_path):
    """``dqquery serve`` on the demo answers quickly (the fakes derive their tables on first use)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "dqquery", "serve", "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        urls = json.loads(proc.stdout.readline())
        message = proc.stderr.readline() + proc.stderr.readline()
        assert urls["rr"] == f"http://127.0.0.1:{port}" and "listening on" in message and "Ctrl-C" in message
        assert "DQQUERY_RR_URL" in message
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr.read()


def test_serve_reads_a_snapshot_from_standard_input_and_names_a_bad_one(tmp_path):
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    snap = sample_snapshot(3, ls_per_run=5, seed=1)
    proc = subprocess.Popen([sys.executable, "-m", "dqquery", "serve", "--snapshot", "-", "--port", str(port)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        proc.stdin.write(json.dumps(snap.to_dict()))
        proc.stdin.close()
        urls = json.loads(proc.stdout.readline())
        assert "(from standard input)" in proc.stderr.readline()
        body = json.dumps({"run_number": snap.runs[0].run_number, "dataset_name": "online"}).encode()
        request = urllib.request.Request(urls["rr"] + "/lumisections/rr_lumisection_ranges", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert json.loads(answer.read())  # the snapshot's own run is served
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    assert proc.returncode == 0
    bad = run("serve", "--snapshot", "-", stdin='{"runs": 3}')
    assert bad.returncode == 2 and bad.stderr.startswith("error: cannot read the snapshot standard input: runs")
    missing = run("serve", "--snapshot", str(tmp_path / "none.json"))
    assert missing.returncode == 2 and "cannot read the snapshot" in missing.stderr and "No such file" in missing.stderr


def test_fake_services_derive_their_tables_on_first_use():
    """The serve start-up cost: constructing the DIALS and OMS fakes does no per-lumisection work."""
    from dqquery.testing import FakeDials, FakeOMS

    snap = sample_snapshot(3, ls_per_run=5, seed=2)
    dials_app, oms_app = FakeDials(snap), FakeOMS(snap)
    assert dials_app._tables is None and oms_app._tables is None
    assert dials_app.tables["lumisection"] and oms_app.tables["lumisections"]
    assert len(oms_app.tables["lumisections"]) == sum(1 for _ in oms_app.tables["lumisections"])


