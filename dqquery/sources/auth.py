"""Credentials for the CMS services: SSO client-credentials tokens, bearer tokens, DIALS secret keys.

Decisions:
* Every credential object has ``apply(headers)`` (adds its header, fetching a token when needed) and
  ``invalidate()`` (forget a cached token, used after a 401).
* Client credentials are exchanged at CERN's SSO token endpoint (configurable: ``token_url=`` or
  ``DQQUERY_SSO_TOKEN_URL``) for an audience; the token is cached IN MEMORY until shortly before it expires
  and shared by the client's threads (one exchange at a time). Tokens and secrets are never logged, never
  put in ``repr``, never written to the cache.
* Credentials come from arguments or environment variables; a missing one raises
  :class:`MissingCredentials` at the first request that needs it, naming the variables to set:

  ========== ================================================= =========================================
  service    environment variables                             meaning
  ========== ================================================= =========================================
  RR         ``SSO_CLIENT_ID``, ``SSO_CLIENT_SECRET``          as the official ``runregistry`` client
  OMS        ``OMS_CLIENT_ID``, ``OMS_CLIENT_SECRET``          falls back to ``SSO_CLIENT_ID``/``SECRET``
  DIALS      ``DIALS_TOKEN``                                   a bearer token (``Authorization``)
  DIALS      ``DIALS_CLIENT_ID``, ``DIALS_CLIENT_SECRET``      client credentials exchanged for a token
  DIALS      ``DIALS_SECRET_KEY``                              legacy ``X-CLIENT-SECRET`` header
  all        ``DQQUERY_SSO_TOKEN_URL``                         token endpoint (default CERN's)
  ========== ================================================= =========================================

* A token or secret key is stripped of surrounding whitespace (a pasted line break); one with inner control or
  non-latin-1 characters is refused (:class:`MissingCredentials` naming the variable, never the value).
* The SSO token POST does not follow redirects (a 307/308 would re-send ``client_secret`` to wherever it points):
  a redirect is an :class:`AuthenticationFailed`; a 200 without a JSON token names the token URL.
* Credentials are sent to the service URL they are configured for, and only there: the HTTP client applies
  them only to requests for the origin (scheme, host and port) of the client's own URL, never to another host a
  ``next`` link or a redirect names.
* A loopback URL (``localhost``, ``127.x``, ``::1``: a fake, a local backend, a tunnel) gets a token configured
  for that service by name (``DIALS_TOKEN``, ``DIALS_SECRET_KEY``, an ``auth=`` argument) like any URL. SSO
  client credentials are exchanged for it only when asked for explicitly (``DQQUERY_LOCAL_AUTH=1``, the CLI's
  ``--local-auth``, or :func:`local_credentials`): they are production credentials, and the exchange would go to
  CERN's token endpoint (``DQQUERY_SSO_TOKEN_URL`` points it at a local one). Otherwise a loopback URL gets
  :class:`NoAuth`, and a refusal then says that no credentials were sent and how to send them.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import requests

from .http import SourceError, check_service_url, is_local, redact_url

__all__ = [
    "AUDIENCES",
    "DEFAULT_TOKEN_URL",
    "BearerToken",
    "ClientCredentials",
    "MissingCredentials",
    "NoAuth",
    "SecretKey",
    "auth_from_env",
    "is_local",
    "local_credentials",
    "sends_credentials",
]

log = logging.getLogger("dqquery.sources")

DEFAULT_TOKEN_URL = "https://auth.cern.ch/auth/realms/cern/api-access/token"

AUDIENCES: dict[str, str] = {
    "rr": "cmsrunregistry-sso-proxy",
    "oms": "cmsoms-prod",
    "dials": "cms-dials-prod-confidential-app",
}
"""SSO audience (target application) of each production service."""

ENV_CLIENT_CREDENTIALS: dict[str, tuple[tuple[str, str], ...]] = {
    "rr": (("SSO_CLIENT_ID", "SSO_CLIENT_SECRET"),),
    "oms": (("OMS_CLIENT_ID", "OMS_CLIENT_SECRET"), ("SSO_CLIENT_ID", "SSO_CLIENT_SECRET")),
    "dials": (("DIALS_CLIENT_ID", "DIALS_CLIENT_SECRET"),),
}
"""Environment variables holding client credentials, in order of preference, per service."""

SERVICE_NAMES = {"rr": "Run Registry", "oms": "OMS", "dials": "DIALS"}


class MissingCredentials(SourceError):
    """No credentials for a service that needs them; the message names the environment variables to set."""


class AuthenticationFailed(SourceError):
    """The SSO token endpoint refused the credentials (the secret is not shown)."""


def _header_value(value: str, source: str, empty_message: str) -> str:
    """A credential as an HTTP header value: surrounding whitespace (a pasted newline) removed; inner control
    characters or non-latin-1 characters refused naming ``source``, never showing the value."""
    value = (value or "").strip()
    if not value:
        raise MissingCredentials(empty_message)
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise MissingCredentials(f"{source} contains a control character (a line break?): it cannot be sent as an HTTP header")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise MissingCredentials(f"{source} contains characters that are not latin-1: it cannot be sent as an HTTP header; "
                                 "check that it was copied whole") from None
    return value


class NoAuth:
    """No credentials (local services, fakes)."""

    def apply(self, headers: MutableMapping[str, str]) -> None:
        return None

    def invalidate(self) -> None:
        return None

    def __repr__(self) -> str:
        return "NoAuth()"


class BearerToken:
    """A fixed bearer token (``Authorization: Bearer <token>``)."""

    def __init__(self, token: str, *, source: str = "the bearer token") -> None:
        self._token = _header_value(token, source, "an empty bearer token was given")

    def apply(self, headers: MutableMapping[str, str]) -> None:
        headers["Authorization"] = f"Bearer {self._token}"

    def invalidate(self) -> None:
        return None  # nothing to refresh: a fixed token stays what it is

    def __repr__(self) -> str:
        return "BearerToken(***)"


class SecretKey:
    """DIALS' legacy secret key, sent as ``X-CLIENT-SECRET`` (DIALS announced it will stop accepting it)."""

    def __init__(self, secret: str, *, source: str = "the DIALS secret key") -> None:
        self._secret = _header_value(secret, source, "an empty DIALS secret key was given")

    def apply(self, headers: MutableMapping[str, str]) -> None:
        headers["X-CLIENT-SECRET"] = self._secret

    def invalidate(self) -> None:
        return None

    def __repr__(self) -> str:
        return "SecretKey(***)"


