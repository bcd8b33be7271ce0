"""Regression tests for the source layer's hardening: redirects never carry credentials to another origin,
malformed service URLs, userinfo in messages, credentials with stray whitespace, a non-JSON token answer,
non-UTF-8 query files and ``--max-age`` validation."""

from __future__ import annotations

import http.server
import io
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dqquery.cli import main
from dqquery.sources.auth import (
    AuthenticationFailed,
    BearerToken,
    ClientCredentials,
    MissingCredentials,
    SecretKey,
    auth_from_env,
)
from dqquery.sources.dials import DialsClient
from dqquery.sources.http import (
    HttpClient,
    RetryPolicy,
    SourceError,
    _error_message,
    check_service_url,
    redact_url,
    transport_message,
)
from dqquery.sources.oms import OMSClient
from dqquery.sources.runregistry import RunRegistryClient

CREDENTIAL_HEADERS = ("authorization", "x-client-secret")


class Recorder:
    """A loopback HTTP server whose answers come from ``answer(method, path) -> (status, headers, body)``;
    it records every request's method, path, credential headers and body."""

    def __init__(self, host: str, answer: Callable[[str, str], tuple[int, dict[str, str], bytes]]) -> None:
        self.seen: list[dict[str, Any]] = []
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorder.seen.append({"method": self.command, "path": self.path, "body": body,
                                      "credentials": {k.lower(): v for k, v in self.headers.items()
                                                      if k.lower() in CREDENTIAL_HEADERS}})
                status, headers, payload = answer(self.command, self.path)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _handle

            def log_message(self, *args: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


JSON = {"Content-Type": "application/json"}


@pytest.fixture
def servers() -> Iterator[Callable[..., Recorder]]:
    made: list[Recorder] = []

    def make(host: str, answer: Callable[[str, str], tuple[int, dict[str, str], bytes]]) -> Recorder:
        made.append(Recorder(host, answer))
        return made[-1]

    yield make
    for server in made:
        server.close()


def _ok(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    return 200, JSON, json.dumps({"method": method, "path": path}).encode()


# ------------------------------------------------------------------ 1. redirects and credentials

@pytest.mark.parametrize("auth", [SecretKey("SUPERSECRET"), BearerToken("TOKEN")], ids=repr)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_origin_never_carries_credentials(servers, auth, status) -> None:
    other = servers("127.0.0.2", _ok)
    service = servers("127.0.0.1", lambda m, p: (status, {"Location": f"{other.url}/elsewhere"}, b""))
    client = HttpClient(service.url, service="dials", auth=auth, retry=RetryPolicy(attempts=1))
    answer = client.request_json("GET", "/api/v1/x", cacheable=False)
    assert answer["path"] == "/elsewhere"  # the redirect was followed ...
    assert service.seen[0]["credentials"]  # ... the service itself got the credentials ...
    assert other.seen and all(not hop["credentials"] for hop in other.seen)  # ... the other origin never did


def test_a_same_origin_redirect_keeps_credentials_and_the_query(servers) -> None:
    def answer(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        if not path.startswith("/api/v1/run/"):  # DIALS' 301 to the URL with a trailing slash
            return 301, {"Location": path.replace("/api/v1/run", "/api/v1/run/", 1)}, b""
        return _ok(method, path)

    service = servers("127.0.0.1", answer)
    client = HttpClient(service.url, service="dials", auth=SecretKey("SUPERSECRET"), retry=RetryPolicy(attempts=1))
    got = client.request_json("GET", "/api/v1/run", params={"run_number": 5}, cacheable=False)
    assert got["path"] == "/api/v1/run/?run_number=5"
    assert [hop["credentials"] for hop in service.seen] == [{"x-client-secret": "SUPERSECRET"}] * 2


def test_a_307_keeps_method_and_body_on_the_same_origin(servers) -> None:
    def answer(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
        return (307, {"Location": "/moved"}, b"") if path == "/first" else _ok(method, path)

    service = servers("127.0.0.1", answer)
    client = HttpClient(service.url, service="rr", auth=BearerToken("T"), retry=RetryPolicy(attempts=1))
    assert client.request_json("POST", "/first", json_body={"a": 1}, cacheable=False) == {"method": "POST", "path": "/moved"}
    assert [json.loads(hop["body"]) for hop in service.seen] == [{"a": 1}, {"a": 1}]


def test_a_redirect_loop_ends_with_a_transport_error(servers) -> None:
    service = servers("127.0.0.1", lambda m, p: (302, {"Location": p}, b""))
    client = HttpClient(service.url, service="dials", retry=RetryPolicy(attempts=1))
    with pytest.raises(SourceError):
        client.request_json("GET", "/loop", cacheable=False)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_the_sso_token_post_never_follows_a_redirect_with_the_secret(servers, status) -> None:
    other = servers("127.0.0.2", lambda m, p: (200, JSON, b'{"access_token": "stolen", "expires_in": 60}'))
    endpoint = servers("127.0.0.1", lambda m, p: (status, {"Location": f"{other.url}/token"}, b""))
    credentials = ClientCredentials("id", "CLIENTSECRET", audience="x", token_url=f"{endpoint.url}/token", attempts=1)
    with pytest.raises(AuthenticationFailed, match="redirect"):
        credentials.token()
    assert other.seen == []
    assert b"CLIENTSECRET" in endpoint.seen[0]["body"]  # sent to the configured endpoint only


# ------------------------------------------------------------------ 2. malformed service URLs

@pytest.mark.parametrize(("client", "variable"), [(RunRegistryClient, "DQQUERY_RR_URL"), (DialsClient, "DQQUERY_DIALS_URL"),
                                                  (OMSClient, "DQQUERY_OMS_URL")])
@pytest.mark.parametrize("bad", ["http://[::1", "ftp://example.org/api", "example.org/api", "http://host:notaport/"])
def test_a_malformed_service_url_names_where_it_was_set(monkeypatch, client, variable, bad) -> None:
    monkeypatch.setenv(variable, bad)
    with pytest.raises(SourceError, match=variable):
        client()


def test_a_malformed_sso_token_url_names_its_variable(monkeypatch) -> None:
    monkeypatch.setenv("DQQUERY_SSO_TOKEN_URL", "https://[auth.cern.ch/token")
    with pytest.raises(SourceError, match="DQQUERY_SSO_TOKEN_URL"):
        ClientCredentials("id", "secret", audience="x")


def test_the_cli_reports_a_malformed_rr_url_in_one_line(capsys, tmp_path) -> None:
    code = main(["fetch", "run_number > 1", "--rr", "http://[::1", "--no-cache", "-o", str(tmp_path / "out.json")])
    err = capsys.readouterr().err
    assert code == 2
    assert "--rr" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_good_service_urls_pass_unchanged() -> None:
    for url in ("https://cmsdials-api.web.cern.ch/api/v1", "http://127.0.0.1:9500", "http://[::1]:8080/x"):
        assert check_service_url(url, "dials") == url


# ------------------------------------------------------------------ 3. userinfo in messages

userinfo_text = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=",
                        min_size=6, max_size=20)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(user=userinfo_text, password=userinfo_text)
def test_messages_never_show_the_password_of_a_url(user: str, password: str) -> None:
    url = f"https://{user}:{password}@cmsrunregistry.web.cern.ch/api/runs?x=1"
    texts = [redact_url(url),
             transport_message("rr", "GET", url, 3, "connect", "connection refused"),
             transport_message("rr", "GET", url, 3, "answer", "HTTP 503"),
             _error_message("rr", 404, url, {"detail": "nope"}),
             redact_url(url.replace("cmsrunregistry.web.cern.ch", "[::1"))]
    for text in texts:
        assert password not in text
    assert redact_url(url) == "https://cmsrunregistry.web.cern.ch/api/runs?x=1"


def test_a_service_error_does_not_show_userinfo(servers) -> None:
    service = servers("127.0.0.1", lambda m, p: (404, JSON, b'{"detail": "Not found."}'))
    url = service.url.replace("http://", "http://someone:PASSWORD123@")
    client = HttpClient(url, service="dials", retry=RetryPolicy(attempts=1))
    with pytest.raises(SourceError) as caught:
        client.request_json("GET", "/x", cacheable=False)
    assert "PASSWORD123" not in str(caught.value) and "PASSWORD123" not in caught.value.url


# ------------------------------------------------------------------ 4. credentials as header values

@pytest.mark.parametrize("pasted", ["abc\n", " abc\r\n", "\tabc "])
def test_surrounding_whitespace_of_a_token_or_secret_is_removed(servers, pasted) -> None:
    service = servers("127.0.0.1", _ok)
    for auth, header, expected in ((BearerToken(pasted), "authorization", "Bearer abc"),
                                   (SecretKey(pasted), "x-client-secret", "abc")):
        HttpClient(service.url, service="dials", auth=auth, retry=RetryPolicy(attempts=1)).request_json(
            "GET", "/x", cacheable=False)
        assert service.seen[-1]["credentials"] == {header: expected}


@pytest.mark.parametrize("variable", ["DIALS_TOKEN", "DIALS_SECRET_KEY"])
@pytest.mark.parametrize("value", ["abc\ndef-SECRETPART", "abc\x00SECRETPART", "abc\u20acSECRETPART", "abc\x7fSECRETPART"])
def test_a_token_that_cannot_be_a_header_is_refused_naming_the_variable(variable, value) -> None:
    env = {variable: value}
    with pytest.raises(MissingCredentials, match=variable) as caught:
        auth_from_env("dials", "https://cmsdials-api.web.cern.ch/api/v1", env=env)
    assert "SECRETPART" not in str(caught.value)


# ------------------------------------------------------------------ 5. a token endpoint that answers no JSON

@pytest.mark.parametrize("body", [b"<html>login</html>", b"", b"[1, 2]"])
def test_a_token_endpoint_without_a_json_token_is_named(servers, body) -> None:
    endpoint = servers("127.0.0.1", lambda m, p: (200, {"Content-Type": "text/html"}, body))
    credentials = ClientCredentials("id", "secret", audience="x", token_url=f"{endpoint.url}/tok", attempts=1)
    with pytest.raises(AuthenticationFailed, match="DQQUERY_SSO_TOKEN_URL") as caught:
        credentials.token()
    assert f"{endpoint.url}/tok" in str(caught.value) and "HTTP 200" in str(caught.value)


# ------------------------------------------------------------------ 6. non-UTF-8 query text

def test_a_query_file_that_is_not_utf8_is_a_one_line_error(capsys, tmp_path) -> None:
    path = tmp_path / "bad.dq"
    path.write_bytes("run_number > 1 # \u00e9".encode("latin-1"))
    code = main(["check", f"@{path}"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"the query file {path} is not UTF-8 text" in err and len(err.strip().splitlines()) == 1


def test_standard_input_that_is_not_utf8_is_a_one_line_error(capsys, monkeypatch) -> None:
    class Stdin(io.TextIOWrapper):
        pass

    monkeypatch.setattr("sys.stdin", Stdin(io.BytesIO(b"run_number > \xff1")))
    code = main(["check", "-"])
    err = capsys.readouterr().err
    assert code == 2 and "standard input is not UTF-8 text" in err


def test_a_utf8_query_from_standard_input_still_reads(capsys, monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"run_number > 1")))
    assert main(["check", "-"]) == 0


# ------------------------------------------------------------------ 7. --max-age

@pytest.mark.parametrize("value", ["nan", "-1", "inf", "-inf", "seven"])
def test_max_age_must_be_a_finite_number_of_days(capsys, tmp_path, value) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["fetch", "run_number > 1", f"--max-age={value}", "-o", str(tmp_path / "o.json")])
    assert caught.value.code == 2
    assert "--max-age" in capsys.readouterr().err
