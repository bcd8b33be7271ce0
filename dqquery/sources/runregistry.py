"""A Run Registry client: paginated run/dataset queries, lumisection ranges, the JSON portal.

Decisions:
* Filters are sent as the BACKEND format (what ``to_rr(query, raw=True)`` produces): the user-format
  transformation of the official client has documented bugs (run-registry.md 2.2), so dqquery never relies
  on it.
* Pagination (``page`` 0-based, ``page_size``, answer ``pages``/``count``): page 0 first, then the other
  pages concurrently (bounded). The rows are checked against ``count``; a mismatch (data changed while
  paging) or a failed page raises :class:`~dqquery.sources.http.FetchError` with the pages fetched so far as
  ``partial`` and a :class:`PagedResume` as ``resume``.
* RR reports errors as HTTP 500 ``{"err": ...}``: that is deterministic (a bad filter), so it is raised at once
  as :class:`~dqquery.sources.http.ServiceError` and not retried; other 5xx, 429 and connection problems
  are retried.
* The lumisection history endpoints are read only for the spans they cover (R1, R2), so they return and cache
  ``{"name", "start", "end"}`` events, not RR's full rows (which repeat every flag per event and made a year's
  cache 5.4x its snapshot).
* URL: argument, else ``DQQUERY_RR_URL``, else production ``https://cmsrunregistry.web.cern.ch/api``.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .auth import auth_from_env
from .http import (
    FetchError,
    HttpClient,
    RetryPolicy,
    ServiceError,
    TransportError,
    check_service_url,
    raise_if_not_resumable,
    run_concurrently,
)

__all__ = ["PRODUCTION_URL", "PagedResume", "PortalJob", "RunRegistryClient"]

log = logging.getLogger("dqquery.sources")

PRODUCTION_URL = "https://cmsrunregistry.web.cern.ch/api"

LUMISECTION_ENDPOINTS = (
    "rr_lumisections",
    "oms_lumisections",
    "rr_lumisection_ranges",
    "rr_lumisection_ranges_by_component",
    "oms_lumisection_ranges",
    "joint_lumisection_ranges",
)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def rr_error_is_fatal(status: int, body: Any) -> bool:
    """RR's ``{"err": ...}`` on a 500 is an application error (bad filter, unknown job): do not retry."""
    return status == 500 and isinstance(body, Mapping) and "err" in body


@dataclass
class PagedResume:
    """What a paginated query had fetched: ``pages[i]`` rows of page i, ``pages_total``/``count`` from page 0."""

    kind: str
    request: str  # canonical filter + sortings + page size, to refuse resuming a different query
    pages: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    pages_total: int | None = None
    count: int | None = None


@dataclass
class PortalJob:
    """A submitted JSON-portal job."""

    id: str
    submitted: dict[str, Any]


