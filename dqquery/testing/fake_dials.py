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
  replaces the derived one of the same name. ``FakeDials.from_tables(rows)`` serves given tables as they are
  (the conformance corpus' ``dials/rows.json``).

Decisions (as the real v1.12.0 server answered the same requests, conformance README and issue 9):
* Rows are ordered, and the cursor positioned, by the primary key of the endpoint records of ``dqquery.dials_api``
  (all five fields on ``ml-bad-lumisection``); the ``ml-models-index`` key follows the rows' generation
  (``model_id`` for v1.12.0 rows, ``id`` for the other shape), and so does its filter set.
* ``dataset``/``me``/``logical_file_name`` filters are resolved through the dataset-index, mes and file-index
  tables (the server's method filters), so they work on rows that do not carry the name.
* A cursor that decodes but holds the wrong number of fields is a 500 (the real server fails comparing it); an
  undecodable one is 404 ``Invalid cursor``. A path without its trailing slash is a 301 to the slashed path
  (Django's APPEND_SLASH); ``/api/v1/`` is the API index (200); any method but GET on an endpoint is 405;
  ``mes/<dataset_id>/<run>/`` for a run without lumisections is a 500.
* Derived ``run/`` rows carry the v1.12.0 columns only (no ``ls_completeness``).
* Every other table (th1, th2, file-index, mes, ML) is derived deterministically from the snapshot too
  (:func:`derive_measurements`), so a demo serves a DIALS plan end to end; histograms only for the first
  lumisections of each run, to stay small on the 250,000-lumisection demo.
"""

from __future__ import annotations

import base64
import importlib
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode

from ..dials_api import ENDPOINTS as API
from .fake_rr import SnapshotData
from .server import Request, Response

__all__ = ["FakeDials", "decode_cursor", "derive_tables", "encode_cursor", "generation_of", "ordering"]

def ordering(generation: str = "v1.12.0") -> dict[str, tuple[str, ...]]:
    """Default ordering (composite primary key) of each table; also the retrieve route's keys."""
    return {name: record.key(generation) for name, record in API.items()}


def generation_of(tables: Mapping[str, list[dict[str, Any]]]) -> str:
    """The server generation whose row shape the ``ml-models-index`` table has (v1.12.0 when empty)."""
    rows = tables.get("ml-models-index") or []
    if rows and all("id" in r and "model_id" not in r for r in rows):
        return "2.4.1"
    return "v1.12.0"

MODEL_NAMES = {name: record.model for name, record in API.items()}
"""Endpoint -> the Django model named in its 404 body."""
COUNTABLE = frozenset(name for name, record in API.items() if record.countable)
PAGINATED = frozenset(name for name, record in API.items() if record.paginated)
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


def derive_tables(data: SnapshotData, generation: str = "v1.12.0") -> dict[str, list[dict[str, Any]]]:
    """``run``, ``lumisection`` and ``dataset-index`` rows from a snapshot's lumisections, in the row shape of
    ``generation`` (the 2.4.1 generation's ``run`` rows also carry ``ls_completeness``)."""
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
        runs.append({"dataset_id": ids[name], "run_number": run, "ls_count": count, "dataset": name})
        if generation == "2.4.1":
            runs[-1]["ls_completeness"] = round(len(lss) / count, 6) if count else None
        for ls in sorted(lss):
            lumis.append({"dataset_id": ids[name], "run_number": run, "ls_number": ls,
                          "th1_count": 0, "th2_count": 0, "dataset": name})
    index = []
    for name, dataset_id in ids.items():
        parts = name.strip("/").split("/")
        index.append({"dataset_id": dataset_id, "dataset": name, "era": parts[1] if len(parts) > 1 else "",
                      "data_tier": parts[-1] if parts else "", "primary_ds_name": parts[0] if parts else "",
                      "processed_ds_name": parts[1] if len(parts) > 1 else "", "processing_version": 1,
                      "last_modification_date": "2024-01-01T00:00:00Z"})
    tables = {"run": runs, "lumisection": lumis, "dataset-index": index}
    tables.update(derive_measurements(data, tables))
    return tables


# The monitoring elements of the derived tables: (me_id, name, dim, OMS bit that must be true for entries, RR flag
# whose BAD lumisections an ML model on this ME flags). Names as DIALS serves them (the corpus has the same style).
DERIVED_MES: tuple[tuple[int, str, int, str, str], ...] = (
    (1, "PixelPhase1/Tracks/PXBarrel/charge_PXLayer_1", 1, "bpix_ready", "tracker-pixel"),
    (2, "PixelPhase1/Tracks/PXForward/charge_PXDisk_+1", 1, "fpix_ready", "tracker-pixel"),
    (3, "SiStrip/MechanicalView/TIB/layer_1/NumberOfDigis", 1, "tibtid_ready", "tracker-strip"),
    (4, "CSC/CSCOfflineMonitor/Occupancy/hORecHits", 1, "cscm_ready", "csc-csc"),
    (5, "PixelPhase1/Phase1_MechanicalView/PXBarrel/digi_occupancy_per_SignedModuleCoord_per_SignedLadderCoord_PXLayer_1",
     2, "bpix_ready", "tracker-pixel"),
    (6, "DT/02-Segments/Wheel0/numberOfSegments_W0", 2, "dt0_ready", "dt-dt"),
)
HISTOGRAM_LUMISECTIONS = 10
"""Histograms are derived for the first lumisections of each (run, dataset) only, to keep a big snapshot small."""
ML_MODELS: tuple[tuple[int, int, bool], ...] = ((1, 1, True), (2, 3, True), (3, 5, False), (4, 6, True))
"""(model_id, me_id of its target, active) of the derived ml-models-index."""


def derive_measurements(data: SnapshotData, tables: Mapping[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """``th1``, ``th2``, ``file-index``, ``mes``, ``ml-models-index`` and ``ml-bad-lumisection`` rows derived
    deterministically from a snapshot, in the v1.12.0 row shapes.

    Each (run, dataset) gets one file; its first :data:`HISTOGRAM_LUMISECTIONS` lumisections get one histogram per
    monitoring element of :data:`DERIVED_MES`, whose entries follow the recorded luminosity and are 0 where the
    subdetector's OMS bit is not true. An active ML model flags a lumisection where the RR flag of its
    subdetector is BAD (or its bit is false), with an ``mse`` above 1; the contents come from a generator seeded
    by the row's key, so the same snapshot always gives the same rows.
    """
    import random
    import zlib

    names = {r["dataset_id"]: r["dataset"] for r in tables["dataset-index"]}
    files: list[dict[str, Any]] = []
    th: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    bad: list[dict[str, Any]] = []
    counts: dict[tuple[int, int, int], list[int]] = {}
    entries_per_me: dict[int, int] = {}
    for run_row in tables["run"]:
        dataset_id, run = run_row["dataset_id"], run_row["run_number"]
        name = names[dataset_id]
        parts = name.strip("/").split("/")
        file_id = 1_400_000_000 + dataset_id * 1_000_000 + run % 1_000_000
        digest = f"{zlib.crc32(f'{name}:{run}'.encode()):08X}"
        files.append({
            "dataset_id": dataset_id, "file_id": file_id, "file_size": 50_000_000 + zlib.crc32(digest.encode()) % 900_000_000,
            "creation_date": "2024-06-20T14:48:00", "last_modification_date": "2024-08-03T00:15:00",
            "logical_file_name": f"/store/data/{parts[1] if len(parts) > 1 else 'Run'}/{parts[0]}/DQMIO/"
                                 f"{parts[-1]}/000/{run // 1000:03d}/{run % 1000:03d}/00000/{digest}.root",
            "status": "FINISHED" if run % 7 else "PENDING", "err_trace": "", "dataset": name,
        })
        rr = data.rr_ls.get((run, name)) or {}
        oms = data.oms_ls.get((run, name)) or data.oms_ls.get((run, "online")) or {}
        for ls in sorted(set(rr) | set(oms))[:HISTOGRAM_LUMISECTIONS]:
            bits, flags = oms.get(ls, {}), rr.get(ls, {})
            for me_id, me, dim, bit, flag in DERIVED_MES:
                rng = random.Random(f"{dataset_id}/{run}/{ls}/{me_id}")
                on = bits.get(bit) is True
                scale = float(bits.get("recorded") or 0.0) * 1000 if on else 0.0
                x_bin = 5
                row: dict[str, Any] = {"dataset_id": dataset_id, "file_id": file_id, "run_number": run, "ls_number": ls,
                                       "me_id": me_id, "x_min": 0.0, "x_max": 100.0, "x_bin": x_bin}
                if dim == 1:
                    data_ = [round(scale * rng.uniform(0.5, 1.5), 1) for _ in range(x_bin)]
                else:
                    row.update({"y_min": -1.0, "y_max": 1.0, "y_bin": 3})
                    data_ = [[round(scale * rng.uniform(0.5, 1.5), 1) for _ in range(x_bin)] for _ in range(3)]  # type: ignore[misc]
                flat = data_ if dim == 1 else [v for line in data_ for v in line]  # type: ignore[union-attr]
                row.update({"entries": int(sum(flat)), "data": data_, "dataset": name, "me": me})
                th[dim].append(row)
                entries_per_me[me_id] = entries_per_me.get(me_id, 0) + 1
                counts.setdefault((dataset_id, run, ls), [0, 0])[dim - 1] += 1
                for model_id, target, active in ML_MODELS:
                    status = (flags.get(flag) or {}).get("status") if isinstance(flags.get(flag), Mapping) else flags.get(flag)
                    if target == me_id and active and (status == "BAD" or bits.get(bit) is False):
                        bad.append({"model_id": model_id, "dataset_id": dataset_id, "file_id": file_id, "run_number": run,
                                    "ls_number": ls, "me_id": me_id, "mse": round(1.0 + rng.random(), 6)})
    for lumi in tables["lumisection"]:
        lumi["th1_count"], lumi["th2_count"] = counts.get((lumi["dataset_id"], lumi["run_number"], lumi["ls_number"]), [0, 0])
    mes = [{"me_id": me_id, "me": me, "count": entries_per_me.get(me_id, 0), "dim": dim} for me_id, me, dim, _, _ in DERIVED_MES]
    me_names = {me_id: me for me_id, me, *_ in DERIVED_MES}
    models = [{"model_id": model_id, "filename": f"model_{model_id}_{me_names[target].rsplit('/', 1)[-1]}.onnx",
               "target_me": me_names[target], "active": active} for model_id, target, active in ML_MODELS]
    return {"file-index": files, "th1": th[1], "th2": th[2], "mes": mes, "ml-models-index": models, "ml-bad-lumisection": bad}


class FakeDials:
    """The DIALS API as an app for :class:`~dqquery.testing.server.FakeServer` (mount it at ``/api/v1``).

    ``secrets``: accepted ``X-CLIENT-SECRET`` values. ``require_token``: a ``token -> bool`` check for bearer
    tokens (``None`` accepts any non-empty bearer token). ``workspaces``: known workspace names.
    ``oms``: an app answering ``oms-proxy/`` requests (a :class:`~dqquery.testing.fake_oms.FakeOMS`).
    ``generation``: the server generation to imitate (``"v1.12.0"``, ``"2.4.1"``); default: v1.12.0, or what
    the ``ml-models-index`` rows' shape says.
    """

    def __init__(self, snapshot: Any, *, secrets: set[str] | frozenset[str] = frozenset(),
                 require_token: Callable[[str | None], bool] | None = None, auth: bool = True,
                 workspaces: tuple[str, ...] = ("csc", "ecal", "egamma", "hcal", "jetmet", "muon_staging", "tracker"),
                 oms: Any = None, generation: str | None = None) -> None:
        self.forced_generation = generation
        self._tables_lock = threading.Lock()
        self._tables: dict[str, list[dict[str, Any]]] | None = None  # built on the first request (a year takes seconds)
        if snapshot is None:
            self.data = None
            self._install({})
        else:
            self.data = SnapshotData.of(snapshot)
            self.generation = generation or "v1.12.0"
            self.ordering = ordering(self.generation)
        self.secrets = frozenset(secrets)
        self.require_token = require_token
        self.auth = auth
        self.workspaces = workspaces
        self.oms = oms

    @classmethod
    def from_tables(cls, tables: Mapping[str, list[dict[str, Any]]], **kwargs: Any) -> FakeDials:
        """A fake serving exactly these rows (``{endpoint: [row, ...]}``, e.g. the corpus' ``dials/rows.json``)."""
        fake = cls(None, **kwargs)
        fake._install({name: [dict(r) for r in rows] for name, rows in tables.items()})
        return fake

    @property
    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """The DIALS tables, derived from the snapshot on first use (so that a server starts at once)."""
        with self._tables_lock:
            if self._tables is None:
                assert self.data is not None
                tables = derive_tables(self.data, self.forced_generation or "v1.12.0")
                for name, rows in (self.data.extra.get("dials") or {}).items():
                    tables[name] = [dict(r) for r in rows]
                self._install(tables)
            assert self._tables is not None
            return self._tables

    @property
    def dimensions(self) -> dict[str, dict[Any, Any]]:
        """Names the server resolves through the dimension tables (``dataset``, ``me``, ``logical_file_name``)."""
        self.tables  # noqa: B018 (builds the tables, and with them the dimensions)
        return self._dimensions

    def _install(self, tables: dict[str, list[dict[str, Any]]]) -> None:
        self.generation = self.forced_generation or generation_of(tables)
        self.ordering = ordering(self.generation)
        for name, order in self.ordering.items():
            tables.setdefault(name, [])
            tables[name].sort(key=lambda r, o=order: tuple(r.get(f) for f in o))  # type: ignore[misc]
        self._dimensions = {
            "dataset": {r.get("dataset_id"): r.get("dataset") for r in tables["dataset-index"]},
            "me": {r.get("me_id"): r.get("me") for r in tables["mes"]},
            "logical_file_name": {r.get("file_id"): r.get("logical_file_name") for r in tables["file-index"]},
        }
        self._tables = tables

    # ---- entry point

    def handle(self, request: Request) -> Response:
        denied = self._authenticate(request)
        if denied is not None:
            return denied
        parts = [p for p in request.path.split("/") if p]
        if not parts:
            return Response.json({name: f"{request.base_url}{request.mount}/{name}/" for name in self.ordering})
        if not request.path.endswith("/"):  # Django's APPEND_SLASH (the real server answers 301)
            query = ("?" + urlencode(request.query)) if request.query else ""
            return Response(301, b"", {"Location": f"{request.base_url}{request.mount}{request.path}/{query}"})
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
        if endpoint not in self.ordering:
            return Response(404, b"<h1>Not Found</h1>", {"Content-Type": "text/html"})
        if request.method != "GET":
            return Response.json({"detail": f'Method "{request.method}" not allowed.'}, 405)
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
        if endpoint not in PAGINATED:  # mes/: a bare array
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
            rows = emulate.apply_dials_filters(endpoint, params, self.tables[endpoint], generation=self.generation,
                                               dimensions=self.dimensions)
        except emulate.DialsBadRequest as exc:
            return Response.json(_bad_request_body(exc), 400)
        except emulate.DialsServerError as exc:
            return _server_error(str(exc))
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
            except ValueError:
                return Response.json({"detail": "Invalid cursor"}, 404)
            if len(position) != len(order):  # the real server fails comparing the key with the position
                return _server_error(f"the cursor holds {len(position)} field(s), the {endpoint} key {len(order)}")
            try:
                typed = _typed(position, keyed[0][0]) if keyed else ()
            except ValueError:
                return _server_error("a cursor field does not fit its key column")
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
        if not any(str(r.get("dataset_id")) == dataset_id and str(r.get("run_number")) == run for r in self.tables["lumisection"]):
            return _server_error(f"no lumisection of dataset {dataset_id}, run {run}")
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


def _server_error(reason: str) -> Response:
    """Django's HTML 500 page (the reason is a comment, for whoever reads the fake's answer)."""
    return Response(500, f"<h1>Server Error (500)</h1><!-- {reason} -->".encode(), {"Content-Type": "text/html"})


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
