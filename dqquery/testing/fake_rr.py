"""A fake Run Registry backend serving a :class:`~dqquery.snapshot.Snapshot` over HTTP.

Routes are at the ROOT, as the real backend's (``http://localhost:9500`` for the official client's
``ENVIRONMENT=local``); the ``/api`` prefix of production belongs to the SSO proxy.

Decisions:
* Filtering is delegated to :mod:`dqquery.emulate.runregistry` (``select_runs`` / ``select_datasets``), the one
  interpreter of RR's backend filter semantics (traps included). This module only builds the backend's row
  objects from the snapshot, pages, sorts and frames answers. An error raised by the emulator becomes
  HTTP 500 ``{"err": message}`` like every error of the real backend.
* Row objects have the real shapes (reference: run-registry.md 3.4-3.6): runs carry
  ``DatasetTripletCache.triplet_summary`` of their online dataset; datasets carry ``Run`` and
  ``DatasetTripletCache`` (``triplet_summary`` and ``dcs_summary``). The summaries are RR's
  (:func:`dqquery.emulate.runregistry.triplet_summary_of` / ``dcs_summary_of``): over the lumisections where the
  dataset has both RR data and OMS data of its own, with online's OMS values under a non-online dataset's own
  (key by key). A run without an online dataset has no cache row and is left out of run listings.
* Listings answer as the recorded real backend (``tests/data/conformance``, README R4): ``run_number`` DESC,
  then dataset ``name`` (so ``/...`` before ``online``); ``count``/``pages``; a body without ``page`` or
  ``page_size`` is HTTP 500 ``{"err": "column \"nan\" does not exist"}``. ``get_all_dataset_names_of_run``
  lists ``online`` first, then the others by name (the creation order of a loaded snapshot), ``[]`` for an
  unknown run.
* The JSON portal evaluates the submitted json-logic per lumisection on RR's evaluated object
  (``format_lumisection``) with a json-logic library (``dqquery.jsonlogic_engine.apply_rule`` when present,
  else ``json_logic_qubit``), NOT with dqquery's evaluator, so that comparing the two is a real test. A
  lumisection exists for the portal only if it has both an RR and an OMS lumisection (the backend's INNER
  JOIN; see below for datasets other than online); pass/fail is JavaScript truthiness; ranges are built
  exactly as ``golden-json-helpers`` does (no sort, no de-duplication), datasets in ascending run order.
* Lumisection endpoints follow the answers recorded from the real RR (``tests/data/conformance``): for a
  dataset other than ``online`` the OMS answers merge online's lumisections under the dataset's own (R1);
  ``rr_lumisections`` fills gaps and flag-less events with ``EMPTY`` alike (R2); by-component ranges count
  positions among RR events, one range per flag-less position (R4); only the OMS keys RR stores are served
  (R3); a request without ``dataset_name`` is a 500. The portal evaluates only lumisections with an RR event
  and OMS data of the dataset's own, with the merged values (D3). The history endpoints serve one event per
  snapshot range.
* Polling a portal job answers 203 (waiting), then 202 ``{"progress": p}``, then 200 ``{"final_json": row}``;
  the number of polls before completion is configurable (``portal_polls``).
"""

from __future__ import annotations

import datetime as _dt
import importlib
import itertools
import json
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from ..catalog import RR_STORED_OMS_LUMISECTION_NAMES
from ..patterns import similar_to_regex
from .server import Request, Response, json_error

__all__ = ["FakeRunRegistry", "SnapshotData", "js_truthy", "ranges_of_list", "similar_to_regex"]

OMS_LUMISECTION_WHITELIST: tuple[str, ...] = tuple(n for n in RR_STORED_OMS_LUMISECTION_NAMES if n not in ("recorded", "delivered"))
"""OMS lumisection keys RR keeps for ``oms_lumisection_ranges`` (luminosity excluded: run-registry.md 3.6)."""

STORED_OMS_KEYS = frozenset(RR_STORED_OMS_LUMISECTION_NAMES)
"""OMS lumisection keys RR writes (rule R3 of the recorded answers): any other key is dropped on writing."""

EMPTY_TRIPLET = {"status": "EMPTY", "comment": "", "cause": ""}
NO_OMS_DATA = {"err": "No data available for this lumisection"}


# ------------------------------------------------------------------------------------------ snapshot data


def _as_plain(snapshot: Any) -> dict[str, Any]:
    if isinstance(snapshot, Mapping):
        return dict(snapshot)
    if hasattr(snapshot, "to_dict"):
        return snapshot.to_dict()  # type: ignore[no-any-return]
    if hasattr(snapshot, "model_dump"):
        return snapshot.model_dump(mode="json")
    raise TypeError(f"expected a Snapshot or a mapping, not {type(snapshot).__name__}")


def _triplet(value: Any) -> dict[str, Any]:
    """A stored RR flag as a triplet (snapshots may keep just the status string)."""
    if isinstance(value, Mapping):
        return {"status": value.get("status"), "comment": value.get("comment") or "", "cause": value.get("cause") or ""}
    return {"status": value, "comment": "", "cause": ""}


