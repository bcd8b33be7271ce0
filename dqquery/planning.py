"""Plans: what to send to a service so that nothing is missed, and what to evaluate locally afterwards.

``dqquery.to_rr``/``to_dials``/``to_oms`` are strict: exact or an error. ``plan`` is the forgiving form.
It returns one or more requests whose union is a **sound superset** (it never misses a row the query
selects) plus the **residual** query to evaluate locally on what comes back.

Decisions:
* If the whole query compiles exactly, the plan is that one request and no residual.
* Otherwise the query is put in negation normal form and then disjunctive normal form. Both rewrites are
  valid in three-valued (Kleene) logic: De Morgan, double negation and distributivity hold, and each
  negated predicate has an exact negated form (``not x < 1`` is ``x >= 1``: both are unknown when ``x``
  is missing). Each conjunct becomes one request made of the predicates the target accepts (greedily,
  in order); predicates it cannot express are simply not sent, which only widens that request.
* A target with no OR (DIALS, OMS) thus gets one request per disjunct; results are merged and
  de-duplicated by primary key (:meth:`Plan.execute`).
* ``x not in a..b`` that the target cannot send becomes ``x < a or x > b`` (equivalent in three-valued logic:
  both are unknown when ``x`` is missing), so a target without ``or`` (DIALS) gets two range requests instead
  of fetching everything.
* When the normal form would need more than :data:`MAX_REQUESTS` requests, the plan falls back to one
  request made of the top-level ``and`` clauses the target accepts.
* The residual is the whole query whenever any request is inexact or any predicate was left out:
  re-evaluating everything locally is always correct and keeps the plan easy to trust. When every
  alternative was pushed down whole and exactly, the merged results are the answer and there is no residual.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import ast as A
from .errors import QueryError, unsupported
from .normal import MAX_REQUESTS, dnf_conjuncts, to_nnf
from .query import as_node
from .semantics import selects
from .targets.base import Bound, Compiled, resolve, specs

# ------------------------------------------------------------------------------------------ targets


def carried_by(canonical: str) -> Callable[[str], bool] | None:
    """Whether a catalog path is a value in the target's response rows (``None``: the residual is applied by
    the caller to other data, as Run Registry's is to lumisections by :func:`dqquery.golden`)."""
    bound = resolve(canonical)
    return bound.target.carries(bound.option)


def _check_residual_fields(bound: Bound, residual: Any) -> None:
    """A residual tested on rows that lack one of its fields would read it as missing and drop every row:
    refuse such a plan instead of returning less than the query selects."""
    carried = bound.target.carries(bound.option)
    if residual is None or carried is None:
        return
    missing = [ref for ref in A.fields_of(residual) if not carried(ref.path)]
    if missing:
        names = ", ".join(dict.fromkeys(f"'{ref.name}'" for ref in missing))
        raise unsupported(
            bound.spec,
            f"{bound.spec} rows do not carry {names}, and this query has to be re-checked on the rows that come back",
            missing[0],
            hint="the rows cannot show it, so dqquery cannot re-check it: make the whole query compile exactly for this "
            "target (`dqquery compile --to TARGET`), or evaluate it where the field lives (Run Registry flags and OMS "
            "bits: `dqquery golden`)",
        )


def _plannable(target: str) -> Bound:
    bound = resolve(target)
    if not bound.target.plannable:
        raise unsupported(bound.spec, f"{bound.spec} cannot be planned (it has no rows to re-check a residual on)",
                          hint="plan targets: " + ", ".join(specs(plannable=True)))
    return bound


def _try(bound: Bound, node: Any) -> Compiled | None:
    try:
        return bound.compile(node)
    except QueryError as err:
        if err.category == "unsupported":
            return None
        raise


@dataclass(frozen=True)
class Plan:
    """Requests to send (their union is a superset of the answer) and the residual to apply locally."""

    target: str
    query: A.Query
    requests: tuple[Any, ...]
    residual: A.Query | None
    notes: tuple[str, ...] = field(default=())

    @property
    def exact(self) -> bool:
        """True when the requests alone return exactly the selected rows (no residual)."""
        return self.residual is None

    def describe(self) -> str:
        """A readable account of the plan."""
        import json

        from .unparse import unparse

        lines = [f"target: {self.target}", f"query:  {unparse(self.query)}", f"requests ({len(self.requests)}):"]
        for i, r in enumerate(self.requests, 1):
            lines.append(f"  {i}. {json.dumps(dict(r) if isinstance(r, Mapping) else r, default=str)}")
        if self.residual is None:
            lines.append("residual: none (the requests are exact)")
        else:
            lines.append(f"residual (evaluated locally): {unparse(self.residual)}")
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()

    def _repr_html_(self) -> str:
        import html

        return "<pre>" + html.escape(self.describe()) + "</pre>"

    def execute(
        self,
        fetch: Callable[[Any], Iterable[Any]],
        key: Callable[[Any], Hashable],
        row_view: Callable[[Any], Mapping[str, Any]],
    ) -> list[Any]:
        """Run every request with ``fetch``, merge the results by ``key`` (first seen wins, order kept),
        then keep the rows on which the residual is true (``row_view`` maps a row to field paths)."""
        merged: dict[Hashable, Any] = {}
        for request in self.requests:
            for row in fetch(request):
                merged.setdefault(key(row), row)
        rows = list(merged.values())
        if self.residual is None:
            return rows
        return [r for r in rows if selects(self.residual, row_view(r))]


