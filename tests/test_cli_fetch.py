"""The ``dqquery`` command line against the fake services: fetch, golden, offline, and one-screen failures.

Every command runs the real CLI: ``dqquery.cli.main([...])`` in-process (stdout/stderr captured), and in a
subprocess where the process boundary matters (exit status, no traceback, environment). The fakes are started
per test on 127.0.0.1; caches live in ``tmp_path``; retries wait 0 s so that failures are fast.

A failure message is "one screen" when it has no traceback, at most :data:`MAX_LINES` lines, starts with
``error:`` and says what to do (an option, an environment variable, or a command to run again).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import socket
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dqquery.cli import main
from dqquery.evaluator import golden
from dqquery.lumiranges import GoldenJSON
from dqquery.snapshot import Snapshot
from dqquery.sources.http import RetryPolicy
from dqquery.testing import run_registry, sample_snapshot

SNAP = sample_snapshot(6, ls_per_run=20, seed=3)
OFFLINE = "/PromptReco/Collisions2018A/DQM"
QUERY = "energy > 6000 and dt-dt == GOOD and tracker-strip == GOOD"
MAX_LINES = 5
PRODUCTION_RR = "https://cmsrunregistry.web.cern.ch/api"
CREDENTIAL_VARIABLES = ("SSO_CLIENT_ID", "SSO_CLIENT_SECRET", "OMS_CLIENT_ID", "OMS_CLIENT_SECRET")


# ------------------------------------------------------------------------------------------- helpers


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``dqquery ARGV`` in-process: (exit status, stdout, stderr)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "fetching EVERY run" for queries without a pushable clause
        code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def dqquery_process(*argv: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``dqquery ARGV`` as its own process (the same interpreter and checkout as the tests)."""
    code = "import sys; from dqquery.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=Path(__file__).resolve().parents[1])


def assert_one_screen(err: str, *needles: str) -> None:
    """The failure message is short, has no traceback, and contains every needle (what failed, what to do)."""
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    assert lines and lines[0].startswith("error:"), err
    assert len(lines) <= MAX_LINES, f"{len(lines)} lines:\n{err}"
    assert all(len(line) <= 400 for line in lines), err
    for needle in needles:
        assert needle in err, f"{needle!r} not in:\n{err}"


def golden_output(out: str) -> GoldenJSON:
    return GoldenJSON(json.loads(out))


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries without waiting (the CLI has no option for the policy; the number of attempts is unchanged)."""
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, attempt, rng: 0.0)


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CREDENTIAL_VARIABLES + ("DQQUERY_RR_URL", "DQQUERY_OMS_URL"):
        monkeypatch.delenv(name, raising=False)


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A 127.0.0.1 port that is bound but not listening (connections are refused) for the duration."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def snapshot_with(changes: dict[int, dict[str, Any]]) -> Snapshot:
    """SNAP with some runs' ``oms_attributes`` changed (``{run_number: {attribute: value}}``)."""
    data = json.loads(SNAP.model_dump_json())
    for run in data["runs"]:
        run["oms_attributes"].update(changes.get(run["run_number"], {}))
    return Snapshot.from_dict(data)


# ------------------------------------------------------------------------------------------- success paths


@pytest.mark.parametrize("dataset", ["online", OFFLINE])
def test_fetched_snapshot_file_gives_the_golden_json_of_fetching_directly(serve, capsys, tmp_path, dataset):
    server = serve(run_registry(SNAP))
    path = tmp_path / "snap.json.gz"
    cache = str(tmp_path / "cache.sqlite")
    code, _, err = cli(capsys, "fetch", QUERY, "--dataset", dataset, "--rr", server.url, "--cache", cache, "-o", str(path))
    assert code == 0 and f"wrote {path}" in err
    with gzip.open(path, "rt") as f:
        assert json.load(f)["runs"]  # a real snapshot file, not an empty shell
    code, from_file, _ = cli(capsys, "golden", QUERY, "--snapshot", str(path), "--dataset", dataset)
    assert code == 0
    code, fetched, _ = cli(capsys, "golden", QUERY, "--rr", server.url, "--no-cache", "--dataset", dataset)
    assert code == 0
    expected = golden(QUERY, SNAP, dataset)  # the evaluator on the data the fake serves
    assert expected.n_lumisections > 0
    assert golden_output(from_file) == golden_output(fetched) == expected


