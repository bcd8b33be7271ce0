"""Fetch a :class:`~dqquery.snapshot.Snapshot` for a query from the services, and ask RR for its golden JSON.

:func:`fetch_snapshot` decisions:
* Push-down: the run-level clauses of the query (the operands of a top-level ``and`` that use only run
  fields: ``run_number``, ``run.oms.*``, ``run.rr.*``) are compiled with
  ``dqquery.targets.runregistry.to_rr(..., raw=True)`` and sent to RR; an operand RR cannot express is simply
  not pushed (pushing is only a pre-selection: the snapshot is evaluated locally with the WHOLE query, so
  the pushed filter may select more, never less). A query with no run-level part fetches every run: warned.
* Then: the matching runs (``runs_filtered_ordered``, the online view) and datasets
  (``datasets_filtered_ordered`` with the same run clauses and ``dataset == <name>``), then, concurrently
  (``workers`` threads), the RR and OMS lumisection ranges of every (run, dataset). A run whose online cache
  row is missing (so ``runs_filtered_ordered`` omits it) is rebuilt from the dataset's included ``Run``.
* OMS entries from RR that are ``{"err": ...}`` (lumisections without OMS data) are dropped so such
  lumisections are "without OMS data", as in RR's own golden-JSON view. With ``oms=`` an
  :class:`~dqquery.sources.oms.OMSClient`, OMS bits and per-lumisection luminosity come from OMS itself.
* RR's lumisection answers cannot tell which lumisections are the dataset's (recorded rules R1, R2), so fetch
  also asks the history endpoints: RR flag ranges are kept only where the dataset has RR events
  (``get_rr_lumisection_history``: a flag-less event is RR data, a gap is not); for a dataset other than
  ``online``, OMS lumisections only where the dataset has OMS data of its own (``get_oms_lumisection_history``
  rows named after it), with the merged values RR serves, which is what its portal evaluates.
* A pattern that matches none of the selected runs' datasets is looked up alone: matching datasets elsewhere
  give an empty snapshot (the portal answers ``{}``), none give :class:`NoMatchingDataset` (the portal refuses).
* Nothing silently incomplete: if any request fails after its retries, :class:`FetchError` is raised with
  ``partial`` (a dict of what was fetched) and ``resume`` (a :class:`FetchState`); pass it back as
  ``resume_from=`` and only the missing pieces are requested.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import ast as A
from .catalog import OMS_LUMISECTION_BITS, lookup, rr_unstored_warning
from .errors import QueryWarning
from .query import as_node
from .sources.http import FetchError, SourceError, TransportError, raise_if_not_resumable, run_concurrently
from .sources.runregistry import PagedResume, RunRegistryClient

__all__ = ["FetchState", "fetch_snapshot", "remote_golden", "remote_golden_row", "run_level_part"]

log = logging.getLogger("dqquery.fetch")

ONLINE = "online"


class NoMatchingDataset(SourceError):
    """The dataset pattern matches no dataset of the selected runs: an empty snapshot would read as "no good data"."""


@dataclass
class FetchState:
    """Progress of one :func:`fetch_snapshot` call (the ``resume`` of its :class:`FetchError`)."""

    key: str  # canonical (run filter, dataset filter) the state belongs to
    runs_paging: PagedResume | None = None
    datasets_paging: PagedResume | None = None
    runs: list[dict[str, Any]] | None = None
    datasets: list[dict[str, Any]] | None = None
    lumisections: dict[tuple[str, int, str], Any] = field(default_factory=dict)  # (kind, run, dataset) -> answer

    def partial(self) -> dict[str, Any]:
        return {"runs": list(self.runs or []), "datasets": list(self.datasets or []),
                "lumisections": dict(self.lumisections)}


# ------------------------------------------------------------------------------------------- push-down


def _is_run_level(node: Any) -> bool:
    for ref in A.fields_of(node):
        info = lookup(ref.path)
        if info is None or info.level != "run":
            return False
    return True


def run_level_part(query: Any) -> Any:
    """A run-level query every run with a selected lumisection satisfies (``None``: no run-level constraint).

    Decision: the query in negation normal form with each non-run-level predicate replaced by *true*, which
    can only widen it, so ``(run_number in A and dt-dt == GOOD) or (run_number == B and bpix_ready)`` still
    narrows the fetch to ``run_number in A or run_number == B``. Lumisection flags are never pushed into the
    run query: RR counts them on the online dataset, not on the dataset being certified.
    """
    from .normal import to_nnf

    return _project(to_nnf(as_node(query)))


def _project(node: Any) -> Any:
    if isinstance(node, A.And):
        kept = [p for p in (_project(o) for o in node.operands) if p is not None]
        return A.make_and(kept) if kept else None
    if isinstance(node, A.Or):
        alternatives = [_project(o) for o in node.operands]
        return None if any(a is None for a in alternatives) else A.make_or(alternatives)
    return node if _is_run_level(node) else None  # a predicate, or `not` directly above one


def _pushable(operands: Iterable[Any], kind: str) -> tuple[list[Any], list[Any]]:
    """Operands ``to_rr`` accepts for ``kind``, and the ones it refuses (those stay local)."""
    from .errors import QueryError
    from .targets.runregistry import to_rr

    ok, refused = [], []
    for op in operands:
        try:
            to_rr(op, kind=kind, raw=True)
        except QueryError:
            refused.append(op)
        else:
            ok.append(op)
    return ok, refused


def _dataset_clause(dataset: str) -> Any:
    value = A.StringValue(value=dataset)
    ref = A.FieldRef(name="dataset", path="dataset.name")
    if any(ch in dataset for ch in "%_"):
        return as_node(A.Like(field=ref, pattern=dataset))
    return as_node(A.Compare(field=ref, op="==", value=value))


def backend_filters(query: Any, dataset: str | None) -> tuple[dict[str, Any], dict[str, Any], list[Any]]:
    """(runs filter, datasets filter, run-level operands not pushed) in RR's backend format."""
    from .targets.runregistry import to_rr

    run_ops: list[Any] = []
    if query is not None:
        part = run_level_part(query)
        if part is not None:
            run_ops = list(part.operands) if isinstance(part, A.And) else [part]
    runs_ops, refused = _pushable(run_ops, "runs")
    # A clause RR cannot take whole (an `or` mixing forms the backend mishandles) may still have a plan with
    # one request: a superset of its runs, added as its own member of a top-level `and`.
    from .planning import plan

    planned: list[dict[str, Any]] = []
    for op in list(refused):
        requests = plan(op, "rr-raw").requests
        if len(requests) == 1 and dict(requests[0]):
            planned.append(dict(requests[0]))
            refused.remove(op)
    ds_ops, _ = _pushable(runs_ops, "datasets")
    if not runs_ops and not planned:
        warnings.warn(
            "the query has no run-level clause Run Registry can evaluate: fetching EVERY run "
            "(add e.g. run_number in 355100..362760 to fetch less)",
            stacklevel=3,
        )
    members = ([dict(to_rr(A.make_and(runs_ops), kind="runs", raw=True))] if runs_ops else []) + planned
    runs_filter = members[0] if len(members) == 1 else ({"and": members} if members else {})
    ds_members = ds_ops + ([_dataset_clause(dataset)] if dataset is not None else [])
    datasets_filter = to_rr(A.make_and(ds_members), kind="datasets", raw=True) if ds_members else {}
    return runs_filter, datasets_filter, refused


