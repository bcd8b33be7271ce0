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
* Endpoint names are those of ``to_dials`` (``h1d``/``h2d`` are ``th1``/``th2``); an unknown name is a
  ``ValueError`` before anything is sent.
* Answers are checked for their shape: a page must be an object with a ``results`` list, ``mes/`` a list;
  anything else is a :class:`DialsAnswerError` naming the endpoint and what came, never an empty or made-up
  listing. ``mes/`` is not paginated: ``page``/``list_all``/``rows`` on it fetch it whole (one "page").
* ``count()`` (``<endpoint>/count/``) and ``row()`` (the retrieve route, by primary key) are public. ``count`` on
  an endpoint without that route (DIALS has it on run, lumisection and file-index only) is a ``ValueError``
  before anything is sent, not a 404 that would send the user to check the URL.
* :meth:`DialsClient.execute` runs a ``dqquery.plan(query, "dials:<endpoint>")``: the primary keys that merge
  the requests' rows come from the endpoint records of ``dqquery.dials_api`` (either ``ml-models-index`` row
  shape), and a residual that needs a field a row does not carry is an error, not a dropped row.
* Which endpoints are paginated and which have a ``count/`` route is read from the endpoint records
  (:data:`dqquery.dials_api.ENDPOINTS`), not restated here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..dials_api import ENDPOINTS as API
from ..targets.dials import canonical_endpoint, primary_key, primary_key_columns, row_paths
from .auth import auth_from_env
from .http import FetchError, HttpClient, RetryPolicy, SourceError, TransportError, check_service_url

__all__ = ["PRODUCTION_URL", "UNPAGINATED", "DialsAnswerError", "DialsClient", "DialsListing"]

UNPAGINATED = frozenset(name for name, record in API.items() if not record.paginated)
COUNTABLE_ENDPOINTS = frozenset(name for name, record in API.items() if record.countable)
"""Endpoints that answer one bare JSON array instead of cursor pages."""


