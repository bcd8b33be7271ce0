"""What the DIALS server is: one record per list endpoint (``/api/v1/<endpoint>/``) with its identity facts.

Pure data, read by the DIALS compiler (:mod:`dqquery.targets.dials`), the independent server model
(:mod:`dqquery.emulate.dials`), the fake server (:mod:`dqquery.testing.fake_dials`) and the client
(:mod:`dqquery.sources.dials`). These are the facts the server *declares* (its ``FilterSet``s, models,
orderings, routes); how it *interprets* a parameter (stripping, CSV, regex flavour ...) is modelled by the
emulator alone, and what a query means as parameters is the compiler's alone.

Decisions:
* One frozen :class:`Endpoint` per endpoint in :data:`ENDPOINTS`, in the order the docs and the support
  matrix list them; the old endpoint-keyed tables (``PARAMS``, ``PRIMARY_KEYS``, ``FILTERSETS``,
  ``COUNTABLE_ENDPOINTS``, ``MODEL_NAMES`` ...) are derived views of these records in their modules.
* Declared parameters follow the backend v1.12.0 filter sets (``tests/data/conformance/dials/declared.json``,
  a test checks it) plus the ``ml-models-index`` names of the generation the cmsdials 2.4.1 client was
  written for (:data:`GENERATIONS`). A parameter lists the generations that declare it; its declaration
  order is the order of the filter set (the compiler emits parameters in that order).
* Each parameter names the row column it reads, its django lookup, its value kind (``number``, ``string``,
  ``bool``), for a method filter the id column it is resolved through (``via``), and the dqquery catalog
  path it filters (``None`` for a declared filter dqquery does not compile to: 2.4.1's ``ready``/``type``).
  Catalog paths are plain strings here: this module imports nothing of dqquery.
* The primary key (row order and cursor fields) is given per generation; ``ml-models-index`` is the only
  endpoint where the generations differ (``model_id`` vs ``id``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["ALL_GENERATIONS", "ENDPOINTS", "ENDPOINT_ALIASES", "GENERATIONS", "DeclaredParam", "Endpoint", "endpoint"]

GENERATIONS: tuple[str, ...] = ("v1.12.0", "2.4.1")
"""DIALS server generations whose filter sets differ (only on ``ml-models-index``): the backend v1.12.0
(recorded in the conformance corpus) and the one the cmsdials 2.4.1 client was written for."""

ALL_GENERATIONS: frozenset[str] = frozenset(GENERATIONS)


@dataclass(frozen=True)
class DeclaredParam:
    """One query parameter a DIALS ``FilterSet`` declares."""

    name: str  # the query parameter (``run_number__gte``, ``min_size``)
    column: str  # the row column (or dimension name) it reads
    lookup: str  # exact | gte | lte | in | regex
    kind: str  # number | string | bool
    path: str | None  # the dqquery catalog path it filters (None: not compiled to)
    via: str | None = None  # method filter: the id column resolved through the dimension table
    generations: frozenset[str] = ALL_GENERATIONS


@dataclass(frozen=True)
class Endpoint:
    """The identity facts of one DIALS list endpoint."""

    name: str
    model: str  # the Django model (its name is in the server's 404 body)
    params: tuple[DeclaredParam, ...]
    primary_key: Mapping[str, tuple[str, ...]]  # generation -> key columns (row order, cursor fields)
    cmsdials_filters: str  # the cmsdials 2.4.1 filter class (``cmsdials.filters``)
    aliases: tuple[str, ...] = ()  # the cmsdials client's names for it
    countable: bool = False  # has an ``<endpoint>/count/`` route
    paginated: bool = True  # cursor-paginated; else a bare JSON array
    filter_only: frozenset[str] = frozenset()  # columns filtered through a dimension but absent from the rows
    cmsdials_misspelled: Mapping[str, str] = field(default_factory=dict)  # server name -> cmsdials 2.4.1 name

    @property
    def path(self) -> str:
        """The list route under the API root (``/api/v1/run/``)."""
        return f"/api/v1/{self.name}/"

    def declared(self, generation: str) -> dict[str, DeclaredParam]:
        """Parameter name -> declaration, of one server generation."""
        return {p.name: p for p in self.params if generation in p.generations}

    def key(self, generation: str) -> tuple[str, ...]:
        """The primary-key columns on a server of ``generation``."""
        return self.primary_key[generation]


def _every(columns: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return dict.fromkeys(GENERATIONS, columns)


# Column -> (kind, catalog path) of the plain field filters; per-endpoint exceptions are passed to _fields.
_COLUMNS: dict[str, tuple[str, str]] = {
    "run_number": ("number", "run.run_number"),
    "ls_number": ("number", "lumisection.lumisection_number"),
    "dataset_id": ("number", "dials.dataset_id"),
    "file_id": ("number", "dials.file_id"),
    "me_id": ("number", "dials.me_id"),
    "entries": ("number", "dials.entries"),
    "model_id": ("number", "dials.model_id"),
    "dim": ("number", "dials.dim"),
    "dataset": ("string", "dataset.name"),
    "me": ("string", "dials.me"),
    "logical_file_name": ("string", "dials.logical_file_name"),
    "status": ("string", "dials.file_status"),
    "active": ("bool", "dials.model_active"),
}
_DIMENSION_IDS = {"dataset": "dataset_id", "me": "me_id", "logical_file_name": "file_id"}


def _fields(
    fields: Mapping[str, tuple[str, ...]],
    *,
    paths: Mapping[str, tuple[str, str | None]] | None = None,
    generations: frozenset[str] = ALL_GENERATIONS,
) -> tuple[DeclaredParam, ...]:
    """Plain field filters, django-filter's ``Meta.fields = {column: [lookups]}`` (``column`` for exact,
    ``column__lookup`` otherwise). ``paths``: column -> (kind, catalog path) beyond :data:`_COLUMNS`."""
    table = {**_COLUMNS, **(paths or {})}
    return tuple(
        DeclaredParam(column if lookup == "exact" else f"{column}__{lookup}", column, lookup, table[column][0], table[column][1],
                      generations=generations)
        for column, lookups in fields.items()
        for lookup in lookups
    )


def _methods(*columns: str) -> tuple[DeclaredParam, ...]:
    """Method filters on a dimension's name (DatasetFilterMethods, MEFilterMethods, FileIndexFilterMethods)."""
    return tuple(
        DeclaredParam(name, column, lookup, "string", _COLUMNS[column][1], _DIMENSION_IDS[column])
        for column in columns
        for name, lookup in ((column, "exact"), (f"{column}__regex", "regex"))
    )


