"""Compile a query to the query parameters of one DIALS list endpoint.

DIALS (``/api/v1/<endpoint>/``) filters with django-filter ``FilterSet``s: every declared
``field__lookup`` is one query parameter, all parameters are AND-ed, and **anything undeclared is
silently ignored** (the server then returns *unfiltered* data). So this compiler works from an explicit
allow-list per endpoint (:data:`PARAMS`, the executable form of the reference's endpoint table) and
never emits a parameter outside it.

Decisions:
* Allow-lists follow the backend v1.12.0 filter sets (``tests/data/conformance/dials/declared.json``).
  ``ml-models-index`` exists in two server generations (:data:`GENERATIONS`): v1.12.0 declares
  ``model_id``, ``model_id__in``, ``filename``, ``filename__regex``, ``target_me``, ``target_me__regex``,
  ``active`` and serves rows with those columns; the generation the cmsdials 2.4.1 client was written for
  names them ``id``, ``id__in``, ``name``, ``name__regex`` and has no ``target_me``. A server ignores a
  parameter it does not declare, so by default (``generation="both"``) dqquery sends *both* spellings with
  the same value: each generation honours its own and ignores the other. ``target_me`` exists in v1.12.0
  only, so it is sent only with ``generation="v1.12.0"`` (with ``"both"`` a 2.4.1 server would ignore it).
  Residuals read either row shape (:func:`row_paths`).
* The endpoints' identity facts (declared parameters per generation, primary keys, aliases, the cmsdials
  filter class and its misspellings, filter-only columns) live in one record per endpoint,
  :data:`dqquery.dials_api.ENDPOINTS`; :data:`PARAMS`, :data:`PRIMARY_KEYS`, :data:`ENDPOINT_ALIASES`,
  :data:`CMSDIALS_FILTER_CLASSES` ... are views of those records kept for their readers.
* The query is first put in negation normal form (De Morgan and comparison flipping are exact in
  three-valued logic), then must be a conjunction of predicates; constraints are grouped per field and
  turned into the fewest parameters that mean *exactly* the same thing:
  - integers: ``==`` -> ``x``; ``>=``/``<=`` -> ``x__gte``/``x__lte``; strict ``>``/``<`` -> ``__gte v+1`` /
    ``__lte v-1`` (there is no ``__gt``/``__lt``: they would be ignored); several bounds are intersected;
    a value list -> ``x__in`` (CSV) where declared, else a gte/lte pair when the values are consecutive;
    a bounded range on a field with only ``__in`` is enumerated (at most :data:`MAX_IN_VALUES` values);
    an empty intersection is sent as ``x__gte=1&x__lte=0`` where both exist (it selects nothing).
  - strings: ``==`` -> ``x`` (unless the value is empty or has edge whitespace: Django's ``CharField``
    strips values and skips empty ones, which would silently drop the filter; then an anchored regex is
    used); ``like`` -> an anchored ``__regex`` (``^...\\Z``) where ``%`` is ``.*``, ``_`` is ``.``, every
    cased letter becomes a class of all its case variants (``[kKK]``, computed with Python's own
    case-insensitive matching) so the case-insensitive LIKE stays exact on the case-sensitive
    PostgreSQL regex; ``~`` is passed through (both are case-sensitive searches) after a portability
    lint; ``contains`` -> an escaped literal search. Several patterns on one field are combined with
    lookaheads at the start (``^(?=a\\Z)(?=.*?b)``), at most one of them a user regex. Equality values
    are checked against the other constraints locally, so ``x == "a" and x like "%a%"`` is just ``x=a``.
  - booleans: ``true``/``false`` strings (BooleanWidget lower-cases; ``x != true`` is ``x=false``).
* Unsupported (a located :class:`~dqquery.errors.QueryError`, never a dropped clause): ``or``, ``!=`` on
  numbers and strings, ``not like``, ``!~``, ``not in``, ``is null``, and a field or lookup the endpoint
  does not declare. ``dqquery.plan(query, "dials:<endpoint>")`` fetches a superset and filters locally.
* :data:`SUPPORT` (a :class:`~dqquery.targets.base.Support` per node kind and polarity, derived from the
  endpoint's declared lookups) is consulted before dispatch (:mod:`dqquery.targets.conjunction`): what it
  calls unsupported is refused with its reason, the text ``docs/targets.md`` shows. Per field, in order of
  first appearance: a field the endpoint cannot filter on is refused first (the more useful message), then
  the table is consulted, then the per-field code runs (the order the refusals had before the table). The per-field code
  refuses the finer cases (``!=``, an undeclared lookup, a contradiction); its dispatch is by class
  (``_INTEGER_HANDLERS``, ``_BOOLEAN_HANDLERS``, ``_STRING_HANDLERS``, ``_SINGLE_REGEX``, ``_LOOKAHEAD_HEAD``).
* The PostgreSQL regex helpers (``like_to_regex``, ``literal_regex``, ``regex_portability_problem``) live in
  :mod:`dqquery.patterns_postgres`, re-exported here under their old names.
* Regex portability: DIALS runs PostgreSQL ARE, dqquery's reference evaluation runs Python ``re``.
  User regexes are limited to the common subset (no ``\\b``, named groups, possessive quantifiers,
  inline flags, POSIX classes ...). Remaining known difference: ``.`` matches a newline in PostgreSQL;
  DIALS names (datasets, MEs, files) contain none.
* The per-field compiler (``_FieldCompiler``) is django-filter's, not DIALS' alone: :mod:`dqquery.targets.openapi`
  reuses it for any django-filter service, passing its own declared parameters, generations and service name
  (messages say ``{service}``, "DIALS" here).
* ``as_filters=True`` returns the cmsdials 2.4.1 filter object instead of the dict, and refuses what the
  client model would drop: its th1/th2 models spell ``ls_number__lte`` as ``ls_numbet__lte``, and
  ``RunFilters`` has no ``dataset_id__in``.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from .. import ast as A
from ..catalog import lookup as catalog_lookup
from ..dials_api import ALL_GENERATIONS, ENDPOINT_ALIASES, GENERATIONS
from ..dials_api import ENDPOINTS as API
from ..errors import QueryError
from ..normal import conjuncts
from ..patterns import PatternError, case_insensitive_class, compile_regex
from ..patterns_postgres import like_to_regex, literal_regex, lookahead_conjunction, regex_portability_problem
from ..patterns_postgres import strip_safe as _strip_safe
from ..semantics import evaluate_predicate
from .base import Compiled, Refusals, Support, SupportTable, Target, compile_bound, register, resolve
from .conjunction import grouped_by_field, refuse_unsupported

__all__ = [
    "ENDPOINTS",
    "ENDPOINT_ALIASES",
    "GENERATIONS",
    "MAX_IN_VALUES",
    "PARAMS",
    "PRIMARY_KEYS",
    "SUPPORT",
    "Param",
    "canonical_endpoint",
    "case_insensitive_class",
    "conjuncts",
    "filterable_paths",
    "like_to_regex",
    "literal_regex",
    "params_of",
    "primary_key",
    "primary_key_columns",
    "regex_portability_problem",
    "response_columns",
    "row_fields",
    "row_paths",
    "to_dials",
]

MAX_IN_VALUES = 100
"""Largest value list sent as one ``__in`` parameter (also the largest range enumerated into one)."""


class Param(NamedTuple):
    """What one declared DIALS query parameter filters: a catalog path, a django lookup, the server
    generations that declare it."""

    path: str
    lookup: str  # "exact" | "gte" | "lte" | "in" | "regex"
    generations: frozenset[str] = ALL_GENERATIONS


PARAMS: dict[str, dict[str, Param]] = {
    name: {p.name: Param(p.path, p.lookup, p.generations) for p in record.params if p.path is not None}
    for name, record in API.items()
}
"""Endpoint -> parameter -> what it filters: the compiler's allow-lists, the declared parameters of
:data:`dqquery.dials_api.ENDPOINTS` that map to a catalog path (both generations, in declaration order)."""

ENDPOINTS: tuple[str, ...] = tuple(API)
COUNTABLE_ENDPOINTS: frozenset[str] = frozenset(name for name, record in API.items() if record.countable)
"""Endpoints with a ``<endpoint>/count/`` route (DIALS registers it on these three only; dials-and-oms.md)."""

PRIMARY_KEYS: dict[str, dict[str, tuple[str, ...]]] = {
    name: {"*": keys[0]} if len(set(keys)) == 1 else dict(zip(GENERATIONS, keys))
    for name, record in API.items()
    for keys in [tuple(record.key(g) for g in GENERATIONS)]
}
"""Endpoint -> generation (``"*"``: every one) -> primary-key columns: the order of the rows of a listing and
the fields of its cursor (conformance README table; v1.12.0 pages ``ml-bad-lumisection`` by all five)."""

CMSDIALS_FILTER_CLASSES: dict[str, str] = {name: record.cmsdials_filters for name, record in API.items()}
"""Endpoint -> its cmsdials 2.4.1 filter class (``cmsdials.filters``)."""

CMSDIALS_MISSPELLED: dict[tuple[str, str], str] = {
    (name, server): client for name, record in API.items() for server, client in record.cmsdials_misspelled.items()
}
"""Known field-name mistakes in cmsdials 2.4.1 filter models: (endpoint, server name) -> client name."""

FILTER_ONLY_COLUMNS: dict[str, frozenset[str]] = {name: record.filter_only for name, record in API.items() if record.filter_only}
"""Names the server filters through a dimension table but does not serve in the rows of these endpoints
(conformance README, dials/rows.json): a request can use them, a local residual cannot."""


def primary_key_columns(endpoint: str, row: Mapping[str, Any] | None = None, generation: str | None = None) -> tuple[str, ...]:
    """The primary-key columns of ``endpoint``: of ``generation``, else of the generation whose key ``row`` carries
    (v1.12.0 when neither tells)."""
    record = API[canonical_endpoint(endpoint)]
    if generation is not None:
        return record.key(generation)
    candidates = list(dict.fromkeys(record.key(g) for g in GENERATIONS))
    if row is not None and len(candidates) > 1:
        for columns in candidates:
            if all(c in row for c in columns):
                return columns
    return candidates[0]


def primary_key(endpoint: str, row: Mapping[str, Any]) -> tuple[Any, ...]:
    """The primary key of a DIALS row (either ``ml-models-index`` row shape); ``KeyError`` names a missing column."""
    columns = primary_key_columns(endpoint, row)
    missing = [c for c in columns if c not in row]
    if missing:
        raise KeyError(f"a DIALS {endpoint}/ row without its key column(s) {missing}: {sorted(row)}")
    return tuple(row[c] for c in columns)


def canonical_endpoint(endpoint: str) -> str:
    """The endpoint name (``h1d`` -> ``th1``); ``ValueError`` for an unknown one."""
    name = ENDPOINT_ALIASES.get(endpoint, endpoint)
    if name not in PARAMS:
        close = difflib.get_close_matches(endpoint, list(PARAMS) + list(ENDPOINT_ALIASES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown DIALS endpoint {endpoint!r}{hint}; known: {', '.join(ENDPOINTS)}")
    return name


def _selected(generation: str) -> frozenset[str]:
    if generation == "both":
        return ALL_GENERATIONS
    if generation not in ALL_GENERATIONS:
        raise ValueError(f"unknown DIALS server generation {generation!r}; one of: both, {', '.join(GENERATIONS)}")
    return frozenset({generation})


def params_of(endpoint: str, generation: str) -> dict[str, Param]:
    """The parameters one server generation declares (``"both"``: the union) for the endpoint."""
    wanted = _selected(generation)
    return {name: p for name, p in PARAMS[canonical_endpoint(endpoint)].items() if p.generations & wanted}


def _column(endpoint: str, name: str) -> str:
    """The row column a declared parameter reads (``min_size`` reads ``file_size``)."""
    return next(p.column for p in API[endpoint].params if p.name == name)


def response_columns(endpoint: str, generation: str = GENERATIONS[0]) -> dict[str, str]:
    """Catalog path -> column of a DIALS response row of ``generation``, for the fields the endpoint filters on.

    ``logical_file_name`` (th1/th2), ``me``/``dataset`` (ml-bad-lumisection) are filtered through a dimension
    table and are not columns of the served rows; a row that lacks a column just lacks the field.
    """
    out: dict[str, str] = {}
    for name, param in params_of(endpoint, generation).items():
        out.setdefault(param.path, _column(canonical_endpoint(endpoint), name))
    return out


def _row_columns(endpoint: str) -> dict[str, tuple[str, ...]]:
    """Catalog path -> the columns that may carry it, one per generation (the first one present is read)."""
    out: dict[str, tuple[str, ...]] = {}
    endpoint = canonical_endpoint(endpoint)
    for name, param in PARAMS[endpoint].items():
        column = _column(endpoint, name)
        if column not in out.get(param.path, ()):
            out[param.path] = out.get(param.path, ()) + (column,)
    return out


def row_fields(endpoint: str) -> frozenset[str]:
    """Catalog paths whose values the endpoint's response rows carry (what a local residual can test)."""
    name = canonical_endpoint(endpoint)
    hidden = API[name].filter_only
    return frozenset(path for path, cols in _row_columns(name).items() if any(c not in hidden for c in cols))