# ---------------------------------------------------------------------------------------------- fetch


def _luminosity_number(value: Any) -> float | None:
    """RR stores per-lumisection luminosity as numbers or numeric strings (brilcalc upload); else missing."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _rr_oms_rows(per_ls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """RR's ``oms_lumisections`` (index i is lumisection i+1; gaps are ``{"err": ...}``) as OMS-style rows."""
    rows = []
    for index, entry in enumerate(per_ls):
        if not isinstance(entry, dict) or "err" in entry:
            continue  # no OMS data for this lumisection
        rows.append({**entry, "lumisection_number": index + 1,
                     "recorded_lumi_per_lumisection": _luminosity_number(entry.get("recorded")),
                     "delivered_lumi_per_lumisection": _luminosity_number(entry.get("delivered"))})
    return rows


def _oms_ranges_from_rows(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """OMS lumisection rows -> (bit ranges, luminosity block).

    Luminosity changes every lumisection, so it is kept out of the ranges (they would all be one lumisection
    long) and stored in the compact per-lumisection ``luminosity`` block of the snapshot instead.
    """
    keep = set(OMS_LUMISECTION_BITS) | {"prescale_index", "prescale_name", "pileup"}
    ranges: list[dict[str, Any]] = []
    recorded: dict[int, Any] = {}
    delivered: dict[int, Any] = {}
    for row in sorted(rows, key=lambda r: r["lumisection_number"]):
        ls = int(row["lumisection_number"])
        bits = {k: v for k, v in row.items() if k in keep}
        recorded[ls] = row.get("recorded_lumi_per_lumisection")
        delivered[ls] = row.get("delivered_lumi_per_lumisection")
        last = ranges[-1] if ranges else None
        if last is not None and last["end"] == ls - 1 and {k: v for k, v in last.items() if k not in ("start", "end")} == bits:
            last["end"] = ls
        else:
            ranges.append({**bits, "start": ls, "end": ls})
    if not recorded:
        return ranges, None
    first, last_ls = min(recorded), max(recorded)
    block = {"start": first, "recorded": [recorded.get(ls) for ls in range(first, last_ls + 1)],
             "delivered": [delivered.get(ls) for ls in range(first, last_ls + 1)]}
    return ranges, block


def _covered(events: Iterable[Mapping[str, Any]]) -> list[tuple[int, int]]:
    """The union of history events' ``[start, end]`` as sorted disjoint spans."""
    spans: list[tuple[int, int]] = []
    for start, end in sorted((int(e["start"]), int(e["end"])) for e in events):
        if spans and start <= spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


def _inside(ls: int, spans: list[tuple[int, int]]) -> bool:
    from bisect import bisect_right

    i = bisect_right(spans, (ls, float("inf"))) - 1
    return i >= 0 and spans[i][0] <= ls <= spans[i][1]


def _clip(ranges: list[dict[str, Any]], spans: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """RR's ranges cut to the spans that have RR events (R2: a gap filled with EMPTY is not RR data)."""
    from .lumiranges import intersect_ranges

    wanted = [{"start": a, "end": b} for a, b in spans]
    ordered = sorted(ranges, key=lambda r: r["start"])
    return [{**ordered[i], "start": s, "end": e} for s, e, i, _ in intersect_ranges(ordered, wanted)]


def _check_pattern_exists(rr: RunRegistryClient, dataset: str, state: FetchState, fail: Any) -> None:
    """Nothing of the selected runs matches: the portal answers ``{}`` when the pattern matches a dataset of RR,
    and refuses only when it matches none (:class:`NoMatchingDataset`, as RR's "No datasets matched")."""
    from .targets.runregistry import to_rr

    try:
        anywhere = rr.count_datasets(dict(to_rr(_dataset_clause(dataset), kind="datasets", raw=True)))
    except TransportError as exc:
        raise fail("asking Run Registry whether any dataset matches failed", exc) from exc
    if anywhere:
        return
    example = int(state.runs[0]["run_number"]) if state.runs else None
    names = "?"
    if example is not None:
        try:
            names = ", ".join(repr(n) for n in rr.dataset_names(example)[:4])
        except SourceError:
            pass
    where = f" (run {example} has {names})" if example is not None else ""
    raise NoMatchingDataset(
        f"no dataset of Run Registry matches {dataset!r}{where}; check --dataset "
        "(Run Registry patterns: % any text, _ one character, (A|B))"
    )


RESUME_ADVICE = ("completed requests are kept: run the same command again (they are in the cache), "
                 "or from Python pass resume_from=error.resume")
"""The second line of a resumable :class:`FetchError`: neutral between the command line and Python."""


def _failure_message(what: str, exc: BaseException, state: FetchState) -> str:
    """``what failed: the root cause`` (not the chain of wrappers), plus how to continue when something completed."""
    root = exc
    while isinstance(root, FetchError) and isinstance(root.__cause__, Exception):
        root = root.__cause__
    completed = bool(state.runs or state.datasets or state.lumisections
                     or any(p is not None and p.pages for p in (state.runs_paging, state.datasets_paging)))
    return f"{what}: {root}" + (f"\n{RESUME_ADVICE}" if completed else "")


def fetch_snapshot(query: Any = None, dataset: str | None = ONLINE, rr: RunRegistryClient | None = None, oms: Any = None,
                   cache: Any = None, workers: int = 8, *, resume_from: FetchState | None = None,
                   progress: bool | None = None) -> Any:
    """Fetch what ``query`` needs for ``dataset`` (``None``: every dataset) into a :class:`~dqquery.snapshot.Snapshot`.

    ``rr``/``oms``: clients (default: a :class:`RunRegistryClient` from the environment, using ``cache``).
    Raises :class:`~dqquery.sources.http.FetchError` (``.partial``, ``.resume``) when it cannot finish.
    """
    from .snapshot import Snapshot

    if rr is None:
        rr = RunRegistryClient(cache=cache, workers=workers, progress=progress)
    runs_filter, datasets_filter, refused = backend_filters(query, dataset)
    unstored = rr_unstored_warning(f.path for f in A.fields_of(as_node(query))) if query is not None and oms is None else None
    if unstored:  # OMS lumisection data comes from RR, which keeps a fixed list of names (R3)
        warnings.warn(QueryWarning(unstored), stacklevel=2)
    if refused:
        log.info("not pushed to Run Registry (evaluated locally): %s", ", ".join(str(op) for op in refused))
    key = json.dumps({"runs": runs_filter, "datasets": datasets_filter, "oms": oms is not None}, sort_keys=True)
    state = resume_from if resume_from is not None else FetchState(key)
    if state.key != key:
        raise ValueError("resume_from belongs to a different fetch (other query or dataset)")

    def fail(message: str, exc: BaseException, errors: list[tuple[Any, BaseException]] | None = None) -> FetchError:
        return FetchError(_failure_message(message, exc, state), partial=state.partial(), resume=state,
                          errors=errors or [(None, exc)])

    if state.runs is None:
        try:
            state.runs = rr.runs(runs_filter, resume_from=state.runs_paging)
        except FetchError as exc:
            state.runs_paging = exc.resume
            raise fail("fetching runs from Run Registry failed", exc) from exc
    if state.datasets is None:
        try:
            state.datasets = rr.datasets(datasets_filter, resume_from=state.datasets_paging)
        except FetchError as exc:
            state.datasets_paging = exc.resume
            raise fail("fetching datasets from Run Registry failed", exc) from exc
    if dataset is not None and not state.datasets and (dataset != ONLINE or not state.runs):
        _check_pattern_exists(rr, dataset, state, fail)
    runs = {int(r["run_number"]): r for r in state.runs}
    for ds in state.datasets:  # a run the online view omitted: take it from the dataset's included Run
        number = int(ds["run_number"])
        if number not in runs:
            included = ds.get("Run") or {}
            runs[number] = {"run_number": number, "oms_attributes": included.get("oms_attributes") or {},
                            "rr_attributes": included.get("rr_attributes") or {}}
    targets = {(int(ds["run_number"]), ds["name"]) for ds in state.datasets}
    if dataset == ONLINE:
        targets |= {(number, ONLINE) for number in runs}
    units: list[tuple[str, int, str]] = []
    for run, name in sorted(targets):
        units.extend((("rr", run, name), ("rr-history", run, name)))
        if oms is None:
            units.append(("oms", run, name))
            if name != ONLINE:
                units.append(("oms-history", run, name))
    if oms is not None:
        units.extend(("oms-api", run, "") for run in sorted({run for run, _ in targets}))
    todo = [u for u in units if u not in state.lumisections]

    def work(unit: tuple[str, int, str]) -> Any:
        kind, run, name = unit
        if kind == "rr":
            return rr.lumisection_ranges(run, name)
        if kind == "oms":
            # Per lumisection (not ranges): RR's ranges leave out the luminosity that `explain` needs.
            return rr.oms_lumisections(run, name)
        if kind == "rr-history":
            return rr.rr_lumisection_history(run, name)
        if kind == "oms-history":
            return rr.oms_lumisection_history(run, name)
        return oms.lumisections(run)

    done, errors = run_concurrently(todo, work, workers=workers, desc="lumisections", progress=progress)
    state.lumisections.update(done)
    if errors:
        raise_if_not_resumable(errors)
        errors.sort(key=lambda e: e[0])
        failed = ", ".join(f"{k} run {r}" + (f" {n!r}" if n else "") for (k, r, n), _ in errors[:5])
        more = f" and {len(errors) - 5} more" if len(errors) > 5 else ""
        raise fail(f"{len(errors)} of {len(units)} lumisection requests failed ({failed}{more})", errors[0][1], errors) from errors[0][1]

    lumisections: dict[int, dict[str, Any]] = {}
    for run, name in sorted(targets):
        # R2: RR fills gaps like flag-less events; its events say which lumisections have RR data. The EMPTY
        # fillers left on those are dropped by the Snapshot itself (snapshot.without_empty).
        rr_covered = _covered(state.lumisections[("rr-history", run, name)])
        entry: dict[str, Any] = {"rr": _clip(state.lumisections[("rr", run, name)], rr_covered)}
        if oms is None:
            rows = _rr_oms_rows(state.lumisections[("oms", run, name)])
            if name != ONLINE:  # R1: RR's list holds online's lumisections too; keep the dataset's own
                own = _covered(e for e in state.lumisections[("oms-history", run, name)] if e.get("name") == name)
                rows = [row for row in rows if _inside(row["lumisection_number"], own)]
            entry["oms"], block = _oms_ranges_from_rows(rows)
            if block is not None and any(v is not None for v in block["recorded"] + block["delivered"]):
                entry["luminosity"] = block
        else:
            entry["oms"], block = _oms_ranges_from_rows(state.lumisections[("oms-api", run, "")])
            if block is not None:
                entry["luminosity"] = block
        lumisections.setdefault(run, {})[name] = entry
    datasets = [ds for ds in state.datasets]
    return Snapshot.from_dict({"runs": [runs[n] for n in sorted(runs)], "datasets": datasets,
                               "lumisections": lumisections})


# --------------------------------------------------------------------------------------- remote golden


def remote_golden_row(query: Any, dataset: str | None = None, rr: RunRegistryClient | None = None, *,
                      poll_interval: float = 2.0, max_interval: float = 30.0, timeout: float = 3600.0) -> dict[str, Any]:
    """Submit the query to RR's JSON portal (``rr_portal_request``), poll with backoff, return the GeneratedJson row."""
    from .targets.jsonlogic import rr_portal_request

    request = rr_portal_request(query, dataset)
    client = rr or RunRegistryClient()
    return client.create_json(request["json_logic"], request["dataset_name_filter"], poll_interval=poll_interval,
                              max_interval=max_interval, timeout=timeout)


def remote_golden(query: Any, dataset: str | None = None, rr: RunRegistryClient | None = None, **kwargs: Any) -> Any:
    """RR's own golden JSON for the query (a :class:`~dqquery.lumiranges.GoldenJSON`; see :func:`remote_golden_row`)."""
    from .lumiranges import GoldenJSON

    row = remote_golden_row(query, dataset, rr, **kwargs)
    generated: Mapping[str, Any] = row.get("generated_json") or {}
    return GoldenJSON(generated)