_HISTOGRAM = (
    *_fields({"dataset_id": ("exact",), "file_id": ("exact",), "run_number": ("exact", "lte", "gte"),
              "ls_number": ("exact", "lte", "gte"), "me_id": ("exact",), "entries": ("gte",)}),  # no entries__lte
    *_methods("dataset", "me", "logical_file_name"),
)
_HISTOGRAM_KEY = _every(("dataset_id", "run_number", "ls_number", "me_id"))
# cmsdials 2.4.1's th1/th2 filter models spell ls_number__lte as ls_numbet__lte (the server ignores it).
_LS_TYPO = {"ls_number__lte": "ls_numbet__lte"}
_V1_12 = frozenset({"v1.12.0"})
_V2_4 = frozenset({"2.4.1"})

_RECORDS: tuple[Endpoint, ...] = (
    Endpoint(  # backend v1.12.0 backend/run/filters.py
        "run", "Run",
        (*_fields({"dataset_id": ("exact", "in"), "run_number": ("exact", "lte", "gte")}), *_methods("dataset")),
        _every(("dataset_id", "run_number")), "RunFilters", countable=True,
    ),
    Endpoint(  # backend/lumisection/filters.py
        "lumisection", "Lumisection",
        (*_fields({"dataset_id": ("exact",), "run_number": ("exact", "lte", "gte"), "ls_number": ("exact", "lte", "gte")}),
         *_methods("dataset")),
        _every(("dataset_id", "run_number", "ls_number")), "LumisectionFilters", countable=True,
    ),
    Endpoint(  # backend/th1/filters.py (the server's correct ls_number__lte)
        "th1", "LumisectionHistogram1D", _HISTOGRAM, _HISTOGRAM_KEY, "LumisectionHistogram1DFilters", aliases=("h1d",),
        filter_only=frozenset({"logical_file_name"}), cmsdials_misspelled=_LS_TYPO,
    ),
    Endpoint(  # backend/th2/filters.py
        "th2", "LumisectionHistogram2D", _HISTOGRAM, _HISTOGRAM_KEY, "LumisectionHistogram2DFilters", aliases=("h2d",),
        filter_only=frozenset({"logical_file_name"}), cmsdials_misspelled=_LS_TYPO,
    ),
    Endpoint(  # backend/file_index/filters.py: min_size is file_size__gte under another name
        "file-index", "FileIndex",
        (*_fields({"dataset_id": ("exact",), "logical_file_name": ("exact", "regex"), "status": ("exact",)}),
         DeclaredParam("min_size", "file_size", "gte", "number", "dials.file_size"),
         *_methods("dataset")),
        _every(("dataset_id", "file_id")), "FileIndexFilters", countable=True,
    ),
    Endpoint(  # backend/dataset_index/filters.py (plain field filters on the dimension itself)
        "dataset-index", "DatasetIndex", _fields({"dataset": ("exact", "regex")}),
        _every(("dataset_id",)), "DatasetIndexFilters",
    ),
    Endpoint(  # backend/dim_mes/filters.py (unpaginated: a bare JSON array)
        "mes", "MonitoringElement", _fields({"me": ("exact", "regex"), "dim": ("exact",)}),
        _every(("me_id",)), "MEFilters", paginated=False,
    ),
    Endpoint(  # backend/ml_bad_lumisection/filters.py (= client 2.4.1 MLBadLumisectionFilters); no range lookups
        "ml-bad-lumisection", "MLBadLumisection",
        (*_fields({"model_id": ("exact", "in"), "dataset_id": ("exact", "in"), "me_id": ("exact",),
                   "run_number": ("exact", "in"), "ls_number": ("exact",)}),
         *_methods("dataset", "me")),
        # v1.12.0 orders and pages by all five key fields; the rows carry me_id but not dataset or me
        _every(("model_id", "dataset_id", "run_number", "ls_number", "me_id")), "MLBadLumisectionFilters",
        filter_only=frozenset({"dataset", "me"}),
    ),
    Endpoint(  # v1.12.0 backend/ml_models_index/filters.py, and the cmsdials 2.4.1 MLModelsIndexFilters names
        "ml-models-index", "MLModelsIndex",
        (*_fields({"model_id": ("exact", "in"), "filename": ("exact", "regex"), "target_me": ("exact", "regex")},
                  paths={"filename": ("string", "dials.model_name"), "target_me": ("string", "dials.target_me")},
                  generations=_V1_12),
         *_fields({"active": ("exact",)}),
         *_fields({"id": ("exact", "in"), "name": ("exact", "regex")},
                  paths={"id": ("number", "dials.model_id"), "name": ("string", "dials.model_name")}, generations=_V2_4),
         # declared by 2.4.1 but not compiled to (their semantics are not modelled); ignored by v1.12.0
         *_fields({"ready": ("exact",), "type": ("exact",)}, paths={"ready": ("bool", None), "type": ("string", None)},
                  generations=_V2_4)),
        {"v1.12.0": ("model_id",), "2.4.1": ("id",)}, "MLModelsIndexFilters",
    ),
)

ENDPOINTS: dict[str, Endpoint] = {e.name: e for e in _RECORDS}
"""Endpoint name -> its record."""

ENDPOINT_ALIASES: dict[str, str] = {alias: e.name for e in _RECORDS for alias in e.aliases}
"""cmsdials client names of endpoints (``h1d`` -> ``th1``)."""


def endpoint(name: str) -> Endpoint:
    """The record of ``name`` or of its alias; ``KeyError`` for an unknown one (callers word their own error)."""
    return ENDPOINTS[ENDPOINT_ALIASES.get(name, name)]
