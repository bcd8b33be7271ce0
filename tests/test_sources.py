"""HTTP clients against the fakes: retries, fault injection, auth, pagination and resume."""

from __future__ import annotations

import logging

import pytest

from dqquery.sources import (
    BearerToken,
    ClientCredentials,
    DialsClient,
    FetchError,
    MissingCredentials,
    OMSClient,
    RetryPolicy,
    RunRegistryClient,
    ServiceError,
    TransportError,
)
from dqquery.sources.auth import AuthenticationFailed, auth_from_env
from dqquery.sources.http import parse_retry_after
from dqquery.testing import FakeSSO, dials, oms, run_registry, sample_snapshot, sso

SNAP = sample_snapshot(12, ls_per_run=20, seed=5)
RUN = SNAP.runs[0].run_number
FAST = RetryPolicy(attempts=4, backoff=0.01, max_backoff=0.02, seed=1)


def rr_client(server, **kwargs):
    kwargs.setdefault("retry", FAST)
    return RunRegistryClient(server.url, **kwargs)


# ------------------------------------------------------------------------------------------ retries


@pytest.mark.parametrize(
    "inject",
    [
        lambda f: f.fail_nth(1, status=503, path="/lumisections/"),
        lambda f: f.fail_nth(1, status=502, path="/lumisections/"),
        lambda f: f.drop_nth(1, path="/lumisections/"),
        lambda f: f.truncate_nth(1, path="/lumisections/"),
        lambda f: f.hang_nth(1, 5.0, path="/lumisections/"),
    ],
    ids=["503", "502", "dropped-connection", "truncated-body", "read-timeout"],
)
def test_transient_failures_are_retried(serve, inject):
    server = serve(run_registry(SNAP))
    inject(server.faults)
    client = rr_client(server, timeout=(2.0, 1.0))  # the retry has 1 s to answer, even on a loaded machine
    ranges = client.lumisection_ranges(RUN)
    assert ranges == [dict(r) for r in _expected_rr_ranges(server)]
    attempts = server.log.matching("/lumisections/rr_lumisection_ranges")
    assert len(attempts) == 2  # the failure, then one successful retry


def _expected_rr_ranges(server):
    from dqquery.testing.fake_rr import ranges_of_list

    return ranges_of_list(server.app.data.rr_lumisections(RUN, "online"))


def test_slow_body_within_the_timeout_is_not_an_error(serve):
    server = serve(run_registry(SNAP))
    server.faults.trickle_nth(1, 0.02, path="/lumisections/")
    assert rr_client(server, timeout=(2.0, 1.0)).lumisection_ranges(RUN) == _expected_rr_ranges(server)
    assert len(server.log) == 1


def test_429_honours_retry_after(serve, no_sleep):
    server = serve(run_registry(SNAP))
    server.faults.throttle_nth(1, retry_after=7, path="/lumisections/")
    client = rr_client(server, sleep=no_sleep)
    client.lumisection_ranges(RUN)
    assert no_sleep.waits == [7.0]


def test_backoff_grows_and_is_bounded(serve, no_sleep):
    server = serve(run_registry(SNAP))
    server.faults.fail_always(status=503)
    policy = RetryPolicy(attempts=5, backoff=1.0, max_backoff=3.0, seed=0)
    with pytest.raises(TransportError) as info:
        rr_client(server, retry=policy, sleep=no_sleep).lumisection_ranges(RUN)
    assert info.value.attempts == 5 and len(server.log) == 5
    assert len(no_sleep.waits) == 4
    assert all(0 <= w <= min(3.0, 2 ** i) for i, w in enumerate(no_sleep.waits))
    assert "503" in str(info.value)


def test_rr_err_and_client_errors_are_not_retried(serve):
    server = serve(run_registry(SNAP))
    with pytest.raises(ServiceError, match="unknown filter operator") as info:
        rr_client(server).runs({"run_number": {"not-an-operator": 1}})
    assert info.value.status == 500 and len(server.log) == 1
    server2 = serve(dials(SNAP, auth=False))
    client = DialsClient(server2.url, retry=FAST)
    with pytest.raises(ServiceError) as info2:
        client.list_all("run", {"run_number": "abc"})
    assert info2.value.status == 400 and info2.value.body == {"run_number": ["Enter a number."]}
    assert len(server2.log) == 1


def test_parse_retry_after():
    assert parse_retry_after("3") == 3.0 and parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past: no wait


# ------------------------------------------------------------------------------------------ RR paging


