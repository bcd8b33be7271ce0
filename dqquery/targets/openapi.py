"""Compile targets for any django-filter REST service, read from the service's OpenAPI 3 document.

    >>> from dqquery.targets.openapi import from_openapi
    >>> doc = {"openapi": "3.0.2", "paths": {"/api/items/": {"get": {"parameters": [
    ...     {"name": "run_number__gte", "in": "query", "schema": {"type": "integer"}},
    ...     {"name": "page", "in": "query", "schema": {"type": "integer"}}]}}}}
    >>> target = from_openapi(doc, name="items-demo", fields={"run_number": "run_number"}, register=False)
    >>> target.compile("run_number > 5", None).request
    {'run_number__gte': 6}

A django-filter ``FilterSet`` turns every declared ``column__lookup`` into one query parameter; the parameters
are AND-ed and **undeclared ones are silently ignored**. :func:`from_openapi` reads those declarations from the
document (one list path = one option of the target) and compiles a query to exactly those parameters, or
refuses it with a located :func:`dqquery.errors.unsupported` error; ``dqquery.plan`` then sends what can be
sent and evaluates the rest locally on the rows that come back.

Decisions:
* A list path is a ``get`` operation whose path has no ``{template}``; its query parameters (``in: query``)
  that are not pagination or projection controls (:data:`CONTROL_PARAMETERS`) and not ``deepObject`` objects
  are its filters. A parameter name is ``column__lookup`` when its last ``__`` part is a django lookup
  (:data:`DJANGO_LOOKUPS`), else an ``exact`` filter on the whole name; ``column`` may itself be a django
  relation path (``lumisection__run__run_number``). A name that does not say what it filters (DIALS'
  ``min_size``) is explained by an override (:class:`ParamOverride`).
* What compiles is decided by the DIALS field compiler, shared (:class:`dqquery.targets.dials._FieldCompiler`):
  a django-filter service on PostgreSQL reads ``exact``/``gte``/``lte``/``in``/``regex`` the way DIALS does, so
  both targets make the same choices (strict bounds as ``gte v+1``, CSV lists, anchored case-class regexes for
  ``like``, values with edge whitespace never sent as plain text since Django strips them). On top of it:
  ``gt``/``lt`` stand in for a missing ``gte``/``lte`` on integers (``gte v`` is ``gt v-1``), and ``contains``
  (PostgreSQL's case-sensitive ``LIKE '%v%'``) carries one dqquery ``contains`` when the field has no regex.
  Other django lookups (``icontains``, ``iexact``, ``startswith`` ...) are read and kept in the allow-list but not
  compiled to: dqquery's ``like`` is case-insensitive with Python's case folding, which PostgreSQL's
  ``UPPER`` does not reproduce for every character, so they could lose rows; ``plan`` evaluates such
  predicates locally instead.
* Value types: the catalog field a column is mapped to decides how a value is written (``int``, ``string``,
  ``bool``: the field compiler's types; a ``float`` field is refused when the target is made); the document's
  schema type must agree with it (``integer``/``number`` for numbers, ``boolean``; ``string`` agrees with anything:
  generated documents often type every filter as a string), else :func:`from_openapi` raises :class:`DocumentError`. ``in`` values are comma lists (django-filter's
  ``BaseInFilter``; a document may describe them as ``type: array, style: form, explode: false``).
* ``fields`` maps catalog fields (short names or paths) to the service's columns; a tuple of columns lists every
  name the field has on the service (the same run number is ``run_number`` on one path and
  ``lumisection__run__run_number`` on another; ``model_id`` and ``id`` in two server generations); rows are read at
  the first one the row schema has. A column nobody maps is in the allow-list but compiles nothing.
* Where the document and the real service differ (the document is older, or says too little), the real service
  wins, and the difference is an explicit :class:`ParamOverride` per path and parameter, with its reason: a
  parameter the document misses (``add``), one it names without a lookup (``means``), one only some server
  generations declare (``generations``). With several generations (DIALS' ``ml-models-index``) the compiler
  sends every generation's spelling of a filter, as the hand-kept DIALS target does; a field that not every
  generation can filter is refused.
* Rows: a field is carried by a path's rows when its column is a property of the row schema the document
  gives for the 200 answer (a page object's ``results`` items, or an array's items), following ``$ref`` and
  nested objects along ``a__b__c``. A document without a row schema carries nothing, so ``plan`` refuses a
  residual rather than testing fields the rows may lack.
* Pagination is read from the declared parameters (``page``: page-number, ``next_token``/``cursor``: cursor,
  neither: one unpaginated answer) or given (``pagination=``); the page size is given (a document cannot say it).
* The document is input: its size, nesting and number of paths and parameters are limited
  (:data:`dqquery.limits.MAX_OPENAPI_BYTES` ...); every problem is a :class:`DocumentError` naming where in the
  document it is (``paths./api/x/.get.parameters[2].schema.type``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from .. import ast as A
from ..catalog import FieldInfo
from ..catalog import lookup as catalog_lookup
from ..catalog import suggest as catalog_suggest
from ..errors import QueryError
from ..files import nesting_exceeds
from ..limits import MAX_JSON_DEPTH, MAX_OPENAPI_BYTES, MAX_OPENAPI_PARAMETERS, MAX_OPENAPI_PATHS
from .base import Compiled, Refusals, Support, SupportTable, Target
from .base import register as register_target
from .conjunction import grouped_by_field, refuse_unsupported
from .dials import _FieldCompiler

__all__ = [
    "COMPILED_LOOKUPS",
    "CONTROL_PARAMETERS",
    "DJANGO_LOOKUPS",
    "Declared",
    "DocumentError",
    "ListPath",
    "OpenAPITarget",
    "Pagination",
    "ParamOverride",
    "column_schema",
    "from_openapi",
    "load_document",
    "read_list_paths",
]

DJANGO_LOOKUPS: frozenset[str] = frozenset(
    "exact iexact contains icontains in gt gte lt lte startswith istartswith endswith iendswith range isnull "
    "regex iregex date year month day week_day quarter time hour minute second".split()
)
"""The last ``__`` part of a parameter name that is a django lookup (else the parameter is an ``exact`` filter)."""

COMPILED_LOOKUPS: frozenset[str] = frozenset({"exact", "gte", "lte", "gt", "lt", "in", "regex", "contains"})
"""The lookups a query compiles to (the others are kept in the allow-list; see the module docstring)."""

CONTROL_PARAMETERS: frozenset[str] = frozenset(
    {"page", "page_size", "next_token", "cursor", "limit", "offset", "fields", "ordering", "search", "format"}
)
"""Query parameters that page, order or project a listing, never filter it."""

Kind = Literal["number", "string", "bool"]
_CATALOG_KINDS: dict[str, Kind] = {"int": "number", "string": "string", "bool": "bool"}
_SCHEMA_KINDS: dict[str, Kind] = {"integer": "number", "number": "number", "boolean": "bool", "string": "string"}


class DocumentError(ValueError):
    """An OpenAPI document (or the arguments describing it) that cannot be read; ``where`` locates the problem."""

    def __init__(self, message: str, where: str = "") -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class ParamOverride:
    """Where the real service differs from its document, for one parameter of one path (the service wins).

    ``add``: the service declares the parameter, the document does not. ``means``: the ``column__lookup`` the
    parameter stands for when its name does not say it (``min_size`` -> ``file_size__gte``). ``generations``:
    only these server generations declare it (default: every generation of the target). ``kind``: the value
    type when the parameter is added. ``reason``: where the fact comes from (required)."""

    reason: str
    add: bool = False
    means: str | None = None
    generations: tuple[str, ...] | None = None
    kind: Kind | None = None

    def __post_init__(self) -> None:
        if not self.reason:
            raise ValueError("a ParamOverride needs its reason (where the fact comes from)")


Overrides = Mapping[str, Mapping[str, ParamOverride]]
"""Option (or list path) -> parameter name -> :class:`ParamOverride`."""


@dataclass(frozen=True)
class Declared:
    """One filter parameter of a list path: what it reads (``column``, a django relation path), its lookup, its
    value kind, the catalog path it filters (``None``: declared, not compiled to) and the generations declaring it."""

    name: str
    column: str
    lookup: str
    kind: Kind
    path: str | None
    generations: frozenset[str]


@dataclass(frozen=True)
class Pagination:
    """How a list path pages: ``page`` (``?page=N``, answers ``{count, next, previous, results}``), ``cursor``
    (follow ``next`` links, answers ``{next, previous, results}``) or ``none`` (one JSON array)."""

    style: Literal["page", "cursor", "none"]
    size: int | None = None


@dataclass(frozen=True)
class ListPath:
    """One list path of the document: the option that names it, its filters and pagination, and where its rows
    carry each catalog field (catalog path -> column)."""

    option: str
    path: str
    params: Mapping[str, Declared]
    pagination: Pagination
    row_columns: Mapping[str, str] = field(default_factory=dict)

    def filters(self) -> dict[str, Declared]:
        """Parameter -> declaration, of the parameters a query compiles to (mapped to a catalog path, a compiled lookup)."""
        return {n: p for n, p in self.params.items() if p.path is not None and p.lookup in COMPILED_LOOKUPS}


# ================================================================================ reading the document


def load_document(document: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """The decoded document: given as a mapping, a JSON text or a path to a JSON file (size and nesting limited)."""
    if isinstance(document, Path):
        try:
            size = document.stat().st_size
        except OSError as err:
            raise DocumentError(f"cannot read the OpenAPI document: {err.strerror}", str(document)) from None
        if size > MAX_OPENAPI_BYTES:
            raise DocumentError(f"the document is {size} bytes, more than the limit of {MAX_OPENAPI_BYTES}", str(document))
        document = document.read_text(encoding="utf-8")
    if isinstance(document, str):
        if len(document.encode("utf-8", "surrogatepass")) > MAX_OPENAPI_BYTES:
            raise DocumentError(f"the document is more than the limit of {MAX_OPENAPI_BYTES} bytes")
        try:
            document = json.loads(document)
        except json.JSONDecodeError as err:
            raise DocumentError(f"not JSON: {err.msg}", f"line {err.lineno} column {err.colno}") from None
        except RecursionError:
            raise DocumentError(f"the document nests more than {MAX_JSON_DEPTH} levels deep") from None
    if not isinstance(document, Mapping):
        raise DocumentError(f"an OpenAPI document is a JSON object, not {type(document).__name__}")
    if nesting_exceeds(document, MAX_JSON_DEPTH):
        raise DocumentError(f"the document nests more than {MAX_JSON_DEPTH} levels deep")
    version = document.get("openapi")
    if not isinstance(version, str) or not version.startswith("3."):
        raise DocumentError(f"only OpenAPI 3 documents are read (openapi: {version!r})", "openapi")
    paths = document.get("paths")
    if not isinstance(paths, Mapping):
        raise DocumentError("missing or not an object", "paths")
    if len(paths) > MAX_OPENAPI_PATHS:
        raise DocumentError(f"{len(paths)} paths, more than the limit of {MAX_OPENAPI_PATHS}", "paths")
    return dict(document)


def _resolve(document: Mapping[str, Any], node: Any, where: str) -> Any:
    """Follow ``$ref`` (local references only), at most a few levels."""
    for _ in range(MAX_JSON_DEPTH):
        if not (isinstance(node, Mapping) and "$ref" in node):
            return node
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.startswith("#/"):
            raise DocumentError(f"only local references '#/...' are read (got {ref!r})", where)
        target: Any = document
        for part in ref[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or part not in target:
                raise DocumentError(f"the reference {ref!r} points to nothing", where)
            target = target[part]
        node, where = target, ref
    raise DocumentError("references loop", where)


def _split(name: str) -> tuple[str, str]:
    column, sep, last = name.rpartition("__")
    if sep and column and last in DJANGO_LOOKUPS:
        return column, last
    return name, "exact"


def _schema_kind(document: Mapping[str, Any], schema: Any, lookup: str, where: str) -> Kind | None:
    schema = _resolve(document, schema, where)
    if schema is None:
        return None
    if not isinstance(schema, Mapping):
        raise DocumentError("a schema is an object", where)
    typ = schema.get("type")
    if typ == "array":
        if lookup not in ("in", "range"):
            raise DocumentError(f"an array value for a '{lookup}' filter (only 'in' and 'range' take lists)", f"{where}.type")
        return _schema_kind(document, schema.get("items"), "exact", f"{where}.items")
    if typ is None:
        return None
    if not isinstance(typ, str) or typ not in _SCHEMA_KINDS:
        raise DocumentError(f"unknown schema type {typ!r} for a filter (choose integer, number, boolean, string, array)",
                            f"{where}.type")
    return _SCHEMA_KINDS[typ]


def _field_columns(fields: Mapping[str, str | Sequence[str]]) -> dict[str, tuple[FieldInfo, tuple[str, ...]]]:
    out: dict[str, tuple[FieldInfo, tuple[str, ...]]] = {}
    for name, columns in fields.items():
        info = catalog_lookup(name)
        if info is None:
            close = catalog_suggest(name)
            raise DocumentError(f"unknown catalog field {name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""), "fields")
        if info.type not in _CATALOG_KINDS:
            raise DocumentError(f"'{info.name}' is a {info.type} field; django-filter targets take int, string and bool "
                                f"fields (the field compiler's types)", "fields")
        cols = (columns,) if isinstance(columns, str) else tuple(columns)
        if not cols or not all(isinstance(c, str) and c for c in cols):
            raise DocumentError(f"the columns of {name!r} are non-empty strings", "fields")
        for other_info, other_cols in out.values():
            if set(cols) & set(other_cols):
                raise DocumentError(f"the column(s) {sorted(set(cols) & set(other_cols))} are mapped to both "
                                    f"'{other_info.name}' and '{info.name}'", "fields")
        out[info.path] = (info, cols)
    return out


def _option_names(paths: Sequence[str]) -> dict[str, str]:
    """Path -> option: the path without the segments every list path shares, and without slashes."""
    parts = [[s for s in p.split("/") if s] for p in paths]
    common = 0
    if len(parts) > 1:
        while all(len(p) > common + 1 and p[common] == parts[0][common] for p in parts):
            common += 1
    else:
        common = max(len(parts[0]) - 1, 0) if parts else 0
    return {path: "/".join(p[common:]) for path, p in zip(paths, parts)}


def _pagination(names: set[str], given: Pagination | None) -> Pagination:
    if given is not None:
        return given
    if "page" in names:
        return Pagination("page")
    if "next_token" in names or "cursor" in names:
        return Pagination("cursor")
    return Pagination("none")


def _row_schema(document: Mapping[str, Any], operation: Mapping[str, Any], where: str) -> Any:
    """The schema of one row of the 200 answer (a page's ``results`` items, or an array's items), or ``None``."""
    responses = operation.get("responses")
    answer = _resolve(document, responses.get("200"), f"{where}.responses.200") if isinstance(responses, Mapping) else None
    content = answer.get("content") if isinstance(answer, Mapping) else None
    media = content.get("application/json") if isinstance(content, Mapping) else None
    schema = _resolve(document, media.get("schema"), f"{where}.responses.200") if isinstance(media, Mapping) else None
    if not isinstance(schema, Mapping):
        return None
    if schema.get("type") == "object" and isinstance(schema.get("properties"), Mapping) and "results" in schema["properties"]:
        schema = _resolve(document, schema["properties"]["results"], where)
    if isinstance(schema, Mapping) and schema.get("type") == "array":
        return _resolve(document, schema.get("items"), where)
    return None


def _has_column(document: Mapping[str, Any], schema: Any, column: str, where: str) -> bool:
    for part in column.split("__"):
        schema = _resolve(document, schema, where)
        props = schema.get("properties") if isinstance(schema, Mapping) else None
        if not isinstance(props, Mapping) or part not in props:
            return False
        schema = props[part]
    return True


def column_schema(document: Mapping[str, Any], path: str, column: str) -> Mapping[str, Any] | None:
    """The schema of ``column`` (``a__b__c``) in the rows of the list path ``path`` (``None`` when the document does
    not describe it): what a server built from the document knows about a column's type."""
    item = document["paths"][path]
    schema = _row_schema(document, _resolve(document, item["get"], path), path)
    for part in column.split("__"):
        schema = _resolve(document, schema, path)
        props = schema.get("properties") if isinstance(schema, Mapping) else None
        if not isinstance(props, Mapping) or part not in props:
            return None
        schema = props[part]
    schema = _resolve(document, schema, path)
    return schema if isinstance(schema, Mapping) else None


