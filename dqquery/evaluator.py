"""The local golden-JSON evaluator: a query over a :class:`~dqquery.snapshot.Snapshot`, computed on ranges.

``golden(query, snapshot, dataset="online")`` returns the lumisections for which the query is True, as a
:class:`~dqquery.lumiranges.GoldenJSON`. It means exactly what :func:`dqquery.semantics.evaluate` means on one
row per lumisection, and what Run Registry's JSON portal computes (``controllers/queue_json_creation.js``):

* Datasets are selected by name with PostgreSQL ``SIMILAR TO`` (RR's ``dataset_name_filter``): ``%`` any text,
  ``_`` one character, ``(A|B)``, ``[...]``, ``* + ? {m,n}`` as in regular expressions, ``.`` a literal dot,
  ``\\`` escapes, case-sensitive, the whole name must match. No matching dataset is an error (RR: "No datasets
  matched that dataset name").
* A lumisection is evaluated only when it has BOTH an RR range and an OMS range in that dataset (RR's
  ``AggregatedLumisection`` view inner-joins them); others are neither in the golden nor the anti-golden JSON.
  Every RR range counts, a flag-less one included (see ``snapshot.without_empty``).
* A dataset other than ``online`` is evaluated on its OWN OMS lumisections, with online's OMS values under
  its own key by key (its own value wins, even a null): ``Snapshot.evaluated``, as RR's portal does.
* Fields: ``run.run_number``, ``run.oms.<k>`` (run ``oms_attributes``), ``run.rr.<k>`` (``rr_attributes``),
  ``dataset.name``, ``dataset.<k>`` (``dataset_attributes``), ``lumisection.lumisection_number``,
  ``lumisection.rr.<flag>`` (the triplet's ``status``), ``lumisection.oms.<key>`` (the OMS range value; for
  ``recorded``/``delivered`` the snapshot's per-lumisection luminosity block wins). ``dials.*`` is always missing.
* Several matching datasets of one run: the golden JSON is their UNION, sorted and de-duplicated. RR instead
  concatenates the per-dataset lumisection lists of a run, which yields duplicated or overlapping ranges.

Speed (decisions, measured in ``tests/benchmarks/bench_golden.py``):
* The query is compiled once (cached per query) into closures. Its top-level ``and`` is split into clauses and
  each clause gets the coarsest level that holds all its fields: *static* (run and dataset fields: evaluated once
  per (run, dataset)), *rr* (once per RR range), *oms* (once per OMS range) or *segment* (mixed, lumisection
  number, per-LS luminosity). Kleene ``and`` is associative and commutative, so this regrouping is exact.
* Golden: a (run, dataset) whose static clauses are not all True is skipped; only RR and OMS ranges whose clauses
  are all True are intersected; segment clauses run once per elementary segment. Lumisection-number predicates
  split segments at the only places their truth can change (``floor(c)`` and ``floor(c) + 1`` of every literal
  ``c``), and per-LS luminosity splits them per lumisection, only when the query reads it.
* Leaves reuse :func:`dqquery.semantics.evaluate_predicate` (so they cannot drift from the reference) behind a
  small memo keyed by (type, value): a flag takes few distinct values over a year.
Pure Python: numpy is not needed.

Layers (docs/dev/architecture.md): dataset selection (:func:`matching_datasets`, :func:`dataset_matcher`,
:class:`UnknownDataset`) lives in :mod:`dqquery.snapshot` and :func:`intersect_ranges` in :mod:`dqquery.lumiranges`
(both re-exported here); loss attribution (:mod:`dqquery.explanation`) and recorded luminosity
(:mod:`dqquery.luminosity`) build on this module, never the reverse (``dqquery.explain`` is the entry point).
"""

from __future__ import annotations

import functools
import math
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from . import ast as A
from .lumiranges import GoldenJSON, intersect_ranges
from .patterns import similar_to_regex
from .query import as_node
from .semantics import evaluate_predicate, kleene_and_of, kleene_or_of
from .snapshot import (
    DatasetRecord,
    LumisectionData,
    RunRecord,
    Snapshot,
    UnknownDataset,
    dataset_matcher,
    matching_datasets,
)

__all__ = ["UnknownDataset", "compile_plan", "dataset_matcher", "golden", "intersect_ranges", "matching_datasets",
           "similar_to_regex"]

Truth = Optional[bool]
# An evaluation environment: (static values by path, RR range, OMS range, lumisection number, lumisection data).
Env = tuple[dict[str, Any], dict[str, Any], dict[str, Any], int, LumisectionData | None]
Closure = Callable[[Env], Truth]

LUMINOSITY_KEYS = ("recorded", "delivered")
_RANGE_KEYS = ("start", "end")
_EMPTY: dict[str, Any] = {}
_MEMO_LIMIT = 256

# Clause levels, coarsest first. A clause's level is the coarsest one that holds all of its fields.
STATIC, RR, OMS, SEGMENT = "static", "rr", "oms", "segment"


# ------------------------------------------------------------------------------------------ ranges


