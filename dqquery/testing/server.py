"""A small threaded HTTP server for the fake services, with fault injection and a request log.

Design:
* An *app* is any object with ``handle(request: Request) -> Response``; the fakes (Run Registry, DIALS, OMS,
  SSO) are apps and know nothing about sockets. :class:`Router` mounts several apps under path prefixes so the
  command line can serve all of them on one port.
* :class:`FakeServer` runs an app in a ``ThreadingHTTPServer`` on 127.0.0.1 (ephemeral port by default) in a
  daemon thread; it is a context manager. Keep-alive (HTTP/1.1) is on, as real services behind a proxy do,
  so connection reuse in the clients is exercised.
* :class:`Faults` holds the fault-injection knobs. They are thread-safe and may be changed while the server
  runs. Rules count the requests that match their path pattern, so "the 3rd lumisection request fails" is
  one rule whatever else is requested in between. A random failure rate uses its own seeded generator.
* :class:`RequestLog` records every request (method, path, query, body, status) for assertions: tests use it
  to prove that a retry happened, that resuming repeated nothing, that no request was lost.
* Secrets never reach the log: the ``Authorization`` and ``X-CLIENT-SECRET`` headers are not recorded, and
  the SSO token endpoint's form body is recorded with the secret masked.
"""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "App",
    "FakeServer",
    "Faults",
    "LoggedRequest",
    "Request",
    "RequestLog",
    "Response",
    "Router",
]

SECRET_HEADERS = frozenset({"authorization", "x-client-secret"})
"""Request headers that are never recorded in the request log."""


@dataclass
class Request:
    """One parsed HTTP request as the apps see it."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    base_url: str  # scheme://host:port of this server, for absolute links (DIALS next/previous)
    mount: str = ""  # prefix the router stripped from ``path``

    def json(self) -> Any:
        """The body parsed as JSON (``None`` when empty)."""
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, str]:
        """The body parsed as ``application/x-www-form-urlencoded``."""
        return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))

    def param(self, name: str) -> str | None:
        """The LAST value of a query parameter, as Django's ``QueryDict.get`` returns it."""
        value = None
        for key, val in self.query:
            if key == name:
                value = val
        return value

    def params(self) -> dict[str, str]:
        """Query parameters, last value wins for repeated keys."""
        return dict(self.query)

    def bearer(self) -> str | None:
        """The token of an ``Authorization: Bearer <token>`` header."""
        value = self.headers.get("authorization", "")
        if value[:7].lower() == "bearer ":
            return value[7:].strip()
        return None