def read_list_paths(
    document: Mapping[str, Any] | str | Path,
    fields: Mapping[str, str | Sequence[str]],
    *,
    overrides: Overrides | None = None,
    generations: Sequence[str] = ("document",),
    include: Sequence[str] | None = None,
    pagination: Pagination | None = None,
    page_size: int | None = None,
) -> dict[str, ListPath]:
    """Option -> :class:`ListPath`, read from the document (see :func:`from_openapi` for the arguments)."""
    doc = load_document(document)
    mapped = _field_columns(fields)
    every = frozenset(generations)
    if not every:
        raise DocumentError("at least one generation", "generations")
    paths: dict[str, Any] = doc["paths"]
    candidates = [p for p, item in paths.items() if isinstance(p, str) and "{" not in p and isinstance(item, Mapping) and "get" in item]
    if include is not None:
        missing = [p for p in include if p not in candidates]
        if missing:
            raise DocumentError(f"no list operation (get, no path template) at {missing[0]!r}", "paths")
        candidates = list(include)
    options = _option_names(candidates)
    twice = sorted(o for o, n in Counter(options.values()).items() if n > 1)
    if twice:
        raise DocumentError(f"two list paths would both be the option {twice[0]!r}; pass include= to choose", "paths")
    overrides = dict(overrides or {})
    known = set(options.values()) | set(options)
    for key in overrides:
        if key not in known:
            raise DocumentError(f"an override for {key!r}, which is not a list path of the document", "overrides")
    out: dict[str, ListPath] = {}
    for path in candidates:
        where = f"paths.{path}.get"
        operation = _resolve(doc, paths[path]["get"], where)
        if not isinstance(operation, Mapping):
            raise DocumentError("an operation is an object", where)
        raw = operation.get("parameters", [])
        shared = paths[path].get("parameters", [])
        if not isinstance(raw, list) or not isinstance(shared, list):
            raise DocumentError("parameters is a list", f"{where}.parameters")
        if len(raw) + len(shared) > MAX_OPENAPI_PARAMETERS:
            raise DocumentError(f"more than {MAX_OPENAPI_PARAMETERS} parameters", f"{where}.parameters")
        option = options[path]
        changes = {**overrides.get(path, {}), **overrides.get(option, {})}
        params: dict[str, tuple[str, Any, str]] = {}
        names: set[str] = set()
        for i, param in enumerate([*shared, *raw]):
            at = f"{where}.parameters[{i}]"
            param = _resolve(doc, param, at)
            if not isinstance(param, Mapping) or not isinstance(param.get("name"), str) or not param.get("name"):
                raise DocumentError("a parameter is an object with a name", at)
            if param.get("in") != "query":
                continue
            name = param["name"]
            names.add(name)
            schema = _resolve(doc, param.get("schema"), f"{at}.schema")
            if name in CONTROL_PARAMETERS or param.get("style") == "deepObject" or (
                isinstance(schema, Mapping) and schema.get("type") == "object"
            ):
                continue
            params[name] = (name, schema, at)
        for name, change in changes.items():
            if change.add:
                if name in params:
                    raise DocumentError(f"the override adds {name!r}, which the document already declares", f"overrides.{option}")
                params[name] = (name, {"type": {"number": "number", "bool": "boolean"}.get(change.kind or "string", "string")},
                                f"overrides.{option}.{name}")
            elif name not in params:
                raise DocumentError(f"the override changes {name!r}, which the document does not declare", f"overrides.{option}")
        declared: dict[str, Declared] = {}
        for name, (_, schema, at) in params.items():
            change = changes.get(name)
            column, lookup = _split(change.means if change and change.means else name)
            kind = _schema_kind(doc, schema, lookup, f"{at}.schema")
            catalog = next((p for p, (_, cols) in mapped.items() if column in cols), None)
            if catalog is not None:
                want = _CATALOG_KINDS[mapped[catalog][0].type]
                if kind not in (None, "string", want):
                    raise DocumentError(f"{name!r} is declared {kind} but filters '{mapped[catalog][0].name}', a {want} field",
                                        f"{at}.schema")
                kind = want
            gens = frozenset(change.generations) if change and change.generations else every
            if not gens <= every:
                raise DocumentError(f"unknown generation(s) {sorted(gens - every)} for {name!r}", f"overrides.{option}")
            declared[name] = Declared(name, column, lookup, kind or "string", catalog, gens)
        rows = _row_schema(doc, operation, where)
        row_columns = {
            catalog: column
            for catalog, (_, cols) in mapped.items()
            for column in [next((c for c in cols if rows is not None and _has_column(doc, rows, c, where)), None)]
            if column is not None
        }
        given = pagination
        if given is not None or page_size is not None:
            base = _pagination(names, pagination)
            given = Pagination(base.style, page_size if page_size is not None else base.size)
        out[option] = ListPath(option, path, declared, _pagination(names, given), row_columns)
    return out