class RunRegistryClient:
    """Run Registry over HTTP (see the module docstring).

    ``auth``: a credential object from :mod:`dqquery.sources.auth`; default: none for a loopback URL, else SSO
    client credentials from ``SSO_CLIENT_ID``/``SSO_CLIENT_SECRET``. ``email`` is sent as the ``email`` header,
    as the official client does for a local backend (which reads it as the author of JSONs).
    """

    service = "rr"

    def __init__(self, url: str | None = None, *, auth: Any = None, token_url: str | None = None, cache: Any = None,
                 timeout: tuple[float, float] = (10.0, 300.0), retry: RetryPolicy | None = None, workers: int = 8,
                 page_size: int = 200, progress: bool | None = None, email: str | None = "api@api",
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.url = check_service_url(url or os.environ.get("DQQUERY_RR_URL") or PRODUCTION_URL, "rr").rstrip("/")
        self.auth = auth if auth is not None else auth_from_env("rr", self.url, token_url=token_url)
        self.workers = workers
        self.page_size = page_size
        self.progress = progress
        self.sleep = sleep
        self.http = HttpClient(self.url, service=self.service, auth=self.auth, timeout=timeout, retry=retry, cache=cache,
                               pool_size=max(workers, 4), sleep=sleep, fatal_status=rr_error_is_fatal)
        self._headers = {"email": email} if email else {}

    def _post(self, path: str, body: Any, *, cacheable: bool = True) -> Any:
        answer = self.http.request_json("POST", path, json_body=body, cacheable=cacheable, headers=self._headers)
        if isinstance(answer, Mapping) and "err" in answer:
            raise ServiceError(f"Run Registry error for {path}: {answer['err']}", status=200, body=answer)
        return answer

    # ---- runs and datasets

    def runs(self, backend_filter: Mapping[str, Any] | None = None, *, sortings: Sequence[Sequence[str]] = (),
             page_size: int | None = None, resume_from: PagedResume | None = None) -> list[dict[str, Any]]:
        """Raw run objects (``runs_filtered_ordered``) matching a backend-format filter, all pages."""
        return self._paged("runs", backend_filter or {}, sortings, page_size, resume_from)

    def datasets(self, backend_filter: Mapping[str, Any] | None = None, *, sortings: Sequence[Sequence[str]] = (),
                 page_size: int | None = None, resume_from: PagedResume | None = None) -> list[dict[str, Any]]:
        """Raw dataset objects (``datasets_filtered_ordered``) matching a backend-format filter, all pages."""
        return self._paged("datasets", backend_filter or {}, sortings, page_size, resume_from)

    def _paged(self, kind: str, backend_filter: Mapping[str, Any], sortings: Sequence[Sequence[str]],
               page_size: int | None, resume_from: PagedResume | None) -> list[dict[str, Any]]:
        size = page_size or self.page_size
        path = f"{kind}_filtered_ordered"
        listing = {"filter": backend_filter, "sortings": [list(s) for s in sortings], "page_size": size}
        request = json.dumps(listing, sort_keys=True)
        state = resume_from or PagedResume(kind, request)
        if state.kind != kind or state.request != request:
            raise ValueError("resume_from belongs to a different query")

        # Decision: a listing is cached whole, never page by page. Pages cached at different times (a partial
        # earlier fetch, or entries expiring one by one) would mix two states of RR: rows shift between
        # pages, and a run would come twice while another is missing. Within one process, resume_from
        # keeps the pages already fetched.
        cache = self.http.cache
        listing_key = self.http.cache_key("POST", path, json_body=listing)  # stored under its own endpoint name
        if cache is not None and resume_from is None:
            hit, cached = cache.lookup(self.http.service, f"{path}#all-pages", listing_key)
            if hit:
                return list(cached)

        def fetch(page: int) -> list[dict[str, Any]]:
            answer = self._post(path, {"page": page, "filter": backend_filter, "page_size": size,
                                       "sortings": [list(s) for s in sortings]}, cacheable=False)
            if page == 0 or state.pages_total is None:
                state.pages_total, state.count = int(answer["pages"]), int(answer["count"])
            return list(answer[kind])

        if 0 not in state.pages:
            try:
                state.pages[0] = fetch(0)
            except TransportError as exc:  # other errors (bad filter, credentials) are not fixed by resuming
                raise FetchError(f"Run Registry {kind} query failed on page 0: {exc}", partial=[], resume=state,
                                 errors=[(0, exc)]) from exc
        todo = [p for p in range(1, state.pages_total or 0) if p not in state.pages]
        done, errors = run_concurrently(todo, fetch, workers=self.workers, desc=f"RR {kind} pages", progress=self.progress)
        state.pages.update(done)
        rows = [row for p in sorted(state.pages) for row in state.pages[p]]
        if errors:
            raise_if_not_resumable(errors)
            errors.sort(key=lambda e: e[0])
            missing = ", ".join(str(p) for p, _ in errors)
            raise FetchError(f"Run Registry {kind} query: page(s) {missing} of {state.pages_total} failed: {errors[0][1]}",
                             partial=rows, resume=state, errors=errors) from errors[0][1]
        keys = [(row.get("run_number"), row.get("name")) for row in rows]
        if (state.count is not None and len(rows) != state.count) or len(set(keys)) != len(keys):
            raise FetchError(
                f"Run Registry {kind} query returned {len(rows)} rows ({len(set(keys))} distinct) but announced "
                f"{state.count} (the data changed while paging?); retry the query",
                partial=rows, resume=None,
            )
        if cache is not None:
            cache.put(self.http.service, f"{path}#all-pages", listing_key, rows)
        return rows

    def count_datasets(self, backend_filter: Mapping[str, Any]) -> int:
        """How many datasets match a backend-format filter: page 0 only (its ``count``), never every page."""
        answer = self._post("datasets_filtered_ordered", {"page": 0, "filter": dict(backend_filter),
                                                          "page_size": self.page_size, "sortings": []}, cacheable=False)
        if not isinstance(answer, Mapping) or not _is_int(answer.get("count")):
            raise ServiceError(f"Run Registry datasets_filtered_ordered: expected a page with a count, got {str(answer)[:200]}",
                               body=answer)
        return int(answer["count"])

    def dataset_names(self, run_number: int) -> list[str]:
        """Names of the datasets of a run (``get_all_dataset_names_of_run``)."""
        return list(self.http.request_json("GET", f"get_all_dataset_names_of_run/{int(run_number)}", headers=self._headers))

    # ---- lumisections

    def lumisection_data(self, endpoint: str, run_number: int, dataset_name: str = "online") -> Any:
        """One of the ``lumisections/*`` endpoints (see :data:`LUMISECTION_ENDPOINTS`) for one (run, dataset)."""
        if endpoint not in LUMISECTION_ENDPOINTS:
            raise ValueError(f"unknown lumisection endpoint {endpoint!r}; one of {LUMISECTION_ENDPOINTS}")
        return self._post(f"lumisections/{endpoint}", {"run_number": int(run_number), "dataset_name": dataset_name})

    def lumisection_ranges(self, run_number: int, dataset_name: str = "online") -> list[dict[str, Any]]:
        """RR flag ranges ``[{comp: {status, comment, cause}, ..., "start", "end"}]``."""
        return list(self.lumisection_data("rr_lumisection_ranges", run_number, dataset_name))

    def oms_lumisection_ranges(self, run_number: int, dataset_name: str = "online") -> list[dict[str, Any]]:
        """OMS bit ranges as RR stores them ``[{bit: bool|None, ..., "start", "end"}]``."""
        return list(self.lumisection_data("oms_lumisection_ranges", run_number, dataset_name))

    def lumisections(self, run_number: int, dataset_name: str = "online") -> list[dict[str, Any]]:
        return list(self.lumisection_data("rr_lumisections", run_number, dataset_name))

    def oms_lumisections(self, run_number: int, dataset_name: str = "online") -> list[dict[str, Any]]:
        return list(self.lumisection_data("oms_lumisections", run_number, dataset_name))

    def rr_lumisection_history(self, run_number: int, dataset_name: str = "online") -> list[dict[str, Any]]:
        """Where one (run, dataset) HAS RR data (``get_rr_lumisection_history``): the spans its events cover (a
        flag-less event counts too), as ``{"name", "start", "end"}`` rows, overlapping or adjacent events merged."""
        return self._history("get_rr_lumisection_history", run_number, dataset_name)

    def oms_lumisection_history(self, run_number: int, dataset_name: str = "online") -> list[dict[str, Any]]:
        """The spans of the OMS events RR holds for one (run, dataset) (``get_oms_lumisection_history``), merged per
        ``name`` as ``{"name", "start", "end"}`` rows: online's and the dataset's; the dataset's own rows cover its
        OWN OMS data."""
        return self._history("get_oms_lumisection_history", run_number, dataset_name)

    def _history(self, endpoint: str, run_number: int, dataset_name: str) -> list[dict[str, Any]]:
        # Decision: a history answer is cached as the event spans it is read for (name, start, end), under its
        # own endpoint name, not as RR sends it: each event repeats every flag, comment and timestamp (about
        # 60 % of the cache of a year's fetch, which then came to 5.4x the snapshot; tests/test_cache.py).
        path = f"lumisections/{endpoint}"
        body = {"run_number": int(run_number), "dataset_name": dataset_name}
        cache, key = self.http.cache, self.http.cache_key("POST", path, json_body=body)
        if cache is not None:
            hit, cached = cache.lookup(self.http.service, f"{path}#events", key)
            if hit:
                return [dict(row) for row in cached]
        answer = self._post(path, body, cacheable=False)
        if not isinstance(answer, list) or not all(isinstance(row, Mapping) and _is_int(row.get("start"))
                                                     and _is_int(row.get("end")) for row in answer):
            raise ServiceError(f"Run Registry {endpoint} for run {run_number} {dataset_name!r}: expected a list of "
                               f"events with integer start and end, got {str(answer)[:200]}", body=answer)
        events = _merged_spans(answer)
        if cache is not None:
            cache.put(self.http.service, f"{path}#events", key, events)
        return events

    # ---- JSON portal

    def submit_json(self, json_logic: Any, dataset_name_filter: str) -> PortalJob:
        """Queue a golden-JSON job (the logic is sent as a JSON string, as the backend requires)."""
        text = json_logic if isinstance(json_logic, str) else json.dumps(json_logic)
        answer = self._post("json_portal/generate", {"json_logic": text, "dataset_name_filter": dataset_name_filter},
                            cacheable=False)
        if not isinstance(answer, Mapping) or "id" not in answer:
            raise ServiceError(f"Run Registry did not queue the JSON job: {answer!r}", body=answer)
        return PortalJob(str(answer["id"]), dict(answer))

    def poll_json(self, job: PortalJob | str) -> tuple[str, Any]:
        """One poll: ``("done", final_json)``, ``("progress", p)`` or ``("waiting", None)``."""
        job_id = job.id if isinstance(job, PortalJob) else str(job)
        response = self.http.send("POST", "json_portal/json", json_body={"id_json": job_id}, headers=self._headers,
                                  accept=(200, 202, 203, 500))
        if response.status_code == 200:
            return "done", response.json()["final_json"]
        if response.status_code == 202:
            return "progress", response.json().get("progress")
        if response.status_code == 203:
            return "waiting", None
        raise ServiceError(f"Run Registry JSON job {job_id} failed (HTTP 500): {response.text[:300] or '(empty body)'}",
                           status=500, body=response.text)

    def create_json(self, json_logic: Any, dataset_name_filter: str, *, poll_interval: float = 2.0,
                    max_interval: float = 30.0, timeout: float = 3600.0) -> dict[str, Any]:
        """Submit and poll (backoff from ``poll_interval`` doubling up to ``max_interval``) until done.

        Returns the whole GeneratedJson row (its ``generated_json`` is the golden JSON). Raises
        :class:`~dqquery.sources.http.FetchError` with the job as ``resume`` when ``timeout`` passes, so
        :meth:`wait_json` can continue polling the same job.
        """
        job = self.submit_json(json_logic, dataset_name_filter)
        return self.wait_json(job, poll_interval=poll_interval, max_interval=max_interval, timeout=timeout)

    def wait_json(self, job: PortalJob, *, poll_interval: float = 2.0, max_interval: float = 30.0,
                  timeout: float = 3600.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        interval = poll_interval
        while True:
            state, value = self.poll_json(job)
            if state == "done":
                return dict(value)
            log.debug("JSON job %s: %s %s", job.id, state, value if value is not None else "")
            if time.monotonic() + interval > deadline:
                raise FetchError(f"Run Registry JSON job {job.id} not finished after {timeout:.0f} s", partial=None,
                                 resume=job)
            self.sleep(interval)
            interval = min(max_interval, interval * 2)

    def close(self) -> None:
        self.http.close()


def _merged_spans(events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """History events as the lumisection spans they cover: per ``name`` (in first-appearance order), sorted, with
    overlapping or adjacent ``[start, end]`` merged."""
    per_name: dict[Any, list[tuple[int, int]]] = {}
    for event in events:
        per_name.setdefault(event.get("name"), []).append((int(event["start"]), int(event["end"])))
    merged: list[dict[str, Any]] = []
    for name, spans in per_name.items():
        current: list[int] | None = None
        for start, end in sorted(spans):
            if current is not None and start <= current[1] + 1:
                current[1] = max(current[1], end)
                continue
            if current is not None:
                merged.append({"name": name, "start": current[0], "end": current[1]})
            current = [start, end]
        if current is not None:
            merged.append({"name": name, "start": current[0], "end": current[1]})
    return merged