def _split(start: int, end: int, breaks: Sequence[int]) -> Iterator[tuple[int, int]]:
    """Cut ``[start, end]`` so that every break point inside it begins a new piece."""
    k = bisect_right(breaks, start)
    while k < len(breaks) and breaks[k] <= end:
        point = breaks[k]
        yield start, point - 1
        start = point
        k += 1
    yield start, end


# ------------------------------------------------------------------------------------------ field access


def _static_value(path: str, run: RunRecord, name: str, ds: DatasetRecord | None) -> Any:
    """The value of a run- or dataset-level path, as RR's evaluated object holds it (``None`` if missing)."""
    if path == "run.run_number":
        return run.run_number
    if path.startswith("run.oms."):
        return run.oms_attributes.get(path[8:])
    if path.startswith("run.rr."):
        return run.rr_attributes.get(path[7:])
    if path == "dataset.name":
        return name
    if path.startswith("dataset."):
        return ds.dataset_attributes.get(path[8:]) if ds is not None else None
    return None  # dials.* and anything the snapshot cannot hold


def _level_of(path: str) -> str:
    if path.startswith("lumisection.rr."):
        return RR
    if path.startswith("lumisection.oms."):
        return SEGMENT if path[16:] in LUMINOSITY_KEYS else OMS
    if path.startswith("lumisection."):
        return SEGMENT
    return STATIC


def _getter(path: str) -> Callable[[Env], Any]:
    """Read one path from an environment (the data table of where each namespace lives)."""
    level = _level_of(path)
    if level == STATIC:
        return lambda env: env[0].get(path)
    if path.startswith("lumisection.rr."):
        flag = path[15:]
        if flag in _RANGE_KEYS:
            return lambda env: None

        def rr_status(env: Env) -> Any:
            triplet = env[1].get(flag)
            return None if triplet is None else triplet.get("status")

        return rr_status
    if path.startswith("lumisection.oms."):
        key = path[16:]
        if key in _RANGE_KEYS:
            return lambda env: None
        if key in LUMINOSITY_KEYS:

            def luminosity(env: Env) -> Any:
                data, range_value = env[4], env[2].get(key)
                return range_value if data is None else data.luminosity_value(key, env[3], range_value)

            return luminosity
        return lambda env: env[2].get(key)
    if path == "lumisection.lumisection_number":
        return lambda env: env[3]
    return lambda env: None


# ------------------------------------------------------------------------------------------ compilation


def _compile_leaf(node: Any) -> Closure:
    get = _getter(node.field.path)
    memo: dict[tuple[type, Any], Truth] = {}

    def leaf(env: Env) -> Truth:
        value = get(env)
        key = (value.__class__, value)
        try:
            return memo[key]
        except KeyError:
            result = evaluate_predicate(node, value)
            if len(memo) < _MEMO_LIMIT:
                memo[key] = result
            return result
        except TypeError:  # unhashable (lists, dicts)
            return evaluate_predicate(node, value)

    return leaf


def compile_node(node: A.Query) -> Closure:
    """A closure computing the Kleene truth of a checked tree (same tables as :func:`semantics.evaluate`)."""
    return _COMPILE[type(node)](node)


def _compile_not(node: Any) -> Closure:
    inner = compile_node(node.operand)

    def negation(env: Env) -> Truth:
        v = inner(env)
        return None if v is None else not v

    return negation


_COMPILE: A.NodeTable[Callable[[Any], Closure]] = A.NodeTable(
    "evaluator.compile_node",
    A.NODE_CLASSES,
    {
        A.And: lambda node: kleene_and_of(tuple(compile_node(o) for o in node.operands)),
        A.Or: lambda node: kleene_or_of(tuple(compile_node(o) for o in node.operands)),
        A.Not: _compile_not,
        **dict.fromkeys(A.PREDICATE_CLASSES, _compile_leaf),
    },
)


def _clause_level(node: Any) -> str:
    levels = {_level_of(f.path) for f in A.fields_of(node)}
    levels.discard(STATIC)
    if not levels:
        return STATIC
    if levels == {RR}:
        return RR
    if levels == {OMS}:
        return OMS
    return SEGMENT


_CONSTANTS: A.NodeTable[Callable[[Any], Sequence[Any]]] = A.NodeTable(
    "evaluator.constants",
    A.PREDICATE_CLASSES,
    {
        A.Compare: lambda pred: (pred.value,),
        A.InRange: lambda pred: (pred.low, pred.high),
        A.InSet: lambda pred: pred.values,
        **dict.fromkeys((A.Like, A.Regex, A.Contains, A.IsNull), lambda pred: ()),
    },
)
"""The literal values a predicate compares its field with by order or equality (none for patterns, contains, is null)."""


