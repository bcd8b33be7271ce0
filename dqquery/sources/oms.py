"""A CMS OMS aggregation-API client: ``filter[a][OP]``, ``fields``, ``sort``, offset/limit pagination.

Decisions (reference: dials-and-oms.md section 5):
* Filters are ``(attribute, OP, value)`` triples or a ready parameter mapping (what ``to_oms`` produces);
  booleans are sent lowercase; several filters are ANDed by OMS.
* Pagination by ``page[offset]``/``page[limit]`` until ``meta.totalResourceCount`` rows are read (the
  server's ``links`` are not parsed: real OMS mangles them). A changing total or a short page raises
  :class:`~dqquery.sources.http.FetchError` (never a silently short result); ``resume`` holds the rows read
  and the next offset.
* ``sort`` is built by us as one string (omsapi loses the order of several keys).
* Units: OMS states each row's units in ``meta.row.<attribute>.units`` and they differ between endpoints
  (``pb^{-1}`` for run luminosity, other inverse barns elsewhere). Every integrated luminosity is converted
  to ``/pb`` (:data:`dqquery.catalog.LUMINOSITY_UNIT`) by the factors of :data:`INVERSE_BARN_TO_PB`, so rows
  never mix units; an attribute without stated units is left as it is.
* URL: argument, else ``DQQUERY_OMS_URL``, else ``https://cmsoms.cern.ch/agg/api/v1``. Auth: SSO client
  credentials for audience ``cmsoms-prod`` (``OMS_CLIENT_ID``/``OMS_CLIENT_SECRET``, else ``SSO_*``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .auth import auth_from_env
from .http import FetchError, HttpClient, RetryPolicy, TransportError, check_service_url

__all__ = ["OMS_OPERATORS", "PRODUCTION_URL", "OMSClient", "OMSListing"]

PRODUCTION_URL = "https://cmsoms.cern.ch/agg/api/v1"
OMS_OPERATORS = ("EQ", "NEQ", "LT", "GT", "LE", "GE", "LIKE", "CT")


@dataclass
class OMSListing:
    """Rows (``attributes`` of each JSON:API item) read so far and the next offset."""

    resource: str
    params: dict[str, str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    offset: int = 0
    total: int | None = None


INVERSE_BARN_TO_PB: dict[str, float] = {
    "fb^{-1}": 1e3, "pb^{-1}": 1.0, "nb^{-1}": 1e-3, "ub^{-1}": 1e-6, "\u00b5b^{-1}": 1e-6, "mb^{-1}": 1e-9,
    "/fb": 1e3, "/pb": 1.0, "/nb": 1e-3, "/ub": 1e-6, "/mb": 1e-9,
}
"""Factor from an OMS ``units`` string of integrated luminosity to /pb."""


def attributes_in_pb(item: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON:API item's ``attributes`` with every integrated luminosity converted to /pb (see the module docstring)."""
    attributes = dict(item.get("attributes") or {})
    row_meta = ((item.get("meta") or {}).get("row") or {}) if isinstance(item.get("meta"), Mapping) else {}
    for name, meta in row_meta.items():
        units = meta.get("units") if isinstance(meta, Mapping) else None
        factor = INVERSE_BARN_TO_PB.get(str(units).replace(" ", "")) if units is not None else None
        value = attributes.get(name)
        if factor is not None and factor != 1.0 and isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[name] = value * factor
    return attributes


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    return str(value)


def filter_params(filters: Iterable[tuple[str, str, Any]] | Mapping[str, Any] | None) -> dict[str, str]:
    """``[(attr, OP, value)]`` -> ``{"filter[attr][OP]": value}``; a mapping is taken as ready parameters."""
    if filters is None:
        return {}
    if isinstance(filters, Mapping):
        return {str(k): _value(v) for k, v in filters.items()}
    out: dict[str, str] = {}
    for attribute, op, value in filters:
        if op.upper() not in OMS_OPERATORS:
            raise ValueError(f"unknown OMS operator {op!r}; one of {OMS_OPERATORS}")
        key = f"filter[{attribute}][{op.upper()}]"
        if key in out:
            raise ValueError(f"two filters {key}: OMS keeps only one; combine them (OMS has no OR and no IN)")
        out[key] = _value(value)
    return out


class OMSClient:
    """The OMS aggregation API over HTTP (see the module docstring)."""

    service = "oms"

    def __init__(self, url: str | None = None, *, auth: Any = None, token_url: str | None = None, cache: Any = None,
                 timeout: tuple[float, float] = (10.0, 120.0), retry: RetryPolicy | None = None,
                 page_limit: int = 1000, sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = check_service_url(url or os.environ.get("DQQUERY_OMS_URL") or PRODUCTION_URL, "oms").rstrip("/")
        self.auth = auth if auth is not None else auth_from_env("oms", self.url, token_url=token_url)
        self.page_limit = page_limit
        self.http = HttpClient(self.url, service=self.service, auth=self.auth, timeout=timeout, retry=retry,
                               cache=cache, sleep=sleep)

    def query(self, resource: str, filters: Iterable[tuple[str, str, Any]] | Mapping[str, Any] | None = None, *,
              fields: Sequence[str] | None = None, sort: Sequence[str] | str | None = None, limit: int | None = None,
              resume_from: OMSListing | None = None) -> list[dict[str, Any]]:
        """Every matching row's ``attributes`` (all pages)."""
        params = filter_params(filters)
        if fields:
            params["fields"] = ",".join(fields)
        if sort:
            params["sort"] = sort if isinstance(sort, str) else ",".join(sort)
        page_limit = limit or self.page_limit
        if resume_from is not None:
            if resume_from.resource != resource or resume_from.params != params:
                raise ValueError("resume_from belongs to a different query")
            listing = OMSListing(resource, params, list(resume_from.rows), resume_from.offset, resume_from.total)
        else:
            listing = OMSListing(resource, params)
        while listing.total is None or listing.offset < listing.total:
            page = {**params, "page[offset]": str(listing.offset), "page[limit]": str(page_limit)}
            try:
                answer = self.http.request_json("GET", resource, params=page)
            except TransportError as exc:
                raise FetchError(f"OMS {resource} query failed at offset {listing.offset}: {exc}",
                                 partial=list(listing.rows), resume=listing, errors=[(listing.offset, exc)]) from exc
            total = int((answer.get("meta") or {}).get("totalResourceCount", 0))
            if listing.total is not None and total != listing.total:
                raise FetchError(f"OMS {resource}: the total changed from {listing.total} to {total} while paging; retry",
                                 partial=list(listing.rows), resume=None)
            listing.total = total
            data = answer.get("data") or []
            expected = min(page_limit, total - listing.offset)
            if len(data) != max(0, expected):
                raise FetchError(f"OMS {resource}: offset {listing.offset} returned {len(data)} rows, expected {expected}",
                                 partial=list(listing.rows), resume=listing)
            listing.rows.extend(attributes_in_pb(item) for item in data)
            listing.offset += len(data)
            if not data:
                break
        return listing.rows

    def runs(self, filters: Any = None, **kwargs: Any) -> list[dict[str, Any]]:
        """OMS run attributes."""
        return self.query("runs", filters, **kwargs)

    def lumisections(self, run_number: int, **kwargs: Any) -> list[dict[str, Any]]:
        """OMS lumisection attributes of one run, in lumisection order."""
        kwargs.setdefault("sort", "lumisection_number")
        return self.query("lumisections", [("run_number", "EQ", int(run_number))], **kwargs)

    def close(self) -> None:
        self.http.close()
