"""Run Registry's backend filter semantics, in memory: what ``/runs_filtered_ordered`` and
``/datasets_filtered_ordered`` select for a *backend-format* filter (the dict the client sends after its own
transform, or as is with ``ignore_filter_transformation=True``).

Used by the property tests of :mod:`dqquery.targets.runregistry` and by the fake RR HTTP server: call
:func:`select_runs` / :func:`select_datasets` (or :func:`filtered_ordered` for a whole response body) and turn
:class:`RRBackendError` into ``HTTP 500 {"err": str(error)}``.

How the backend works, and therefore this module (reference: run-registry.md sections 2.4 and 2.5):

1. **Projection.** The controller splits the filter into one ``where`` per joined table with the functions
   ``getRunFilter`` / ``getTripletSummaryFilter`` (runs) and ``getDatasetFilter`` / ``getRunFilter`` /
   ``getTripletSummaryFilter`` (datasets). :func:`split_run_filter` and :func:`split_dataset_filter` port them
   faithfully, including their ``contains_something`` threading. Consequences (all reproduced, not fixed):
   a top-level ``or`` mixing run keys and ``triplet_summary`` keys becomes two AND-ed ``or``\\ s; an ``or`` list
   whose members all belong to the *other* table projects to an empty ``or`` (false) as soon as this table's
   side has any condition.
2. **Sequelize ``where``.** Sibling keys are AND-ed; ``and``/``or`` lists combine sub-filters (``{}`` members are
   dropped, an ``or`` left empty is ``0 = 1``, an empty ``and`` is no condition); a dotted key is a JSON path
   (``#>>`` text extraction) on a JSONB column, cast to ``double precision``/``boolean`` **only** when the
   operand sits directly under the key (Sequelize decides the cast from the operand, or from the first element
   of an operand list). Inside ``and``/``or`` lists of operator dicts the text is compared uncast, and
   Postgres refuses ``text >= integer`` (:class:`RRBackendError`). A ``key::type`` suffix casts explicitly.
   ``=``/``<>`` with ``null`` are ``IS NULL``/``IS NOT NULL``; a missing JSON key is SQL NULL (no comparison
   holds); ``like``/``LIKE`` are ``ILIKE``, ``notlike`` is ``NOT ILIKE``, ``NOTLIKE`` is case-sensitive ``NOT LIKE``.
3. **Joins.** The triplet cache (and, for datasets, the run) are INNER JOINed, so a run without an ``online``
   ``DatasetTripletCache`` is never returned; ``deleted`` rows never are. Order: ``run_number`` DESC (datasets:
   then ``name`` ASC).

Decisions / known differences from the real server:
* Logic is SQL's three-valued logic; a row is returned when the whole ``where`` is true.
* Text ordering is code-point order (Postgres uses the database collation; identical for the ISO timestamps
  and upper-case words RR stores).
* A key inside an operator dict that is not an operator raises (real Sequelize reads it as a deeper JSON
  path, which silently matches nothing); a whole-JSONB-column condition, ``contains`` and non-empty
  ``sortings`` are not emulated and raise.
* A JSON path step spelled ``null`` (any case) reads nothing: the path goes to Postgres as an array literal
  whose unquoted ``null`` is a NULL element, so ``triplet_summary.dt-dt.null > 0`` selects nothing although RR's
  summaries count statuses that are null under ``"null"`` (recorded: conformance ``filters.jsonl``).
* ``DatasetTripletCache`` summaries (:func:`joint_pieces`, :func:`triplet_summary_of`, :func:`dcs_summary_of`)
  count only lumisections with both RR and OMS data (RR's ``AggregatedLumisection`` view is an inner join) and
  walk lumisections 1..last joined one, so every lumisection in between that is not joined counts ``EMPTY``.
* Errors that Postgres raises while planning (type mismatches) are raised even when no row would be
  examined; errors that depend on data (a cast of non-numeric text) are raised while scanning rows.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Optional

from ..catalog import RR_STORED_OMS_LUMISECTION_NAMES
from ..patterns import like_regex
from ..semantics import kleene_and_of, kleene_or_of

Truth = Optional[bool]
Row = Mapping[str, Any]
Predicate = Callable[[Row], Truth]

__all__ = [
    "OMS_STORED_KEYS",
    "RRBackendError",
    "dcs_summary_of",
    "filtered_ordered",
    "joint_pieces",
    "select_datasets",
    "select_runs",
    "split_dataset_filter",
    "split_run_filter",
    "triplet_summary",
    "triplet_summary_of",
]


class RRBackendError(Exception):
    """An error the backend reports as HTTP 500 with body ``{"err": message}`` (message as Postgres words it)."""

    status = 500

    @property
    def body(self) -> dict[str, str]:
        return {"err": str(self)}


# ------------------------------------------------------------------------------------------------ tables

# Column -> SQL type, per Sequelize model (models/run.js, models/dataset.js, models/dataset_triplet_cache.js).
RUN_COLUMNS: dict[str, str] = {
    "run_number": "integer",
    "oms_attributes": "jsonb",
    "rr_attributes": "jsonb",
    "deleted": "boolean",
    "version": "integer",
}
DATASET_COLUMNS: dict[str, str] = {
    "run_number": "integer",
    "name": "text",
    "dataset_attributes": "jsonb",
    "datasets_in_gui": "jsonb",
    "deleted": "boolean",
    "version": "integer",
}
TRIPLET_CACHE_COLUMNS: dict[str, str] = {
    "run_number": "integer",
    "name": "text",
    "triplet_summary": "jsonb",
    "dcs_summary": "jsonb",
}

# Filter operator key -> SQL operator (controllers/run.js and dataset.js ``conversion_operator``).
COMPARISON_OPERATORS: dict[str, str] = {
    "=": "=",
    "<>": "<>",
    ">": ">",
    "<": "<",
    ">=": ">=",
    "<=": "<=",
    "like": "ILIKE",
    "LIKE": "ILIKE",
    "notlike": "NOT ILIKE",
    "NOTLIKE": "NOT LIKE",
}
COMBINATORS: dict[str, str] = {"and": "and", "or": "or", "AND": "and", "OR": "or"}
# Postgres' own operator names, as they appear in "operator does not exist" messages.
_PG_OPERATOR_NAME: dict[str, str] = {
    "=": "=",
    "<>": "<>",
    ">": ">",
    "<": "<",
    ">=": ">=",
    "<=": "<=",
    "ILIKE": "~~*",
    "NOT ILIKE": "!~~*",
    "NOT LIKE": "!~~",
}
# ``key::type`` suffixes -> SQL type.
_CASTS: dict[str, str] = {
    "float": "double precision",
    "float8": "double precision",
    "double precision": "double precision",
    "real": "double precision",
    "numeric": "double precision",
    "decimal": "double precision",
    "integer": "integer",
    "int": "integer",
    "int4": "integer",
    "bigint": "integer",
    "int8": "integer",
    "boolean": "boolean",
    "bool": "boolean",
    "text": "text",
    "varchar": "text",
}
_NUMERIC_TYPES = ("double precision", "integer")
_TRUE_TEXT = ("t", "true", "y", "yes", "on", "1")
_FALSE_TEXT = ("f", "false", "n", "no", "off", "0")

# Which keys each projection copies into its table's ``where`` (the rest are left out).
KeepKey = Callable[[str], bool]
_RUNS_RUN_KEY: KeepKey = lambda key: not key.startswith("triplet_summary")
_TRIPLET_KEY: KeepKey = lambda key: key.startswith("triplet_summary")
_DATASETS_DATASET_KEY: KeepKey = lambda key: not key.startswith(("triplet_summary", "rr_attributes", "oms_attributes"))
_DATASETS_RUN_KEY: KeepKey = lambda key: key.startswith(("rr_attributes.", "oms_attributes."))


# ------------------------------------------------------------------------------------------------ projection


def _entries(value: Any) -> list[tuple[str, Any]]:
    """``Object.entries`` as JavaScript computes it for a filter member."""
    if isinstance(value, dict):
        return list(value.items())
    if value is None:
        raise RRBackendError("Cannot convert undefined or null to object")
    if isinstance(value, (list, str)):
        return [(str(i), v) for i, v in enumerate(value)]
    return []


def _project(filter_: Any, keep: KeepKey, contains_something: bool, rewrite_gui: bool = False) -> tuple[dict[str, Any], bool]:
    """One of the backend's ``get*Filter`` functions (same recursion and ``contains_something`` threading)."""
    projected: dict[str, Any] = {}
    for key, value in _entries(filter_):
        if key in ("and", "or"):
            if not isinstance(value, list):
                raise RRBackendError("val.filter is not a function")
            # JavaScript runs the whole .filter() before the .map(), both seeing the current flag.
            kept = [rule for rule in value if _project(rule, keep, contains_something, rewrite_gui)[1]]
            members = []
            for rule in kept:
                member, contains_something = _project(rule, keep, contains_something, rewrite_gui)
                members.append(member)
            projected[key] = members
        elif keep(key):
            if rewrite_gui and key.startswith("datasets_in_gui"):
                first = next(iter(value.values()), None) if isinstance(value, dict) else None
                value = {"contains": first}
            projected[key] = value
            contains_something = True
    return projected, contains_something