# ================================================================================ compiling


class _Field(_FieldCompiler):
    """The DIALS field compiler with the lookups of other django-filter services (``gt``/``lt``, ``contains``)."""

    def __init__(self, ctx: Refusals, option: str, path: str, atoms: list[Any], declared: Mapping[str, Declared],
                 wanted: frozenset[str], service: str) -> None:
        self.service = service
        super().__init__(ctx, option, path, atoms, declared=declared, wanted=wanted)
        # gt/lt carry an integer bound where gte/lte are not declared: gte v == gt v-1, lte v == lt v+1.
        self.shift: dict[str, tuple[str, int]] = {}
        for inclusive, strict, delta in (("gte", "gt", -1), ("lte", "lt", 1)):
            if inclusive not in self.lookups and strict in self.lookups and self.type == "int":
                self.lookups[inclusive] = self.lookups[strict]
                self.shift[inclusive] = (strict, delta)

    def emit(self, lookup: str, value: Any, node: Any) -> None:
        if lookup in self.shift:
            strict, delta = self.shift[lookup]
            for name in self.lookups[strict]:
                self.out[name] = value + delta
                self.origin[name] = node
            return
        super().emit(lookup, value, node)

    def string(self) -> None:
        only = self.atoms[0] if len(self.atoms) == 1 else None
        if "regex" not in self.lookups and "contains" in self.lookups and isinstance(only, A.Contains):
            text = only.value.value
            if not isinstance(text, str) or not text or text != text.strip() or "\x00" in text:
                raise self.fail(only, f"{self.service} strips whitespace around values and ignores empty ones, so this "
                                      f"'contains' cannot be sent exactly")
            self.emit("contains", text, only)
            return
        super().string()