@dataclass
class _Token:
    value: str
    expires_at: float  # time.monotonic()


class ClientCredentials:
    """SSO client-credentials exchange; the token is cached in memory until ``margin`` seconds before expiry.

    ``client_id``/``client_secret`` may be ``None``: they are then read from ``env_names`` when the first token
    is needed, and :class:`MissingCredentials` names those variables if they are unset.
    """

    def __init__(self, client_id: str | None = None, client_secret: str | None = None, *, audience: str,
                 token_url: str | None = None, env_names: tuple[tuple[str, str], ...] = (),
                 service: str = "", timeout: tuple[float, float] = (10.0, 30.0), margin: float = 30.0,
                 session: requests.Session | None = None, attempts: int = 3,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._client_id, self._client_secret = client_id, client_secret
        self.audience = audience
        self.token_url = check_service_url(token_url or os.environ.get("DQQUERY_SSO_TOKEN_URL") or DEFAULT_TOKEN_URL, "sso")
        self.env_names = env_names
        self.service = service
        self.timeout = timeout
        self.margin = margin
        self._session = session or requests.Session()
        self._token: _Token | None = None
        self._lock = threading.Lock()
        self.exchanges = 0
        self.attempts = max(1, attempts)
        self.sleep = sleep

    def _credentials(self) -> tuple[str, str]:
        if self._client_id and self._client_secret:
            return self._client_id, self._client_secret
        for id_name, secret_name in self.env_names:
            client_id, secret = os.environ.get(id_name), os.environ.get(secret_name)
            if client_id and secret:
                return client_id, secret
        wanted = " or ".join(f"{a} and {b}" for a, b in self.env_names) or "client_id and client_secret"
        if self.service == "dials":
            wanted += ", or DIALS_TOKEN (a bearer token), or DIALS_SECRET_KEY (legacy secret key)"
        name = SERVICE_NAMES.get(self.service, self.service or "this service")
        raise MissingCredentials(
            f"no SSO client credentials for {name}: set the environment variables {wanted} "
            "(an SSO application registered at CERN's application portal), or pass them to the client"
        )

    def token(self) -> str:
        """A valid access token (exchanging credentials when none is cached or it is about to expire)."""
        with self._lock:
            now = time.monotonic()
            if self._token is not None and now < self._token.expires_at - self.margin:
                return self._token.value
            client_id, secret = self._credentials()
            log.debug("requesting an SSO token for audience %s from %s", self.audience, redact_url(self.token_url))
            response = self._exchange(client_id, secret)
            if response.status_code != 200:
                detail = ""
                try:
                    body = response.json()
                    detail = f": {body.get('error_description') or body.get('error') or ''}"
                except ValueError:
                    pass
                raise AuthenticationFailed(
                    f"the SSO token endpoint refused client {client_id!r} (HTTP {response.status_code}{detail})"
                )
            try:
                body = response.json()
            except ValueError:
                body = None
            if not isinstance(body, Mapping):
                raise AuthenticationFailed(
                    f"the SSO token endpoint {redact_url(self.token_url)} answered HTTP 200 with no JSON token; "
                    "wrong DQQUERY_SSO_TOKEN_URL?")
            value = body.get("access_token")
            if not value:
                raise AuthenticationFailed("the SSO token endpoint answered without an access_token")
            expires_in = float(body.get("expires_in") or 300)
            self._token = _Token(value, time.monotonic() + expires_in)
            self.exchanges += 1
            log.debug("got an SSO token for audience %s, valid %.0f s", self.audience, expires_in)
            return value

    def _exchange(self, client_id: str, secret: str) -> requests.Response:
        """POST the credentials; an unreachable or unavailable endpoint (connection error, 429, 5xx) is tried
        ``attempts`` times with a growing pause, a refusal (4xx) is returned at once."""
        failure = ""
        for attempt in range(1, self.attempts + 1):
            try:
                response = self._session.post(
                    self.token_url,
                    data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
                          "audience": self.audience},
                    headers={"Accept": "application/json"},
                    timeout=self.timeout,
                    allow_redirects=False,  # a 307/308 would re-send client_secret wherever it points
                )
            except requests.RequestException as exc:
                failure = f"could not reach the SSO token endpoint {redact_url(self.token_url)}: {type(exc).__name__}"
            else:
                if 300 <= response.status_code < 400:
                    raise AuthenticationFailed(
                        f"the SSO token endpoint {redact_url(self.token_url)} answered with a redirect (HTTP "
                        f"{response.status_code}); the credentials were not sent on: set DQQUERY_SSO_TOKEN_URL to "
                        "the token endpoint itself")
                if response.status_code != 429 and response.status_code < 500:
                    return response
                failure = f"the SSO token endpoint {redact_url(self.token_url)} is unavailable (HTTP {response.status_code})"
            if attempt < self.attempts:
                self.sleep(min(8.0, 0.5 * 2 ** (attempt - 1)))
        raise AuthenticationFailed(f"{failure} ({self.attempts} attempts)")

    def apply(self, headers: MutableMapping[str, str]) -> None:
        headers["Authorization"] = f"Bearer {self.token()}"

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def __repr__(self) -> str:
        return f"ClientCredentials(client_id={self._client_id or '<from environment>'!r}, audience={self.audience!r})"