def _projection(filter_: Any, keep: KeepKey, rewrite_gui: bool = False) -> dict[str, Any]:
    projected, exists = _project(filter_, keep, False, rewrite_gui)
    return projected if exists else {}


def split_run_filter(backend_filter: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``(Run where, DatasetTripletCache where)`` pair ``getRunsFilteredOrdered`` builds."""
    return _projection(backend_filter, _RUNS_RUN_KEY), _projection(backend_filter, _TRIPLET_KEY)


def split_dataset_filter(backend_filter: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The ``(Dataset where, Run where, DatasetTripletCache where)`` of ``calculate_dataset_filter_and_include``."""
    return (
        _projection(backend_filter, _DATASETS_DATASET_KEY, rewrite_gui=True),
        _projection(backend_filter, _DATASETS_RUN_KEY),
        _projection(backend_filter, _TRIPLET_KEY),
    )


# ------------------------------------------------------------------------------------------------ values


def _numeric_text(x: float) -> str:
    """A JSON number as ``#>>`` prints it (Postgres ``numeric``: plain decimal notation)."""
    if not math.isfinite(x):
        return repr(x)
    return format(Decimal(repr(x)), "f")


def json_text(value: Any) -> str | None:
    """The text ``#>>`` extracts from a JSON value (``None`` = SQL NULL)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _numeric_text(value)
    return json.dumps(value, ensure_ascii=False)


def _json_path(document: Any, path: list[str]) -> Any:
    for step in path:
        if step.lower() == "null":  # the path is a Postgres text[] literal '{a,null}': an unquoted NULL element
            return None
        if isinstance(document, dict):
            document = document.get(step)
        elif isinstance(document, list) and re.fullmatch(r"-?\d+", step):
            i = int(step)
            document = document[i] if -len(document) <= i < len(document) else None
        else:
            return None
        if document is None:
            return None
    return document


def _cast_text(text: str, sqltype: str) -> Any:
    """``CAST(text AS sqltype)``; raises like Postgres on invalid input."""
    if sqltype == "text":
        return text
    if sqltype == "double precision":
        try:
            return float(text)
        except ValueError:
            raise RRBackendError(f'invalid input syntax for type double precision: "{text}"') from None
    if sqltype == "integer":
        if re.fullmatch(r"\s*[+-]?\d+\s*", text):
            return int(text)
        raise RRBackendError(f'invalid input syntax for type integer: "{text}"')
    if sqltype == "boolean":
        low = text.strip().lower()
        if low in _TRUE_TEXT:
            return True
        if low in _FALSE_TEXT:
            return False
        raise RRBackendError(f'invalid input syntax for type boolean: "{text}"')
    raise AssertionError(sqltype)  # pragma: no cover


def _cast_value(value: Any, sqltype: str) -> Any:
    """A column value as its SQL type (real columns hold typed values; JSON paths are text)."""
    if value is None:
        return None
    if isinstance(value, str):
        return _cast_text(value, sqltype)
    if sqltype == "text":
        return json_text(value)
    if sqltype == "boolean":
        if isinstance(value, bool):
            return value
        raise RRBackendError(f"cannot cast type integer to boolean: {value!r}")
    if isinstance(value, bool):
        raise RRBackendError(f"cannot cast type boolean to {sqltype}")
    return int(value) if sqltype == "integer" and float(value).is_integer() else value


class _Operand:
    """A column or JSON-path expression and its SQL type, as the generated SQL compares it."""

    def __init__(self, read: Callable[[Row], Any], sqltype: str, cast_from_text: bool) -> None:
        self.read = read
        self.sqltype = sqltype
        self.cast_from_text = cast_from_text

    def value(self, row: Row) -> Any:
        raw = self.read(row)
        if self.cast_from_text:
            text = json_text(raw)
            return None if text is None else _cast_text(text, self.sqltype)
        return _cast_value(raw, self.sqltype)


def _operand_type(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "numeric"
    return "unknown"


def _json_cast(v: Any) -> str | None:
    """Sequelize's ``_getJsonCast``: the cast it puts on a JSON path for this operand."""
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "double precision"
    return None


# ------------------------------------------------------------------------------------------------ LIKE


# ------------------------------------------------------------------------------------------------ where






def _always(value: Truth) -> Predicate:
    return lambda row: value


def _combine(kind: str, parts: list[Predicate | None]) -> Predicate | None:
    """``and``/``or`` of compiled members; ``None`` members (no condition) are dropped as Sequelize does."""
    present = [p for p in parts if p is not None]
    if not present:
        return _always(False) if kind == "or" else None
    if len(present) == 1:
        return present[0]
    return kleene_or_of(present) if kind == "or" else kleene_and_of(present)


def _comparison(operand: _Operand, sql_op: str, v: Any) -> Predicate:
    """``operand sql_op v``; type errors are raised now (Postgres raises them while planning)."""
    if v is None:
        if sql_op == "=":
            return lambda row: operand.value(row) is None
        if sql_op == "<>":
            return lambda row: operand.value(row) is not None
        return _always(None)  # any other comparison with NULL is NULL
    if isinstance(v, (list, dict)):
        raise RRBackendError(f"invalid operand for {sql_op}: {json.dumps(v)}")
    pg = _PG_OPERATOR_NAME[sql_op]
    if "LIKE" in sql_op:
        if not isinstance(v, str) or operand.sqltype != "text":
            right = "unknown" if isinstance(v, str) else _operand_type(v)
            raise RRBackendError(f"operator does not exist: {operand.sqltype} {pg} {right}")
        regex = like_regex(v, case_insensitive="ILIKE" in sql_op)
        negate = sql_op.startswith("NOT")

        def like(row: Row) -> Truth:
            a = operand.value(row)
            if a is None:
                return None
            hit = regex.fullmatch(a) is not None
            return (not hit) if negate else hit

        return like
    if operand.sqltype == "text":
        if not isinstance(v, str):
            raise RRBackendError(f"operator does not exist: text {pg} {_operand_type(v)}")
        literal: Any = v
    elif operand.sqltype in _NUMERIC_TYPES:
        if isinstance(v, bool):
            raise RRBackendError(f"operator does not exist: {operand.sqltype} {pg} boolean")
        literal = _cast_text(v, operand.sqltype) if isinstance(v, str) else v
    else:  # boolean
        if not isinstance(v, (bool, str)):
            raise RRBackendError(f"operator does not exist: boolean {pg} {_operand_type(v)}")
        literal = _cast_text(v, "boolean") if isinstance(v, str) else v
    compare = _ORDER[sql_op]

    def run(row: Row) -> Truth:
        a = operand.value(row)
        if a is None:
            return None
        return compare(a, literal)

    return run


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _condition(operand: _Operand, op: str, v: Any) -> Predicate | None:
    """One ``{op: v}`` entry on an attribute (``and``/``or`` keep the operand as it is: no new cast)."""
    if op in COMBINATORS:
        kind = COMBINATORS[op]
        if isinstance(v, dict):
            v = [{k: x} for k, x in v.items()]
        if not isinstance(v, list):
            raise RRBackendError(f"invalid value for {op}: {json.dumps(v)}")
        members: list[Predicate | None] = []
        for item in v:
            if isinstance(item, dict):
                members.append(_combine("and", [_condition(operand, k, x) for k, x in item.items()]))
            else:
                members.append(_comparison(operand, "=", item))
        return _combine(kind, members)
    if op == "contains":
        raise RRBackendError("the 'contains' operator is not emulated")
    if op not in COMPARISON_OPERATORS:
        raise RRBackendError(f"unknown filter operator {op!r}")
    return _comparison(operand, COMPARISON_OPERATORS[op], v)


def _attribute(key: str, value: Any, columns: Mapping[str, str]) -> Predicate | None:
    """One attribute key of a ``where``: a column, a JSON path ``col.a.b`` or either with ``::type``."""
    name, _, cast_name = key.partition("::")
    cast = None
    if cast_name:
        cast = _CASTS.get(cast_name.strip().lower())
        if cast is None:
            raise RRBackendError(f'type "{cast_name}" does not exist')
    column, *path = name.split(".")
    if column not in columns:
        if path:
            raise RRBackendError(f'missing FROM-clause entry for table "{column}"')
        raise RRBackendError(f'column "{column}" does not exist')
    column_type = columns[column]
    if column_type != "jsonb":
        if path:
            raise RRBackendError(f'missing FROM-clause entry for table "{column}"')
        operand = _Operand(lambda row: row.get(column), cast or column_type, cast_from_text=False)
        if isinstance(value, dict):
            return _combine("and", [_condition(operand, op, v) for op, v in value.items()])
        if isinstance(value, list):  # Sequelize: column IN (...)
            return _combine("or", [_comparison(operand, "=", v) for v in value]) if value else _always(None)
        return _comparison(operand, "=", value)
    if not path:
        raise RRBackendError(f"a condition on the whole JSONB column {column!r} is not emulated")

    def read(row: Row) -> Any:
        return _json_path(row.get(column), path)

    def operand_for(v: Any) -> _Operand:
        first = v[0] if isinstance(v, list) and v else v
        return _Operand(read, cast or _json_cast(first) or "text", cast_from_text=True)

    if isinstance(value, dict):
        return _combine("and", [_condition(operand_for(v), op, v) for op, v in value.items()])
    if isinstance(value, list):
        raise RRBackendError(f"a list value on the JSON path {name!r} is not emulated")
    return _comparison(operand_for(value), "=", value)


def compile_where(where: Any, columns: Mapping[str, str]) -> Predicate | None:
    """A Sequelize ``where`` object on a table as a row predicate (``None``: no condition)."""
    if not isinstance(where, dict):
        return None
    parts: list[Predicate | None] = []
    for key, value in where.items():
        if key in COMBINATORS:
            if isinstance(value, dict):
                value = [{k: v} for k, v in value.items()]
            if not isinstance(value, list):
                raise RRBackendError(f"invalid value for {key}: {json.dumps(value)}")
            parts.append(_combine(COMBINATORS[key], [compile_where(m, columns) for m in value]))
        elif key in COMPARISON_OPERATORS:
            raise RRBackendError(f"operator {key!r} used without an attribute")
        else:
            parts.append(_attribute(key, value, columns))
    return _combine("and", parts)


def _matches(predicate: Predicate | None, row: Row) -> bool:
    return predicate is None or predicate(row) is True


# ------------------------------------------------------------------------------------------------ public


def select_runs(backend_filter: dict[str, Any], runs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs ``/runs_filtered_ordered`` returns for this filter (all pages), ``run_number`` DESC.

    Each run is the raw RR object: ``run_number``, ``oms_attributes``, ``rr_attributes``, optional ``deleted``
    and ``DatasetTripletCache: {"triplet_summary": {...}}`` (absent or ``None``: the run has no online cache
    and is never returned).
    """
    run_where, triplet_where = split_run_filter(backend_filter)
    run_predicate = compile_where(run_where, RUN_COLUMNS)
    triplet_predicate = compile_where(triplet_where, TRIPLET_CACHE_COLUMNS)
    selected = []
    for run in runs:
        cache = run.get("DatasetTripletCache")
        if run.get("deleted", False) is not False or not isinstance(cache, dict):
            continue
        if _matches(run_predicate, run) and _matches(triplet_predicate, cache):
            selected.append(run)
    return sorted(selected, key=lambda r: r["run_number"], reverse=True)


def select_datasets(backend_filter: dict[str, Any], datasets: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The datasets ``/datasets_filtered_ordered`` returns, ``run_number`` DESC then ``name`` ASC.

    Each dataset is the raw RR object (``run_number``, ``name``, ``dataset_attributes``, optional ``deleted``)
    with its ``Run`` (``rr_attributes``, ``oms_attributes``) and ``DatasetTripletCache`` included; a dataset
    lacking either is never returned (INNER JOINs).
    """
    dataset_where, run_where, triplet_where = split_dataset_filter(backend_filter)
    dataset_predicate = compile_where(dataset_where, DATASET_COLUMNS)
    run_predicate = compile_where(run_where, RUN_COLUMNS)
    triplet_predicate = compile_where(triplet_where, TRIPLET_CACHE_COLUMNS)
    selected = []
    for dataset in datasets:
        run, cache = dataset.get("Run"), dataset.get("DatasetTripletCache")
        if dataset.get("deleted", False) is not False or not isinstance(run, dict) or not isinstance(cache, dict):
            continue
        if _matches(dataset_predicate, dataset) and _matches(run_predicate, run) and _matches(triplet_predicate, cache):
            selected.append(dataset)
    selected.sort(key=lambda d: d["name"])
    selected.sort(key=lambda d: d["run_number"], reverse=True)
    return selected


def filtered_ordered(kind: str, body: Mapping[str, Any], objects: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The whole response body of ``POST /runs_filtered_ordered`` (kind ``"runs"``) or
    ``/datasets_filtered_ordered`` (``"datasets"``): ``{kind: page, "pages": ceil(count/page_size), "count": count}``.

    ``page`` is 0-based; ``sortings`` must be empty (the client always sends ``[]``); a body without ``page`` or
    ``page_size`` is the backend's HTTP 500.
    """
    if body.get("sortings"):
        raise RRBackendError("sortings are not emulated")
    select = {"runs": select_runs, "datasets": select_datasets}[kind]
    matching = select(body.get("filter") or {}, objects)
    try:  # LIMIT/OFFSET come out NaN, which Sequelize writes as a column (recorded without page_size; page: same arithmetic)
        page_size, page = int(body["page_size"]), int(body["page"])
    except (KeyError, TypeError, ValueError):
        raise RRBackendError('column "nan" does not exist') from None
    count = len(matching)
    return {
        kind: matching[page * page_size : (page + 1) * page_size],
        "pages": math.ceil(count / page_size) if page_size else 0,
        "count": count,
    }


# ------------------------------------------------------------------------------------------------ triplet cache

# OMS lumisection names RR keeps when it stores OMS data (the catalog holds the list): every other name is
# dropped on write, so no answer, summary or portal rule ever sees it.
OMS_STORED_KEYS: frozenset[str] = frozenset(RR_STORED_OMS_LUMISECTION_NAMES)

JointPiece = tuple[int, int, Mapping[str, Any], Mapping[str, Any]]
"""``(first, last, rr, oms)``: consecutive lumisections of one (run, dataset) that have both an RR and an OMS
event, with the same RR flags (``{flag: {"status", "comment", "cause"}}``) and the same stored OMS values."""


def joint_pieces(rr_ranges: Iterable[Mapping[str, Any]], oms_ranges: Iterable[Mapping[str, Any]]) -> list[JointPiece]:
    """RR's ``AggregatedLumisection`` view of one (run, dataset), from its own sorted, disjoint RR and OMS ranges
    (``{..., "start", "end"}``): the INNER JOIN of the two per lumisection. Online's OMS data is not merged in:
    a dataset's summaries count only lumisections where the dataset itself has OMS data. OMS names RR does not
    store are left out."""
    rr = sorted(rr_ranges, key=lambda r: int(r["start"]))
    oms = sorted(oms_ranges, key=lambda r: int(r["start"]))
    pieces: list[JointPiece] = []
    i = j = 0
    while i < len(rr) and j < len(oms):
        first = max(int(rr[i]["start"]), int(oms[j]["start"]))
        last = min(int(rr[i]["end"]), int(oms[j]["end"]))
        if first <= last:
            flags = {k: v for k, v in rr[i].items() if k not in ("start", "end")}
            values = {k: v for k, v in oms[j].items() if k in OMS_STORED_KEYS}
            pieces.append((first, last, flags, values))
        if int(rr[i]["end"]) < int(oms[j]["end"]):
            i += 1
        else:
            j += 1
    return pieces


def _status_key(status: Any) -> str:
    """The counter a status goes to: JavaScript's object key for it (``null`` -> ``"null"``)."""
    if status is None:
        return "null"
    if isinstance(status, bool):
        return "true" if status else "false"
    return str(status)


def _first_seen(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    return list(dict.fromkeys(key for row in rows for key in row))


def triplet_summary_of(pieces: list[JointPiece]) -> dict[str, Any]:
    """``DatasetTripletCache.triplet_summary`` as RR computes it from the joined lumisections.

    Per flag seen on a joined lumisection: a count per status (a triplet without status counts under
    ``"null"``), ``EMPTY`` for joined lumisections without the flag AND for every lumisection from 1 to the last
    joined one that is not joined (RR walks 1..last), and the distinct non-empty comments and causes."""
    if not pieces:
        return {}
    flags = _first_seen(rr for _, _, rr, _ in pieces)
    summary: dict[str, dict[str, Any]] = {f: {"EMPTY": 0, "comments": [], "causes": []} for f in flags}
    gaps = pieces[-1][1] - sum(last - first + 1 for first, last, _, _ in pieces)
    for first, last, rr, _ in pieces:
        n = last - first + 1
        for flag in flags:
            entry = summary[flag]
            triplet = rr.get(flag)
            if not isinstance(triplet, Mapping):
                entry["EMPTY"] += n
                continue
            key = _status_key(triplet.get("status"))
            entry[key] = entry.get(key, 0) + n
            for word, bucket in (("comment", "comments"), ("cause", "causes")):
                text = triplet.get(word)
                if text not in ("", None) and text not in entry[bucket]:
                    entry[bucket].append(text)
    for flag in flags:
        summary[flag]["EMPTY"] += gaps
    return summary


def dcs_summary_of(pieces: list[JointPiece]) -> dict[str, Any]:
    """``DatasetTripletCache.dcs_summary`` as RR computes it from the joined lumisections.

    Per stored OMS name seen on a joined lumisection (``recorded``/``delivered`` included): how many joined
    lumisections hold ``true``, ``false`` or ``null`` (another value, a number or a text, counts nowhere), and
    ``EMPTY`` for joined lumisections without the name plus every non-joined lumisection from 1 to the last
    joined one. ``ls_duration`` is ``{"TRUE": last joined lumisection number}``."""
    if not pieces:
        return {}
    names = _first_seen(oms for _, _, _, oms in pieces)
    summary: dict[str, dict[str, int]] = {name: {"TRUE": 0, "FALSE": 0, "NULL": 0, "EMPTY": 0} for name in names}
    last_joined = pieces[-1][1]
    gaps = last_joined - sum(last - first + 1 for first, last, _, _ in pieces)
    for first, last, _, oms in pieces:
        n = last - first + 1
        for name in names:
            if name not in oms:
                summary[name]["EMPTY"] += n
            elif oms[name] is None:
                summary[name]["NULL"] += n
            elif oms[name] is True:
                summary[name]["TRUE"] += n
            elif oms[name] is False:
                summary[name]["FALSE"] += n
    for name in names:
        summary[name]["EMPTY"] += gaps
    return {**summary, "ls_duration": {"TRUE": last_joined}}


def triplet_summary(statuses_by_flag: Mapping[str, list[str | None]]) -> dict[str, dict[str, Any]]:
    """A ``triplet_summary`` from per-lumisection statuses of lumisections 1..n that all have RR and OMS data
    (a shorthand for tests): ``"EMPTY"`` in the list is a lumisection without a triplet for the flag, ``None``
    a triplet without status. Same counting as :func:`triplet_summary_of` (a flag that is EMPTY on every
    lumisection has no entry, as in RR)."""
    n = max((len(v) for v in statuses_by_flag.values()), default=0)
    pieces: list[JointPiece] = []
    for i in range(n):
        rr = {
            flag: {"status": statuses[i], "comment": "", "cause": ""}
            for flag, statuses in statuses_by_flag.items()
            if i < len(statuses) and statuses[i] != "EMPTY"
        }
        pieces.append((i + 1, i + 1, rr, {}))
    return triplet_summary_of(pieces)