_NEGATED = {
    "in_range": "no 'not in' range filter (it would need an or of two bounds)",
    "in_set": "no 'not in' list filter",
    "like": "no negated pattern filter ('not like')",
    "regex": "no negated regex filter ('!~')",
    "contains": "no negated 'contains' filter",
}


def support_table(params: Mapping[str, Declared], spec: str, service: str) -> dict[str, Support]:
    """Node kind -> :class:`Support` of one list path, from its compiled lookups (as the DIALS table is built)."""
    by_path: dict[str, set[str]] = {}
    for p in params.values():
        by_path.setdefault(p.path or "", set()).add(p.lookup)
    lookups = set().union(*by_path.values()) if by_path else set()
    has_range = any(({"gte", "gt"} & ls and {"lte", "lt"} & ls) or "in" in ls for ls in by_path.values())
    has_regex = "regex" in lookups

    def negated(kind: str) -> Support:
        return Support("unsupported", f"{service} has {_NEGATED[kind]}")

    def unless(supported: bool, reason: str, kind: str) -> Support:
        return Support("exact", negated=negated(kind)) if supported else Support("unsupported", reason, negated=negated(kind))

    no_regex = f"no __regex filter on {spec}"
    return {
        "compare": Support("exact") if lookups & {"exact", "gte", "lte", "gt", "lt", "in", "regex"}
        else Support("unsupported", f"no equality or comparison filter on {spec}"),
        "in_range": unless(has_range, f"no range or __in filter on {spec}", "in_range"),
        "in_set": Support("partial", "exact for fields with __in, string fields with __regex and consecutive integers; other "
                          "lists are split per value by plan" if ("in" in lookups or has_regex)
                          else "one value only (no __in or __regex filter)", negated=negated("in_set")),
        "like": unless(has_regex, no_regex, "like"),
        "regex": unless(has_regex, no_regex, "regex"),
        "contains": (unless(has_regex, f"no __regex or __contains filter on {spec}", "contains")
                     if has_regex or "contains" not in lookups
                     else Support("partial", "one 'contains' per field, on fields with __contains (no __regex here)",
                                  negated=negated("contains"))),
        "is_null": Support("unsupported", f"{service} filters have no null test here"),
        "not": Support("partial", f"only when it can be pushed into a comparison (not x < 5 is x >= 5); {service} has no negation"),
        "and": Support("exact"),
        "or": Support("unsupported", f"{service} combines filters with and only"),
    }