def row_paths(endpoint: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """A DIALS response row as a ``dqquery.semantics`` row (catalog path -> value); reads either
    ``ml-models-index`` row shape (``model_id``/``filename`` or ``id``/``name``)."""
    carried = row_fields(endpoint)
    out: dict[str, Any] = {}
    for path, columns in _row_columns(endpoint).items():
        if path not in carried:
            continue
        for column in columns:
            if column in row:
                out[path] = row[column]
                break
    return out


def filterable_paths(endpoint: str, generation: str = "both") -> tuple[str, ...]:
    """Catalog paths the endpoint can filter on in every selected generation, in allow-list order."""
    wanted = _selected(generation)
    out: dict[str, None] = {}
    for param in PARAMS[canonical_endpoint(endpoint)].values():
        covered = frozenset().union(*(p.generations for p in PARAMS[canonical_endpoint(endpoint)].values() if p.path == param.path))
        if wanted <= covered:
            out.setdefault(param.path)
    return tuple(out)


# ================================================================================ compilation


def _integral(x: float | int) -> bool:
    return isinstance(x, int) or float(x).is_integer()


class _FieldCompiler:
    """Turns all constraints on one field into DIALS parameters (exactly, or raises).

    Also the field compiler of any django-filter service (:mod:`dqquery.targets.openapi`): it passes the
    field's ``declared`` parameters (name -> anything with ``path``, ``lookup``, ``generations``), the
    ``wanted`` generations and its ``service`` name for messages, instead of the DIALS tables."""

    service = "DIALS"

    def __init__(self, ctx: Refusals, endpoint: str, path: str, atoms: list[Any], generation: str = "both", *,
                 declared: Mapping[str, Any] | None = None, wanted: frozenset[str] | None = None) -> None:
        self.ctx, self.endpoint, self.path, self.atoms = ctx, endpoint, path, atoms
        if declared is None:
            declared = {name: p for name, p in params_of(endpoint, generation).items() if p.path == path}
        self.declared = dict(declared)
        # lookup -> the parameter names that carry it, one per generation; a lookup counts only when every
        # selected generation declares it (a parameter a server does not declare is ignored: a lost filter).
        self.lookups: dict[str, list[str]] = {}
        for name, p in self.declared.items():
            self.lookups.setdefault(p.lookup, []).append(name)
        wanted = _selected(generation) if wanted is None else wanted
        for lookup, names in list(self.lookups.items()):
            if not wanted <= frozenset().union(*(self.declared[n].generations for n in names)):
                del self.lookups[lookup]
        row = catalog_lookup(path)
        self.name = row.name if row else path
        self.type = row.type if row else "any"
        self.out: dict[str, Any] = {}
        self.origin: dict[str, Any] = {}
        # what the predicates on the field allow, gathered by the handlers: bounds, a set of values, patterns
        self.lo: int | None = None
        self.hi: int | None = None
        self.lo_node: Any = None
        self.hi_node: Any = None
        self.allowed: set[Any] | None = None
        self.set_node: Any = None
        self.patterns: list[Any] = []

    def emit(self, lookup: str, value: Any, node: Any) -> None:
        for name in self.lookups[lookup]:  # every generation's spelling, with the same value
            self.out[name] = value
            self.origin[name] = node

    def fail(self, node: Any, message: str, hint: str = "") -> QueryError:
        return self.ctx.unsupported(node, message, hint)

    def no_lookup(self, node: Any, what: str) -> QueryError:
        declared = ", ".join(self.declared)
        return self.fail(
            node,
            f"{self.service} {self.endpoint}/ cannot filter '{self.name}' by {what}",
            f"its filters for this field are: {declared} (undeclared lookups are silently ignored by {self.service})",
        )

    def contradiction(self, node: Any) -> QueryError:
        return self.fail(
            node,
            f"the conditions on '{self.name}' contradict each other, so the query selects nothing; "
            f"{self.service} {self.endpoint}/ cannot express an empty selection on this field",
            "remove the contradiction",
        )

    def compile(self) -> dict[str, Any]:
        handler = {"int": self.integer, "string": self.string, "bool": self.boolean}.get(self.type)
        if handler is None:  # pragma: no cover - every DIALS field is int, string or bool
            raise self.fail(self.atoms[0], f"'{self.name}' has no {self.service} filter")
        handler()
        return self.out

    # ---- integers

    def integer(self) -> None:
        for atom in self.atoms:
            _INTEGER_HANDLERS.get(type(atom), _FieldCompiler.int_other)(self, atom)
        lo, hi, lo_node, hi_node = self.lo, self.hi, self.lo_node, self.hi_node
        last = self.atoms[-1]
        if self.allowed is not None:
            members = sorted(v for v in self.allowed if (lo is None or v >= lo) and (hi is None or v <= hi))
            self.integer_set(members, self.set_node or last)
            return
        if lo is not None and hi is not None and lo > hi:
            self.nothing(last)
            return
        if lo is not None and lo == hi and "exact" in self.lookups:
            self.emit("exact", lo, last)
            return
        if (lo is not None and "gte" not in self.lookups) or (hi is not None and "lte" not in self.lookups):
            if lo is not None and hi is not None and "in" in self.lookups and hi - lo < MAX_IN_VALUES:
                self.emit("in", ",".join(str(v) for v in range(lo, hi + 1)), last)
                return
            missing = lo_node if lo is not None and "gte" not in self.lookups else hi_node
            raise self.no_lookup(missing, "a lower bound" if missing is lo_node else "an upper bound")
        if lo is not None:
            self.emit("gte", lo, lo_node)
        if hi is not None:
            self.emit("lte", hi, hi_node)

    def allow(self, values: set[Any], node: Any) -> None:
        """Intersect the values the field may take (``==``, ``in [...]``)."""
        self.allowed = values if self.allowed is None else self.allowed & values
        self.set_node = node

    def lower(self, bound: int, node: Any) -> None:
        if self.lo is None or bound > self.lo:
            self.lo, self.lo_node = bound, node

    def upper(self, bound: int, node: Any) -> None:
        if self.hi is None or bound < self.hi:
            self.hi, self.hi_node = bound, node

    def int_compare(self, atom: A.Compare) -> None:
        v = atom.value.value
        if atom.op == "!=":
            raise self.fail(atom, f"{self.service} has no 'not equal' filter")
        if atom.op == "==":
            self.allow({int(v)} if _integral(v) else set(), atom)
            return
        bound = {">=": math.ceil(v), ">": math.floor(v) + 1, "<=": math.floor(v), "<": math.ceil(v) - 1}[atom.op]
        if atom.op in (">=", ">"):
            self.lower(bound, atom)
        else:
            self.upper(bound, atom)

    def int_range(self, atom: A.InRange) -> None:
        self.lower(math.ceil(atom.low.value), atom)
        self.upper(math.floor(atom.high.value), atom)

    def int_in_set(self, atom: A.InSet) -> None:
        self.allow({int(x.value) for x in atom.values if _integral(x.value)}, atom)

    def int_other(self, atom: Any) -> None:
        raise self.fail(atom, f"'{self.name}' is a number; {self.service} cannot apply this filter to it")

    def integer_set(self, members: list[int], node: Any) -> None:
        if not members:
            self.nothing(node)
        elif len(members) == 1 and "exact" in self.lookups:
            self.emit("exact", members[0], node)
        elif "in" in self.lookups and len(members) <= MAX_IN_VALUES:
            self.emit("in", ",".join(str(v) for v in members), node)
        elif members[-1] - members[0] == len(members) - 1 and {"gte", "lte"} <= set(self.lookups):
            self.emit("gte", members[0], node)
            self.emit("lte", members[-1], node)
        else:
            raise self.no_lookup(node, "a list of values")

    def nothing(self, node: Any) -> None:
        if {"gte", "lte"} <= set(self.lookups):
            self.emit("gte", 1, node)
            self.emit("lte", 0, node)
        else:
            raise self.contradiction(node)

    # ---- booleans

    def boolean(self) -> None:
        wanted: set[bool] | None = None
        for atom in self.atoms:
            values = _BOOLEAN_HANDLERS.get(type(atom), _FieldCompiler.bool_other)(self, atom)
            wanted = values if wanted is None else wanted & values
        if not wanted:
            raise self.contradiction(self.atoms[-1])
        if len(wanted) == 2:
            raise self.fail(self.atoms[-1], f"{self.service} cannot select both values of '{self.name}' (it cannot exclude nulls)")
        if "exact" not in self.lookups:  # pragma: no cover - booleans are exact-only in every table
            raise self.no_lookup(self.atoms[-1], "value")
        self.emit("exact", "true" if wanted.pop() else "false", self.atoms[-1])

    def bool_compare(self, atom: A.Compare) -> set[bool]:
        if atom.op not in ("==", "!="):  # pragma: no cover - the check pass allows nothing else on booleans
            return self.bool_other(atom)
        return {atom.value.value if atom.op == "==" else not atom.value.value}

    def bool_in_set(self, atom: A.InSet) -> set[bool]:
        return {x.value for x in atom.values}

    def bool_other(self, atom: Any) -> set[bool]:  # pragma: no cover - the check pass allows nothing else on booleans
        raise self.fail(atom, f"'{self.name}' is a boolean; {self.service} cannot apply this filter to it")

    # ---- strings

    def string(self) -> None:
        for atom in self.atoms:
            _STRING_HANDLERS.get(type(atom), _FieldCompiler.str_other)(self, atom)
        patterns = self.patterns
        for atom in patterns:
            text = _PATTERN_TEXT[type(atom)](atom)
            if not isinstance(text, str):  # pragma: no cover - contains on a string field takes a string
                raise self.fail(atom, "'contains' needs a string here")
            if "\x00" in text:
                raise self.fail(atom, f"{self.service} (PostgreSQL) cannot receive a NUL character")
            if isinstance(atom, A.Regex):
                problem = regex_portability_problem(atom.pattern)
                if problem:
                    raise self.fail(atom, f"this regular expression is not portable to {self.service}: {problem}")
        if self.allowed is not None:
            members = sorted(v for v in self.allowed if all(evaluate_predicate(p, v) is True for p in patterns))
            self.string_set(members, self.set_node)
            return
        if "regex" not in self.lookups:
            raise self.no_lookup(patterns[0], "a pattern")
        self.emit("regex", self.combined_regex(patterns), patterns[-1])

    def str_compare(self, atom: A.Compare) -> None:
        if atom.op == "==":
            self.allow({atom.value.value}, atom)
        elif atom.op == "!=":
            raise self.fail(atom, f"{self.service} has no 'not equal' filter")
        else:
            self.str_other(atom)

    def str_in_set(self, atom: A.InSet) -> None:
        self.allow({x.value for x in atom.values}, atom)

    def str_pattern(self, atom: Any) -> None:
        self.patterns.append(atom)

    def str_other(self, atom: Any) -> None:
        raise self.fail(atom, f"'{self.name}' is a string; {self.service} cannot apply this filter to it")

    def string_set(self, members: list[str], node: Any) -> None:
        if not members:
            raise self.contradiction(node)
        if any("\x00" in m for m in members):
            raise self.fail(node, f"{self.service} (PostgreSQL) cannot receive a NUL character")
        only = members[0]
        if len(members) == 1 and "exact" in self.lookups and only and only == only.strip():
            self.emit("exact", only, node)
        elif "regex" in self.lookups:
            body = "|".join(literal_regex(m) for m in members)
            self.emit("regex", f"^(?:{body})\\Z" if len(members) > 1 else f"^{body}\\Z", node)
        elif len(members) == 1 and "exact" in self.lookups:
            raise self.fail(node, f"{self.service} strips whitespace around values and ignores empty ones, so this value cannot be sent exactly")
        else:
            raise self.no_lookup(node, "a list of values")

    def combined_regex(self, patterns: list[Any]) -> str:
        user = [p for p in patterns if isinstance(p, A.Regex)]
        if len(patterns) == 1:
            regex = _SINGLE_REGEX[type(patterns[0])](patterns[0])
        else:
            if len(user) > 1:
                raise self.fail(user[1], f"{self.service} takes one regex per field; combine the regular expressions on '{self.name}' into one")
            heads = [_LOOKAHEAD_HEAD[type(p)](p) for p in patterns if not isinstance(p, A.Regex)]
            regex = lookahead_conjunction(heads, user[0].pattern if user else None)
        regex = _strip_safe(regex)
        try:
            compile_regex(regex, dot_matches_newline=True)  # what the emulator (and dqquery) can run in linear time
        except PatternError:
            raise self.fail(patterns[-1], f"the patterns on '{self.name}' cannot be combined into one {self.service} regex") from None
        return regex


_INTEGER_HANDLERS: A.NodeTable[Callable[[_FieldCompiler, Any], None]] = A.NodeTable("dials.integer", (A.Compare, A.InRange, A.InSet), {
    A.Compare: _FieldCompiler.int_compare,
    A.InRange: _FieldCompiler.int_range,
    A.InSet: _FieldCompiler.int_in_set,
})
"""Predicate class -> how it constrains an integer field (any other: refused)."""

_BOOLEAN_HANDLERS: A.NodeTable[Callable[[_FieldCompiler, Any], set[bool]]] = A.NodeTable("dials.boolean", (A.Compare, A.InSet), {
    A.Compare: _FieldCompiler.bool_compare,
    A.InSet: _FieldCompiler.bool_in_set,
})
"""Predicate class -> the values of a boolean field it allows (the check pass allows nothing else)."""

_STRING_HANDLERS: A.NodeTable[Callable[[_FieldCompiler, Any], None]] = A.NodeTable("dials.string", (A.Compare, A.InSet, A.Like, A.Regex, A.Contains), {
    A.Compare: _FieldCompiler.str_compare,
    A.InSet: _FieldCompiler.str_in_set,
    A.Like: _FieldCompiler.str_pattern,
    A.Regex: _FieldCompiler.str_pattern,
    A.Contains: _FieldCompiler.str_pattern,
})
"""Predicate class -> how it constrains a string field: a set of values, or a pattern (any other: refused)."""

_PATTERN_TEXT: A.NodeTable[Callable[[Any], Any]] = A.NodeTable("dials.pattern_text", (A.Like, A.Regex, A.Contains), {
    A.Like: lambda p: p.pattern,
    A.Regex: lambda p: p.pattern,
    A.Contains: lambda p: p.value.value,
})
_SINGLE_REGEX: A.NodeTable[Callable[[Any], str]] = A.NodeTable("dials.single_regex", (A.Like, A.Regex, A.Contains), {
    A.Like: lambda p: f"^{like_to_regex(p.pattern)}\\Z",
    A.Contains: lambda p: literal_regex(p.value.value),
    A.Regex: lambda p: p.pattern,
})
"""Pattern class -> the DIALS regex of one pattern alone on its field."""
_LOOKAHEAD_HEAD: A.NodeTable[Callable[[Any], str]] = A.NodeTable("dials.lookahead_head", (A.Like, A.Contains), {
    A.Like: lambda p: f"{like_to_regex(p.pattern)}\\Z",
    A.Contains: lambda p: f".*?{literal_regex(p.value.value)}",
})
"""Pattern class -> its lookahead when several patterns share a field (the one user regex is searched after them)."""


def _compile(query: Any, endpoint: str, generation: str = "both") -> tuple[dict[str, Any], dict[str, Any], Refusals]:
    ep = canonical_endpoint(endpoint)
    _selected(generation)
    ctx = Refusals(query, f"dials:{ep}")
    table = SUPPORT[ep]

    def on_or(n: Any) -> QueryError:
        return ctx.unsupported(n, table["or"].reason, "split the query into one request per alternative")

    params: dict[str, Any] = {}
    origin: dict[str, Any] = {}
    paths = filterable_paths(ep, generation)
    for path, atoms in grouped_by_field(query, on_or).items():
        if path not in paths and path in filterable_paths(ep, GENERATIONS[0]):
            names = [g for g in GENERATIONS if path in filterable_paths(ep, g)]
            raise ctx.unsupported(
                atoms[0],
                f"only the DIALS {' and '.join(names)} server declares a filter on '{catalog_lookup(path).name}' "  # type: ignore[union-attr]
                f"for {ep}/; another generation would ignore it and return every row",
                f'pass generation="{names[0]}" when the server is that generation',
            )
        if path not in paths:
            row = catalog_lookup(path)
            name = row.name if row else path
            names = ", ".join(catalog_lookup(p).name for p in paths)  # type: ignore[union-attr]
            raise ctx.unsupported(atoms[0], f"DIALS {ep}/ cannot filter on '{name}'", f"its filterable fields are: {names}")
        refuse_unsupported(table, atoms, ctx)  # the support table, before the per-field code
        fc = _FieldCompiler(ctx, ep, path, atoms, generation)
        params.update(fc.compile())
        origin.update(fc.origin)
    order = list(PARAMS[ep])
    ordered = {k: params[k] for k in sorted(params, key=order.index)}
    return ordered, origin, ctx


def to_dials(query: A.QueryLike, endpoint: str = "run", as_filters: bool = False, generation: str = "both") -> Any:
    """DIALS query parameters for ``endpoint`` that select exactly the rows the query selects.

    Returns ``{param: value}`` (ints as ``int``, patterns and CSV lists as ``str``, booleans as ``"true"`` /
    ``"false"``), or with ``as_filters=True`` the cmsdials 2.4.1 filter object for the endpoint (requires
    cmsdials; it uses the 2.4.1 names). ``generation`` (``"both"``, ``"v1.12.0"``, ``"2.4.1"``) chooses the
    server generations to address: with ``"both"``, ``ml-models-index`` gets each parameter in both spellings.
    Raises :class:`~dqquery.errors.QueryError` (``unsupported``) for anything DIALS cannot express exactly on
    this endpoint, or for an unknown endpoint (with a did-you-mean); ``ValueError`` for an unknown generation.
    The same as ``dqquery.compile(query, "dials:ENDPOINT")``, whose ``request`` this returns.
    """
    bound = resolve(f"dials:{endpoint}")
    return compile_bound(query, bound, as_filters=as_filters, generation=generation).request


def _as_filters(endpoint: str, params: dict[str, Any], origin: dict[str, Any], ctx: Refusals) -> Any:
    try:
        import cmsdials.filters as cmsdials_filters  # optional dependency
    except ImportError:
        raise ImportError('as_filters=True needs the cmsdials client: pip install "dqquery[dials]"') from None

    cls = getattr(cmsdials_filters, CMSDIALS_FILTER_CLASSES[endpoint])
    for name in params:
        if name in cls.model_fields:
            continue
        misspelled = CMSDIALS_MISSPELLED.get((endpoint, name))
        if misspelled:
            raise ctx.unsupported(
                origin[name],
                f"cmsdials' {cls.__name__} misspells {name} as {misspelled}, so the client would send a parameter "
                f"DIALS ignores and the upper bound would be lost",
                "call to_dials(..., as_filters=False) and send the dict as raw query parameters",
            )
        raise ctx.unsupported(
            origin[name],
            f"cmsdials' {cls.__name__} has no field {name}, so the client would drop this filter",
            "call to_dials(..., as_filters=False) and send the dict as raw query parameters",
        )
    kwargs = {k: [int(x) for x in v.split(",")] if k.endswith("__in") else v for k, v in params.items()}
    filters = cls(**kwargs)
    kept = set(filters.cleandict()) - {"next_token", "page_size"}
    if kept != set(params):  # pragma: no cover - defensive: a future client silently dropping a field
        raise ctx.unsupported(None, f"cmsdials' {cls.__name__} dropped {sorted(set(params) - kept)}")
    return filters


# ================================================================================ support matrix


_NEGATED = {
    "in_range": Support("unsupported", "DIALS has no 'not in' range filter (it would need an or of two bounds)"),
    "in_set": Support("unsupported", "DIALS has no 'not in' list filter"),
    "like": Support("unsupported", "DIALS has no negated pattern filter ('not like')"),
    "regex": Support("unsupported", "DIALS has no negated regex filter ('!~')"),
    "contains": Support("unsupported", "DIALS has no negated 'contains' filter"),
}
"""Why a negated predicate (after negation normal form) has no DIALS form, whatever the endpoint."""


def _support(endpoint: str) -> dict[str, Support]:
    """The support table of one endpoint, from its declared lookups."""
    lookups = {p.lookup for p in PARAMS[endpoint].values()}
    by_path: dict[str, set[str]] = {}
    for p in PARAMS[endpoint].values():
        by_path.setdefault(p.path, set()).add(p.lookup)
    # A range needs both bounds on one field (or an __in to list it): a lone __gte (file-index min_size) is not one.
    has_range = any({"gte", "lte"} <= ls or "in" in ls for ls in by_path.values())
    has_regex = "regex" in lookups

    def unless(supported: bool, reason: str, kind: str) -> Support:
        return Support("exact", negated=_NEGATED[kind]) if supported else Support("unsupported", reason, negated=_NEGATED[kind])

    no_regex = f"no __regex filter on dials:{endpoint}"
    return {
        "compare": Support("exact"),
        "in_range": unless(has_range, f"no range or __in filter on dials:{endpoint}", "in_range"),
        "in_set": Support(
            "partial",
            "exact for fields with __in, string fields with __regex and consecutive integers; other lists are split"
            " per value by plan"
            if ("in" in lookups or has_regex)
            else "one value only (no __in or __regex filter)",
            negated=_NEGATED["in_set"],
        ),
        "like": unless(has_regex, no_regex, "like"),
        "regex": unless(has_regex, no_regex, "regex"),
        "contains": unless(has_regex, no_regex, "contains"),
        "is_null": Support("unsupported", "DIALS has no null filter"),
        "not": Support("partial", "only when it can be pushed into a comparison (not x < 5 is x >= 5); DIALS has no negation"),
        "and": Support("exact"),
        "or": Support("unsupported", "DIALS combines filters with and only"),
    }


SUPPORT: dict[str, dict[str, Support]] = {ep: _support(ep) for ep in ENDPOINTS}
"""Endpoint -> node kind -> :class:`~dqquery.targets.base.Support` (per polarity where it differs): what the
compiler consults before dispatch and what ``docs/targets.md`` shows."""


# ================================================================================ target

EXAMPLES: dict[str, tuple[str, ...]] = {
    "run": (
        "run_number in 367100..367200",
        "run_number > 367100",
        "dataset_id in [5, 9]",
        'dataset like "%zerobias%"',
        'dataset ~ "ZeroBias/Run2023C"',
        'dataset in ["/A/B/DQMIO", "/C/D/DQMIO"]',
        "run_number != 367112",
        "run_number == 5 or run_number == 7",
    ),
    "lumisection": (
        "run_number == 367112 and ls_number in 10..20",
        "ls_number < 100",
        "ls_number in [3, 7]",
    ),
    "ml-models-index": (
        "model_id in [19, 21]",
        'model_active and model_name ~ "PXLayer"',
        'target_me == "PixelPhase1/Tracks/PXBarrel/charge_PXLayer_1"',
    ),
    "th2": (
        "ls_number <= 50",
        "entries >= 100",
        "entries > 100",
        "entries <= 100",
        'me like "%charge%"',
    ),
}
PLAN_EXAMPLES: dict[str, tuple[str, ...]] = {
    "run": ('run_number in [367112, 367300] or dataset ~ "ZeroBias"', "run_number != 367112 and dataset_id == 5",
            "not (run_number in 367100..367200)"),
    "th2": ("entries <= 100 and run_number == 367112",),
}
TRAPS = """\
* Undeclared parameters (`run_number__gt`, `entries__lte`, ...) are **silently ignored** and the server
  returns unfiltered data: dqquery emits only the parameters of the endpoint's filter set.
* No `__gt`/`__lt`: integers use `__gte v+1` / `__lte v-1`. `__in` exists only on some fields; elsewhere a
  list of consecutive integers becomes a range, and other lists are refused (`plan` splits them).
* `__regex` is PostgreSQL's case-sensitive search; `like` is case-insensitive, so its letters become
  classes (`[Cc]`) and the pattern is anchored. User regexes are limited to what Python and PostgreSQL read alike.
* th2 (and th1) take `entries__gte` only, and `ls_number__lte` is spelled correctly by the server, but
  cmsdials 2.4.1's filter models misspell it `ls_numbet__lte`, which the server ignores (the upper bound
  is lost). Workaround: `to_dials(...)` returns the parameter dict, which you send as raw query parameters;
  `to_dials(..., as_filters=True)` refuses to build a cmsdials filter object that would lose the bound.
* `ml-models-index` has two server generations. v1.12.0 declares `model_id`, `model_id__in`, `filename`,
  `filename__regex`, `target_me`, `target_me__regex`, `active`, and its rows carry `model_id`, `filename`,
  `target_me`, `active`. The generation cmsdials 2.4.1 was written for says `id`, `id__in`, `name`,
  `name__regex` and has no `target_me`. Each server ignores the other's names (v1.12.0 answered `id__in=19,21`
  with all four models), so dqquery sends both spellings with the same value; `target_me` only with
  `generation="v1.12.0"`. Plan residuals read either row shape.
* Listings are ordered and paged by the primary key; on `ml-bad-lumisection` that is all five of `model_id`,
  `dataset_id`, `run_number`, `ls_number`, `me_id`. Its rows carry `me_id` (not `dataset` or `me`), so a plan
  can re-check `me_id` locally.
* cmsdials 2.4.1's `RunClient` requires `ls_completeness` in `run/` rows, which v1.12.0 does not serve; its
  listing then fails validation. dqquery's own `DialsClient` reads either.
"""


class DialsTarget(Target):
    """DIALS list endpoints (``/api/v1/<endpoint>/``): django-filter query parameters, exact or refused."""

    name = "dials"
    service = "DIALS"
    option_word = "endpoint"
    title = "DIALS query parameters"
    options = ENDPOINTS
    option_aliases = ENDPOINT_ALIASES

    def compile(self, query: Any, option: str | None, **settings: Any) -> Compiled:
        endpoint = option or "run"
        as_filters = bool(settings.get("as_filters", False))
        generation = settings.get("generation", "both")
        params, origin, ctx = _compile(query, endpoint, "2.4.1" if as_filters else generation)
        request = _as_filters(endpoint, params, origin, ctx) if as_filters else params
        return Compiled(self.spec(endpoint), request, True)

    def support(self, option: str | None) -> SupportTable:
        return SUPPORT[option or "run"]

    def carries(self, option: str | None) -> Any:
        return row_fields(option or "run").__contains__

    def examples(self, option: str | None) -> tuple[str, ...]:
        return EXAMPLES.get(option or "run", ())

    def plan_examples(self, option: str | None) -> tuple[str, ...]:
        return PLAN_EXAMPLES.get(option or "run", ())

    def traps(self, option: str | None) -> str:
        return TRAPS if option in (None, "run") else ""


register(DialsTarget())
