"""Compile a query to CMS OMS aggregation-API filters (``/agg/api/v1/runs`` or ``/lumisections``).

OMS filters are ``filter[<attribute>][<OP>]=<value>`` query parameters, all AND-ed, with
``OP`` in ``EQ NEQ LT GT LE GE LIKE``. There is no OR, no IN and no regex.

Decisions:
* Fields: on ``runs``, ``run.run_number`` and ``run.oms.<attr>``; on ``lumisections``, ``run.run_number``,
  ``lumisection.lumisection_number`` and ``lumisection.oms.<attr>``. The OMS attribute is the last path
  component, except for the renames in :data:`OMS_RENAMES` (RR's ``recorded``/``delivered`` are OMS'
  ``*_per_lumisection``). OMS lumisection rows also carry their run's ``fill_number`` (OMS's lumisection
  attributes, ``shared/reference/dials-and-oms.md``; CMS code filters lumisections on it), so ``fill_number`` is
  one on both resources. Anything else (RR flags, DIALS fields, other run attributes on lumisections) is
  unsupported.
* The query is put in negation normal form (exact in Kleene logic), then must be a conjunction.
  ``==``/``!=``/``<``/``<=``/``>``/``>=`` map one to one (``!=`` is ``NEQ``; SQL drops nulls for both, as
  dqquery does), a range is ``GE`` + ``LE``, ``not x == v`` is ``NEQ``, ``is not null`` is
  ``NEQ null`` (the CMSSW client's idiom). A one-value list is ``EQ``; a list of consecutive integers on an
  integer attribute is ``GE`` + ``LE``; other lists are unsupported (no IN).
* Values are strings: ``true``/``false``, numbers by ``repr``, datetimes as ``YYYY-MM-DDTHH:MM:SSZ``
  (dates at midnight UTC; sub-second times are unsupported). The string ``"null"`` and the empty string
  are unsupported as values (OMS reads ``null`` as SQL NULL; its handling of empty values is undocumented).
* ``like``: OMS' LIKE is undocumented. dqquery's ``like`` is case-insensitive and OMS (Oracle) is
  presumably case-sensitive, which would *lose* rows, so only patterns without cased letters and without
  ``\\`` escapes are sent, and such a filter is marked inexact (:func:`oms_exact` is ``False``): callers
  re-check those rows locally. Under the SQL-LIKE assumption the result is exact.
* :data:`SUPPORT` (a :class:`~dqquery.targets.base.Support` per node kind and polarity) is consulted before
  dispatch (:mod:`dqquery.targets.conjunction`, shared with DIALS), after the check that the field is an OMS
  attribute: what it calls unsupported is refused with its reason, the text ``docs/targets.md`` shows; the handlers (``_ATOM_HANDLERS``, by predicate class) refuse
  the finer cases (letters in a LIKE pattern, a list that is not a run of integers, ``is null``).
* A dict cannot hold two filters with the same attribute and operator: lower bounds are merged into the
  largest, upper bounds into the smallest, identical filters into one; anything else (``== 1 and == 2``,
  two different ``!=``) is unsupported rather than silently keeping the last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .. import ast as A
from ..catalog import lookup as catalog_lookup
from ..patterns import case_insensitive_class
from ..semantics import literal
from ..unparse import value_text
from .base import Compiled, Refusals, Support, SupportTable, Target, compile_bound, register, resolve
from .conjunction import field_of, grouped_by_field, polarity, refuse_unsupported

__all__ = [
    "OMS_OPS",
    "OMS_RENAMES",
    "RESOURCES",
    "SUPPORT",
    "attribute_of",
    "oms_exact",
    "oms_params",
    "row_paths",
    "to_oms",
]

RESOURCES: tuple[str, ...] = ("runs", "lumisections")

# Fixed paths per resource, then prefixes whose last component is the OMS attribute.
_FIXED: dict[str, dict[str, str]] = {
    "runs": {"run.run_number": "run_number"},
    "lumisections": {"run.run_number": "run_number", "lumisection.lumisection_number": "lumisection_number",
                     "run.oms.fill_number": "fill_number"},
}
_PREFIXES: dict[str, str] = {"runs": "run.oms.", "lumisections": "lumisection.oms."}

OMS_RENAMES: dict[str, str] = {
    "recorded": "recorded_lumi_per_lumisection",
    "delivered": "delivered_lumi_per_lumisection",
}
"""dqquery attribute (RR's name) -> OMS lumisection attribute."""

OMS_OPS: dict[str, str] = {"==": "EQ", "!=": "NEQ", "<": "LT", "<=": "LE", ">": "GT", ">=": "GE"}

# How merging two filters with the same attribute and operator works: keep the max / min value.
_MERGE_BY: dict[str, Any] = {"GE": max, "GT": max, "LE": min, "LT": min}

OMS_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def _resource(resource: str) -> str:
    if resource not in RESOURCES:
        raise ValueError(f"unknown OMS resource {resource!r}; known: {', '.join(RESOURCES)}")
    return resource


# Keys Run Registry adds to its copy of the OMS run attributes (run-registry.md 1.5, 3.4): derived from
# ``components`` and from the OMS lumisections, they are not attributes of the OMS runs API.
RR_DERIVED_RUN_ATTRIBUTES = frozenset({"beams_present_and_stable", "ls_duration"})


def _rr_derived(name: str) -> bool:
    return name in RR_DERIVED_RUN_ATTRIBUTES or name.endswith("_included")


def attribute_of(path: str, resource: str) -> str | None:
    """The OMS attribute a catalog path maps to on ``resource``, or ``None``."""
    fixed = _FIXED[_resource(resource)].get(path)
    if fixed:
        return fixed
    prefix = _PREFIXES[resource]
    if path.startswith(prefix):
        name = path[len(prefix) :]
        if resource == "runs" and _rr_derived(name):
            return None  # Run Registry's own key: use `components contains "X"` with OMS
        return OMS_RENAMES.get(name, name) if resource == "lumisections" else name
    return None


def row_paths(resource: str, attributes: dict[str, Any]) -> dict[str, Any]:
    """OMS ``attributes`` of one row as a ``dqquery.semantics`` row (catalog path -> value)."""
    fixed = {v: k for k, v in _FIXED[_resource(resource)].items()}
    renamed = {v: k for k, v in OMS_RENAMES.items()} if resource == "lumisections" else {}
    return {fixed.get(k) or _PREFIXES[resource] + renamed.get(k, k): v for k, v in attributes.items()}


_SUPPORT: dict[str, Support] = {
    "compare": Support("exact"),
    "in_range": Support("exact", negated=Support("unsupported", "OMS has no 'not in' range filter (it would need an or)")),
    "in_set": Support("partial", "one value, or consecutive integers only (OMS has no IN)",
                      negated=Support("partial", "one value only (NEQ); OMS has no NOT IN")),
    "like": Support("superset", "only patterns without letters; OMS' LIKE is undocumented, re-checked locally",
                    negated=Support("unsupported", "OMS has no 'not like' filter")),
    "regex": Support("unsupported", "OMS has no regular expressions"),
    "contains": Support("unsupported", "OMS' CT operator is undocumented (and cmsdials' OMS proxy cannot send it)",
                        negated=Support("unsupported", "OMS has no negated 'contains' filter")),
    "is_null": Support("partial", "is not null only (NEQ null)", negated=Support("exact")),
    "not": Support("partial", "only when it can be pushed into a comparison (not x == 1 is x != 1)"),
    "and": Support("exact"),
    "or": Support("unsupported", "OMS combines filters with and only"),
}
SUPPORT: dict[str, dict[str, Support]] = {resource: dict(_SUPPORT) for resource in RESOURCES}
"""Resource -> node kind -> :class:`~dqquery.targets.base.Support` (per polarity where it differs): what the
compiler consults before dispatch and what ``docs/targets.md`` shows."""


class _Clause:
    """One ``filter[attribute][op]=text`` with the literal it came from (for merging) and its node."""

    def __init__(self, attribute: str, op: str, text: str, value: Any, node: Any) -> None:
        self.attribute, self.op, self.text, self.value, self.node = attribute, op, text, value, node

    @property
    def key(self) -> str:
        return f"filter[{self.attribute}][{self.op}]"


def _time_text(ctx: Refusals, v: Any, node: Any) -> str:
    moment = literal(v)
    if moment.microsecond:
        raise ctx.unsupported(node, "OMS times have whole seconds; this time has a fraction of a second")
    return moment.strftime(OMS_DATETIME_FORMAT)


def _string_text(ctx: Refusals, v: Any, node: Any) -> str:
    text = v.value
    if text == "" or text.lower() == "null":
        raise ctx.unsupported(node, f"OMS cannot compare with the string {text!r} (empty values and 'null' are not plain strings there)")
    return text  # type: ignore[no-any-return]


_VALUE_TEXT_HANDLERS: A.NodeTable[Callable[[Refusals, Any, Any], str]] = A.NodeTable("oms.value_text", tuple(c for c in A.VALUE_CLASSES if c is not A.StatusValue), {  # statuses: RR flags, refused before
    A.BoolValue: lambda ctx, v, node: value_text(v),
    A.IntValue: lambda ctx, v, node: value_text(v),
    A.FloatValue: lambda ctx, v, node: value_text(v),
    A.DateValue: _time_text,
    A.DateTimeValue: _time_text,
    A.StringValue: _string_text,
})
"""Literal class -> its OMS text (numbers and booleans spelled as in a query, times as ``YYYY-MM-DDTHH:MM:SSZ``)."""


def _value_text(ctx: Refusals, v: Any, node: Any) -> str:
    """A literal as OMS expects it (any other literal, e.g. a status, is sent as its text)."""
    return _VALUE_TEXT_HANDLERS.get(type(v), _string_text)(ctx, v, node)


def _has_case(pattern: str) -> bool:
    return any(len(case_insensitive_class(c)) > 1 for c in pattern)


class _Compiler:
    def __init__(self, query: Any, resource: str) -> None:
        self.resource = _resource(resource)
        self.query = query
        self.ctx = Refusals(query, f"oms:{self.resource}")
        self.table = SUPPORT[self.resource]
        self.exact = True

    def run(self) -> dict[str, str]:
        def on_or(n: Any) -> Exception:
            return self.ctx.unsupported(n, self.table["or"].reason, "split the query into one request per alternative")

        clauses: list[_Clause] = []
        for atoms in grouped_by_field(self.query, on_or).values():
            for atom in atoms:
                clauses.extend(self.atom(atom))
        return self.merge(clauses)

    def atom(self, atom: Any) -> list[_Clause]:
        attribute = attribute_of(field_of(atom).path, self.resource)
        if attribute is None:
            raise self.ctx.unsupported(
                atom,
                f"'{field_of(atom).name}' is not an attribute of OMS {self.resource}",
                "OMS knows run.oms.* on runs and lumisection.oms.* on lumisections (plus run and lumisection numbers)",
            )
        refuse_unsupported(self.table, [atom], self.ctx)  # the support table, before the handler
        return _ATOM_HANDLERS[type(atom)](self, atom, attribute)

    def clause(self, attribute: str, op: str, v: Any, atom: Any) -> _Clause:
        return _Clause(attribute, op, _value_text(self.ctx, v, atom), v, atom)

    def refused(self, atom: Any, attribute: str) -> list[_Clause]:
        """A predicate the support table refuses (consulted before dispatch; kept so that the table is complete)."""
        kind, negated = polarity(atom)
        raise self.ctx.unsupported(atom, self.table[kind].of(negated).reason)

    def compare(self, atom: A.Compare, attribute: str) -> list[_Clause]:
        return [self.clause(attribute, OMS_OPS[atom.op], atom.value, atom)]

    def in_range(self, atom: A.InRange, attribute: str) -> list[_Clause]:
        return [self.clause(attribute, "GE", atom.low, atom), self.clause(attribute, "LE", atom.high, atom)]

    def in_set(self, atom: A.InSet, attribute: str) -> list[_Clause]:
        values = list(dict.fromkeys(atom.values))
        if len(values) == 1:
            return [self.clause(attribute, "NEQ" if atom.negated else "EQ", values[0], atom)]
        row = catalog_lookup(atom.field.path)
        ints = sorted({v.value for v in values}) if all(isinstance(v, A.IntValue) for v in values) else None
        consecutive = ints is not None and ints[-1] - ints[0] == len(ints) - 1
        if not atom.negated and row is not None and row.type == "int" and consecutive:
            return [self.clause(attribute, "GE", A.IntValue(value=ints[0]), atom),  # type: ignore[index]
                    self.clause(attribute, "LE", A.IntValue(value=ints[-1]), atom)]  # type: ignore[index]
        raise self.ctx.unsupported(atom, "OMS has no IN filter (only single values or runs of consecutive integers can be sent)",
                                   "split the query into one request per value")

    def like(self, atom: A.Like, attribute: str) -> list[_Clause]:
        if _has_case(atom.pattern) or "\\" in atom.pattern:
            raise self.ctx.unsupported(
                atom,
                "OMS' LIKE is undocumented and presumably case-sensitive, so a pattern with letters (or \\ escapes) could lose rows",
            )
        if atom.pattern == "":
            raise self.ctx.unsupported(atom, "OMS' handling of an empty LIKE pattern is undocumented")
        self.exact = False
        return [_Clause(attribute, "LIKE", atom.pattern, None, atom)]

    def is_null(self, atom: A.IsNull, attribute: str) -> list[_Clause]:
        if atom.negated:
            return [_Clause(attribute, "NEQ", "null", None, atom)]
        raise self.ctx.unsupported(atom, "OMS has no documented 'is null' filter (only NEQ null, for 'is not null')")

    def merge(self, clauses: Iterable[_Clause]) -> dict[str, str]:
        merged: dict[str, _Clause] = {}
        for c in clauses:
            prev = merged.get(c.key)
            if prev is None or prev.text == c.text:
                merged.setdefault(c.key, c)
                continue
            pick = _MERGE_BY.get(c.op)
            comparable = prev.value is not None and c.value is not None and _kind(prev.value) == _kind(c.value) != "other"
            if comparable and literal(prev.value) == literal(c.value):
                continue  # 5 and 5.0
            if pick is None or not comparable:
                raise self.ctx.unsupported(
                    c.node,
                    f"OMS takes one filter[{c.attribute}][{c.op}]; these conditions cannot be merged into one",
                    "the conditions contradict each other" if c.op == "EQ" else "",
                )
            merged[c.key] = c if pick(literal(prev.value), literal(c.value)) == literal(c.value) else prev
        return {key: c.text for key, c in merged.items()}


_ATOM_HANDLERS: A.NodeTable[Callable[[_Compiler, Any, str], list[_Clause]]] = A.NodeTable("oms.atom", (*A.PREDICATE_CLASSES, A.Not), {
    A.Compare: _Compiler.compare,
    A.InRange: _Compiler.in_range,
    A.InSet: _Compiler.in_set,
    A.Like: _Compiler.like,
    A.IsNull: _Compiler.is_null,
    A.Regex: _Compiler.refused,
    A.Contains: _Compiler.refused,
    A.Not: _Compiler.refused,  # not contains (the only not of negation normal form)
})
"""Predicate class (after negation normal form) -> its OMS clauses; ``and``/``or`` never reach it."""


_VALUE_KINDS: dict[type, str] = {A.IntValue: "number", A.FloatValue: "number", A.DateValue: "time", A.DateTimeValue: "time"}
"""Literal class -> what it can be merged with (``other``: not merged)."""


def _kind(v: Any) -> str:
    return _VALUE_KINDS.get(type(v), "other")


def to_oms(query: A.QueryLike, resource: str = "runs") -> dict[str, str]:
    """``{"filter[attr][OP]": "value", ...}`` for the OMS ``resource`` (``runs`` or ``lumisections``).

    Raises :class:`~dqquery.errors.QueryError` (``unsupported``) for what OMS cannot express. The same as
    ``dqquery.compile(query, "oms:RESOURCE")``, whose ``request`` this returns and whose ``exact`` says whether
    the filters are exact or a superset to re-check locally (also :func:`oms_exact`).
    """
    return compile_bound(query, resolve(f"oms:{resource}")).request  # type: ignore[no-any-return]


def oms_exact(query: A.QueryLike, resource: str = "runs") -> bool:
    """Whether :func:`to_oms` is exact (``False`` when it sends LIKE, whose OMS semantics are assumed)."""
    return compile_bound(query, resolve(f"oms:{resource}")).exact


def oms_params(
    filters: dict[str, str],
    fields: Sequence[str] | None = None,
    sort: Sequence[str] | None = None,
    offset: int = 0,
    limit: int = 100,
) -> list[tuple[str, str]]:
    """The full OMS query: filters, ``fields=a,b``, ``sort=a,-b`` (order kept), ``page[offset]``, ``page[limit]``."""
    if offset < 0 or limit < 1:
        raise ValueError("offset must be >= 0 and limit >= 1")
    out = list(filters.items())
    if fields:
        out.append(("fields", ",".join(fields)))
    if sort:
        out.append(("sort", ",".join(sort)))
    out += [("page[offset]", str(offset)), ("page[limit]", str(limit))]
    return out


EXAMPLES: dict[str, tuple[str, ...]] = {
    "runs": ("energy in 6000..7000", "stable_beam", "fill_number in [7000, 7001]", "fill_number in [7000, 7005]",
             'injection_scheme like "%2556%"', "start_time >= 2018-05-01", 'hlt_key ~ "Physics"'),
    "lumisections": ("run_number == 297050 and bpix_ready", "not bpix_ready", "bpix_ready is not null", "recorded > 0.1",
                     "bpix_ready or fpix_ready"),
}
PLAN_EXAMPLES: dict[str, tuple[str, ...]] = {
    "runs": ("fill_number in [7000, 7005]", 'energy > 6000 and hlt_key like "%physics%"'),
    "lumisections": ("bpix_ready or fpix_ready",),
}
TRAPS = """\
* No `or`, no `in` (one value, or consecutive integers as `GE`+`LE`), no regex, no `not like`.
* `LIKE` is undocumented and presumably case-sensitive: only patterns without letters are sent, and the
  result is re-checked locally (`plan` keeps a residual).
* Times are `YYYY-MM-DDTHH:MM:SSZ`; `is not null` is `NEQ null`; RR's lumisection `recorded`/`delivered` are
  OMS' `*_per_lumisection`.
"""


class OmsTarget(Target):
    """OMS aggregation API filters (``/agg/api/v1/runs`` and ``/lumisections``)."""

    name = "oms"
    service = "OMS"
    option_word = "resource"
    title = "OMS aggregation API filters"
    options = RESOURCES

    def compile(self, query: Any, option: str | None, **settings: Any) -> Compiled:
        compiler = _Compiler(query, option or "runs")
        request = compiler.run()
        notes = () if compiler.exact else (
            "superset: OMS's LIKE semantics are assumed (case, escapes); re-check the rows locally (dqquery.plan)",)
        return Compiled(self.spec(option or "runs"), request, compiler.exact, notes)

    def support(self, option: str | None) -> SupportTable:
        return SUPPORT[option or "runs"]

    def carries(self, option: str | None) -> Any:
        resource = option or "runs"
        return lambda path: attribute_of(path, resource) is not None

    def examples(self, option: str | None) -> tuple[str, ...]:
        return EXAMPLES[option or "runs"]

    def plan_examples(self, option: str | None) -> tuple[str, ...]:
        return PLAN_EXAMPLES[option or "runs"]

    def traps(self, option: str | None) -> str:
        return TRAPS if option in (None, "runs") else ""


register(OmsTarget())
