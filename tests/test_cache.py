"""The SQLite cache: keys, time-to-live, offline mode, integrity after a crash, no credentials stored."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from dqquery.sources import Cache, CacheMiss, ClientCredentials, RetryPolicy, RunRegistryClient
from dqquery.sources.cache import default_cache_path
from dqquery.testing import FakeSSO, run_registry, sample_snapshot, sso

SNAP = sample_snapshot(40, ls_per_run=10, seed=2, datasets=("online",), luminosity=False)
RUNS = [r.run_number for r in SNAP.runs]


def test_put_lookup_ttl_and_offline(tmp_path, monkeypatch):
    cache = Cache(tmp_path / "c.sqlite", ttl=100)
    assert cache.lookup("rr", "x", "{}") == (False, None)
    cache.put("rr", "x", "{}", {"a": [1, 2]})
    assert cache.lookup("rr", "x", "{}") == (True, {"a": [1, 2]})
    assert cache.lookup("dials", "x", "{}") == (False, None)  # the service is part of the key
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 101)
    assert cache.lookup("rr", "x", "{}") == (False, None)  # expired
    offline = Cache(tmp_path / "c.sqlite", ttl=None, offline=True)
    assert offline.lookup("rr", "x", "{}") == (True, {"a": [1, 2]})
    with pytest.raises(CacheMiss, match="offline mode.*not in the cache"):
        offline.lookup("rr", "y", "{}")


def test_corrupt_entry_is_never_returned(tmp_path):
    cache = Cache(tmp_path / "c.sqlite")
    cache.put("rr", "x", "{}", [1, 2, 3])
    with sqlite3.connect(tmp_path / "c.sqlite") as conn:
        conn.execute("UPDATE responses SET body='[1,2,4]'")
    assert cache.lookup("rr", "x", "{}") == (False, None)
    assert len(cache) == 0 and cache.integrity_ok()


def test_default_location_honours_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("DQQUERY_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_path() == tmp_path / "dqquery" / "http-cache.sqlite"
    monkeypatch.setenv("DQQUERY_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert default_cache_path() == tmp_path / "elsewhere" / "http-cache.sqlite"


def test_client_uses_the_cache_and_offline_needs_no_network(serve, tmp_path):
    server = serve(run_registry(SNAP))
    cache = Cache(tmp_path / "c.sqlite")
    client = RunRegistryClient(server.url, cache=cache)
    first = [client.lumisection_ranges(run) for run in RUNS[:5]]
    assert len(server.log) == 5
    assert [client.lumisection_ranges(run) for run in RUNS[:5]] == first
    assert len(server.log) == 5  # all served from the cache
    server.stop()
    offline = RunRegistryClient(server.url, cache=Cache(tmp_path / "c.sqlite", offline=True))
    assert offline.lumisection_ranges(RUNS[0]) == first[0]
    with pytest.raises(CacheMiss):
        offline.lumisection_ranges(RUNS[6])


def test_credentials_never_enter_the_cache(serve, tmp_path):
    secret = "cache-secret-123"
    token_server = serve(sso({"app": secret}))
    server = serve(run_registry(SNAP, require_token=token_server.app.verifier()))
    creds = ClientCredentials("app", secret, audience="cmsrunregistry-sso-proxy", token_url=token_server.root + FakeSSO.path)
    cache = Cache(tmp_path / "c.sqlite")
    RunRegistryClient(server.url, auth=creds, cache=cache).runs({})
    cache.close()
    blob = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("c.sqlite"))
    assert secret.encode() not in blob
    assert all(token.encode() not in blob for token in token_server.app._tokens)


CHILD = textwrap.dedent(
    """
    import sys
    from dqquery.sources import Cache, RunRegistryClient
    url, path, runs = sys.argv[1], sys.argv[2], [int(r) for r in sys.argv[3].split(",")]
    client = RunRegistryClient(url, cache=Cache(path), workers=4)
    for run in runs:
        client.lumisection_ranges(run)
    print("finished", flush=True)
    """
)


def test_a_fetch_killed_mid_way_keeps_every_completed_answer(serve, tmp_path):
    server = serve(run_registry(SNAP))
    server.faults.set_latency(0.1)  # 40 runs take 4 s: the kill lands mid-way even if this process is slow to poll
    path = tmp_path / "c.sqlite"
    Cache(path).close()  # create the schema before the child starts
    child = subprocess.Popen([sys.executable, "-c", CHILD, server.url, str(path), ",".join(map(str, RUNS))],
                             stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    stored = 0
    while time.monotonic() < deadline and stored < 8:
        with sqlite3.connect(path, timeout=5) as conn:
            stored = conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    time.sleep(0.2)  # let the server finish (and log) requests that were in flight when the child died
    assert child.returncode == -signal.SIGKILL  # it really died mid-fetch
    cache = Cache(path)
    assert cache.integrity_ok()
    kept = len(cache)
    assert 8 <= kept < len(RUNS)
    answered_before = len([r for r in server.log if r.status == 200])
    assert kept <= answered_before  # nothing stored that the server did not answer
    # Re-running asks the network only for what the cache lacks; every cached answer is intact.
    server.log.clear()
    client = RunRegistryClient(server.url, cache=cache, retry=RetryPolicy(attempts=1))
    for run in RUNS:
        assert client.lumisection_ranges(run) == server.app._rr_ranges(run, "online")
    assert len(server.log) == len(RUNS) - kept


def _small(n: int, first_run: int = 315000) -> object:
    return sample_snapshot(n, first_run=first_run, ls_per_run=3, datasets=("online",), luminosity=False)


def test_answers_of_one_server_are_never_served_for_another(serve, tmp_path):
    """The server URL is part of the cache key: a test or development instance never answers for another."""
    a = serve(run_registry(_small(3, 315000)))
    b = serve(run_registry(_small(3, 316000)))
    cache = Cache(tmp_path / "c.sqlite")
    from_a = RunRegistryClient(a.url, cache=cache).runs()
    from_b = RunRegistryClient(b.url, cache=cache).runs()
    assert {r["run_number"] for r in from_a} == {315000, 315001, 315002}
    assert {r["run_number"] for r in from_b} == {316000, 316001, 316002}
    assert len(b.log) == 1
    assert RunRegistryClient(a.url, cache=cache).runs() == from_a and len(a.log) == 1  # and each is reused


def test_a_listing_is_never_stitched_from_two_states_of_run_registry(serve, tmp_path, no_sleep):
    """Page 0 fetched, page 1 failed; then RR gains a run. The next fetch must not reuse the old page 0 (rows
    shift between pages: a run would come twice and another would be lost)."""
    cache = Cache(tmp_path / "c.sqlite")
    before = serve(run_registry(_small(6)))
    before.faults.fail_nth(2, path="runs_filtered_ordered")  # a page after page 0 fails (no retry)
    client = RunRegistryClient(before.url, cache=cache, page_size=2, retry=RetryPolicy(attempts=1), sleep=no_sleep)
    with pytest.raises(Exception, match="page"):
        client.runs(sortings=[["run_number", "DESC"]])
    port = before.port
    before.stop()
    after = serve(run_registry(_small(7), port=port))
    rows = RunRegistryClient(after.url, cache=cache, page_size=2, sleep=no_sleep).runs(sortings=[["run_number", "DESC"]])
    numbers = [r["run_number"] for r in rows]
    assert numbers == sorted(range(315000, 315007), reverse=True)


# ------------------------------------------------------------------------------------------- compact storage

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from dqquery.sources.cache import SCHEMA_VERSION, decode_columns, encode_columns, parse_duration  # noqa: E402

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["a", "b", "c", "L", "T", "start"]), inner, max_size=4)
    | st.lists(st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3), min_size=1, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(JSON_VALUES)
def test_the_columnar_encoding_is_lossless(value):
    """Key order, missing keys and nulls come back as they were, through JSON text too."""
    import json

    back = decode_columns(json.loads(json.dumps(encode_columns(value))))
    assert back == value
    assert json.dumps(back) == json.dumps(value)  # key order included


@settings(max_examples=50, deadline=None, derandomize=True)
@given(JSON_VALUES)
def test_stored_answers_come_back_unchanged(tmp_path_factory, value):
    cache = Cache(tmp_path_factory.mktemp("c") / "c.sqlite")
    cache.put("rr", "x", "{}", value)
    assert cache.lookup("rr", "x", "{}") == (True, value)
    cache.close()


def _demo_slice(n_runs: int):
    from dqquery.demo import load_demo
    from dqquery.snapshot import Snapshot

    demo = load_demo().to_dict()
    keep = {r["run_number"] for r in demo["runs"][:n_runs]}
    return Snapshot.from_dict({
        "runs": [r for r in demo["runs"] if r["run_number"] in keep],
        "datasets": [d for d in demo["datasets"] if d["run_number"] in keep],
        "lumisections": {k: v for k, v in demo["lumisections"].items() if int(k) in keep},
    })


def test_the_cache_of_a_demo_fetch_is_at_most_three_times_the_snapshot(tmp_path):
    """Issue 11 item 4: fetching (a slice of) the demo year leaves a cache <= 3x the snapshot it produced.
    The full year measures 0.8 MB against a 312 KB snapshot (tests/benchmarks/bench_cache_size.py)."""
    from dqquery.demo import DEMO_DATASET, DEMO_QUERY_2018
    from dqquery.fetch import fetch_snapshot

    data = _demo_slice(60)
    with run_registry(data) as server:
        cache = Cache(tmp_path / "c.sqlite")
        snap = fetch_snapshot(DEMO_QUERY_2018, dataset=DEMO_DATASET, rr=RunRegistryClient(server.url, cache=cache), progress=False)
        cache.close()  # what stays on disk (SQLite removes its -shm index and empty -wal on the last close)
    size = sum(p.stat().st_size for p in tmp_path.iterdir() if p.name.startswith("c.sqlite"))
    snap.save(tmp_path / "snap.json.gz")
    assert snap.n_lumisections() > 10000  # a real slice, not an empty fetch
    ratio = size / (tmp_path / "snap.json.gz").stat().st_size
    assert ratio <= 3.0, f"cache {size} bytes is {ratio:.2f}x the snapshot"


def test_cache_files_and_created_folders_are_user_only(tmp_path):
    folder = tmp_path / "a" / "b"
    cache = Cache(folder / "c.sqlite")
    cache.put("rr", "x", "{}", [1])
    for path in [folder / "c.sqlite", *folder.glob("c.sqlite-*")]:
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert (folder.stat().st_mode & 0o777, (tmp_path / "a").stat().st_mode & 0o777) == (0o700, 0o700)
    cache.close()


def test_an_existing_cache_file_is_made_user_only(tmp_path):
    path = tmp_path / "c.sqlite"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    Cache(path).close()
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_schema_1_cache_is_emptied_cleanly_and_a_newer_one_refused(tmp_path):
    old = tmp_path / "old.sqlite"
    with sqlite3.connect(old) as conn:  # the layout before compact storage
        conn.execute("CREATE TABLE responses (service TEXT, endpoint TEXT, request TEXT, body TEXT, sha256 TEXT, stored_at REAL, "
                     "PRIMARY KEY (service, endpoint, request))")
        conn.execute("INSERT INTO responses VALUES ('rr', 'x', '{}', '[1]', 'abc', 0)")
    cache = Cache(old)
    assert len(cache) == 0 and cache.lookup("rr", "x", "{}") == (False, None)
    cache.put("rr", "x", "{}", [2])
    assert cache.lookup("rr", "x", "{}") == (True, [2])
    cache.close()
    newer = tmp_path / "newer.sqlite"
    with sqlite3.connect(newer) as conn:
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(Exception, match="newer dqquery"):
        Cache(newer)


def test_info_prune_and_clear(tmp_path, monkeypatch):
    cache = Cache(tmp_path / "c.sqlite")
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - 40 * 86400)
    cache.put("rr", "old", "{}", list(range(1000)))
    monkeypatch.setattr(time, "time", real_time)
    cache.put("rr", "new", "{}", [1])
    cache.put("dials", "new", "{}", [2])
    info = cache.info()
    assert (info.entries, info.per_service) == (3, {"rr": 2, "dials": 1})
    assert info.size_bytes == sum(p.stat().st_size for p in tmp_path.iterdir())
    assert cache.prune(parse_duration("30d")) == 1
    assert cache.lookup("rr", "old", "{}") == (False, None) and cache.lookup("rr", "new", "{}") == (True, [1])
    assert cache.clear() == 2 and len(cache) == 0
    cache.close()


@pytest.mark.parametrize(("text", "seconds"), [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("2w", 14 * 86400),
                                               ("45s", 45), ("7", 7 * 86400), ("1.5d", 1.5 * 86400)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "d", "-3d", "3 days ago", "3y"])
def test_bad_durations_say_how_to_write_one(text):
    with pytest.raises(ValueError, match="e.g. 30d"):
        parse_duration(text)


def test_a_file_that_is_not_a_cache_is_a_clear_error(tmp_path, capsys):
    from dqquery.cli import main
    from dqquery.sources.cache import CacheError

    path = tmp_path / "notes.txt"
    path.write_text("not a database, " * 100)
    os.chmod(path, 0o644)
    with pytest.raises(CacheError, match="cannot use the cache file .*notes.txt"):
        Cache(path)
    assert main(["cache", "info", "--cache", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot use the cache file") and "Traceback" not in err
    assert path.read_text() == "not a database, " * 100  # left as it was
    assert path.stat().st_mode & 0o777 == 0o644