LOCAL_AUTH_VARIABLE = "DQQUERY_LOCAL_AUTH"
"""Set to 1 to exchange SSO client credentials for loopback URLs too (see the module docstring)."""

_LOCAL_AUTH: contextvars.ContextVar[bool] = contextvars.ContextVar("dqquery_local_auth", default=False)


@contextlib.contextmanager
def local_credentials(enabled: bool = True) -> Iterator[None]:
    """Clients built inside this block use SSO client credentials for loopback URLs too (the CLI's ``--local-auth``)."""
    token = _LOCAL_AUTH.set(enabled)
    try:
        yield
    finally:
        _LOCAL_AUTH.reset(token)


def _local_auth_asked(environ: Mapping[str, str]) -> bool:
    return _LOCAL_AUTH.get() or environ.get(LOCAL_AUTH_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


def sends_credentials(auth: Any) -> bool:
    """Whether a credential object puts anything on the wire (``None`` and :class:`NoAuth` do not)."""
    return auth is not None and not isinstance(auth, NoAuth)


def auth_from_env(service: str, url: str, *, token_url: str | None = None, env: Mapping[str, str] | None = None) -> Any:
    """The default credentials of a service for ``url`` (see the module table and docstring).

    DIALS prefers ``DIALS_TOKEN``, then client credentials, then ``DIALS_SECRET_KEY``; RR and OMS use client
    credentials (read lazily, so constructing a client never fails). A loopback URL gets a DIALS token or secret
    key when one is set, client credentials only when asked for (``DQQUERY_LOCAL_AUTH=1``,
    :func:`local_credentials`), else :class:`NoAuth`.
    """
    environ = os.environ if env is None else env
    if is_local(url) and not _local_auth_asked(environ):
        if service == "dials" and environ.get("DIALS_TOKEN"):
            return BearerToken(environ["DIALS_TOKEN"], source="DIALS_TOKEN")
        if service == "dials" and environ.get("DIALS_SECRET_KEY"):
            return SecretKey(environ["DIALS_SECRET_KEY"], source="DIALS_SECRET_KEY")
        return NoAuth()
    if service == "dials":
        if environ.get("DIALS_TOKEN"):
            return BearerToken(environ["DIALS_TOKEN"], source="DIALS_TOKEN")
        if not (environ.get("DIALS_CLIENT_ID") and environ.get("DIALS_CLIENT_SECRET")) and environ.get("DIALS_SECRET_KEY"):
            return SecretKey(environ["DIALS_SECRET_KEY"], source="DIALS_SECRET_KEY")
    return ClientCredentials(audience=AUDIENCES[service], token_url=token_url, env_names=ENV_CLIENT_CREDENTIALS[service],
                             service=service)