class DialsAnswerError(SourceError):
    """DIALS answered 200 with a body whose shape is not the one this endpoint has."""


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return f"an object with keys {sorted(value)[:8]}"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    return f"a {type(value).__name__}"

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
        self.url = check_service_url(url or os.environ.get("DQQUERY_DIALS_URL") or PRODUCTION_URL, "dials").rstrip("/")
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
        """One page ``{"next", "previous", "results"}`` of an endpoint (``run``, ``lumisection``, ``th1``...);
        for ``mes`` (not paginated) the whole list as one page without ``next``."""
        name = canonical_endpoint(endpoint.strip("/"))
        if name in UNPAGINATED:
            if next_token:
                raise ValueError(f"DIALS {name}/ is not paginated: it has no next_token")
            return {"next": None, "previous": None, "results": self._bare_list(name, params)}
        query = _csv(params)
        query["page_size"] = str(page_size or self.page_size)
        if next_token:
            query["next_token"] = next_token
        answer = self._get(f"{name}/", query)
        if not isinstance(answer, Mapping) or not isinstance(answer.get("results"), list):
            raise DialsAnswerError(f"DIALS {name}/ answered {_kind(answer)} where a page with a 'results' list was "
                                   f"expected (a wrong URL, or a server of another version?): {self.http.url(name + '/')}")
        if not all(isinstance(row, Mapping) for row in answer["results"]):
            raise DialsAnswerError(f"DIALS {name}/ answered a page whose results are not all objects")
        return dict(answer)

    def _bare_list(self, name: str, params: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        answer = self._get(f"{name}/", _csv(params))
        if not isinstance(answer, list) or not all(isinstance(row, Mapping) for row in answer):
            raise DialsAnswerError(f"DIALS {name}/ answered {_kind(answer)} where a list of rows was expected "
                                   f"(it is not paginated on DIALS v1.12.0): {self.http.url(name + '/')}")
        return [dict(row) for row in answer]

    def list_all(self, endpoint: str, params: Mapping[str, Any] | None = None, *, page_size: int | None = None,
                 max_pages: int | None = None, resume_from: DialsListing | None = None) -> DialsListing:
        """Every row of a paginated endpoint (or ``max_pages`` pages: then ``complete`` is false).

        On failure raises :class:`FetchError` with ``resume`` = a :class:`DialsListing` to pass back.
        """
        endpoint = canonical_endpoint(endpoint.strip("/"))
        query = _csv(params)
        if resume_from is not None:
            if canonical_endpoint(resume_from.endpoint) != endpoint or resume_from.params != query:
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
        """Every row of an endpoint as a list (:meth:`list_all` then ``results``)."""
        return self.list_all(endpoint, params, **kwargs).results

    def mes(self, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Monitoring elements (``mes/`` is not paginated: one bare array; anything else is an error)."""
        return self._bare_list("mes", params)

    def count(self, endpoint: str, params: Mapping[str, Any] | None = None) -> int:
        """The number of rows the filters select (``<endpoint>/count/``; DIALS has it on run, lumisection, file-index)."""
        name = canonical_endpoint(endpoint.strip("/"))
        if name not in COUNTABLE_ENDPOINTS:
            raise ValueError(f"DIALS has no {name}/count/ route (only {', '.join(sorted(COUNTABLE_ENDPOINTS))}): "
                             f"count the rows of rows({name!r}, ...) instead")
        answer = self._get(f"{name}/count/", _csv(params))
        if not isinstance(answer, Mapping) or not isinstance(answer.get("count"), int) or isinstance(answer.get("count"), bool):
            raise DialsAnswerError(f"DIALS {name}/count/ answered {_kind(answer)} where {{\"count\": N}} was expected")
        return int(answer["count"])

    def row(self, endpoint: str, *key: Any, generation: str | None = None) -> dict[str, Any]:
        """One row by its primary key (the retrieve route ``<endpoint>/<k1>/<k2>/.../``), e.g.
        ``row("lumisection", dataset_id, run, ls)``. A missing row is a ``ServiceError`` (HTTP 404)."""
        name = canonical_endpoint(endpoint.strip("/"))
        columns = primary_key_columns(name, generation=generation)
        if len(key) != len(columns):
            raise ValueError(f"DIALS {name}/ rows are found by {len(columns)} key value(s) ({', '.join(columns)}), got {len(key)}")
        answer = self._get(f"{name}/" + "".join(f"{k}/" for k in key), {})
        if not isinstance(answer, Mapping):
            raise DialsAnswerError(f"DIALS {name}/{'/'.join(map(str, key))}/ answered {_kind(answer)} where one row was expected")
        return dict(answer)

    def workspaces(self) -> Any:
        """The workspaces the server knows (``workspaces/``)."""
        return self.http.request_json("GET", "workspaces/", cacheable=False)

    def execute(self, plan: Any) -> list[dict[str, Any]]:
        """The rows a ``dqquery.plan(query, "dials:<endpoint>")`` selects: every request fetched, rows merged by
        primary key (first seen wins), the residual applied. A residual field a row does not carry is an error."""
        target = getattr(plan, "target", "")
        if not target.startswith("dials:"):
            raise ValueError(f"DialsClient.execute runs plans for dials:<endpoint>, not {target!r}")
        endpoint = canonical_endpoint(target.partition(":")[2])
        needed = _residual_paths(plan.residual)

        def view(row: Mapping[str, Any]) -> Mapping[str, Any]:
            paths = row_paths(endpoint, row)
            missing = sorted(needed - set(paths))
            if missing:
                raise DialsAnswerError(f"DIALS {endpoint}/ rows do not carry {', '.join(missing)} (columns: {sorted(row)}), "
                                       "which the plan's residual must re-check: the server's row shape is not the one "
                                       "dqquery knows (another DIALS generation?)")
            return paths

        return list(plan.execute(fetch=lambda params: self.rows(endpoint, params),
                                 key=lambda row: primary_key(endpoint, row), row_view=view))

    def close(self) -> None:
        self.http.close()


def _residual_paths(residual: Any) -> set[str]:
    if residual is None:
        return set()
    from .. import ast as A

    return {ref.path for ref in A.fields_of(residual)}
