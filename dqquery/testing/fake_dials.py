"""A fake DIALS API (``/api/v1/``) serving rows derived from a snapshot.

Decisions (reference: dials-and-oms.md sections 1, 2 and 8):
* The DIALS tables are derived from the snapshot on the first request, not in the constructor: a year of
  data takes seconds to derive, and ``dqquery serve`` must start at once.
* Filtering is delegated to :mod:`dqquery.emulate.dials` (``apply_dials_filters(endpoint, params, rows)``),
  which knows each endpoint's declared filters (undeclared ones are silently ignored, CSV ``__in``, boolean
  widget, regex). Its ``DialsBadRequest`` becomes HTTP 400 with the per-field error dict.
* This module does transport: routes with trailing slashes, cursor pagination (``next_token`` =
  base64 of ``p=<quoted JSON list of strings>``, strictly-after semantics on the composite primary key,
  ``page_size`` default 10, capped at 500, garbage -> 10), absolute ``next``/``previous`` URLs with sorted
  query parameters, ``fields`` projection, ``mes/`` unpaginated, ``count/`` and retrieve routes.
* Auth as the backend: ``X-CLIENT-SECRET`` is checked first, then ``Authorization: Bearer``; failures are 403
  with DIALS' bodies; an unknown ``Workspace`` is 404. ``auth=False`` turns checking off.
* Data: ``run/`` and ``lumisection/`` rows are derived per (run, dataset) from the snapshot's lumisection
  ranges (every dataset except ``online``, which DIALS does not have); dataset ids are assigned in name
  order from 1. A snapshot may add explicit tables under the extra key ``dials``
  (``{"th1": [...], "th2": [...], "mes": [...], "file-index": [...], "run": [...], ...}``); an explicit table
  replaces the derived one of the same name.
"""

from __future__ import annotations

import base64
import importlib
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode

from .fake_rr import SnapshotData
from .server import Request, Response

__all__ = ["FakeDials", "decode_cursor", "encode_cursor", "ordering"]

def ordering() -> dict[str, tuple[str, ...]]:
    """Default ordering (composite primary key) of each table, from the emulator; also the retrieve route's keys."""
    return dict(_emulator().DEFAULT_ORDERING)

COUNTABLE = frozenset({"run", "lumisection", "file-index"})
MODEL_NAMES = {"run": "Run", "lumisection": "Lumisection", "th1": "LumisectionHistogram1D",
               "th2": "LumisectionHistogram2D", "file-index": "FileIndex", "dataset-index": "DatasetIndex",
               "ml-bad-lumisection": "MLBadLumisection", "ml-models-index": "MLModelsIndex", "mes": "MonitoringElement"}
CONTROL_PARAMS = frozenset({"next_token", "page_size", "fields", "order_by"})


def encode_cursor(position: list[Any], reverse: bool = False) -> str:
    """DRF's cursor: base64 of ``[r=1&]p=<urlquoted JSON list of strings>``."""
    query = ("r=1&" if reverse else "") + "p=" + quote_plus(json.dumps([str(v) for v in position]))
    return base64.b64encode(query.encode("ascii")).decode("ascii")


def decode_cursor(token: str) -> tuple[list[str], bool]:
    """(position strings, reverse); ``ValueError`` for a malformed token."""
    try:
        text = base64.b64decode(token.encode("ascii"), validate=True).decode("ascii")
        fields = dict(parse_qsl(text, keep_blank_values=True))
        position = json.loads(fields["p"])
        if not isinstance(position, list):
            raise ValueError("position is not a list")
        return [str(v) for v in position], fields.get("r") == "1"
    except Exception as exc:  # noqa: BLE001  # any malformed cursor is "Invalid cursor"
        raise ValueError(str(exc)) from None


def _emulator() -> Any:
    return importlib.import_module("dqquery.emulate.dials")


def derive_tables(data: SnapshotData) -> dict[str, list[dict[str, Any]]]:
    """``run``, ``lumisection`` and ``dataset-index`` rows from a snapshot's lumisections."""
    per_dataset: dict[tuple[int, str], set[int]] = {}
    for key in set(data.rr_ls) | set(data.oms_ls):
        if key[1] == "online":
            continue
        per_dataset[key] = set(data.rr_ls.get(key, {})) | set(data.oms_ls.get(key, {}))
    names = sorted({name for _, name in per_dataset} | {d["name"] for d in data.datasets if d["name"] != "online"})
    ids = {name: i for i, name in enumerate(names, start=1)}
    runs, lumis = [], []
    for (run, name), lss in sorted(per_dataset.items(), key=lambda kv: (ids[kv[0][1]], kv[0][0])):
        count = max(lss) if lss else 0
        runs.append({"dataset_id": ids[name], "dataset": name, "run_number": run, "ls_count": count,
                     "ls_completeness": round(len(lss) / count, 6) if count else None})
        for ls in sorted(lss):
            lumis.append({"dataset_id": ids[name], "dataset": name, "run_number": run, "ls_number": ls,
                          "th1_count": 0, "th2_count": 0})
    index = []
    for name, dataset_id in ids.items():
        parts = name.strip("/").split("/")
        index.append({"dataset_id": dataset_id, "dataset": name, "era": parts[1] if len(parts) > 1 else "",
                      "data_tier": parts[-1] if parts else "", "primary_ds_name": parts[0] if parts else "",
                      "processed_ds_name": parts[1] if len(parts) > 1 else "", "processing_version": 1,
                      "last_modification_date": "2024-01-01T00:00:00Z"})
    return {"run": runs, "lumisection": lumis, "dataset-index": index}