def plan(query: A.QueryLike, target: str) -> Plan:
    """The plan for ``query`` on ``target`` (any plannable target of the registry: ``rr``, ``rr-raw``,
    ``rr-datasets``, ``dials:ENDPOINT``, ``oms:RESOURCE``, ``jsonlogic``; see ``dqquery.targets.specs``).

    Succeeds for a valid query, in the worst case with the unfiltered request and everything evaluated
    locally, unless that local residual needs a field the target's rows do not carry (DIALS th2 rows have no
    ``logical_file_name``, OMS rows no Run Registry flag): then ``QueryError("unsupported")`` names it,
    since the plan could not be sound. Notes explain what was not pushed down.
    """
    try:
        return _plan(query, target)
    except QueryError as err:
        if isinstance(query, str) and not err.query:  # located in the user's text
            raise err.with_query(query) from None
        raise


def _plan(query: A.QueryLike, target: str) -> Plan:
    node = as_node(query)
    bound = _plannable(target)
    canonical = bound.spec
    whole = _try(bound, node)
    if whole is not None:
        _check_residual_fields(bound, None if whole.exact else node)
        return Plan(canonical, node, (whole.request,), None if whole.exact else node, whole.notes)

    conjuncts = dnf_conjuncts(_expand_lists(to_nnf(node), bound))
    notes: list[str] = []
    if conjuncts is None:
        top = list(node.operands) if isinstance(node, A.And) else [node]
        conjuncts = [top]
        notes.append(f"the query has too many alternatives to split into at most {MAX_REQUESTS} requests; only top-level 'and' clauses are pushed down")
    elif len(conjuncts) > 1:
        notes.append(f"split into {len(conjuncts)} requests, one per alternative; results are merged without duplicates")

    empty = bound.target.empty_request(bound.option)
    requests: list[Any] = []
    seen: set[str] = set()
    all_exact = True
    for literals in conjuncts:
        kept: list[Any] = []
        for lit in literals:
            if _try(bound, A.make_and(kept + [lit])) is not None:
                kept.append(lit)
        compiled = bound.compile(A.make_and(kept)) if kept else None
        request = compiled.request if compiled is not None else empty
        all_exact = all_exact and len(kept) == len(literals) and compiled is not None and compiled.exact
        fingerprint = _fingerprint(request)
        if fingerprint not in seen:
            seen.add(fingerprint)
            requests.append(request)
    if any(_fingerprint(r) == _fingerprint(empty) for r in requests):
        requests = [r for r in requests if _fingerprint(r) == _fingerprint(empty)][:1]
        notes.append("one alternative cannot be narrowed at all: everything is fetched and filtered locally")
    # Every alternative pushed down whole and exactly: the merged results are the answer.
    residual = None if all_exact else node
    _check_residual_fields(bound, residual)
    return Plan(canonical, node, tuple(requests), residual, tuple(notes))


def _fingerprint(request: Any) -> str:
    import json

    return json.dumps(request, sort_keys=True, default=str)


def _expand_lists(node: Any, bound: Bound) -> Any:
    """``x in [a, b]`` becomes ``x == a or x == b``, and ``x not in a..b`` becomes ``x < a or x > b``, when the
    target cannot send the predicate itself (equivalent in three-valued logic), so that each alternative can be
    its own request."""
    if isinstance(node, (A.And, A.Or)):
        rebuild = A.make_and if isinstance(node, A.And) else A.make_or
        return rebuild([_expand_lists(o, bound) for o in node.operands])
    if isinstance(node, A.InSet) and not node.negated and len(node.values) <= MAX_REQUESTS:
        if _try(bound, node) is None:
            return A.make_or([A.Compare(field=node.field, op="==", value=v, span=node.span) for v in node.values])
    if isinstance(node, A.InRange) and node.negated and _try(bound, node) is None:
        return A.make_or([A.Compare(field=node.field, op="<", value=node.low, span=node.span),
                          A.Compare(field=node.field, op=">", value=node.high, span=node.span)])
    return node
