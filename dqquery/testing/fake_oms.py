"""A fake CMS OMS aggregation API (``/agg/api/v1/``): ``runs`` and ``lumisections`` from a snapshot.

Decisions (reference: dials-and-oms.md section 5):
* The OMS tables are derived from the snapshot on the first request, not in the constructor: a year of
  data takes seconds to derive, and ``dqquery serve`` must start at once.
* Filtering, sorting, paging (``page[offset]``, ``page[limit]`` default 100), ``fields`` projection and the
  JSON:API framing (``data[{id,type,attributes,links}]``, ``links``, ``meta.totalResourceCount``) are
  delegated to :mod:`dqquery.emulate.oms` (``jsonapi_body``): one implementation of each rule. This module
  builds the rows and does HTTP.
* Rows: ``runs`` are the snapshot runs' ``oms_attributes`` (plus ``run_number``); ``lumisections`` are the
  online dataset's OMS lumisection ranges expanded per lumisection, with RR's ``recorded``/``delivered``
  renamed to OMS' ``recorded_lumi_per_lumisection``/``delivered_lumi_per_lumisection``. A snapshot may give
  explicit rows under the extra key ``oms`` (``{"runs": [...], "lumisections": [...]}``).
* Errors: an invalid filter is HTTP 400 ``{"errors": [{"status": "400", "title": ..., "detail": ...}]}``;
  ``require_token`` makes a bearer token mandatory (401 otherwise).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

from .fake_rr import SnapshotData
from .server import Request, Response

__all__ = ["FakeOMS", "derive_oms_rows"]

RENAMED = {"recorded": "recorded_lumi_per_lumisection", "delivered": "delivered_lumi_per_lumisection"}


def _emulator() -> Any:
    return importlib.import_module("dqquery.emulate.oms")


def derive_oms_rows(data: SnapshotData) -> dict[str, list[dict[str, Any]]]:
    """OMS ``runs`` and ``lumisections`` rows (attributes only) from a snapshot."""
    runs = [{**run["oms_attributes"], "run_number": number} for number, run in sorted(data.runs.items())]
    lumis = []
    for (run, name), rows in sorted(data.oms_ls.items()):
        if name != "online":
            continue
        run_attributes = data.runs[run]["oms_attributes"] if run in data.runs else {}
        fill = {"fill_number": run_attributes["fill_number"]} if "fill_number" in run_attributes else {}  # as OMS
        for ls in sorted(rows):
            attrs = {RENAMED.get(k, k): v for k, v in rows[ls].items()}
            lumis.append({"run_number": run, "lumisection_number": ls, **fill, **attrs})
    return {"runs": runs, "lumisections": lumis}


class FakeOMS:
    """The OMS aggregation API as an app (mount it at ``/agg/api/v1``)."""

    def __init__(self, snapshot: Any, require_token: Callable[[str | None], bool] | None = None) -> None:
        self.data = SnapshotData.of(snapshot)
        self._tables: dict[str, list[dict[str, Any]]] | None = None  # built on the first request (a year takes seconds)
        self._tables_lock = threading.Lock()
        self.require_token = require_token

    @property
    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """The OMS tables, derived from the snapshot on first use (so that a server starts at once)."""
        with self._tables_lock:
            if self._tables is None:
                tables = derive_oms_rows(self.data)
                for name, rows in (self.data.extra.get("oms") or {}).items():
                    tables[name] = [dict(r) for r in rows]
                self._tables = tables
            return self._tables

    def handle(self, request: Request) -> Response:
        if self.require_token is not None and not self.require_token(request.bearer()):
            return Response.json({"errors": [{"status": "401", "title": "Unauthorized"}]}, 401)
        parts = [p for p in request.path.split("/") if p]
        if not parts or parts[0] not in self.tables:
            return _error(404, "Not Found", f"unknown resource {request.path}")
        resource = parts[0]
        if parts[1:] == ["meta"]:
            keys = sorted({k for row in self.tables[resource] for k in row})
            return Response.json({"meta": {"fields": {k: {"title": k, "type": "unknown"} for k in keys}}})
        if len(parts) != 1 or request.method != "GET":
            return _error(404, "Not Found", request.path)
        params: dict[str, Any] = {}
        for key, value in request.query:  # a repeated key keeps all its values (the emulator ANDs them)
            params[key] = [*params[key], value] if isinstance(params.get(key), list) else (
                [params[key], value] if key in params else value)
        emulate = _emulator()
        try:
            body = emulate.jsonapi_body(resource, params, self.tables[resource],
                                        base_url=request.base_url + request.mount)
        except ValueError as exc:  # OmsBadRequest
            return _error(400, "Bad Request", str(exc))
        return Response.json(body)


def _error(status: int, title: str, detail: str) -> Response:
    return Response.json({"errors": [{"status": str(status), "title": title, "detail": detail}]}, status)