def ls_breaks(node: A.Query) -> tuple[int, ...]:
    """Lumisection numbers where a lumisection-number predicate of the query may change its truth (``floor(c)``
    and ``floor(c) + 1`` of every finite numeric constant; from 2 on, since a segment starts at 1 anyway)."""
    points: set[int] = set()
    for pred in A.predicates_of(node):
        if pred.field.path != "lumisection.lumisection_number":
            continue
        values = _CONSTANTS[type(pred)](pred)
        for v in values:
            x = v.value
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
                continue  # never equal/ordered against a lumisection number: constant truth
            base = math.floor(x)
            points.update((base, base + 1))
    return tuple(sorted(p for p in points if p >= 2))


@dataclass(frozen=True)
class Clause:
    """One top-level clause: its node, its canonical text, its level and its compiled closure."""

    node: Any
    text: str
    level: str
    run: Closure


@dataclass(frozen=True)
class EvaluationPlan:
    """A query compiled for the evaluator: clauses (the operands of a top-level ``and``, else the query itself) and data
    needs. (Not :class:`dqquery.planning.Plan`, the requests a query becomes for a service.)"""

    node: Any
    clauses: tuple[Clause, ...]
    static_paths: tuple[str, ...]
    ls_breaks: tuple[int, ...]
    uses_luminosity: bool

    def by_level(self, level: str) -> tuple[Clause, ...]:
        return tuple(c for c in self.clauses if c.level == level)


@functools.lru_cache(maxsize=128)
def _plan(node: Any) -> EvaluationPlan:
    from .unparse import unparse

    operands = node.operands if isinstance(node, A.And) else (node,)
    clauses = tuple(Clause(o, unparse(o), _clause_level(o), compile_node(o)) for o in operands)
    paths = [f.path for f in A.fields_of(node)]
    return EvaluationPlan(
        node=node,
        clauses=clauses,
        static_paths=tuple(sorted({p for p in paths if _level_of(p) == STATIC})),
        ls_breaks=ls_breaks(node),
        uses_luminosity=any(p in ("lumisection.oms.recorded", "lumisection.oms.delivered") for p in paths),
    )


@functools.lru_cache(maxsize=128)
def _node_of_text(text: str) -> Any:
    return as_node(text)


def compile_plan(query: A.QueryLike) -> EvaluationPlan:
    """The cached plan of a query given as text or node."""
    node = _node_of_text(query) if isinstance(query, str) else as_node(query)
    return _plan(node)


# ------------------------------------------------------------------------------------------ evaluation


@dataclass(frozen=True)
class Unit:
    """One evaluated (run, dataset): its objects, lumisection data and static values for a plan."""

    run: RunRecord
    name: str
    dataset: DatasetRecord | None
    data: LumisectionData
    static: dict[str, Any]


def matching_units(plan: EvaluationPlan, snapshot: Snapshot, dataset: str | None) -> Iterator[Unit]:
    """Every matching (run, dataset) that has lumisection data, with its run/dataset-level values read once."""
    for run, name, ds, data in matching_datasets(snapshot, dataset):
        if data is None:
            continue
        static = {p: _static_value(p, run, name, ds) for p in plan.static_paths}
        yield Unit(run, name, ds, data, static)


def piece_breaks(plan: EvaluationPlan, data: LumisectionData) -> tuple[int, ...]:
    """Break points for the segment clauses of a plan in one (run, dataset)."""
    breaks = plan.ls_breaks
    if plan.uses_luminosity:
        span = data.luminosity_span()
        if span is not None:
            breaks = tuple(sorted(set(breaks) | set(range(span[0], span[1] + 2))))
    return breaks


def _all_true(clauses: tuple[Clause, ...], env: Env) -> bool:
    for clause in clauses:
        if clause.run(env) is not True:
            return False
    return True


def golden(query: A.QueryLike, snapshot: Snapshot, dataset: str | None = None) -> GoldenJSON:
    """The lumisections of the matching datasets for which the query is True (union over datasets)."""
    plan = compile_plan(query)
    static_clauses, rr_clauses = plan.by_level(STATIC), plan.by_level(RR)
    oms_clauses, segment_clauses = plan.by_level(OMS), plan.by_level(SEGMENT)
    selected: dict[int, list[tuple[int, int]]] = {}
    for unit in matching_units(plan, snapshot, dataset):
        data, static = unit.data, unit.static
        if not _all_true(static_clauses, (static, _EMPTY, _EMPTY, 0, data)):
            continue
        rr = data.rr
        oms = data.oms
        if rr_clauses:
            rr = [r for r in rr if _all_true(rr_clauses, (static, r, _EMPTY, 0, data))]
        if oms_clauses:
            oms = [o for o in oms if _all_true(oms_clauses, (static, _EMPTY, o, 0, data))]
        if not rr or not oms:
            continue
        pieces = intersect_ranges(rr, oms)
        out = selected.setdefault(unit.run.run_number, [])
        if not segment_clauses:
            out.extend((s, e) for s, e, _, _ in pieces)
            continue
        breaks = piece_breaks(plan, data)
        for start, end, i, j in pieces:
            r, o = rr[i], oms[j]
            for s, e in _split(start, end, breaks):
                if _all_true(segment_clauses, (static, r, o, s, data)):
                    out.append((s, e))
    return GoldenJSON({run: ranges for run, ranges in selected.items() if ranges})