def test_rr_paging_is_complete_and_resumable(serve):
    server = serve(run_registry(SNAP))
    client = rr_client(server, page_size=2, retry=RetryPolicy(attempts=1))
    server.faults.fail_nth(4, status=503, path="runs_filtered_ordered")
    with pytest.raises(FetchError) as info:
        client.runs({})
    error = info.value
    assert len(error.partial) == len(SNAP.runs) - 2  # one page of two missing, nothing invented
    before = {r.body for r in server.log if r.status == 200}
    rows = client.runs({}, resume_from=error.resume)
    assert [r["run_number"] for r in rows] == sorted((r.run_number for r in SNAP.runs), reverse=True)
    after = [r.body for r in server.log][len(before) + 1 :]
    assert len(after) == 1 and after[0] not in before  # only the failed page was asked again
    with pytest.raises(ValueError):
        client.runs({"run_number": {">": 1}}, resume_from=error.resume)


# ------------------------------------------------------------------------------------------ DIALS


def test_dials_list_all_and_resume(serve):
    server = serve(dials(SNAP, secrets={"k"}))
    client = DialsClient(server.url, auth=auth_from_env("dials", "https://remote", env={"DIALS_SECRET_KEY": "k"}),
                         retry=RetryPolicy(attempts=1), page_size=50)
    everything = client.rows("lumisection", {"run_number__gte": RUN})
    assert len(everything) == len(server.app.tables["lumisection"])
    server.log.clear()
    server.faults.fail_nth(3, status=503)
    with pytest.raises(FetchError) as info:
        client.list_all("lumisection", {"run_number__gte": RUN})
    listing = info.value.resume
    assert listing.results == everything[:100] and not listing.complete
    resumed = client.list_all("lumisection", {"run_number__gte": RUN}, resume_from=listing)
    assert resumed.complete and resumed.results == everything
    tokens = [dict(r.query).get("next_token") for r in server.log if r.status == 200]
    assert len(tokens) == len(set(tokens))  # no completed page fetched twice
    assert listing.results == everything[:100]  # resume_from is not mutated


def test_dials_workspace_header_and_mes(serve):
    snapshot = SNAP.to_dict() | {"dials": {"mes": [{"me_id": 1, "me": "A/b", "count": 1, "dim": 1}]}}
    server = serve(dials(snapshot))
    client = DialsClient(server.url, auth=BearerToken("t"), workspace="tracker")
    assert client.mes({"me__regex": "^A"}) == [{"me_id": 1, "me": "A/b", "count": 1, "dim": 1}]
    assert server.log.matching("/mes/")[0].headers["workspace"] == "tracker"
    with pytest.raises(ServiceError, match="Workspace 'nope' not found"):
        DialsClient(server.url, auth=BearerToken("t"), workspace="nope").mes()


# ------------------------------------------------------------------------------------------ OMS


def test_oms_offset_paging(serve):
    server = serve(oms(SNAP))
    client = OMSClient(server.url, page_limit=6, retry=FAST)
    rows = client.lumisections(RUN)
    assert [r["lumisection_number"] for r in rows] == list(range(1, 21))
    assert len(server.log) == 4  # 6 + 6 + 6 + 2
    runs = client.runs([("energy", "GE", 6000)], fields=["run_number", "energy"], sort="-run_number")
    assert [r["run_number"] for r in runs] == sorted((r.run_number for r in SNAP.runs if r.oms_attributes["energy"] >= 6000), reverse=True)


# ------------------------------------------------------------------------------------------ auth


def test_client_credentials_token_is_cached_and_refreshed(serve):
    token_server = serve(sso({"app": "top-secret-value"}, expires_in=3600))
    verifier = token_server.app.verifier("cmsoms-prod")
    server = serve(oms(SNAP, require_token=verifier))
    creds = ClientCredentials("app", "top-secret-value", audience="cmsoms-prod", token_url=token_server.root + FakeSSO.path)
    client = OMSClient(server.url, auth=creds, retry=FAST)
    for _ in range(3):
        client.runs()
    assert token_server.app.issued == 1  # one exchange, cached
    token_server.app._tokens.clear()  # the server forgets the token (expired/revoked): 401, refresh, retry once
    client.runs()
    assert token_server.app.issued == 2
    unauthenticated = OMSClient(server.url, auth=BearerToken("forged"), retry=FAST)
    with pytest.raises(ServiceError) as info:
        unauthenticated.runs()
    assert info.value.status == 401