def test_fetch_writes_the_columnar_format_that_golden_and_explain_read(serve, capsys, tmp_path):
    pytest.importorskip("pyarrow")
    from dqquery.columnar import ColumnarSnapshot, is_columnar_file

    server = serve(run_registry(SNAP))
    path = tmp_path / "snap.dqc"
    code, _, err = cli(capsys, "fetch", QUERY, "--dataset", OFFLINE, "--rr", server.url, "--no-cache", "-o", str(path))
    assert code == 0 and f"wrote {path}" in err and is_columnar_file(path)
    assert ColumnarSnapshot.load(path).to_snapshot().runs  # a real snapshot, not an empty shell
    code, from_file, _ = cli(capsys, "golden", QUERY, "--snapshot", str(path), "--dataset", OFFLINE)
    expected = golden(QUERY, SNAP, OFFLINE)
    assert code == 0 and expected.n_lumisections > 0 and golden_output(from_file) == expected
    json_path = tmp_path / "snap.json"
    assert cli(capsys, "fetch", QUERY, "--dataset", OFFLINE, "--rr", server.url, "--no-cache", "-o", str(json_path))[0] == 0
    explained = [cli(capsys, "explain", QUERY, "--snapshot", str(p), "--dataset", OFFLINE)[1:] for p in (path, json_path)]
    assert explained[0] == explained[1] and explained[0][0]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(low=st.integers(315000, 315005), span=st.integers(0, 5),
       flag=st.sampled_from(["dt-dt", "tracker-strip", "csc-csc"]), status=st.sampled_from(["GOOD", "BAD", "STANDBY"]))
def test_cli_fetch_then_golden_equals_the_evaluator_for_any_run_range(serve, capsys, tmp_path, low, span, flag, status):
    server = serve(run_registry(SNAP))
    query = f"run_number in {low}..{low + span} and {flag} == {status}"
    path = tmp_path / f"{low}-{span}-{flag}-{status}.json"
    assert cli(capsys, "fetch", query, "--rr", server.url, "--no-cache", "-o", str(path))[0] == 0
    code, out, _ = cli(capsys, "golden", query, "--snapshot", str(path), "--dataset", "online")
    assert code == 0 and golden_output(out) == golden(query, SNAP, "online")


def test_compare_remote_exits_0_when_local_and_remote_agree_and_1_when_they_differ(serve, capsys, tmp_path):
    server = serve(run_registry(SNAP, portal_polls=0))
    code, out, err = cli(capsys, "golden", QUERY, "--rr", server.url, "--no-cache", "--compare-remote")
    assert code == 0 and "local and remote agree" in err
    assert golden_output(out) == golden(QUERY, SNAP, "online")
    assert server.log.matching("json_portal/generate")  # RR's portal was really asked
    # the same comparison from a snapshot in which one selected run lost its collision energy
    first = int(next(iter(json.loads(out))))
    changed = tmp_path / "changed.json"
    snapshot_with({int(first): {"energy": 0.0}}).save(changed)
    code, _, err = cli(capsys, "golden", QUERY, "--snapshot", str(changed), "--dataset", "online", "--rr", server.url,
                       "--no-cache", "--compare-remote")
    assert code == 1 and "DIFFER" in err and str(first) in err


def test_offline_after_a_cached_fetch_needs_no_server(serve, capsys, tmp_path):
    server = serve(run_registry(SNAP))
    url, cache = server.url, str(tmp_path / "cache.sqlite")
    online, offline = tmp_path / "online.json", tmp_path / "offline.json"
    assert cli(capsys, "fetch", QUERY, "--rr", url, "--cache", cache, "-o", str(online))[0] == 0
    server.stop()
    code, _, err = cli(capsys, "fetch", QUERY, "--rr", url, "--cache", cache, "--offline", "-o", str(offline))
    assert code == 0, err
    assert Snapshot.load(offline).model_dump() == Snapshot.load(online).model_dump()
    code, out, err = cli(capsys, "golden", QUERY, "--rr", url, "--cache", cache, "--offline")
    assert code == 0 and golden_output(out) == golden(QUERY, SNAP, "online")


def test_offline_serves_old_answers_and_max_age_limits_them(serve, capsys, tmp_path, monkeypatch):
    import time

    server = serve(run_registry(SNAP))
    url, cache = server.url, str(tmp_path / "cache.sqlite")
    assert cli(capsys, "fetch", QUERY, "--rr", url, "--cache", cache, "--workers", "2", "-o", str(tmp_path / "a.json"))[0] == 0
    server.stop()
    later = time.time() + 30 * 24 * 3600.0  # a month on: past the default 7 days
    monkeypatch.setattr(time, "time", lambda: later)
    code, _, err = cli(capsys, "fetch", QUERY, "--rr", url, "--cache", cache, "--offline", "-o", str(tmp_path / "b.json"))
    assert code == 0, err  # offline: whatever the cache holds
    code, _, err = cli(capsys, "fetch", QUERY, "--rr", url, "--cache", cache, "--offline", "--max-age", "7", "-o", str(tmp_path / "c.json"))
    assert code == 2 and "offline mode" in err
    code, _, err = cli(capsys, "fetch", QUERY, "--rr", url, "--cache", cache, "--workers", "0", "-o", str(tmp_path / "d.json"))
    assert code == 2 and "--workers" in err