def expand_ranges(ranges: Iterable[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    """``[{..., "start": s, "end": e}]`` -> ``{ls: {...}}`` (a later range overrides an earlier one)."""
    out: dict[int, dict[str, Any]] = {}
    for rng in ranges:
        content = {k: v for k, v in rng.items() if k not in ("start", "end")}
        for ls in range(int(rng["start"]), int(rng["end"]) + 1):
            out[ls] = dict(content)
    return out


def _expand_rr(data: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    return {ls: {c: _triplet(v) for c, v in row.items()} for ls, row in expand_ranges(data.get("rr") or []).items()}


def _expand_oms(data: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    oms = expand_ranges(data.get("oms") or [])
    block = data.get("luminosity") or {}
    for offset_key in ("recorded", "delivered"):  # the compact per-LS luminosity block wins; its null removes the key
        for i, value in enumerate(block.get(offset_key) or []):
            ls = int(block["start"]) + i
            if ls in oms and value is not None:
                oms[ls][offset_key] = value
            elif ls in oms:
                oms[ls].pop(offset_key, None)
    return oms


def _own_oms_ranges(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The (run, dataset)'s OMS ranges sorted by start, for the summaries. With a luminosity block, a range is
    split where a block key changes between set, null (the key removed) and not covered (the range's value);
    a split keeps the first set value, since the summaries count a number nowhere (only its presence)."""
    ranges = sorted((dict(r) for r in data.get("oms") or []), key=lambda r: int(r["start"]))
    block = data.get("luminosity") or {}
    lists = {k: block.get(k) for k in ("recorded", "delivered") if block.get(k)}
    if not lists:
        return ranges
    first = int(block["start"])

    def state(ls: int) -> tuple[tuple[str, Any], ...]:
        out = []
        for key, values in lists.items():
            i = ls - first
            covered = 0 <= i < len(values)
            out.append((key, "range" if not covered else ("null" if values[i] is None else "set")))
        return tuple(out)

    split: list[dict[str, Any]] = []
    for rng in ranges:
        for kinds, group in itertools.groupby(range(int(rng["start"]), int(rng["end"]) + 1), key=state):
            lumisections = list(group)
            piece = {**rng, "start": lumisections[0], "end": lumisections[-1]}
            for key, kind in kinds:
                if kind == "null":
                    piece.pop(key, None)
                elif kind == "set":
                    piece[key] = lists[key][lumisections[0] - first]
            split.append(piece)
    return split


def _overlay_ranges(base: list[dict[str, Any]], top: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``top``'s sorted disjoint ranges, each lumisection's values laid over ``base``'s (key by key, ``top`` wins);
    the coverage is ``top``'s only. Pieces are split where ``base`` ranges begin or end."""
    out: list[dict[str, Any]] = []
    j = 0
    for rng in top:
        start, end = int(rng["start"]), int(rng["end"])
        values = {k: v for k, v in rng.items() if k not in ("start", "end")}
        while j < len(base) and int(base[j]["end"]) < start:
            j += 1
        k, at = j, start
        while at <= end:
            if k < len(base) and int(base[k]["start"]) <= at:
                stop = min(end, int(base[k]["end"]))
                under = {key: v for key, v in base[k].items() if key not in ("start", "end")}
                out.append({**under, **values, "start": at, "end": stop})
                k += 1
            else:
                stop = end if k >= len(base) else min(end, int(base[k]["start"]) - 1)
                out.append({**values, "start": at, "end": stop})
            at = stop + 1
    return out


class LazyLumisections(Mapping[tuple[int, str], dict[int, dict[str, Any]]]):
    """``(run, dataset) -> {ls: row}`` expanded from the snapshot's ranges on first use; the most recently
    used expansions are kept (thread-safe: the fake servers are threaded). Callers must not modify a row."""

    KEEP = 64

    def __init__(self, sources: Mapping[tuple[int, str], Mapping[str, Any]],
                 expand: Callable[[Mapping[str, Any]], dict[int, dict[str, Any]]]) -> None:
        self._sources = dict(sources)
        self._expand = expand
        self._cache: dict[tuple[int, str], dict[int, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def __getitem__(self, key: tuple[int, str]) -> dict[int, dict[str, Any]]:
        with self._lock:
            hit = self._cache.pop(key, None)
            if hit is not None:
                self._cache[key] = hit  # most recent last
                return hit
        value = self._expand(self._sources[key])  # KeyError for an unknown key, as a dict
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > self.KEEP:
                del self._cache[next(iter(self._cache))]
        return value

    def __contains__(self, key: object) -> bool:
        return key in self._sources

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)


def ranges_of_list(items: list[Any]) -> list[dict[str, Any]]:
    """RR's ``getLumisectionRanges``: merge consecutive deep-equal items; start/end are 1-based positions."""
    out: list[dict[str, Any]] = []
    for index, item in enumerate(items, start=1):
        if out and _same({k: v for k, v in out[-1].items() if k not in ("start", "end")}, item):
            out[-1]["end"] = index
        else:
            out.append({**item, "start": index, "end": index})
    return out


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


class SnapshotData:
    """The snapshot, normalised to the backend's tables, with the lumisections expanded per LS.

    Accepts a :class:`~dqquery.snapshot.Snapshot` or a plain mapping with ``runs`` (list, or mapping by run),
    ``datasets`` (list), ``lumisections[run][dataset] = {"rr": [ranges], "oms": [ranges]}`` and optional
    ``dials`` tables. Runs may use ``oms_attributes``/``rr_attributes`` or ``oms``/``rr`` keys; datasets
    ``dataset_attributes`` or ``attributes``.
    """

    @classmethod
    def of(cls, snapshot: Any) -> SnapshotData:
        """``snapshot`` normalised, or itself when it already is (the fakes of one server share one copy)."""
        return snapshot if isinstance(snapshot, SnapshotData) else cls(snapshot)

    def __init__(self, snapshot: Any) -> None:
        plain = _as_plain(snapshot)
        self.extra = plain
        runs = plain.get("runs") or []
        if isinstance(runs, Mapping):
            runs = list(runs.values())
        self.runs: dict[int, dict[str, Any]] = {}
        for run in runs:
            number = int(run["run_number"])
            self.runs[number] = {
                "run_number": number,
                "oms_attributes": dict(run.get("oms_attributes", run.get("oms")) or {}),
                "rr_attributes": dict(run.get("rr_attributes", run.get("rr")) or {}),
            }
        self.datasets: list[dict[str, Any]] = []
        for ds in plain.get("datasets") or []:
            attrs = dict(ds.get("dataset_attributes", ds.get("attributes")) or {})
            self.datasets.append(
                {
                    "run_number": int(ds["run_number"]),
                    "name": ds["name"],
                    "dataset_attributes": attrs,
                    "datasets_in_gui": list(ds.get("datasets_in_gui") or []),
                }
            )
        # (run, dataset) -> {ls: {comp: triplet}} and {ls: {bit: value}}, expanded per lumisection only when a
        # request needs that (run, dataset): a year expanded at once takes gigabytes.
        sources = {
            (int(run_key), name): data
            for run_key, by_dataset in (plain.get("lumisections") or {}).items()
            for name, data in (by_dataset or {}).items()
        }
        self.sources = sources
        self.rr_ls: Mapping[tuple[int, str], dict[int, dict[str, Any]]] = LazyLumisections(sources, _expand_rr)
        self.oms_ls: Mapping[tuple[int, str], dict[int, dict[str, Any]]] = LazyLumisections(sources, _expand_oms)
        known = {(d["run_number"], d["name"]) for d in self.datasets}
        for run, name in sorted(set(self.rr_ls) | set(self.oms_ls)):
            if (run, name) not in known and run in self.runs:
                self.datasets.append({"run_number": run, "name": name, "dataset_attributes": {}, "datasets_in_gui": []})
        self.datasets.sort(key=lambda d: (d["run_number"], d["name"]))

    # ---- per-lumisection views (what RR's SQL views return)

    def rr_lumisections(self, run: int, name: str) -> list[dict[str, Any]]:
        """Dense list (index i = LS i+1) with EMPTY triplets for missing components and gap lumisections."""
        rows = self.rr_ls.get((run, name)) or {}
        if not rows:
            return []
        components = sorted({c for row in rows.values() for c in row})
        return [
            {c: dict(rows.get(ls, {}).get(c, EMPTY_TRIPLET)) for c in components}
            for ls in range(1, max(rows) + 1)
        ]

    def oms_lumisections(self, run: int, name: str) -> list[dict[str, Any]]:
        """Dense list of OMS lumisections as RR's ``oms_lumisections`` serves it (rule R1 of the recorded answers).

        For a dataset other than ``online``: every lumisection that online or the dataset has, values merged key
        by key (the dataset's own value wins, even a null); a dataset name the run lacks gets online's alone.
        Only the keys RR stores (:data:`STORED_OMS_KEYS`) are served; a lumisection without data is ``err``.
        """
        rows = self.merged_oms_rows(run, name)
        if not rows:
            return []
        return [dict(rows.get(ls, NO_OMS_DATA)) for ls in range(1, max(rows) + 1)]

    def joint_pieces(self, run: int, name: str) -> list[tuple[int, int, Mapping[str, Any], Mapping[str, Any]]]:
        """RR's ``AggregatedLumisection`` view of the (run, dataset): its lumisections with an RR event and an OMS
        event of the dataset itself (inner join), as ``(first, last, flags, oms)`` pieces; what the summaries count."""
        source = self.sources.get((run, name)) or {}
        rr_ranges = [{**r, **{c: _triplet(v) for c, v in r.items() if c not in ("start", "end")}} for r in source.get("rr") or []]
        oms_ranges = _own_oms_ranges(source)
        if name != "online":  # R1/D3: online's values under the dataset's own, on the dataset's own lumisections
            oms_ranges = _overlay_ranges(_own_oms_ranges(self.sources.get((run, "online")) or {}), oms_ranges)
        return _emulator().joint_pieces(rr_ranges, oms_ranges)  # type: ignore[no-any-return]

    def merged_oms_rows(self, run: int, name: str) -> dict[int, dict[str, Any]]:
        """``{ls: stored OMS values}`` of :meth:`oms_lumisections` (online's under the dataset's own)."""
        online = self.oms_ls.get((run, "online")) or {}
        own = (self.oms_ls.get((run, name)) or {}) if name != "online" else {}
        out: dict[int, dict[str, Any]] = {}
        for ls in sorted(set(online) | set(own)):
            merged = {**online.get(ls, {}), **own.get(ls, {})}
            out[ls] = {k: v for k, v in merged.items() if k in STORED_OMS_KEYS}
        return out

    def own_oms_lumisections(self, run: int, name: str) -> set[int]:
        """Lumisections where the (run, dataset) has OMS data of its own (what the portal evaluates, R1)."""
        return set(self.oms_ls.get((run, name)) or {})

    def triplet_cache(self, run: int, name: str) -> dict[str, Any]:
        """``DatasetTripletCache`` of the (run, dataset): ``triplet_summary`` and ``dcs_summary`` (computed once)."""
        cache: dict[tuple[int, str], dict[str, Any]] = self.__dict__.setdefault("_triplet_caches", {})
        if (run, name) not in cache:
            pieces = self.joint_pieces(run, name)
            emulate = _emulator()
            cache[(run, name)] = {"triplet_summary": emulate.triplet_summary_of(pieces), "dcs_summary": emulate.dcs_summary_of(pieces)}
        return cache[(run, name)]

    def triplet_summary(self, run: int, name: str) -> dict[str, Any]:
        """``DatasetTripletCache.triplet_summary`` (D1: only lumisections with both RR and OMS data count)."""
        return self.triplet_cache(run, name)["triplet_summary"]  # type: ignore[no-any-return]

    def dcs_summary(self, run: int, name: str) -> dict[str, Any]:
        """``DatasetTripletCache.dcs_summary`` (same lumisections; with ``ls_duration`` and the luminosity keys)."""
        return self.triplet_cache(run, name)["dcs_summary"]  # type: ignore[no-any-return]

    # ---- backend row objects

    def run_rows(self) -> list[dict[str, Any]]:
        """Raw run objects as ``runs_filtered_ordered`` returns them, ``DatasetTripletCache`` holding the online
        dataset's ``triplet_summary`` (``{}`` when no lumisection has both RR and OMS data), ``None`` for a run
        without an online dataset (RR's listing leaves it out)."""
        online = {d["run_number"] for d in self.datasets if d["name"] == "online"}
        return [
            {
                "run_number": number,
                "oms_attributes": self.runs[number]["oms_attributes"],
                "rr_attributes": self.runs[number]["rr_attributes"],
                "version": number,
                "deleted": False,
                "DatasetTripletCache": {"triplet_summary": self.triplet_summary(number, "online")} if number in online else None,
            }
            for number in sorted(self.runs)
        ]

    def dataset_rows(self) -> list[dict[str, Any]]:
        """Raw dataset objects as ``datasets_filtered_ordered`` returns them (every dataset has a cache row)."""
        out = []
        for ds in self.datasets:
            run = self.runs.get(ds["run_number"], {"rr_attributes": {}, "oms_attributes": {}})
            out.append(
                {
                    **ds,
                    "deleted": False,
                    "version": ds["run_number"],
                    "Run": {"rr_attributes": run["rr_attributes"], "oms_attributes": run["oms_attributes"]},
                    "DatasetTripletCache": {
                        "triplet_summary": self.triplet_summary(ds["run_number"], ds["name"]),
                        "dcs_summary": self.dcs_summary(ds["run_number"], ds["name"]),
                    },
                }
            )
        return out

    def dataset_names(self, run: int) -> list[str]:
        """``get_all_dataset_names_of_run``: creation order, which for a loaded snapshot is ``online`` first, then
        the others by name (the order the recorded loads wrote them)."""
        names = [d["name"] for d in self.datasets if d["run_number"] == run]
        return sorted(names, key=lambda n: (n != "online", n))

    def evaluated_lumisections(self, run: int, name: str) -> list[dict[str, Any]]:
        """RR's ``format_lumisection`` objects of the lumisections the portal evaluates: those with an RR event and
        OMS data of the dataset's OWN (the INNER JOIN), OMS values merged with online's (rules D3, R1, R2)."""
        rr = self.rr_ls.get((run, name)) or {}
        oms = self.merged_oms_rows(run, name)
        dataset = next((d for d in self.datasets if d["run_number"] == run and d["name"] == name), None)
        run_row = self.runs.get(run)
        if dataset is None or run_row is None:
            return []
        out = []
        for ls in sorted(set(rr) & self.own_oms_lumisections(run, name)):
            out.append(
                {
                    "dataset": {**dataset["dataset_attributes"], "name": name},
                    "run": {"oms": run_row["oms_attributes"], "rr": run_row["rr_attributes"], "run_number": run},
                    "lumisection": {
                        "lumisection_number": ls,
                        "oms": oms[ls],
                        "rr": {comp: trip["status"] for comp, trip in rr[ls].items()},
                    },
                }
            )
        return out

    def online_luminosity(self, first_run: int, last_run: int) -> dict[str, float]:
        """The portal's ``total_*_luminosity_from_run_range``: RR's brilcalc luminosity of the online datasets of
        the runs ``first_run..last_run``, summed over the lumisections with RR and OMS data."""
        out = {"recorded": 0.0, "delivered": 0.0}
        for run in self.runs:
            if first_run <= run <= last_run:
                for obj in self.evaluated_lumisections(run, "online"):
                    for key in out:
                        out[key] += _luminosity(obj["lumisection"]["oms"].get(key))
        return out

    # ---- lumisection history (RR's events: one per range written)

    def rr_events(self, run: int, name: str) -> list[dict[str, Any]]:
        """``get_rr_lumisection_history`` rows: one RR event per snapshot RR range (flags in ``jsonb``)."""
        ranges = (self.sources.get((run, name)) or {}).get("rr") or []
        rows = [{"start": int(r["start"]), "end": int(r["end"]),
                 "jsonb": {c: _triplet(v) for c, v in r.items() if c not in ("start", "end")}} for r in ranges]
        return [{"version": 0, "manual_change": False, **_event(run, name, row, bool(rows))} for row in rows]

    def oms_events(self, run: int, name: str) -> list[dict[str, Any]]:
        """``get_oms_lumisection_history`` rows: the online dataset's OMS events and, for another dataset, its own
        (one per snapshot OMS range, split where the luminosity block changes), values as RR stores them."""
        names = ["online"] + ([name] if name != "online" else [])
        out = []
        for each in names:
            if (run, each) not in self.sources:
                continue
            per_ls = self.oms_ls.get((run, each)) or {}
            for rng in (self.sources[(run, each)] or {}).get("oms") or []:
                start, end = int(rng["start"]), int(rng["end"])
                values = [{k: v for k, v in per_ls[ls].items() if k in STORED_OMS_KEYS} for ls in range(start, end + 1)]
                for piece in ranges_of_list(values):
                    first, last = start + piece["start"] - 1, start + piece["end"] - 1
                    jsonb = {k: v for k, v in piece.items() if k not in ("start", "end")}
                    has_rr = bool((self.sources[(run, each)] or {}).get("rr"))
                    out.append({"version": 0, **_event(run, each, {"start": first, "end": last, "jsonb": jsonb}, has_rr)})
        return out


def _event(run: int, name: str, row: dict[str, Any], has_rr: bool) -> dict[str, Any]:
    """The fields of a history row after ``version``, as the conformance corpus was loaded into the real RR.

    ``by`` and ``comment`` are what that loader wrote (``auto@auto``; ``seed dataset <name> <run>``, or
    ``seed oms only`` for a dataset without RR lumisections), so the fake's rows equal the recorded ones.
    ``version`` and ``createdAt`` vary between loads of the real backend (its README says to compare without
    them); the fake numbers nothing (0) and stamps the time of the request.
    """
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    comment = f"seed dataset {name} {run}" if has_rr else "seed oms only"
    return {"run_number": run, "name": name, "start": row["start"], "end": row["end"], "by": "auto@auto",
            "comment": comment, "createdAt": now, "jsonb": row["jsonb"]}


# -------------------------------------------------------------------------------------- helpers


def convert_array_of_list_to_array_of_ranges(numbers: list[int]) -> list[list[int]]:
    """``golden-json-helpers`` 1.2.3, faithfully: no sorting, no de-duplication (run-registry.md 4.5)."""
    ranges: list[list[int]] = []
    for index, number in enumerate(numbers):
        if not ranges:
            ranges.append([number, number])
        if index != len(numbers) - 1:
            if numbers[index + 1] == number + 1:
                ranges[-1][1] = number + 1
            else:
                ranges.append([numbers[index + 1], numbers[index + 1]])
    return ranges


def js_truthy(value: Any) -> bool:
    """JavaScript truthiness (``[]`` and ``{}`` are true; ``0``, ``""``, ``NaN``, null are false)."""
    if value is None or value is False:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0 and not (isinstance(value, float) and math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def json_logic_apply() -> Callable[[Any, Any], Any]:
    """The json-logic implementation the portal uses: dqquery's engine if present, else json-logic-qubit."""
    try:
        engine = importlib.import_module("dqquery.jsonlogic_engine")
        return engine.apply_rule  # type: ignore[no-any-return]
    except (ImportError, AttributeError):
        from json_logic import jsonLogic

        return jsonLogic  # type: ignore[no-any-return]


def _emulator() -> Any:
    return importlib.import_module("dqquery.emulate.runregistry")


def _sort_key_value(row: Mapping[str, Any], key: str, kind: str) -> Any:
    if "-" in key:  # a triplet column: DatasetTripletCache.triplet_summary#>>'{key}' (text)
        cache = row.get("DatasetTripletCache") or {}
        value = (cache.get("triplet_summary") or {}).get(key)
        return None if value is None else json.dumps(value, sort_keys=True)
    value: Any = row
    for part in key.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if key == "rr_attributes.class" and kind == "datasets":
        value = ((row.get("Run") or {}).get("rr_attributes") or {}).get("class")
    return value


def sort_rows(rows: list[dict[str, Any]], sortings: list[Any], default: list[tuple[str, str]], kind: str) -> list[dict[str, Any]]:
    """Order by ``sortings`` ([[key, "ASC"|"DESC"], ...]) then the default order; NULLs as PostgreSQL (largest)."""
    order = [(str(k), str(d).upper()) for k, d in (sortings or [])] + default
    out = list(rows)
    for key, direction in reversed(order):
        present = [r for r in out if _sort_key_value(r, key, kind) is not None]
        missing = [r for r in out if _sort_key_value(r, key, kind) is None]
        present.sort(key=lambda r: _orderable(_sort_key_value(r, key, kind)), reverse=direction == "DESC")
        out = missing + present if direction == "DESC" else present + missing
    return out


def _orderable(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))


# ------------------------------------------------------------------------------------------------- app

RUN_ORDER = [("run_number", "DESC")]
DATASET_ORDER = [("run_number", "DESC"), ("name", "ASC")]


class FakeRunRegistry:
    """The Run Registry backend as an app for :class:`~dqquery.testing.server.FakeServer`.

    ``require_token``: a ``token -> bool`` check (e.g. ``FakeSSO.verifier()``); requests without a valid
    ``Authorization: Bearer`` token get 401 (what the SSO proxy in front of RR does, simplified).
    ``portal_polls``: polls of a JSON-portal job answered 203/202 before the 200.
    """

    def __init__(self, snapshot: Any, require_token: Callable[[str | None], bool] | None = None,
                 portal_polls: int = 2) -> None:
        self.data = SnapshotData.of(snapshot)
        self.require_token = require_token
        self.portal_polls = portal_polls
        self._jobs: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._run_rows = self.data.run_rows()
        self._dataset_rows_built: list[dict[str, Any]] | None = None  # on first use: a year takes a second
        self._dataset_rows_lock = threading.Lock()
        self.routes: dict[tuple[str, str], Callable[[Request], Response]] = {
            ("POST", "/runs_filtered_ordered"): self.runs_filtered_ordered,
            ("POST", "/datasets_filtered_ordered"): self.datasets_filtered_ordered,
            ("POST", "/json_portal/generate"): self.portal_generate,
            ("POST", "/json_portal/json"): self.portal_json,
        }
        for endpoint, builder in self.LUMISECTION_ENDPOINTS.items():
            self.routes[("POST", "/lumisections/" + endpoint)] = self._lumisection_route(builder)
        self.routes[("POST", "/lumisections/get_rr_lumisection_history")] = self._lumisection_route(
            lambda self, r, n: self.data.rr_events(r, n))
        self.routes[("POST", "/lumisections/get_oms_lumisection_history")] = self._lumisection_route(
            lambda self, r, n: self.data.oms_events(r, n))

    @property
    def _dataset_rows(self) -> list[dict[str, Any]]:
        """The dataset table, built on first use so that a server starts at once (``dqquery serve``)."""
        with self._dataset_rows_lock:
            if self._dataset_rows_built is None:
                self._dataset_rows_built = self.data.dataset_rows()
            return self._dataset_rows_built

    def handle(self, request: Request) -> Response:
        if self.require_token is not None and not self.require_token(request.bearer()):
            return Response.json({"err": "Unauthorized: a valid SSO bearer token is required"}, 401)
        route = self.routes.get((request.method, request.path.rstrip("/") or "/"))
        if route is None and request.method == "GET" and request.path.startswith("/get_all_dataset_names_of_run/"):
            route = self.dataset_names
        if route is None:
            return json_error(f"Cannot {request.method} {request.path}", 404)
        try:
            return route(request)
        except json.JSONDecodeError as exc:
            return json_error(f"Unexpected token in JSON: {exc}", 400)
        except _Thrown as exc:
            return json_error(str(exc))

    # ---- runs and datasets

    def _page(self, request: Request, kind: str) -> Response:
        body = request.json() or {}
        try:  # the backend computes LIMIT/OFFSET from both; a missing one makes NaN, which Sequelize quotes as a column
            page, page_size = int(body["page"]), int(body["page_size"])
        except (KeyError, TypeError, ValueError):
            raise _Thrown('column "nan" does not exist') from None
        backend_filter = body.get("filter") or {}
        emulate = _emulator()
        try:
            if kind == "runs":
                rows = [r for r in self._run_rows if r["DatasetTripletCache"] is not None]
                selected = emulate.select_runs(backend_filter, rows)
            else:
                selected = emulate.select_datasets(backend_filter, self._dataset_rows)
        except Exception as exc:  # the backend's convention: any thrown error -> 500 {"err": message}
            raise _Thrown(str(exc)) from exc
        ordered = sort_rows(list(selected), body.get("sortings") or [], RUN_ORDER if kind == "runs" else DATASET_ORDER, kind)
        count = len(ordered)
        pages = math.ceil(count / page_size) if page_size > 0 else 0
        chunk = ordered[page * page_size : (page + 1) * page_size] if page_size > 0 else []
        return Response.json({kind: chunk, "pages": pages, "count": count})

    def runs_filtered_ordered(self, request: Request) -> Response:
        return self._page(request, "runs")

    def datasets_filtered_ordered(self, request: Request) -> Response:
        return self._page(request, "datasets")

    def dataset_names(self, request: Request) -> Response:
        try:
            run = int(request.path.rsplit("/", 1)[1])
        except ValueError:
            return json_error("invalid run number")
        return Response.json(self.data.dataset_names(run))

    # ---- lumisections (run-registry.md 3.6)

    def _rr_ranges(self, run: int, name: str) -> list[dict[str, Any]]:
        return ranges_of_list(self.data.rr_lumisections(run, name))

    def _rr_ranges_by_component(self, run: int, name: str) -> dict[str, Any]:
        """R4: ``start``/``end`` are POSITIONS among the lumisections with an RR event (not lumisection numbers),
        and each position where the component has no flag is a ``{start, end}`` range of its own (RR's bug,
        reproduced: its merging compares the previous range, start/end included, with an empty object)."""
        rows = self.data.rr_ls.get((run, name)) or {}
        merged = [rows[ls] for ls in sorted(rows)]  # rows as SQL returns them: no EMPTY or gap filling
        components = sorted({c for row in merged for c in row})
        out: dict[str, Any] = {}
        for comp in components:
            ranges: list[dict[str, Any]] = []
            for position, row in enumerate(merged, start=1):
                if comp not in row:
                    ranges.append({"start": position, "end": position})
                elif ranges and len(ranges[-1]) > 2 and _same({k: v for k, v in ranges[-1].items() if k not in ("start", "end")}, row[comp]):
                    ranges[-1]["end"] = position
                else:
                    ranges.append({**row[comp], "start": position, "end": position})
            out[comp] = ranges
        return out

    def _oms_ranges(self, run: int, name: str) -> list[dict[str, Any]]:
        rows = self.data.oms_lumisections(run, name)
        return ranges_of_list([{k: v for k, v in row.items() if k in OMS_LUMISECTION_WHITELIST} for row in rows])

    def _joint_ranges(self, run: int, name: str) -> list[dict[str, Any]]:
        rr, oms = self.data.rr_lumisections(run, name), self.data.oms_lumisections(run, name)
        longest = max(len(rr), len(oms))
        joint = [{**(oms[i] if i < len(oms) else {}), **(rr[i] if i < len(rr) else {})} for i in range(longest)]
        return ranges_of_list(joint)

    LUMISECTION_ENDPOINTS: dict[str, Callable[[FakeRunRegistry, int, str], Any]] = {
        "rr_lumisections": lambda self, r, n: self.data.rr_lumisections(r, n),
        "oms_lumisections": lambda self, r, n: self.data.oms_lumisections(r, n),
        "rr_lumisection_ranges": lambda self, r, n: self._rr_ranges(r, n),
        "rr_lumisection_ranges_by_component": lambda self, r, n: self._rr_ranges_by_component(r, n),
        "oms_lumisection_ranges": lambda self, r, n: self._oms_ranges(r, n),
        "joint_lumisection_ranges": lambda self, r, n: self._joint_ranges(r, n),
    }

    def _lumisection_route(self, builder: Callable[[FakeRunRegistry, int, str], Any]) -> Callable[[Request], Response]:
        def route(request: Request) -> Response:
            body = request.json() or {}
            try:
                run = int(body["run_number"])
            except (KeyError, TypeError, ValueError):
                raise _Thrown("run_number is required") from None
            if "dataset_name" not in body:  # the backend's SQL has a :dataset_name parameter (recorded 500)
                raise _Thrown('Named parameter ":dataset_name" has no value in the given object.')
            return Response.json(builder(self, run, str(body["dataset_name"])))

        return route

    # ---- JSON portal (run-registry.md 3.7, 4.3-4.5)

    def portal_generate(self, request: Request) -> Response:
        body = request.json() or {}
        logic_text = body.get("json_logic")
        if not isinstance(logic_text, str):  # JSON.parse of an object fails: the client must send a string
            raise _Thrown("JSON logic sent is not in json format")
        try:
            logic = json.loads(logic_text)
        except json.JSONDecodeError:
            raise _Thrown("JSON logic sent is not in json format") from None
        if not logic:
            raise _Thrown("Empty json logic sent")
        name_filter = body.get("dataset_name_filter")
        if not name_filter:
            raise _Thrown("No dataset name specified")
        pattern = similar_to_regex(name_filter)
        datasets = [d for d in self.data.datasets if pattern.fullmatch(d["name"])]
        if not datasets:
            raise _Thrown("No datasets matched that dataset name")
        try:
            final: dict[str, Any] | None = self._generate(logic, name_filter, datasets, body)
        except Exception:  # noqa: BLE001  # the Bull job fails; polling it answers 500 with an empty body
            final = None
        job_id = str(next(self._ids))
        now = int(_dt.datetime.now(_dt.UTC).timestamp() * 1000)
        data = {"dataset_name_filter": name_filter, "json_logic": logic, "created_by": request.headers.get("email", ""),
                "tags": body.get("tags", ""), "official": bool(body.get("official", False))}
        with self._lock:
            self._jobs[job_id] = {"final": None if final is None else {**final, "id": int(job_id)}, "polls": 0}
        return Response.json({"id": job_id, "name": "__default__", "data": data,
                              "opts": {"jobId": int(job_id), "attempts": 5, "delay": 0, "timestamp": now},
                              "progress": 0, "delay": 0, "timestamp": now, "attemptsMade": 0, "stacktrace": [],
                              "returnvalue": None, "finishedOn": None, "processedOn": None})

    def portal_json(self, request: Request) -> Response:
        body = request.json() or {}
        job_id = str(body.get("id_json"))
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return json_error("Cannot read properties of null (reading 'isWaiting')")
            job["polls"] += 1
            polls = job["polls"]
        if polls > self.portal_polls:
            if job["final"] is None:
                return Response.empty(500)
            return Response.json({"final_json": job["final"]})
        if polls == 1:
            return Response.empty(203)
        return Response.json({"progress": round((polls - 1) / self.portal_polls, 3)}, 202)

    def _generate(self, logic: Any, name_filter: str, datasets: list[dict[str, Any]], body: Mapping[str, Any]) -> dict[str, Any]:
        apply = json_logic_apply()
        good: dict[int, list[int]] = {}
        good_named: dict[str, list[int]] = {}
        bad: dict[int, list[int]] = {}
        bad_named: dict[str, list[int]] = {}
        anti: list[tuple[str, dict[str, Any]]] = []  # (run-dataset, evaluated object) of every failing lumisection
        lumi = {"total_recorded": 0.0, "total_delivered": 0.0, "in_recorded": 0.0, "in_delivered": 0.0}
        for ds in sorted(datasets, key=lambda d: d["run_number"]):
            for obj in self.data.evaluated_lumisections(ds["run_number"], ds["name"]):
                run, ls = obj["run"]["run_number"], obj["lumisection"]["lumisection_number"]
                recorded, delivered = _luminosity(obj["lumisection"]["oms"].get("recorded")), _luminosity(obj["lumisection"]["oms"].get("delivered"))
                lumi["total_recorded"] += recorded
                lumi["total_delivered"] += delivered
                key = f"{run}-{ds['name']}"
                if js_truthy(apply(logic, obj)):
                    good.setdefault(run, []).append(ls)
                    good_named.setdefault(key, []).append(ls)
                    lumi["in_recorded"] += recorded
                    lumi["in_delivered"] += delivered
                else:
                    bad.setdefault(run, []).append(ls)
                    bad_named.setdefault(key, []).append(ls)
                    anti.append((key, obj))

        def to_ranges(lists: Mapping[Any, list[int]]) -> dict[str, list[list[int]]]:
            keys = sorted(lists, key=lambda k: (0, k) if isinstance(k, int) else (1, str(k)))
            return {str(k): convert_array_of_list_to_array_of_ranges(lists[k]) for k in keys}

        runs = [d["run_number"] for d in datasets]
        lost = {"recorded": sum(_luminosity(o["lumisection"]["oms"].get("recorded")) for _, o in anti),
                "delivered": sum(_luminosity(o["lumisection"]["oms"].get("delivered")) for _, o in anti)}
        from_range = self.data.online_luminosity(min(runs), max(runs))
        now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        return {
            "dataset_name_filter": name_filter, "tags": body.get("tags", ""), "created_by": "api@api",
            "official": bool(body.get("official", False)), "runregistry_version": "1",
            "json_logic": logic,
            "generated_json": to_ranges(good),
            "generated_json_with_dataset_names": to_ranges(good_named),
            "generated_anti_json": to_ranges(bad),
            "generated_anti_json_with_dataset_names": to_ranges(bad_named),
            "min_run_number": min(runs), "max_run_number": max(runs),
            "total_recorded_luminosity": lumi["total_recorded"], "total_delivered_luminosity": lumi["total_delivered"],
            "recorded_luminosity_in_json": lumi["in_recorded"], "delivered_luminosity_in_json": lumi["in_delivered"],
            "total_recorded_luminosity_lost": lost["recorded"], "total_delivered_luminosity_lost": lost["delivered"],
            "total_recorded_luminosity_from_run_range": from_range["recorded"],
            "total_delivered_luminosity_from_run_range": from_range["delivered"],
            **rule_statistics(logic, anti),
            "deleted": False, "createdAt": now, "updatedAt": now,
        }


def _luminosity(value: Any) -> float:
    """RR's portal: ``+value || 0``, negatives counted as 0."""
    number = _js_number(value)
    return number if number > 0 else 0.0


def js_stringify(value: Any) -> str:
    """``JSON.stringify`` of a decoded json-logic value: no spaces, non-ASCII kept, integral numbers without
    a fraction (JavaScript has one number type), keys in their order."""
    def plain(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer() and abs(v) < 1e21:
            return int(v)
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v

    return json.dumps(plain(value), separators=(",", ":"), ensure_ascii=False)


def _false_leaves(rule: Any, obj: Any) -> list[Any]:
    """The leaves of a json-logic rule that are not exactly ``true`` on ``obj``, as RR's portal finds them
    (``return_cause_of_false_flagging`` over ``return_classifier_evaluated_tuple``): an ``and``/``or`` whose
    value is not exactly ``true`` lists the false leaves of its operands; any other operator is a leaf; an
    operand that is not an object (a literal) lists nothing. Each node is evaluated on its own, with
    JavaScript's coercions (:func:`dqquery.testing.jsvalues.js_apply`), as RR does."""
    from .jsvalues import js_apply

    if not isinstance(rule, dict):
        return []
    out: list[Any] = []
    for key, operands in rule.items():
        if key == "if":
            continue
        if js_apply(rule, obj) is True:
            continue
        if key in ("and", "or"):
            for child in operands if isinstance(operands, list) else [operands]:
                out.extend(_false_leaves(child, obj))
        else:
            out.append(rule)
    return out


def rule_statistics(logic: Any, anti: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The portal's statistics over the lumisections that failed the rule (its anti JSON), in RR's order:
    per false leaf and per combination of false leaves, the recorded luminosity lost, and where each
    combination occurs (``"<run>-<dataset>"`` -> lumisection ranges)."""
    quantity: dict[str, float] = {}
    combination: dict[str, float] = {}
    where: dict[str, dict[str, list[int]]] = {}
    for identifier, obj in anti:
        leaves = _false_leaves(logic, obj)
        recorded = _luminosity(obj["lumisection"]["oms"].get("recorded"))
        key = js_stringify(leaves)
        combination[key] = combination.get(key, 0.0) + recorded
        where.setdefault(key, {}).setdefault(identifier, []).append(obj["lumisection"]["lumisection_number"])
        for leaf in leaves:
            text = js_stringify(leaf)
            quantity[text] = quantity.get(text, 0.0) + recorded
    return {
        "rules_flagged_false_quantity_luminosity": quantity,
        "rules_flagged_false_combination_luminosity": combination,
        "runs_lumisections_responsible_for_rule": {
            key: {identifier: convert_array_of_list_to_array_of_ranges(numbers) for identifier, numbers in per.items()}
            for key, per in where.items()
        },
    }


def _js_number(value: Any) -> float:
    """JavaScript ``+value || 0``."""
    try:
        number = float(value) if value is not None and value != "" and not isinstance(value, bool) else (1.0 if value is True else 0.0)
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(number) else number


class _Thrown(Exception):
    """An error the backend throws (answered as HTTP 500 ``{"err": message}``)."""
