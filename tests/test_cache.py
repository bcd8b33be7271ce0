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
