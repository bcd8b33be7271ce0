"""dqquery's DIALS client and the shared credential rule, against the fake DIALS serving the conformance rows.

Issue 9 (the DIALS client against the real server) and issue 10 item 8 (credentials for local URLs).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import requests

import dqquery
from dqquery.sources import BearerToken, ClientCredentials, DialsClient, FetchError, RetryPolicy, ServiceError, TransportError
from dqquery.sources.auth import NoAuth, SecretKey, auth_from_env, local_credentials
from dqquery.sources.dials import DialsAnswerError
from dqquery.sources.http import HttpClient, same_origin
from dqquery.targets.dials import primary_key, row_paths
from dqquery.testing.fake_dials import FakeDials, encode_cursor
from dqquery.testing.server import FakeServer, Response

ROWS: dict[str, list[dict[str, Any]]] = json.loads(
    (Path(__file__).parent / "data" / "conformance" / "dials" / "rows.json").read_text(encoding="utf-8"))
FAST = RetryPolicy(attempts=5, backoff=0.001, max_backoff=0.002, seed=1)


def fake(**kwargs: Any) -> FakeServer:
    return FakeServer(FakeDials.from_tables(ROWS, **kwargs), mount="/api/v1")


@pytest.fixture
def open_dials(serve):
    return serve(fake(auth=False))


# ------------------------------------------------------------------------------------------ credentials


@pytest.mark.parametrize("url", ["http://127.0.0.1:9500/api/v1", "http://localhost:8000/api/v1", "https://cmsdials-api.web.cern.ch/api/v1"])
def test_a_dials_token_is_sent_wherever_dials_is_configured(url):
    auth = auth_from_env("dials", url, env={"DIALS_TOKEN": "t0k"})
    assert isinstance(auth, BearerToken)
    assert isinstance(auth_from_env("dials", url, env={"DIALS_SECRET_KEY": "s"}), SecretKey)


def test_sso_client_credentials_go_to_a_local_url_only_when_asked():
    env = {"SSO_CLIENT_ID": "me", "SSO_CLIENT_SECRET": "x"}
    assert isinstance(auth_from_env("rr", "http://127.0.0.1:9500", env=env), NoAuth)
    assert isinstance(auth_from_env("rr", "http://127.0.0.1:9500", env={**env, "DQQUERY_LOCAL_AUTH": "1"}), ClientCredentials)
    with local_credentials():
        assert isinstance(auth_from_env("oms", "http://localhost:9500/agg/api/v1", env=env), ClientCredentials)
    assert isinstance(auth_from_env("rr", "http://127.0.0.1:9500", env=env), NoAuth)  # the block ended
    assert isinstance(auth_from_env("rr", "https://cmsrunregistry.web.cern.ch/api", env=env), ClientCredentials)


def test_our_own_client_reaches_our_own_fake_with_a_configured_token(serve, monkeypatch):
    server = serve(fake())  # demands credentials, as the real server does
    monkeypatch.setenv("DIALS_TOKEN", "any-token")
    client = DialsClient(server.url, retry=FAST)
    assert len(client.rows("run", {"run_number": 379415})) == 2
    monkeypatch.delenv("DIALS_TOKEN")
    with pytest.raises(ServiceError) as info:
        DialsClient(server.url, retry=FAST).rows("run")
    assert info.value.status == 403 and "no credentials were sent" in str(info.value) and "DIALS_TOKEN" in str(info.value)


def test_credentials_never_go_to_another_origin(serve):
    seen: list[dict[str, str]] = []

    class Echo:
        def handle(self, request):
            seen.append(dict(request.headers))
            return Response.json({"ok": True})

    home, elsewhere = serve(FakeServer(Echo())), serve(FakeServer(Echo()))
    http = HttpClient(home.url, service="dials", auth=BearerToken("secret-token"), retry=FAST)
    http.request_json("GET", "x/", cacheable=False)
    http.request_json("GET", elsewhere.url + "/x/", cacheable=False)  # an absolute link to another port
    assert seen[0].get("authorization") == "Bearer secret-token"
    assert "authorization" not in seen[1]
    assert same_origin("http://a:80/x", "http://a/y") and not same_origin("https://a/x", "http://a/x")


@pytest.mark.parametrize("code, words", [
    ("access_token_expired", "the token has expired"),
    ("token_not_valid", "the token or secret key is invalid"),
    ("access_token_unexpected_error", "could not validate the token"),
])
def test_a_refused_token_says_why(serve, code, words, caplog):
    bodies = {"access_token_expired": "Access token has expired.", "token_not_valid": "Token is invalid or expired",
              "access_token_unexpected_error": "Unexpected error validating token."}

    class Refuse:
        def handle(self, request):
            return Response.json({"detail": bodies[code], "code": code}, 403)

    refusing = serve(FakeServer(Refuse(), mount="/api/v1"))
    with caplog.at_level(logging.DEBUG, logger="dqquery.sources"), pytest.raises(ServiceError) as info:
        DialsClient(refusing.url, auth=BearerToken("do-not-log-me"), retry=FAST).rows("run")
    assert info.value.status == 403 and words in str(info.value) and "administrators" not in str(info.value)
    assert "do-not-log-me" not in caplog.text and "do-not-log-me" not in str(info.value)


def test_rr_without_credentials_says_none_were_sent_and_how_to_send_them(serve):
    from dqquery.sources import RunRegistryClient
    from dqquery.testing import run_registry, sample_snapshot

    server = serve(run_registry(sample_snapshot(2), require_token=lambda token: False))
    with pytest.raises(ServiceError) as info:
        RunRegistryClient(server.url, retry=FAST).runs({})
    message = str(info.value)
    assert info.value.status == 401 and "no credentials were sent" in message and "DQQUERY_LOCAL_AUTH=1" in message
    assert "were refused" not in message


# ------------------------------------------------------------------------------------------ 404s


def test_unknown_workspace_and_stale_cursor_say_so(open_dials):
    with pytest.raises(ServiceError) as info:
        DialsClient(open_dials.url, workspace="nope", retry=FAST).rows("run")
    assert info.value.status == 404 and "workspace does not exist" in str(info.value)
    client = DialsClient(open_dials.url, retry=FAST)
    with pytest.raises(ServiceError) as info:
        client.page("run", next_token="not-a-cursor")
    assert "cursor" in str(info.value) and "check the URL" not in str(info.value)
    with pytest.raises(ServiceError) as info:
        client.row("run", 1, 2)
    assert info.value.status == 404 and "no row with this key" in str(info.value)


# ------------------------------------------------------------------------------------------ shapes


def test_mes_works_through_rows_list_all_and_page_and_a_dials_mes_plan(open_dials):
    client = DialsClient(open_dials.url, retry=FAST)
    every = client.mes()
    assert every == ROWS["mes"]
    assert client.rows("mes") == every
    listing = client.list_all("mes", {"dim": 2})
    assert listing.complete and listing.results == [r for r in ROWS["mes"] if r["dim"] == 2]
    assert client.page("mes")["results"] == every
    p = dqquery.plan('me like "%PXLayer%" or dim == 2', "dials:mes")
    expected = [r for r in ROWS["mes"] if "pxlayer" in r["me"].lower() or r["dim"] == 2]
    assert sorted(r["me_id"] for r in client.execute(p)) == sorted(r["me_id"] for r in expected)


def _serving(serve, body: Any):
    class Fixed:
        def handle(self, request):
            return Response.json(body)

    return serve(FakeServer(Fixed(), mount="/api/v1"))


def test_a_200_without_results_is_an_error_not_an_empty_listing(serve):
    server = _serving(serve, {"detail": "something else"})
    with pytest.raises(DialsAnswerError, match="'results' list"):
        DialsClient(server.url, auth=NoAuth(), retry=FAST).rows("run")


def test_mes_on_a_paginated_answer_is_an_error(serve):
    server = _serving(serve, {"next": None, "previous": None, "results": []})
    with pytest.raises(DialsAnswerError, match="list of rows"):
        DialsClient(server.url, auth=NoAuth(), retry=FAST).mes()


def test_h1d_h2d_names_count_and_single_rows(open_dials):
    client = DialsClient(open_dials.url, retry=FAST)
    assert client.rows("h1d", {"run_number": 379416}) == client.rows("th1", {"run_number": 379416})
    assert client.count("run", {"run_number__gte": 379420}) == sum(1 for r in ROWS["run"] if r["run_number"] >= 379420)
    model = ROWS["ml-models-index"][2]
    assert client.row("ml-models-index", model["model_id"]) == model
    bad = ROWS["ml-bad-lumisection"][5]
    assert client.row("ml-bad-lumisection", *primary_key("ml-bad-lumisection", bad)) == bad
    with pytest.raises(ValueError, match="unknown DIALS endpoint"):
        client.rows("lumisections")


def test_count_on_an_endpoint_without_a_count_route_is_refused_before_sending(open_dials):
    """DIALS registers count/ on run, lumisection and file-index only: elsewhere its 404 would read as a wrong URL."""
    client = DialsClient(open_dials.url, retry=FAST)
    for endpoint in ("th1", "h2d", "mes", "ml-bad-lumisection"):
        with pytest.raises(ValueError, match="has no .*/count/ route"):
            client.count(endpoint)
    assert requests.get(open_dials.url + "/th1/count/", timeout=5).status_code == 404  # the fake has no such route either
    assert client.count("file-index") == len(ROWS["file-index"])


def test_a_persistent_500_is_reported_at_once(open_dials):
    client = DialsClient(open_dials.url, retry=FAST)
    with pytest.raises(ServiceError) as info:
        client.rows("run", {"dataset__regex": "("})
    assert "cannot answer this request" in str(info.value) and "invalid regular expression" in str(info.value)
    assert len([r for r in open_dials.log if "/run/" in r.path]) == 2  # the error, and its repetition


def test_a_transient_500_is_still_retried(open_dials):
    open_dials.faults.fail_nth(1, status=500, path="/run/")
    assert len(DialsClient(open_dials.url, retry=FAST).rows("run", {"run_number": 379415})) == 2


def test_an_unexplained_500_on_every_try_says_so(serve):
    class Broken:
        def handle(self, request):
            return Response(500, b"<h1>Server Error (500)</h1>", {"Content-Type": "text/html"})

    server = serve(FakeServer(Broken(), mount="/api/v1"))
    with pytest.raises(FetchError, match="same HTTP 500 answer came on every try") as info:
        DialsClient(server.url, auth=NoAuth(), retry=FAST).rows("run")
    assert isinstance(info.value.__cause__, TransportError)  # retried to the end: nothing says it is persistent


# ------------------------------------------------------------------------------------------ plans


@pytest.mark.parametrize("query, endpoint", [
    ("model_id in [19, 21]", "ml-models-index"),
    ('model_active and model_name ~ "PXLayer_1"', "ml-models-index"),
    ('target_me like "%Layer_2"', "ml-models-index"),  # v1.12.0 only: fetched whole, re-checked on the rows
    ("me_id == 1 or run_number == 379416", "ml-bad-lumisection"),
    ("not (run_number in 379420..379460)", "run"),
    ('run_number != 379415 and dataset like "%ZeroBias%"', "run"),
    ("ls_number > 2 and me_id != 1", "th1"),
])
def test_a_dials_plan_runs_through_the_client(open_dials, query, endpoint):
    p = dqquery.plan(query, f"dials:{endpoint}")
    got = DialsClient(open_dials.url, page_size=7, retry=FAST).execute(p)
    expected = [r for r in ROWS[endpoint] if dqquery.semantics.selects(p.query, _named(endpoint, r))]
    assert sorted(primary_key(endpoint, r) for r in got) == sorted(primary_key(endpoint, r) for r in expected)
    assert expected  # the case selects something


def _named(endpoint: str, row: dict[str, Any]) -> dict[str, Any]:
    view = row_paths(endpoint, row)
    if "dataset_id" in row and "dataset" not in row:
        view["dataset.name"] = {r["dataset_id"]: r["dataset"] for r in ROWS["dataset-index"]}[row["dataset_id"]]
    return view


def test_not_in_range_is_two_range_requests():
    p = dqquery.plan("not (run_number in 379420..379460)", "dials:run")
    assert p.requests == ({"run_number__lte": 379419}, {"run_number__gte": 379461}) and p.residual is None


def test_a_residual_on_a_field_the_rows_lack_is_an_error(serve):
    rows_24 = {**ROWS, "ml-models-index": [{"id": r["model_id"], "name": r["filename"], "active": r["active"]}
                                           for r in ROWS["ml-models-index"]]}
    server = serve(FakeServer(FakeDials.from_tables(rows_24, auth=False), mount="/api/v1"))
    client = DialsClient(server.url, retry=FAST)
    assert sorted(r["id"] for r in client.execute(dqquery.plan("model_id in [19, 21]", "dials:ml-models-index"))) == [19, 21]
    with pytest.raises(DialsAnswerError, match="do not carry dials.target_me"):
        client.execute(dqquery.plan('target_me like "%Layer_2"', "dials:ml-models-index"))


# ------------------------------------------------------------------------------------------ fake vs real


def test_fake_answers_like_the_real_v1_12_server(open_dials):
    url = open_dials.url
    index = requests.get(url + "/", timeout=5)
    assert index.status_code == 200 and index.json()["run"] == url + "/run/"
    assert requests.post(url + "/run/", json={}, timeout=5).status_code == 405
    assert requests.get(url + "/run", timeout=5, allow_redirects=False).status_code == 301
    short = encode_cursor([19, 14677061, 379414, 3])  # four fields: the ml-bad-lumisection key has five
    assert requests.get(url + "/ml-bad-lumisection/", params={"next_token": short}, timeout=5).status_code == 500
    assert requests.get(url + "/mes/14677061/379999/", timeout=5).status_code == 500
    pages = requests.get(url + "/ml-models-index/", params={"page_size": 2}, timeout=5).json()
    second = requests.get(pages["next"], timeout=5)
    assert second.status_code == 200 and [r["model_id"] for r in second.json()["results"]] == [21, 22]
    assert "ls_completeness" not in requests.get(url + "/run/", timeout=5).json()["results"][0]


# ------------------------------------------------------------------------------------------ derived demo data


def test_derived_tables_are_deterministic_consistent_and_follow_the_snapshot():
    from dqquery.testing import sample_snapshot
    from dqquery.testing.fake_dials import DERIVED_MES, ML_MODELS

    snapshot = sample_snapshot(6, seed=3)
    first, again = FakeDials(snapshot).tables, FakeDials(snapshot).tables
    assert first == again
    for name in ("th1", "th2", "file-index", "mes", "ml-models-index", "ml-bad-lumisection"):
        assert first[name], name
        assert all(set(row) == set(ROWS[name][0]) for row in first[name]), name  # the v1.12.0 columns, as recorded
    assert all(set(row) == set(ROWS["run"][0]) for row in first["run"])
    # th1_count/th2_count count the derived histograms of each lumisection
    per_ls: dict[tuple[int, int, int], list[int]] = {}
    for dim, table in ((0, "th1"), (1, "th2")):
        for row in first[table]:
            per_ls.setdefault((row["dataset_id"], row["run_number"], row["ls_number"]), [0, 0])[dim] += 1
    for lumi in first["lumisection"]:
        assert [lumi["th1_count"], lumi["th2_count"]] == per_ls.get((lumi["dataset_id"], lumi["run_number"], lumi["ls_number"]), [0, 0])
    # entries are 0 exactly where the subdetector's OMS bit is not true
    from dqquery.testing.fake_rr import SnapshotData

    data = SnapshotData.of(snapshot)
    bit_of = {me_id: bit for me_id, _, _, bit, _ in DERIVED_MES}
    for row in first["th1"] + first["th2"]:
        oms = (data.oms_ls.get((row["run_number"], row["dataset"])) or data.oms_ls.get((row["run_number"], "online")) or {})
        on = oms.get(row["ls_number"], {}).get(bit_of[row["me_id"]]) is True
        if not on:
            assert row["entries"] == 0
    # ML rows: only active models, on their target ME, with an existing histogram
    active = {model_id: target for model_id, target, is_active in ML_MODELS if is_active}
    histograms = {(r["dataset_id"], r["run_number"], r["ls_number"], r["me_id"]) for r in first["th1"] + first["th2"]}
    for row in first["ml-bad-lumisection"]:
        assert active[row["model_id"]] == row["me_id"] and row["mse"] > 1
        assert (row["dataset_id"], row["run_number"], row["ls_number"], row["me_id"]) in histograms


# ------------------------------------------------------------------------------------------ the CLI


def test_cli_reaches_a_require_auth_fake_with_local_auth(serve, monkeypatch, tmp_path, capsys):
    from dqquery.cli import main
    from dqquery.testing import sample_snapshot, serve_all
    from dqquery.testing.server import FakeSSO

    server = serve(serve_all(sample_snapshot(3), port=0, sso_clients={"my-app": "s3cret"}, require_auth=True))
    monkeypatch.setenv("SSO_CLIENT_ID", "my-app")
    monkeypatch.setenv("SSO_CLIENT_SECRET", "s3cret")
    monkeypatch.setenv("DQQUERY_SSO_TOKEN_URL", server.root + FakeSSO.path)
    monkeypatch.delenv("DQQUERY_LOCAL_AUTH", raising=False)
    command = ["golden", "cms_active", "--rr", server.root, "--no-cache"]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert "no credentials were sent" in err and "--local-auth" in err and "s3cret" not in err
    assert main([*command, "--local-auth"]) == 0
    assert json.loads(capsys.readouterr().out)  # a golden JSON