def test_offline_without_a_cached_answer_fails_with_a_clear_message(serve, capsys, tmp_path):
    server = serve(run_registry(SNAP))
    cache = str(tmp_path / "cache.sqlite")
    assert cli(capsys, "fetch", QUERY, "--rr", server.url, "--cache", cache, "-o", str(tmp_path / "a.json"))[0] == 0
    n_requests = len(server.log)
    code, out, err = cli(capsys, "fetch", "energy > 7000 and dt-dt == GOOD", "--rr", server.url, "--cache", cache,
                         "--offline", "-o", str(tmp_path / "b.json"))
    assert code == 2 and out == ""
    assert_one_screen(err, "offline mode", "not in the cache", cache, "without --offline")
    assert len(server.log) == n_requests  # offline never asks the network, even when the server is up
    assert not (tmp_path / "b.json").exists()


# ------------------------------------------------------------------------------------------- failures


def test_unreachable_server_fails_with_connection_advice(capsys, tmp_path, fast_retries):
    with closed_port() as port:
        url = f"http://127.0.0.1:{port}"
        code, out, err = cli(capsys, "fetch", QUERY, "--rr", url, "--no-cache", "-o", str(tmp_path / "x.json"))
    assert code == 2 and out == ""
    assert_one_screen(err, f"cannot connect to {url}", "connection refused", "5 attempts", "--rr", "DQQUERY_RR_URL")
    for noise in ("HTTPConnectionPool", "Max retries", "object at 0x", "resume_from"):
        assert noise not in err


def test_unreachable_server_in_a_subprocess(tmp_path, no_credentials):
    """The process boundary: exit status 2 and one message on stderr, nothing on stdout."""
    with closed_port() as port:
        env = {**os.environ, "DQQUERY_RR_URL": f"http://127.0.0.1:{port}"}
        # `golden --fetch` takes the URL from the environment; retries really wait here (< 8 s in total)
        done = dqquery_process("golden", QUERY, "--fetch", "--no-cache", env=env)
    assert done.returncode == 2 and done.stdout == ""
    assert_one_screen(done.stderr, f"cannot connect to http://127.0.0.1:{port}", "DQQUERY_RR_URL")


def test_service_error_is_not_retried_and_shows_rr_message(serve, capsys, tmp_path, fast_retries):
    # energy stored as text: RR's database cannot compare it with a number and answers 500 {"err": ...}
    server = serve(run_registry(snapshot_with({315001: {"energy": "n/a"}})))
    code, out, err = cli(capsys, "fetch", QUERY, "--rr", server.url, "--no-cache", "-o", str(tmp_path / "x.json"))
    assert code == 2 and out == ""
    assert_one_screen(err, "Run Registry answered HTTP 500", 'invalid input syntax for type double precision: "n/a"',
                      "dqquery compile --to rr-raw")
    assert len(server.log.matching("runs_filtered_ordered")) == 1  # a deterministic error is not retried


def test_service_down_reports_the_status_and_attempts(serve, capsys, tmp_path, fast_retries):
    server = serve(run_registry(SNAP))
    server.faults.fail_always(status=503)
    code, _, err = cli(capsys, "fetch", QUERY, "--rr", server.url, "--no-cache", "-o", str(tmp_path / "x.json"))
    assert code == 2
    assert_one_screen(err, "HTTP 503", "5 attempts", "try again later")
    assert len(server.log) == 5


def test_dropped_connections_are_described_without_library_noise(serve, capsys, tmp_path, fast_retries):
    server = serve(run_registry(SNAP))
    server.faults.add("drop")  # every request: the connection is closed without an answer
    code, _, err = cli(capsys, "fetch", QUERY, "--rr", server.url, "--no-cache", "-o", str(tmp_path / "x.json"))
    assert code == 2
    assert_one_screen(err, "connection closed without an answer", "5 attempts", "runs_filtered_ordered")
    assert "RemoteDisconnected" not in err and "object at 0x" not in err


def test_the_portal_is_never_answered_offline(serve, capsys, tmp_path):
    server = serve(run_registry(SNAP, portal_polls=0))
    cache = str(tmp_path / "cache.sqlite")
    assert cli(capsys, "golden", QUERY, "--rr", server.url, "--cache", cache, "--compare-remote")[0] == 0
    code, out, err = cli(capsys, "golden", QUERY, "--rr", server.url, "--cache", cache, "--offline", "--compare-remote")
    assert code == 2 and out == ""
    assert_one_screen(err, "offline mode", "json_portal/generate", "drop --offline")


