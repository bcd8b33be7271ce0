"""The HTTP transport shared by the Run Registry, DIALS and OMS clients.

Decisions:
* One ``requests.Session`` per client (connection reuse, thread-safe enough for our concurrent GET/POST use;
  the pool is sized to the worker count).
* Timeouts are ``(connect, read)`` seconds on every request; nothing waits forever.
* Retries are bounded (``RetryPolicy.attempts``) with exponential backoff and full jitter, on: connection
  errors, timeouts, broken/truncated bodies, bodies that are not JSON on a 2xx, HTTP 429 (honouring
  ``Retry-After``, seconds or an HTTP date, capped) and 5xx. Other 4xx fail at once with
  :class:`ServiceError` (the caller's mistake does not get better by asking again). A 401 with token auth
  drops the cached token and is retried once.
* Cache: a successful JSON answer is stored under (service, endpoint, canonical request); credentials never
  take part in the key and are never stored. In ``offline`` mode the network is never used.
* Nothing is ever silently incomplete: work that cannot finish raises :class:`FetchError` carrying what
  was fetched (``partial``) and how to continue (``resume``).
* Logging (logger ``dqquery.sources``) names method, URL, status, attempt and wait; never headers, tokens
  or secrets.
* Credentials are applied only to requests for the origin (scheme, host, port) of the client's own URL: an
  absolute URL elsewhere (a ``next`` link, a redirect target) never gets them. Redirects are followed here, not
  by ``requests`` (which keeps custom headers such as ``X-CLIENT-SECRET`` across hosts): credentials are
  decided anew for each hop, at most :data:`MAX_REDIRECTS` hops.
* Service URLs are checked once (:func:`check_service_url`: http/https with a host); a malformed one is a
  :class:`SourceError` naming the option or variable that set it. ``user:password@`` in a URL is removed
  (:func:`redact_url`) from every message and log line.
* A refusal says what happened, from what was sent and the service's own error code: no credentials sent
  (and, for a local URL, how to send them), token expired, token invalid, no access; a 404 says unknown
  workspace, stale cursor or missing row when the body says so (:func:`error_advice`).
* A 5xx whose body names a cause that does not go away (:data:`PERSISTENT_ERRORS`, e.g. DIALS' invalid
  regular expression) and that repeats identically on the next try is reported at once as a
  :class:`ServiceError` ("the server cannot answer this request"), not retried to the end as an outage.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import re
import sys
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from ..about import __version__

__all__ = [
    "FetchError",
    "HttpClient",
    "RetryPolicy",
    "ServiceError",
    "SourceError",
    "TransportError",
    "check_service_url",
    "error_advice",
    "is_local",
    "raise_if_not_resumable",
    "redact_url",
    "run_concurrently",
]

log = logging.getLogger("dqquery.sources")

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


class SourceError(Exception):
    """Base class of every error raised while talking to RR, DIALS or OMS."""


class CacheMiss(SourceError):
    """Offline mode and the answer is not cached (or too old). Defined here, where the client raises it, and
    re-exported by :mod:`dqquery.sources.cache`: the cache builds on this module, not the other way round."""


class ServiceError(SourceError):
    """The service answered with an error that retrying will not fix (4xx, or RR's ``{"err": ...}``)."""

    def __init__(self, message: str, *, status: int | None = None, url: str = "", body: Any = None) -> None:
        super().__init__(message)
        self.status, self.url, self.body = status, url, body


class TransportError(SourceError):
    """The request could not complete after every retry (connection, timeout, 5xx, 429, broken body)."""

    def __init__(self, message: str, *, url: str = "", status: int | None = None, attempts: int = 0) -> None:
        super().__init__(message)
        self.url, self.status, self.attempts = url, status, attempts


class FetchError(SourceError):
    """A multi-request fetch that could not finish.

    ``partial`` is what was fetched so far (never presented as complete); ``resume`` is an object to pass
    back as ``resume_from=`` to continue without refetching what completed. ``__cause__`` is the first
    underlying error; ``errors`` lists every failed unit of work with its error.
    """

    def __init__(self, message: str, *, partial: Any = None, resume: Any = None,
                 errors: list[tuple[Any, BaseException]] | None = None) -> None:
        super().__init__(message)
        self.partial, self.resume, self.errors = partial, resume, errors or []


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and full jitter.

    Attempt ``n`` (1-based) that fails waits ``uniform(0, min(max_backoff, backoff * 2**(n-1)))`` (full jitter
    spreads concurrent workers), or the server's ``Retry-After`` capped at ``max_retry_after``.
    """

    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 20.0
    max_retry_after: float = 60.0
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})
    seed: int | None = None

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.0, min(self.max_backoff, self.backoff * (2 ** (attempt - 1))))


RETRYABLE_EXCEPTIONS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,  # includes ConnectTimeout
    requests.Timeout,  # ReadTimeout
    requests.exceptions.ChunkedEncodingError,  # truncated body
    requests.exceptions.ContentDecodingError,
)


_TOKEN_CODES = frozenset({"access_token_expired", "token_not_valid"})


def _expired_token(status: int, body: Any) -> bool:
    """DIALS answers an expired or refused bearer token with 403 and a ``code`` (its auth class has no
    ``WWW-Authenticate``, so DRF turns 401 into 403): worth one fresh token, like a 401."""
    return status == 403 and isinstance(body, Mapping) and body.get("code") in _TOKEN_CODES


def is_local(url: str) -> bool:
    """Whether ``url`` points at this machine (``localhost``, ``127.x``, ``::1``); a malformed URL is not."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    return host in ("localhost", "::1") or host.startswith("127.")


MAX_REDIRECTS = 10
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

SERVICE_URL_SETTINGS: dict[str, str] = {
    "rr": "--rr or DQQUERY_RR_URL",
    "oms": "--oms or DQQUERY_OMS_URL",
    "dials": "DQQUERY_DIALS_URL",
    "sso": "DQQUERY_SSO_TOKEN_URL",
}
"""Where the user sets each URL (named when a URL is malformed)."""


def redact_url(url: str) -> str:
    """``url`` without ``user:password@`` (what every message and log line shows)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # malformed (e.g. an unclosed IPv6 bracket): drop anything between "//" and an "@"
        return re.sub(r"(//)[^/?#]*@", r"\1", url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def check_service_url(url: str, service: str) -> str:
    """``url`` if it is an http(s) URL with a host; else :class:`SourceError` naming where it was set."""
    where = SERVICE_URL_SETTINGS.get(service, service)
    try:
        parts = urlsplit(url)
        _ = parts.port  # a bad port raises here
    except ValueError as exc:
        raise SourceError(f"the URL {redact_url(url)!r} set by {where} is malformed ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceError(f"the URL {redact_url(url)!r} set by {where} is not an http:// or https:// URL with a host name")
    return url


def same_origin(url: str, base_url: str) -> bool:
    """Whether two URLs share scheme, host and port (default ports filled in)."""
    try:
        a, b = urlsplit(url), urlsplit(base_url)
    except ValueError:
        return False
    defaults = {"http": 80, "https": 443}

    def port(parts: Any) -> int | None:
        try:
            return parts.port or defaults.get(parts.scheme)
        except ValueError:
            return None

    return (a.scheme, (a.hostname or "").lower(), port(a)) == (b.scheme, (b.hostname or "").lower(), port(b))


PERSISTENT_ERRORS: dict[str, re.Pattern[str]] = {
    "dials": re.compile(r"invalid regular expression|DataError|ProgrammingError|invalid input syntax", re.IGNORECASE),
    "rr": re.compile(r"operator does not exist|invalid input syntax|column .* does not exist|syntax error", re.IGNORECASE),
}
"""Service -> what, in the body of a 5xx answer, names a cause that retrying does not fix."""


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta seconds, fractional accepted, or an HTTP date); ``None`` if absent/invalid."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def canonical(obj: Any) -> str:
    """Deterministic JSON text (sorted keys, no spaces): the cache key of a request."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


class HttpClient:
    """JSON over HTTP with auth, timeouts, bounded retries and an optional cache.

    ``service`` names the cache namespace (``rr``, ``dials``, ``oms``); ``auth`` is an object from
    :mod:`dqquery.sources.auth` (``apply(headers)``, ``invalidate()``); ``sleep`` is injectable for tests.
    """

    def __init__(self, base_url: str, *, service: str, auth: Any = None, timeout: tuple[float, float] = (10.0, 120.0),
                 retry: RetryPolicy | None = None, cache: Any = None, session: requests.Session | None = None,
                 pool_size: int = 16, user_agent: str | None = None, sleep: Callable[[float], None] = time.sleep,
                 fatal_status: Callable[[int, Any], bool] | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.service = service
        self.auth = auth
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.cache = cache
        self.sleep = sleep
        self.fatal_status = fatal_status
        self._rng = random.Random(self.retry.seed)
        self._rng_lock = threading.Lock()
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        self.session = session
        self.user_agent = user_agent or f"dqquery/{__version__} (python {sys.version_info.major}.{sys.version_info.minor})"
        self.requests_sent = 0
        self._count_lock = threading.Lock()

    def url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    # ---- the public call

    def request_json(self, method: str, path: str, *, params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
                     json_body: Any = None, cacheable: bool = True, headers: Mapping[str, str] | None = None,
                     scope: Mapping[str, str] | None = None) -> Any:
        """Send a request and return the decoded JSON answer (from the cache when possible).

        ``scope``: non-secret header values that select the data (DIALS' ``Workspace``); part of the cache key.
        """
        key = self.cache_key(method, path, params=params, json_body=json_body, scope=scope)
        if self.cache is not None and cacheable:
            hit, value = self.cache.lookup(self.service, path, key)
            if hit:
                log.debug("%s %s served from cache", method, redact_url(self.url(path)))
                return value
        response = self.send(method, path, params=params, json_body=json_body, headers=headers)
        value = self._decoded(response)
        if self.cache is not None and cacheable:
            self.cache.put(self.service, path, key, value)
        return value

    def cache_key(self, method: str, path: str, *, params: Mapping[str, Any] | list[tuple[str, Any]] | None = None,
                  json_body: Any = None, scope: Mapping[str, str] | None = None) -> str:
        """The cache key of a request: server, method, path, parameters, body and scope, never credentials.

        The server is part of the key: answers of a test server or a development instance are never served
        for production (or another URL)."""
        request: dict[str, Any] = {"server": self.base_url, "method": method, "path": "/" + path.lstrip("/"),
                                   "params": _param_list(params), "body": json_body}
        if scope:
            request["scope"] = dict(scope)
        return canonical(request)

    def send(self, method: str, path: str, *, params: Any = None, json_body: Any = None,
             headers: Mapping[str, str] | None = None, accept: Iterable[int] = (), decode_json: bool = True) -> requests.Response:
        """The raw response after retries. Statuses in ``accept`` are returned as they are (not errors)."""
        if self.cache is not None and getattr(self.cache, "offline", False):
            raise CacheMiss(f"offline mode: {method} {redact_url(self.url(path))} is not in the cache (the service computes "
                            "this answer anew each time, it is never cached); drop --offline for this command "
                            "(Python: Cache(offline=False))")
        url = self.url(path)
        accepted = set(accept)
        refreshed_token = False
        last_error, last_phase = "", "answer"
        last_status: int | None = None
        previous_failure: tuple[int, bytes] | None = None
        failures: list[tuple[int, bytes] | None] = []  # per attempt: the failing answer, None for no answer
        attempt = 0
        while True:
            attempt += 1
            wait_for: float | None = None
            try:
                response = self._once(method, url, params, json_body, headers)
            except RETRYABLE_EXCEPTIONS as exc:
                last_phase, last_error = describe_transport_failure(exc)
                last_status = None
                previous_failure = None
                failures.append(None)
                log.debug("%s %s attempt %d failed: %s", method, redact_url(url), attempt, last_error)
            else:
                status = response.status_code
                body = _maybe_json(response)
                sent = bool(getattr(response, "_dqquery_sent_credentials", False))
                if status in accepted:
                    return response
                if (status == 401 or _expired_token(status, body)) and self.auth is not None and not refreshed_token \
                        and hasattr(self.auth, "invalidate"):
                    refreshed_token = True
                    self.auth.invalidate()
                    attempt -= 1  # a refreshed token is not a retry of a failure
                    continue
                if 200 <= status < 300:
                    if not decode_json:
                        return response
                    if body is not _NOT_JSON:
                        response._dqquery_json = body  # type: ignore[attr-defined]
                        return response
                    last_phase, last_error, last_status = "answer", "the answer is not valid JSON (truncated?)", status
                elif self.fatal_status is not None and self.fatal_status(status, body):
                    raise ServiceError(_error_message(self.service, status, url, body, sent), status=status, url=redact_url(url),
                                       body=None if body is _NOT_JSON else body)
                elif status >= 500 and previous_failure == (status, response.content) and self._persistent(response):
                    raise ServiceError(
                        f"{SERVICE_LABELS.get(self.service, self.service)} answered HTTP {status} for {redact_url(url)} twice with the "
                        f"same error ({self._persistent(response)}): the server cannot answer this request, retrying will "
                        "not help (for DIALS: check the regular expressions of the query)",
                        status=status, url=redact_url(url), body=None if body is _NOT_JSON else body)
                elif status in self.retry.retry_statuses:
                    previous_failure = (status, response.content)
                    failures.append(previous_failure)
                    last_phase, last_error, last_status = "status", f"HTTP {status}{STATUS_MEANINGS.get(status, '')}", status
                    if status == 429 or "Retry-After" in response.headers:
                        after = parse_retry_after(response.headers.get("Retry-After"))
                        if after is not None:
                            wait_for = min(after, self.retry.max_retry_after)
                else:
                    raise ServiceError(_error_message(self.service, status, url, body, sent), status=status, url=redact_url(url),
                                       body=None if body is _NOT_JSON else body)
                log.debug("%s %s attempt %d: %s", method, redact_url(url), attempt, last_error)
            if attempt >= self.retry.attempts:
                message = transport_message(self.service, method, url, attempt, last_phase, last_error)
                if len(failures) > 1 and failures[0] is not None and failures[0][0] == 500 and len(set(failures)) == 1:
                    message += ("; the same HTTP 500 answer came on every try: if the service is otherwise up, this "
                                "request itself may be what fails (for DIALS, e.g. a regular expression PostgreSQL rejects)")
                raise TransportError(message, url=redact_url(url), status=last_status, attempts=attempt)
            if wait_for is None:
                with self._rng_lock:
                    wait_for = self.retry.delay(attempt, self._rng)
            log.debug("retrying %s %s in %.2f s", method, redact_url(url), wait_for)
            self.sleep(wait_for)

    def _persistent(self, response: requests.Response) -> str | None:
        """The text of a 5xx body that names a cause retrying does not fix (:data:`PERSISTENT_ERRORS`), else ``None``."""
        pattern = PERSISTENT_ERRORS.get(self.service)
        if pattern is None:
            return None
        match = pattern.search(response.content[:20000].decode("utf-8", "replace"))
        return match.group(0) if match else None

    def _once(self, method: str, url: str, params: Any, json_body: Any, headers: Mapping[str, str] | None) -> requests.Response:
        """One request, following redirects here (``requests`` is told not to): credentials are decided anew for
        every hop by :func:`same_origin`, so a redirect to another origin never carries them (``requests`` itself
        would keep a custom header such as ``X-CLIENT-SECRET`` across hosts)."""
        data = None
        if json_body is not None:
            data = json.dumps(json_body)
        for _hop in range(MAX_REDIRECTS + 1):
            all_headers = {"Accept": "application/json", "User-Agent": self.user_agent, **(headers or {})}
            if data is not None:
                all_headers["Content-Type"] = "application/json"
            before = set(all_headers)
            if self.auth is not None and same_origin(url, self.base_url):  # never to another host
                self.auth.apply(all_headers)
            sent_credentials = bool(set(all_headers) - before)
            with self._count_lock:
                self.requests_sent += 1
            log.debug("%s %s", method, redact_url(url))
            response = self.session.request(method, url, params=params, data=data, headers=all_headers, timeout=self.timeout,
                                            allow_redirects=False)
            _ = response.content  # read the whole body now so a truncated body fails inside the retry loop
            response._dqquery_sent_credentials = sent_credentials  # type: ignore[attr-defined]
            location = response.headers.get("Location") if response.status_code in REDIRECT_STATUSES else None
            if not location:
                return response
            url = urljoin(response.url or url, location)
            params = None  # the Location carries the whole query
            if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                method, data = "GET", None  # what browsers (and requests) do
            response.close()
        raise ServiceError(f"{SERVICE_LABELS.get(self.service, self.service)} redirected {method} {redact_url(url)} more than "
                           f"{MAX_REDIRECTS} times (a redirect loop): check the URL ({URL_SETTINGS.get(self.service, 'its setting')})",
                           url=redact_url(url))

    @staticmethod
    def _decoded(response: requests.Response) -> Any:
        cached = getattr(response, "_dqquery_json", _NOT_JSON)
        return response.json() if cached is _NOT_JSON else cached

    def close(self) -> None:
        self.session.close()


_NOT_JSON = object()
SERVICE_LABELS = {"rr": "Run Registry", "dials": "DIALS", "oms": "OMS"}


def _maybe_json(response: requests.Response) -> Any:
    if not response.content:
        return _NOT_JSON
    try:
        return response.json()
    except ValueError:
        return _NOT_JSON


def _param_list(params: Any) -> list[list[Any]]:
    if params is None:
        return []
    items = params.items() if isinstance(params, Mapping) else params
    return sorted([str(k), v if isinstance(v, (int, float, bool)) or v is None else str(v)] for k, v in items)


def _short(exc: BaseException, limit: int = 200) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + "..."


# ------------------------------------------------------------------------------------------- messages
# Every message below is printed as it is by the command line: one or two lines, no traceback, saying what
# failed in the user's terms and what to do. The raw exception text of requests/urllib3 (pool objects,
# memory addresses, "Max retries exceeded" although requests itself never retries here) is never shown.

URL_SETTINGS: dict[str, str] = {
    "rr": "--rr or DQQUERY_RR_URL",
    "oms": "--oms or DQQUERY_OMS_URL",
    "dials": "DQQUERY_DIALS_URL",
}
"""Where the user sets each service's URL (named by connection failures)."""

STATUS_MEANINGS: dict[int, str] = {
    429: " (too many requests)",
    500: " (internal error)",
    502: " (bad gateway)",
    503: " (service unavailable)",
    504: " (gateway timeout)",
}

# (exception class, text that must occur in its message or "", phase, reason shown to the user); the first
# matching row wins, so subclasses and specific texts come first. Phase "connect": no connection was made
# (the URL or the network is wrong); "answer": connected, but no usable answer came back (the service).
TRANSPORT_FAILURES: tuple[tuple[type[BaseException], str, str, str], ...] = (
    (requests.exceptions.ConnectTimeout, "", "connect", "timed out while connecting"),
    (requests.exceptions.SSLError, "", "connect", "TLS/SSL handshake failed"),
    (requests.exceptions.ProxyError, "", "connect", "the proxy refused the connection"),
    (requests.ConnectionError, "Connection refused", "connect", "connection refused"),
    (requests.ConnectionError, "Name or service not known", "connect", "unknown host name"),
    (requests.ConnectionError, "nodename nor servname", "connect", "unknown host name"),
    (requests.ConnectionError, "getaddrinfo failed", "connect", "unknown host name"),
    (requests.ConnectionError, "No address associated", "connect", "unknown host name"),
    (requests.ConnectionError, "Temporary failure in name resolution", "connect", "host name lookup failed"),
    (requests.ConnectionError, "Network is unreachable", "connect", "network unreachable"),
    (requests.ConnectionError, "No route to host", "connect", "no route to host"),
    (requests.ConnectionError, "Failed to establish a new connection", "connect", "no connection"),
    (requests.Timeout, "", "answer", "no answer within the read timeout"),
    (requests.exceptions.ChunkedEncodingError, "", "answer", "the answer was cut off"),
    (requests.exceptions.ContentDecodingError, "", "answer", "the answer could not be decoded"),
    (requests.ConnectionError, "", "answer", "the connection closed without an answer"),
)


def describe_transport_failure(exc: BaseException) -> tuple[str, str]:
    """``(phase, reason)`` of a network exception, in the user's terms (see :data:`TRANSPORT_FAILURES`)."""
    text = str(exc)
    for cls, marker, phase, reason in TRANSPORT_FAILURES:
        if isinstance(exc, cls) and marker in text:
            return phase, reason
    return "answer", f"{type(exc).__name__}: {_short(exc, 120)}"


def _origin(url: str) -> str:
    url = redact_url(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


def transport_message(service: str, method: str, url: str, attempts: int, phase: str, reason: str) -> str:
    """The :class:`TransportError` message: what failed, how often, and what to do."""
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    label = SERVICE_LABELS.get(service, service)
    if phase == "connect":
        setting = URL_SETTINGS.get(service)
        where = f"the {label} URL ({setting})" if setting else f"the {label} URL"
        return f"cannot connect to {_origin(url)} ({reason}) after {tries}; check {where} and your network"
    return (f"{label} gave no usable answer to {method} {redact_url(url)} after {tries} (last: {reason}); "
            "the service may be down or overloaded: try again later")


# (service or "*", status) -> what to do; looked up for the service first, then for any service.
ERROR_ADVICE: dict[tuple[str, int], str] = {
    ("*", 400): "the service refused the request as malformed",
    ("*", 401): "the credentials were refused: check them (docs/fetching.md, credentials)",
    ("*", 403): "the credentials have no access to this data: ask the service's administrators",
    ("*", 404): "not found: check the URL ({setting})",
    ("rr", 500): "Run Registry's own error, not retried; for a filter, `dqquery compile --to rr-raw QUERY` shows what was sent",
}

CREDENTIAL_VARIABLES: dict[str, str] = {
    "rr": "SSO_CLIENT_ID and SSO_CLIENT_SECRET",
    "oms": "OMS_CLIENT_ID and OMS_CLIENT_SECRET (or SSO_CLIENT_ID and SSO_CLIENT_SECRET)",
    "dials": "DIALS_TOKEN (any bearer token for dqquery's fake), or DIALS_CLIENT_ID and DIALS_CLIENT_SECRET",
}

# DIALS' 403 ``code`` (its auth class has no WWW-Authenticate, so every authentication failure is a 403).
DIALS_AUTH_CODES: dict[str, str] = {
    "authorization_not_found": "no credentials were sent (the Authorization header is missing)",
    "access_token_expired": "the token has expired: get a new DIALS_TOKEN, or use DIALS_CLIENT_ID and DIALS_CLIENT_SECRET, which dqquery renews",
    "token_not_valid": "the token or secret key is invalid (or expired): check DIALS_TOKEN / DIALS_SECRET_KEY",
    "access_token_unexpected_error": "DIALS could not validate the token (a token issued for another application?)",
}

# 404 bodies that name the cause: (text in ``detail``, advice).
NOT_FOUND_CAUSES: tuple[tuple[str, str], ...] = (
    ("Workspace", "this workspace does not exist on the server: set DIALS_WORKSPACE (or workspace=) to one of its "
                  "workspaces (DialsClient.workspaces())"),
    ("Invalid cursor", "the page cursor (next_token) is stale or damaged: start the listing again"),
    ("matches the given query", "there is no row with this key"),
)


def error_advice(service: str, status: int, url: str, body: Any, sent_credentials: bool = True) -> str:
    """What an error status means for the user: what happened, from what was sent and the body."""
    code = body.get("code") if isinstance(body, Mapping) else None
    detail = str(body.get("detail", "")) if isinstance(body, Mapping) else ""
    how = CREDENTIAL_VARIABLES.get(service, "the service's credentials")
    if status in (401, 403) and (not sent_credentials or code == "authorization_not_found"):
        advice = f"no credentials were sent: set {how} (docs/fetching.md, credentials)"
        if is_local(url) and service != "dials":
            advice += "; for a local URL dqquery sends SSO client credentials only with DQQUERY_LOCAL_AUTH=1 or --local-auth"
        return advice
    if status == 403 and service == "dials" and code in DIALS_AUTH_CODES:
        return DIALS_AUTH_CODES[code]
    if status == 404:
        for marker, advice in NOT_FOUND_CAUSES:
            if marker in detail:
                return advice
    advice = ERROR_ADVICE.get((service, status)) or ERROR_ADVICE.get(("*", status)) or ""
    return advice.format(setting=URL_SETTINGS.get(service, "the URL"))


def _error_message(service: str, status: int, url: str, body: Any, sent_credentials: bool = True) -> str:
    """A :class:`ServiceError` message: the service's own words (shortened) and, when known, what to do."""
    detail = ""
    if isinstance(body, Mapping):
        for key in ("err", "detail", "errors", "error_description", "error"):
            if key in body:
                detail = f": {_shorten(str(body[key]), 300)}"
                break
        else:
            detail = f": {canonical(body)[:300]}"
    advice = error_advice(service, status, url, body, sent_credentials)
    if advice:
        detail += f" ({advice})"
    return f"{SERVICE_LABELS.get(service, service)} answered HTTP {status} for {redact_url(url)}{detail}"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def raise_if_not_resumable(errors: list[tuple[Any, BaseException]]) -> None:
    """Re-raise the first error that resuming would not fix (anything but a :class:`TransportError`).

    A bad filter, refused credentials or an offline cache miss need the user, not another try.
    """
    for _, error in errors:
        if not isinstance(error, (TransportError, FetchError)):  # a FetchError of a sub-fetch is resumable too
            raise error


# ------------------------------------------------------------------------------------------ concurrency


@dataclass
class Progress:
    """Progress of a multi-step fetch on stderr: a tqdm bar when tqdm is installed, else plain lines
    (``lumisections: 120/964``, at most one every :data:`PLAIN_PROGRESS_INTERVAL` seconds, and the last).

    Shown when ``enabled`` is True, or when it is None and stderr is a terminal; never for one step.
    """

    total: int
    desc: str
    enabled: bool | None = None
    _bar: Any = field(default=None, repr=False)
    _plain: bool = field(default=False, repr=False)
    _done: int = field(default=0, repr=False)
    _shown_at: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        enabled = self.enabled if self.enabled is not None else sys.stderr.isatty()
        if enabled and self.total > 1:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                self._plain = True
                self._shown_at = time.monotonic()
                return
            self._bar = tqdm(total=self.total, desc=self.desc, leave=False)

    def update(self, n: int = 1) -> None:
        self._done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._plain and time.monotonic() - self._shown_at >= PLAIN_PROGRESS_INTERVAL:
            self._show()

    def _show(self) -> None:
        self._shown_at = time.monotonic()
        print(f"{self.desc}: {self._done}/{self.total}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._plain:
            self._show()
            self._plain = False


PLAIN_PROGRESS_INTERVAL = 2.0
"""Seconds between two plain progress lines (without tqdm)."""


def run_concurrently(keys: Iterable[K], work: Callable[[K], T], *, workers: int = 8, desc: str = "fetching",
                     progress: bool | None = None, stop_on_error: bool = False) -> tuple[dict[K, T], list[tuple[K, BaseException]]]:
    """Run ``work(key)`` for every key on a bounded thread pool.

    Returns ``(results by key, [(key, error), ...])``: every key is either in the results or in the errors,
    so the caller can report exactly what is missing. ``stop_on_error`` cancels work not yet started after
    the first failure. KeyboardInterrupt cancels pending work and propagates.
    """
    keys = list(keys)
    results: dict[K, T] = {}
    errors: list[tuple[K, BaseException]] = []
    bar = Progress(len(keys), desc, progress)
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="dqquery-fetch")
    def collect(future: Future[T]) -> None:
        key = futures[future]
        error = future.exception()
        if error is None:
            results[key] = future.result()
        else:
            errors.append((key, error))

    try:
        futures: dict[Future[T], K] = {pool.submit(work, key): key for key in keys}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION, timeout=0.5)
            for future in done:
                collect(future)
                bar.update()
            if errors and stop_on_error:
                for future in pending:
                    future.cancel()
                done, _ = wait(pending)
                for future in done:
                    if not future.cancelled():
                        collect(future)  # finished before it could be cancelled: keep its answer
                break
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        bar.close()
        raise
    pool.shutdown(wait=True)
    bar.close()
    return results, errors