class OpenAPITarget(Target):
    """A django-filter service read from its OpenAPI document: one option per list path. Made by
    :func:`from_openapi` (a subclass per service carries its name and options)."""

    list_paths: Mapping[str, ListPath] = {}
    generations: frozenset[str] = frozenset({"document"})

    def _path(self, option: str | None) -> ListPath:
        return self.list_paths[self.canonical_option(option) or ""]

    def filterable(self, option: str | None) -> tuple[str, ...]:
        """Catalog paths the option can filter on in every generation, in declaration order."""
        params = self._path(option).filters()
        out: dict[str, None] = {}
        for p in params.values():
            covered = frozenset().union(*(q.generations for q in params.values() if q.path == p.path))
            if self.generations <= covered:
                out.setdefault(p.path or "")
        return tuple(out)

    def compile(self, query: A.QueryLike, option: str | None, **settings: Any) -> Compiled:
        lp = self._path(option)
        spec = self.spec(lp.option)
        ctx = Refusals(query, spec)
        table = self.support(lp.option)
        params = lp.filters()

        def on_or(n: Any) -> QueryError:
            return ctx.unsupported(n, table["or"].reason, "split the query into one request per alternative, or use dqquery.plan")

        out: dict[str, Any] = {}
        filterable = self.filterable(lp.option)
        for path, atoms in grouped_by_field(query, on_or).items():
            if path not in filterable:
                info = catalog_lookup(path)
                name = info.name if info else path
                some = any(p.path == path for p in params.values())
                known = ", ".join((catalog_lookup(p) or FieldInfo(p, p, "any", "run")).name for p in filterable) or "none"
                message = (f"not every {self.service} generation declares a filter on '{name}' for {lp.path}; one would "
                           f"ignore it and return every row" if some else f"{self.service} {lp.path} cannot filter on '{name}'")
                raise ctx.unsupported(atoms[0], message, f"its filterable fields are: {known}")
            refuse_unsupported(table, atoms, ctx)
            declared = {n: p for n, p in params.items() if p.path == path}
            out.update(_Field(ctx, lp.option, path, atoms, declared, self.generations, self.service).compile())
        order = list(lp.params)
        return Compiled(spec, {k: out[k] for k in sorted(out, key=order.index)}, True)

    def support(self, option: str | None) -> SupportTable:
        lp = self._path(option)
        return support_table(lp.filters(), self.spec(lp.option), self.service)

    def carries(self, option: str | None) -> Callable[[str], bool]:
        return self._path(option).row_columns.__contains__

    def row_view(self, option: str | None, row: Mapping[str, Any]) -> dict[str, Any]:
        """A response row as a ``dqquery.semantics`` row (catalog path -> value), read along each field's column
        (``lumisection__run__run_number`` is ``row["lumisection"]["run"]["run_number"]``)."""
        out: dict[str, Any] = {}
        for catalog, column in self._path(option).row_columns.items():
            value: Any = row
            for part in column.split("__"):
                value = value.get(part) if isinstance(value, Mapping) else None
            if value is not None:
                out[catalog] = value
        return out

    def iter_rows(self, option: str | None, request: Mapping[str, Any],
                  get: Callable[[str, Mapping[str, Any]], Any]) -> Iterator[Any]:
        """Every row the list path answers to ``request``, following its pagination; ``get(path, params)`` sends
        one GET (path relative to the server root) and returns the decoded JSON."""
        lp = self._path(option)
        params = {k: v for k, v in request.items()}
        if lp.pagination.style == "none":
            answer = get(lp.path, params)
            yield from answer
            return
        if lp.pagination.style == "page":
            params["page"] = 1
        while True:
            answer = get(lp.path, params)
            yield from answer["results"]
            following = answer.get("next")
            if not following:
                return
            if lp.pagination.style == "page":
                params["page"] += 1
            else:
                params = dict(parse_qsl(urlsplit(following).query, keep_blank_values=True))