def test_interrupted_fetch_says_how_to_continue_and_the_rerun_uses_the_cache(serve, capsys, tmp_path, fast_retries):
    server = serve(run_registry(SNAP))
    server.faults.fail_always(status=503, path="/lumisections/oms_lumisections")  # RR's flags still come
    cache, out_path = str(tmp_path / "cache.sqlite"), tmp_path / "x.json"
    code, _, err = cli(capsys, "fetch", QUERY, "--rr", server.url, "--cache", cache, "-o", str(out_path))
    assert code == 2 and not out_path.exists()
    assert_one_screen(err, "lumisection requests failed", "run the same command again")
    completed = {(r.path, r.body) for r in server.log if r.status == 200}
    assert any("rr_lumisection_ranges" in path for path, _ in completed)
    server.faults.clear()  # the service is back
    n_before = len(server.log)
    assert cli(capsys, "fetch", QUERY, "--rr", server.url, "--cache", cache, "-o", str(out_path))[0] == 0
    again = list(server.log)[n_before:]
    assert again and all((r.path, r.body) not in completed for r in again)  # only what had failed was asked again
    assert {r.path for r in again} == {"/lumisections/oms_lumisections"}
    code, out, _ = cli(capsys, "golden", QUERY, "--snapshot", str(out_path), "--dataset", "online")
    assert golden_output(out) == golden(QUERY, SNAP, "online")


def test_unknown_dataset_pattern_fails_with_a_clear_message(serve, capsys, tmp_path):
    server = serve(run_registry(SNAP))
    path = tmp_path / "x.json"
    code, _, err = cli(capsys, "fetch", QUERY, "--rr", server.url, "--no-cache", "--dataset", "/NoSuch/%", "-o", str(path))
    assert code == 2 and not path.exists()
    assert_one_screen(err, "/NoSuch/%", "--dataset")
    code, _, err = cli(capsys, "golden", QUERY, "--rr", server.url, "--no-cache", "--dataset", "/NoSuch/%")
    assert code == 2
    assert_one_screen(err, "/NoSuch/%", "--dataset")


def test_missing_credentials_fail_before_any_network_access(capsys, tmp_path, monkeypatch, no_credentials):
    contacted: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> Any:
        contacted.append(args[:2])
        raise OSError("the network must not be used before credentials are checked")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    code, out, err = cli(capsys, "fetch", QUERY, "--rr", PRODUCTION_RR, "--cache", str(tmp_path / "c.sqlite"),
                         "-o", str(tmp_path / "x.json"))
    assert contacted == []
    assert code == 2 and out == ""
    assert_one_screen(err, "Run Registry", "SSO_CLIENT_ID and SSO_CLIENT_SECRET")


def test_missing_credentials_in_a_subprocess(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARIABLES}
    env["DQQUERY_CACHE_DIR"] = str(tmp_path)  # never ~/.cache
    done = dqquery_process("fetch", QUERY, "--rr", PRODUCTION_RR, "-o", str(tmp_path / "x.json"), env=env)
    assert done.returncode == 2 and done.stdout == ""
    assert_one_screen(done.stderr, "SSO_CLIENT_ID and SSO_CLIENT_SECRET")


def test_missing_oms_credentials_name_the_oms_variables(serve, capsys, tmp_path, no_credentials):
    server = serve(run_registry(SNAP))
    code, _, err = cli(capsys, "fetch", QUERY, "--rr", server.url, "--oms", "https://cmsoms.cern.ch/agg/api/v1",
                       "--no-cache", "-o", str(tmp_path / "x.json"))
    assert code == 2
    assert_one_screen(err, "OMS", "OMS_CLIENT_ID and OMS_CLIENT_SECRET or SSO_CLIENT_ID and SSO_CLIENT_SECRET")


# ------------------------------------------------------------------------------------------- fake services


def test_fake_services_served_from_the_command_line(capsys, tmp_path):
    """``python -m dqquery.testing serve --snapshot FILE`` as documented: the printed URLs serve the snapshot."""
    snapshot_file = tmp_path / "sample.json.gz"
    SNAP.save(snapshot_file)
    process = subprocess.Popen([sys.executable, "-m", "dqquery.testing", "serve", "--snapshot", str(snapshot_file),
                                "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        urls = json.loads(process.stdout.readline())
        assert set(urls) == {"rr", "dials", "oms", "sso_token_url"}
        code, out, _ = cli(capsys, "golden", QUERY, "--rr", urls["rr"], "--no-cache")
        assert code == 0 and golden_output(out) == golden(QUERY, SNAP, "online")
    finally:
        process.terminate()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
