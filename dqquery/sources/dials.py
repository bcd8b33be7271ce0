"""A DIALS client: cursor pagination with resume, ``mes/`` unpaginated, workspaces, bearer/secret auth.

Decisions (reference: dials-and-oms.md sections 1-3):
* Cursor pagination: only ``next_token`` is taken from a page's ``next`` URL (the host in it may be
  ``http://``); the original parameters are re-sent with it. ``page_size`` defaults to the server maximum
  500 (fewer round trips; DIALS caps larger values silently).
* Retries apply whatever the URL (dials-py mounts its retry adapter only on the production host).
* A listing that cannot finish raises :class:`~dqquery.sources.http.FetchError` whose ``resume`` is a
  :class:`DialsListing` (rows so far + the token of the page that failed); ``list_all(..., resume_from=it)``
  continues with that page. The listing object is never mutated by the resumed call.
* Parameter values that are lists are joined with commas (``__in`` lookups take one CSV value; a repeated key
  would keep only the last value).
* URL: argument, else ``DQQUERY_DIALS_URL``, else ``https://cmsdials-api.web.cern.ch/api/v1``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .auth import auth_from_env
from .http import FetchError, HttpClient, RetryPolicy, TransportError

__all__ = ["PRODUCTION_URL", "DialsClient", "DialsListing"]

PRODUCTION_URL = "https://cmsdials-api.web.cern.ch/api/v1"
MAX_PAGE_SIZE = 500


@dataclass
class DialsListing:
    """Rows of a listing and where it stopped: ``next_token`` is ``None`` when complete."""

    endpoint: str
    params: dict[str, str]
    results: list[dict[str, Any]] = field(default_factory=list)
    next_token: str | None = None
    complete: bool = False
    pages: int = 0


def _csv(params: Mapping[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        out[key] = str(value)
    return out


def token_of(next_url: str | None) -> str | None:
    """The ``next_token`` query parameter of a DIALS ``next`` link."""
    if not next_url:
        return None
    values = parse_qs(urlsplit(next_url).query).get("next_token")
    return values[-1] if values else None


class DialsClient:
    """DIALS over HTTP. ``workspace``: argument or ``DIALS_WORKSPACE`` (else the user's default on the server)."""

    service = "dials"

    def __init__(self, url: str | None = None, *, auth: Any = None, workspace: str | None = None,
                 token_url: str | None = None, cache: Any = None, timeout: tuple[float, float] = (10.0, 60.0),
                 retry: RetryPolicy | None = None, page_size: int = MAX_PAGE_SIZE,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = (url or os.environ.get("DQQUERY_DIALS_URL") or PRODUCTION_URL).rstrip("/")
        self.auth = auth if auth is not None else auth_from_env("dials", self.url, token_url=token_url)
        self.workspace = workspace or os.environ.get("DIALS_WORKSPACE")
        self.page_size = page_size
        self.http = HttpClient(self.url, service=self.service, auth=self.auth, timeout=timeout, retry=retry,
                               cache=cache, sleep=sleep)

    def _headers(self) -> dict[str, str]:
        return {"Workspace": self.workspace} if self.workspace else {}

    def _get(self, path: str, params: Mapping[str, str]) -> Any:
        headers = self._headers()
        return self.http.request_json("GET", path, params=dict(params), headers=headers, scope=headers)

    def page(self, endpoint: str, params: Mapping[str, Any] | None = None, *, next_token: str | None = None,
             page_size: int | None = None) -> dict[str, Any]:
        """One page ``{"next", "previous", "results"}`` of a paginated endpoint (``run``, ``lumisection``, ``th1``...)."""
        query = _csv(params)
        query["page_size"] = str(page_size or self.page_size)
        if next_token:
            query["next_token"] = next_token
        return dict(self._get(f"{endpoint.strip('/')}/", query))

    def list_all(self, endpoint: str, params: Mapping[str, Any] | None = None, *, page_size: int | None = None,
                 max_pages: int | None = None, resume_from: DialsListing | None = None) -> DialsListing:
        """Every row of a paginated endpoint (or ``max_pages`` pages: then ``complete`` is false).

        On failure raises :class:`FetchError` with ``resume`` = a :class:`DialsListing` to pass back.
        """
        query = _csv(params)
        if resume_from is not None:
            if resume_from.endpoint != endpoint or resume_from.params != query:
                raise ValueError("resume_from belongs to a different listing")
            listing = DialsListing(endpoint, query, list(resume_from.results), resume_from.next_token,
                                   resume_from.complete, resume_from.pages)
            if listing.complete:
                return listing
        else:
            listing = DialsListing(endpoint, query)
        pages_now = 0
        while True:
            try:
                answer = self.page(endpoint, query, next_token=listing.next_token, page_size=page_size)
            except TransportError as exc:
                raise FetchError(
                    f"DIALS {endpoint}/ listing failed after {listing.pages} page(s), {len(listing.results)} row(s): {exc}",
                    partial=list(listing.results), resume=listing, errors=[(listing.next_token, exc)],
                ) from exc
            listing.results.extend(answer.get("results") or [])
            listing.pages += 1
            pages_now += 1
            listing.next_token = token_of(answer.get("next"))
            if answer.get("next") and listing.next_token is None:
                raise FetchError(f"DIALS {endpoint}/: a next link without next_token: {answer.get('next')!r}",
                                 partial=list(listing.results), resume=None)
            if listing.next_token is None:
                listing.complete = True
                return listing
            if max_pages is not None and pages_now >= max_pages:
                return listing

    def rows(self, endpoint: str, params: Mapping[str, Any] | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        """Every row of a paginated endpoint as a list (:meth:`list_all` then ``results``)."""
        return self.list_all(endpoint, params, **kwargs).results

    def mes(self, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Monitoring elements (``mes/`` is not paginated: one bare array)."""
        return list(self._get("mes/", _csv(params)))

    def close(self) -> None:
        self.http.close()