class FakeDials:
    """The DIALS API as an app for :class:`~dqquery.testing.server.FakeServer` (mount it at ``/api/v1``).

    ``secrets``: accepted ``X-CLIENT-SECRET`` values. ``require_token``: a ``token -> bool`` check for bearer
    tokens (``None`` accepts any non-empty bearer token). ``workspaces``: known workspace names.
    ``oms``: an app answering ``oms-proxy/`` requests (a :class:`~dqquery.testing.fake_oms.FakeOMS`).
    """

    def __init__(self, snapshot: Any, *, secrets: set[str] | frozenset[str] = frozenset(),
                 require_token: Callable[[str | None], bool] | None = None, auth: bool = True,
                 workspaces: tuple[str, ...] = ("csc", "ecal", "egamma", "hcal", "jetmet", "muon_staging", "tracker"),
                 oms: Any = None) -> None:
        self.data = SnapshotData.of(snapshot)
        self.ordering = ordering()
        self._tables: dict[str, list[dict[str, Any]]] | None = None  # built on the first request (a year takes seconds)
        self._tables_lock = threading.Lock()
        self.secrets = frozenset(secrets)
        self.require_token = require_token
        self.auth = auth
        self.workspaces = workspaces
        self.oms = oms

    @property
    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """The DIALS tables, derived from the snapshot on first use (so that a server starts at once)."""
        with self._tables_lock:
            if self._tables is None:
                tables = derive_tables(self.data)
                for name, rows in (self.data.extra.get("dials") or {}).items():
                    tables[name] = [dict(r) for r in rows]
                for name, order in self.ordering.items():
                    tables.setdefault(name, [])
                    tables[name].sort(key=lambda r, o=order: tuple(r.get(f) for f in o))  # type: ignore[misc]
                self._tables = tables
            return self._tables

    # ---- entry point

    def handle(self, request: Request) -> Response:
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        parts = [p for p in request.path.split("/") if p]
        if not request.path.endswith("/") or not parts:
            return Response(404, b"<h1>Not Found</h1>", {"Content-Type": "text/html"})
        endpoint, rest = parts[0], parts[1:]
        if endpoint == "oms-proxy" and not rest:
            return self._oms_proxy(request)
        if endpoint in ("workspaces",):
            if rest == ["my-default"]:
                return Response.json({"workspace": "tracker"})
            return Response.json({"workspaces": list(self.workspaces)})
        workspace = request.headers.get("workspace")
        if workspace is not None and workspace not in self.workspaces:
            return Response.json({"detail": f"Workspace '{workspace}' not found"}, 404)
        if endpoint not in self.ordering or request.method != "GET":
            return Response(404, b"<h1>Not Found</h1>", {"Content-Type": "text/html"})
        if rest == ["count"] and endpoint in COUNTABLE:
            filtered = self._filtered(endpoint, request)
            return filtered if isinstance(filtered, Response) else Response.json({"count": len(filtered)})
        if endpoint == "mes" and len(rest) == 2:
            return self._mes_of_run(rest)
        if rest:
            return self._retrieve(endpoint, rest)
        filtered = self._filtered(endpoint, request)
        if isinstance(filtered, Response):
            return filtered
        if endpoint == "mes":  # not paginated: a bare array
            return Response.json(self._project(filtered, request))
        return self._paginate(endpoint, filtered, request)

    # ---- auth

    def _authenticate(self, request: Request) -> Response | None:
        if not self.auth:
            return None
        secret = request.headers.get("x-client-secret")
        if secret is not None:
            if secret in self.secrets:
                return None
            return Response.json({"detail": "Token is invalid or expired", "code": "token_not_valid"}, 403)
        if "authorization" not in request.headers:
            return Response.json({"detail": "Authorization header not found.", "code": "authorization_not_found"}, 403)
        token = request.bearer()
        if token and (self.require_token is None or self.require_token(token)):
            return None
        return Response.json({"detail": "Token is invalid or expired", "code": "token_not_valid"}, 403)

    # ---- listing

    def _filtered(self, endpoint: str, request: Request) -> list[dict[str, Any]] | Response:
        params = {k: v for k, v in request.params().items() if k not in CONTROL_PARAMS}
        emulate = _emulator()
        try:
            rows = emulate.apply_dials_filters(endpoint, params, self.tables[endpoint])
        except emulate.DialsBadRequest as exc:
            return Response.json(_bad_request_body(exc), 400)
        except emulate.DialsServerError as exc:
            return Response(500, f"<h1>Server Error (500)</h1><!-- {exc} -->".encode(), {"Content-Type": "text/html"})
        return list(rows)

    def _project(self, rows: list[dict[str, Any]], request: Request) -> list[dict[str, Any]]:
        fields = request.param("fields")
        if not fields:
            return rows
        wanted = [f for f in fields.split(",") if f]
        return [{k: row[k] for k in wanted if k in row} for row in rows]

    def _paginate(self, endpoint: str, rows: list[dict[str, Any]], request: Request) -> Response:
        order = self.ordering[endpoint]
        size = _emulator().effective_page_size(request.param("page_size"))
        token = request.param("next_token")
        keyed = [(tuple(r.get(f) for f in order), r) for r in rows]
        keyed.sort(key=lambda kr: kr[0])
        if token:
            try:
                position, reverse = decode_cursor(token)
                if len(position) != len(order):
                    raise ValueError("wrong position length")
                typed = _typed(position, keyed[0][0]) if keyed else ()
            except ValueError:
                return Response.json({"detail": "Invalid cursor"}, 404)
            if reverse:
                before = [kr for kr in keyed if kr[0] < typed]
                page = before[-size:]
                has_next, has_previous = True, len(before) > size
            else:
                after = [kr for kr in keyed if kr[0] > typed]
                page = after[:size]
                has_next, has_previous = len(after) > size, True
        else:
            page = keyed[:size]
            has_next, has_previous = len(keyed) > size, False
        base = request.base_url + request.mount + request.path
        others = [(k, v) for k, v in request.params().items() if k != "next_token"]

        def link(position: tuple[Any, ...], reverse: bool) -> str:
            query = sorted(others + [("next_token", encode_cursor(list(position), reverse))])
            return base + "?" + urlencode(query)

        body = {
            "next": link(page[-1][0], False) if has_next and page else None,
            "previous": link(page[0][0], True) if has_previous and page else None,
            "results": self._project([r for _, r in page], request),
        }
        return Response.json(body)

    def _retrieve(self, endpoint: str, rest: list[str]) -> Response:
        order = self.ordering[endpoint]
        if len(rest) != len(order):
            return Response(404, b"<h1>Not Found</h1>", {"Content-Type": "text/html"})
        for row in self.tables[endpoint]:
            if [str(row.get(f)) for f in order] == rest:
                return Response.json(row)
        return Response.json({"detail": f"No {MODEL_NAMES[endpoint]} matches the given query."}, 404)

    def _mes_of_run(self, rest: list[str]) -> Response:
        dataset_id, run = rest
        me_ids = {r.get("me_id") for t in ("th1", "th2") for r in self.tables[t]
                  if str(r.get("dataset_id")) == dataset_id and str(r.get("run_number")) == run}
        return Response.json([{"me_id": m["me_id"], "me": m["me"], "dim": m.get("dim")}
                              for m in self.tables["mes"] if m.get("me_id") in me_ids])

    def _oms_proxy(self, request: Request) -> Response:
        if self.oms is None:
            return Response.json({"detail": "OMS proxy not configured"}, 502)
        params = [(k, v) for k, v in request.query if k != "endpoint"]
        endpoint = request.param("endpoint") or ""
        forwarded = Request("GET", "/" + endpoint, params, {}, b"", request.base_url, mount=request.mount + "/oms-proxy")
        return self.oms.handle(forwarded)  # type: ignore[no-any-return]


def _bad_request_body(exc: Exception) -> Any:
    for attr in ("errors", "body", "detail"):
        value = getattr(exc, attr, None)
        if isinstance(value, Mapping):
            return dict(value)
    if exc.args and isinstance(exc.args[0], Mapping):
        return dict(exc.args[0])
    return {"detail": str(exc)}


def _typed(position: list[str], key: tuple[Any, ...]) -> tuple[Any, ...]:
    out = []
    for text, value in zip(position, key):
        if isinstance(value, bool):
            out.append(text == "True")
        elif isinstance(value, int):
            out.append(int(float(text)))
        elif isinstance(value, float):
            out.append(float(text))
        else:
            out.append(text)
    return tuple(out)