@dataclass
class Response:
    """What an app answers."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status, json.dumps(obj).encode("utf-8"), {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def empty(cls, status: int) -> Response:
        return cls(status, b"", {})


class App(Protocol):
    def handle(self, request: Request) -> Response: ...


class Router:
    """Dispatch on the longest matching path prefix; the prefix is stripped before the app sees the path."""

    def __init__(self, mounts: dict[str, App]) -> None:
        self.mounts = sorted(mounts.items(), key=lambda kv: -len(kv[0]))

    def handle(self, request: Request) -> Response:
        for prefix, app in self.mounts:
            bare = prefix.rstrip("/")
            if request.path == bare or request.path.startswith(bare + "/") or not bare:
                request.path = request.path[len(bare):] or "/"
                request.mount = request.mount + bare
                return app.handle(request)
        return Response.json({"err": f"no route for {request.path}"}, 404)


# ------------------------------------------------------------------------------------------- request log


@dataclass(frozen=True)
class LoggedRequest:
    """One request as received (secret headers removed) and the status answered."""

    index: int  # 1-based order of arrival
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    body: str
    headers: dict[str, str]
    status: int

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class RequestLog:
    """Thread-safe list of :class:`LoggedRequest`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[LoggedRequest] = []

    def append(self, item: LoggedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __iter__(self) -> Iterator[LoggedRequest]:
        with self._lock:
            return iter(list(self._items))

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def matching(self, path: str = "", method: str | None = None) -> list[LoggedRequest]:
        """Requests whose path matches the regular expression ``path`` (search) and optional method."""
        pattern = re.compile(path)
        return [r for r in self if pattern.search(r.path) and (method is None or r.method == method)]


# ---------------------------------------------------------------------------------------------- faults

FAULT_KINDS = ("status", "drop", "hang", "truncate", "trickle", "throttle")
"""What a fault rule does to a matching request:

* ``status``: answer ``status`` with the JSON body ``{"injected_failure": status}`` (default 503; deliberately
  not RR's ``{"err": ...}``, which clients treat as a deterministic application error);
* ``drop``: close the connection without answering (a connection error for the client);
* ``hang``: sleep ``seconds`` before answering normally (past the client's read timeout);
* ``truncate``: announce the full Content-Length, send half the body, close;
* ``trickle``: send the body in small chunks with ``seconds`` between them (a slow body);
* ``throttle``: answer 429 with ``Retry-After: seconds``.
"""


@dataclass
class FaultRule:
    kind: str
    nth: int | None = None  # fire on the n-th matching request (1-based); None: on every matching one
    path: str = ""  # regular expression searched in the request path
    status: int = 503
    seconds: float = 0.0
    times: int | None = None  # with nth=None: fire at most this many times
    seen: int = 0
    fired: int = 0

    def fires(self, path: str) -> bool:
        if self.path and not re.search(self.path, path):
            return False
        self.seen += 1
        if self.nth is not None:
            hit = self.seen == self.nth
        else:
            hit = self.times is None or self.fired < self.times
        if hit:
            self.fired += 1
        return hit


class Faults:
    """Fault-injection knobs of one server (thread-safe; change them at any time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        """Remove every rule, the latency and the failure rate."""
        with self._lock:
            self.latency = 0.0
            self._rate = 0.0
            self._rate_status = 503
            self._rng = random.Random(0)
            self._rules: list[FaultRule] = []

    def set_latency(self, seconds: float) -> None:
        """Delay every answer by ``seconds`` (simulates a distant service)."""
        with self._lock:
            self.latency = seconds

    def set_failure_rate(self, rate: float, seed: int = 0, status: int = 503) -> None:
        """Fail a random fraction ``rate`` of requests with ``status`` (reproducible with ``seed``)."""
        with self._lock:
            self._rate, self._rate_status, self._rng = rate, status, random.Random(seed)

    def add(self, kind: str, *, nth: int | None = None, path: str = "", status: int = 503,
            seconds: float = 0.0, times: int | None = None) -> FaultRule:
        """Add a rule (see :data:`FAULT_KINDS`)."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {FAULT_KINDS}")
        rule = FaultRule(kind, nth=nth, path=path, status=status, seconds=seconds, times=times)
        with self._lock:
            self._rules.append(rule)
        return rule

    # Convenience spellings of the common cases.
    def fail_nth(self, n: int, status: int = 503, path: str = "") -> FaultRule:
        return self.add("status", nth=n, status=status, path=path)

    def fail_always(self, status: int = 503, path: str = "") -> FaultRule:
        return self.add("status", status=status, path=path)

    def drop_nth(self, n: int, path: str = "") -> FaultRule:
        return self.add("drop", nth=n, path=path)

    def hang_nth(self, n: int, seconds: float, path: str = "") -> FaultRule:
        return self.add("hang", nth=n, seconds=seconds, path=path)

    def truncate_nth(self, n: int, path: str = "") -> FaultRule:
        return self.add("truncate", nth=n, path=path)

    def trickle_nth(self, n: int, seconds_per_chunk: float, path: str = "") -> FaultRule:
        return self.add("trickle", nth=n, seconds=seconds_per_chunk, path=path)

    def throttle_nth(self, n: int, retry_after: float = 1.0, path: str = "") -> FaultRule:
        return self.add("throttle", nth=n, seconds=retry_after, path=path)

    def decide(self, path: str) -> tuple[float, FaultRule | None]:
        """(latency, the rule to apply or None) for one incoming request."""
        with self._lock:
            chosen: FaultRule | None = None
            for rule in self._rules:
                if rule.fires(path) and chosen is None:
                    chosen = rule
            if chosen is None and self._rate > 0 and self._rng.random() < self._rate:
                chosen = FaultRule("status", status=self._rate_status)
            return self.latency, chosen