def from_openapi(
    document: Mapping[str, Any] | str | Path,
    *,
    name: str,
    fields: Mapping[str, str | Sequence[str]],
    service: str | None = None,
    title: str | None = None,
    overrides: Overrides | None = None,
    generations: Sequence[str] = ("document",),
    include: Sequence[str] | None = None,
    option_aliases: Mapping[str, str] | None = None,
    pagination: Pagination | None = None,
    page_size: int | None = None,
    register: bool = True,
    replace: bool = False,
    base: type[OpenAPITarget] | None = None,
) -> OpenAPITarget:
    """A target (registered as ``name`` unless ``register=False``) for the django-filter service the OpenAPI 3
    ``document`` describes (a mapping, JSON text or a :class:`~pathlib.Path`).

    ``fields``: catalog field -> the service's column (``"lumisection__run__run_number"``), or a tuple of
    columns (every name it has on the service). ``include``: the list paths to read, the default option first
    (default: every ``get`` path without a template, in document order). ``overrides``: where the real service
    differs from the document (:class:`ParamOverride`). ``generations``: the server generations overrides may name
    (the document's own parameters belong to all). ``pagination``/``page_size``: when the document cannot say.
    ``base``: an :class:`OpenAPITarget` subclass adding docs examples or traps.
    Raises :class:`DocumentError` (a ``ValueError`` naming where) for a document or argument it cannot read.
    """
    if not isinstance(name, str) or not name or ":" in name:
        raise DocumentError(f"a target name without ':' is needed (got {name!r})", "name")
    paths = read_list_paths(document, fields, overrides=overrides, generations=generations, include=include,
                            pagination=pagination, page_size=page_size)
    if not paths:
        raise DocumentError("the document has no list path (a get operation without a path template)", "paths")
    aliases = dict(option_aliases or {})
    for alias, option in aliases.items():
        if option not in paths:
            raise DocumentError(f"the alias {alias!r} names {option!r}, which is not an option ({', '.join(paths)})", "option_aliases")
    attrs = {
        "name": name,
        "title": title or f"{service or name} query parameters (from its OpenAPI document)",
        "service": service or name,
        "option_word": "path",
        "options": tuple(paths),
        "option_aliases": aliases,
        "list_paths": paths,
        "generations": frozenset(generations),
    }
    cls = type(f"OpenAPITarget[{name}]", (base or OpenAPITarget,), attrs)
    target: OpenAPITarget = cls()
    if register:
        register_target(target, replace=replace)
    return target