def test_missing_credentials_name_the_environment_variables(monkeypatch):
    for name in ("SSO_CLIENT_ID", "SSO_CLIENT_SECRET", "DIALS_TOKEN", "DIALS_CLIENT_ID", "DIALS_CLIENT_SECRET", "DIALS_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    client = RunRegistryClient("https://rr.invalid/api", retry=FAST)  # constructing never fails
    with pytest.raises(MissingCredentials, match="SSO_CLIENT_ID and SSO_CLIENT_SECRET"):
        client.runs({})
    with pytest.raises(MissingCredentials, match="DIALS_TOKEN"):
        DialsClient("https://dials.invalid/api/v1").rows("run")


def test_secrets_and_tokens_never_reach_the_logs(serve, caplog):
    secret = "SECRET-value-that-must-not-leak"
    token_server = serve(sso({"app": secret}))
    server = serve(run_registry(SNAP, require_token=token_server.app.verifier()))
    creds = ClientCredentials("app", secret, audience="cmsrunregistry-sso-proxy", token_url=token_server.root + FakeSSO.path)
    server.faults.fail_nth(1, status=503)
    with caplog.at_level(logging.DEBUG):
        client = rr_client(server, auth=creds)
        client.runs({})
        client.lumisection_ranges(RUN)
    tokens = list(token_server.app._tokens)
    assert tokens and caplog.records  # something was logged, and a token was issued and used
    text = "\n".join(r.getMessage() for r in caplog.records) + repr(creds) + repr(client.auth)
    assert secret not in text
    assert all(token not in text for token in tokens)


def test_progress_bar_only_on_a_terminal_and_for_several_steps(capsys, monkeypatch) -> None:
    pytest.importorskip("tqdm")
    from dqquery.sources.http import Progress, run_concurrently

    done, errors = run_concurrently(range(5), lambda k: k * k, workers=2, desc="RR lumisections", progress=True)
    assert done == {k: k * k for k in range(5)} and errors == []
    assert "RR lumisections" in capsys.readouterr().err  # forced on: a bar is drawn on stderr
    run_concurrently(range(5), lambda k: k, workers=2, desc="RR lumisections")
    assert capsys.readouterr().err == ""  # stderr is not a terminal under pytest: no bar
    assert Progress(1, "one page", True)._bar is None  # a single step draws no empty bar


def test_an_expired_token_403_from_dials_gets_one_fresh_token(serve) -> None:
    """DIALS says 403 {"code": "access_token_expired"}: the client asks its auth for a new token once."""
    from dqquery.sources.http import HttpClient
    from dqquery.testing import FakeServer, Response

    class Tokens:
        def __init__(self) -> None:
            self.current, self.invalidated = "old", 0

        def apply(self, headers: dict) -> None:
            headers["Authorization"] = f"Bearer {self.current}"

        def invalidate(self) -> None:
            self.invalidated += 1
            self.current = "new"

    class Dials:
        def handle(self, request):
            if request.bearer() == "new":
                return Response.json({"results": [], "next": None})
            return Response.json({"detail": "Access token has expired.", "code": "access_token_expired"}, 403)

    server = serve(FakeServer(Dials()))
    auth = Tokens()
    client = HttpClient(server.url, service="dials", auth=auth, sleep=lambda s: None)
    assert client.request_json("GET", "run/") == {"results": [], "next": None}
    assert auth.invalidated == 1 and [r.status for r in server.log] == [403, 200]
    auth.current = "revoked"  # a token refused again after the refresh is an error, not a loop
    auth.invalidate = lambda: setattr(auth, "current", "still-bad")
    with pytest.raises(Exception, match="403|no access|refused"):
        client.request_json("GET", "run/?again")


def test_sso_token_exchange_retries_an_unavailable_endpoint_but_not_a_refusal(serve) -> None:
    token_server = serve(sso({"app": "s3cret"}))
    url = token_server.root + FakeSSO.path
    waits: list[float] = []
    token_server.faults.fail_nth(1, status=503)
    creds = ClientCredentials("app", "s3cret", audience="cmsoms-prod", token_url=url, sleep=waits.append)
    assert creds.token() and waits == [0.5] and [r.status for r in token_server.log] == [503, 200]
    token_server.faults.fail_always(status=503)
    down = ClientCredentials("app", "s3cret", audience="cmsoms-prod", token_url=url, sleep=waits.append)
    with pytest.raises(AuthenticationFailed, match=r"unavailable \(HTTP 503\) \(3 attempts\)"):
        down.token()
    token_server.faults.clear()
    wrong = ClientCredentials("app", "wrong", audience="cmsoms-prod", token_url=url, sleep=waits.append)
    n = len(token_server.log)
    with pytest.raises(AuthenticationFailed, match="refused client 'app'"):
        wrong.token()
    assert len(token_server.log) == n + 1  # a refusal is not retried