# ---------------------------------------------------------------------------------------------- server


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: without this, 40 ms delayed-ACK stalls
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr access logs
        pass

    def _serve(self) -> None:
        srv = self.server
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qsl(split.query, keep_blank_values=True),
            headers=headers,
            body=body,
            base_url=srv.base_url,
        )
        latency, rule = srv.faults.decide(split.path)
        if latency:
            srv.stopping.wait(latency)
        if rule is not None and rule.kind in ("status", "throttle", "drop"):
            if rule.kind == "status":
                response = Response.json({"injected_failure": rule.status}, rule.status)
            elif rule.kind == "throttle":
                response = Response.json({"injected_failure": 429}, 429,
                                         {"Retry-After": _retry_after(rule.seconds)})
            else:
                response = Response.empty(0)
        else:
            try:
                response = srv.app.handle(request)
            except Exception as exc:  # noqa: BLE001  # an app bug must not kill the server; make it visible to the test
                response = Response.json({"err": f"fake server error: {type(exc).__name__}: {exc}"}, 500)
        logged_body = body.decode("utf-8", "replace")
        if "client_secret=" in logged_body:
            logged_body = re.sub(r"client_secret=[^&]*", "client_secret=***", logged_body)
        srv.log.append(
            LoggedRequest(
                index=srv.next_index(),
                method=self.command,
                path=split.path,
                query=tuple(request.query),
                body=logged_body,
                headers={k: v for k, v in headers.items() if k not in SECRET_HEADERS},
                status=response.status,
            )
        )
        if rule is not None and rule.kind == "hang":  # answered (and logged) late: past the client's read timeout
            srv.stopping.wait(rule.seconds)
        if rule is not None and rule.kind == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if rule is not None and rule.kind == "truncate":
            self.wfile.write(response.body[: len(response.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if rule is not None and rule.kind == "trickle":
            step = max(1, len(response.body) // 8)
            for start in range(0, len(response.body), step):
                self.wfile.write(response.body[start : start + step])
                self.wfile.flush()
                if srv.stopping.wait(rule.seconds):
                    break
            return
        self.wfile.write(response.body)

    def _serve_quietly(self) -> None:
        try:
            self._serve()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout): nothing to answer
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _serve_quietly


def _retry_after(seconds: float) -> str:
    """``Retry-After`` is integral seconds in HTTP; fractions are kept (our client accepts them) for fast tests."""
    return str(int(seconds)) if float(seconds).is_integer() else repr(float(seconds))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: App) -> None:
        super().__init__(address, _Handler)
        self.app = app
        self.faults = Faults()
        self.log = RequestLog()
        self.stopping = threading.Event()
        self._counter = 0
        self._counter_lock = threading.Lock()
        host, port = self.server_address[:2]
        self.base_url = f"http://{host}:{port}"

    def next_index(self) -> int:
        with self._counter_lock:
            self._counter += 1
            return self._counter


class FakeServer:
    """Serve an app on 127.0.0.1 in a background thread; use as a context manager.

    ``port=0`` (default) picks a free port. ``url`` is ``http://127.0.0.1:<port>`` plus the app's ``mount``
    prefix (e.g. ``/api/v1`` for DIALS), ready to give to a client.
    """

    def __init__(self, app: App, port: int = 0, host: str = "127.0.0.1", mount: str = "") -> None:
        self.app = app
        self.mount = mount.rstrip("/")
        self._server = _Server((host, port), Router({self.mount or "/": app}) if self.mount else app)
        self._thread: threading.Thread | None = None

    @property
    def faults(self) -> Faults:
        return self._server.faults

    @property
    def log(self) -> RequestLog:
        return self._server.log

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def root(self) -> str:
        """``http://127.0.0.1:<port>`` without the mount prefix."""
        return self._server.base_url

    @property
    def url(self) -> str:
        return self._server.base_url + self.mount

    def start(self) -> FakeServer:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-{type(self.app).__name__}-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the command line)."""
        self._server.serve_forever(poll_interval=0.2)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def json_error(message: str, status: int = 500) -> Response:
    """Run Registry's error convention: ``{"err": message}``."""
    return Response.json({"err": message}, status)


Handler = Callable[[Request], Response]


# ------------------------------------------------------------------------------------------------- SSO


class FakeSSO:
    """A client-credentials token endpoint (POST form ``grant_type=client_credentials&client_id&client_secret&audience``).

    ``clients`` maps client id -> secret. Issued tokens are opaque random strings remembered with their
    audience and expiry; services check them with :meth:`verifier`. ``expires_in`` is configurable so that
    tests can make tokens expire quickly. ``issued`` counts exchanges (a client must cache its token).
    """

    path = "/auth/realms/cern/api-access/token"

    def __init__(self, clients: dict[str, str] | None = None, expires_in: float = 1200.0) -> None:
        self.clients = dict(clients or {})
        self.expires_in = expires_in
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.issued = 0

    def handle(self, request: Request) -> Response:
        if request.method != "POST" or request.path.rstrip("/") != self.path:
            return Response.json({"error": "not_found"}, 404)
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            return Response.json({"error": "unsupported_grant_type"}, 400)
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if not client_id or self.clients.get(client_id) != secret:
            return Response.json({"error": "unauthorized_client", "error_description": "Invalid client credentials"}, 401)
        token = "tok-" + "".join(random.SystemRandom().choice("abcdef0123456789") for _ in range(32))
        with self._lock:
            self._tokens[token] = (form.get("audience", ""), time.monotonic() + self.expires_in)
            self.issued += 1
        expires = int(self.expires_in) if float(self.expires_in).is_integer() else self.expires_in
        return Response.json({"access_token": token, "expires_in": expires, "token_type": "Bearer",
                              "not-before-policy": 0, "scope": "profile email"})

    def valid(self, token: str | None, audience: str | None = None) -> bool:
        """Whether ``token`` was issued here, has not expired, and (if given) was issued for ``audience``."""
        if not token:
            return False
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None or entry[1] < time.monotonic():
            return False
        return audience is None or entry[0] == audience

    def verifier(self, audience: str | None = None) -> Callable[[str | None], bool]:
        """A ``token -> bool`` check for a fake service's ``require_token`` argument."""
        return lambda token: self.valid(token, audience)
