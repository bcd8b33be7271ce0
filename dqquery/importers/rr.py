"""Import Run Registry filters (``get_runs(filter=...)`` / ``get_datasets(filter=...)``) as dqquery queries.

Two formats, as :func:`dqquery.to_rr` writes them: the client's user format (``raw=False``; runregistry 3.1.2
turns it into the backend format with ``transform_to_rr_run_filter`` / ``transform_to_rr_dataset_filter``,
modelled here by :func:`client_transform`, quirks included) and the backend format (``raw=True``, sent with
``ignore_filter_transformation=True``). The backend format is read the way RR's backend reads it
(:mod:`dqquery.emulate.runregistry`): split into one ``where`` per table, each a Sequelize ``where`` whose JSON
paths are cast only when the operand sits directly under the key.

Decisions:
* The imported query selects what RR selects: a flag ``triplet_summary.F.S > 0`` is ``F == S`` ("some
  lumisection has status S", exact as in the compiler), run/dataset attributes are constant over a run's
  lumisections, so one flag condition and-ed with attributes is exact. Two flag conditions in one conjunction
  are counted separately by RR (different lumisections may satisfy them): no query, ``rr-flags-checked-separately``.
* The backend's own errors are found by its emulator (planning errors: ``text >= integer`` for a number inside an
  ``and``/``or`` list of a JSON attribute), reported as ``rr-backend-rejects`` with the backend's message, located
  at the smallest part refused alone; an ``and`` list of one attribute gets its conditions in one object as the fix.
* A comparison the emulator reads as text on a numeric, boolean or list attribute, a ``::`` cast dqquery cannot
  mirror, or a key outside the catalog gives ``query=None`` and a ``not-expressible`` note: dqquery has no query for
  it, and a near one would select something else.
* ``flag-means-some-lumisection`` is reported for the user format (``{"tracker-strip": "GOOD"}`` reads like "the
  flag is GOOD"); the backend's ``triplet_summary.F.S > 0`` says the count itself.
* The client's whitelists are the compiler's data (:mod:`dqquery.targets.runregistry`), read here, not copied.
  A key they lack gets what to write instead: the bare name of a prefixed key they list, ``get_datasets`` for a
  run filter on a name, else the closest listed keys.
"""

from __future__ import annotations

import copy
import datetime as _dt
import difflib
import json
import re
from typing import Any, Literal

from .. import ast as A
from ..catalog import STATUSES
from ..emulate import runregistry as E
from ..errors import QueryError
from ..targets import runregistry as T
from .common import NotExpressible, checked, field_ref, guard_input, literal, redundant_conditions, where_join
from .findings import Finding, Imported, finding
from .jsonlogic import merge_ranges

__all__ = ["ClientRaises", "backend_query", "client_transform", "from_rr"]

Kind = Literal["runs", "datasets"]
TARGET = "rr"

_TRUE = "no condition"  # a where member without condition (Sequelize drops it)
_FALSE = "no row"  # an empty or: 0 = 1


class _NoValueFound:
    """``triplet_summary.F.NO VALUE FOUND > 0``: a status dqquery has no word for; it only stands inside an ``or``
    that names every other status but some (``F != S`` / ``F not in [...]``, as the compiler writes them)."""

    def __init__(self, field: A.FieldRef, where: str) -> None:
        self.field = field
        self.where = where


class ClientRaises(Exception):
    """The runregistry client raises before any request (its message, and the finding code)."""

    def __init__(self, code: str, message: str, where: str, fix: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.where = where
        self.fix = fix


def _listed_keys(kind: Kind) -> tuple[str, ...]:
    """The keys the client's transform accepts for ``kind`` (its lists, read from the compiler's data)."""
    if kind == "runs":
        return (T.RUN_TABLE_ATTRIBUTES, *T.RUN_RR_ATTRIBUTES, *T.RUN_TRIPLET_ATTRIBUTES, *T.RUN_OMS_ATTRIBUTES)
    return (*T.DATASET_TABLE_ATTRIBUTES, *T.DATASET_ATTRIBUTES, *T.DATASET_TRIPLET_ATTRIBUTES, *T.RUN_RR_ATTRIBUTES,
            *T.RUN_OMS_ATTRIBUTES)


def _unknown_key_fix(key: str, kind: Kind) -> str:
    """What to write for a key the client does not list: the bare name of a prefixed backend key the client lists
    (``rr_attributes.class`` -> ``class`` in get_datasets), the dataset name's key, else the closest listed keys."""
    listed = _listed_keys(kind)
    bare = key.split(".", 1)[1] if "." in key else ""
    if bare in listed:
        return f'write "{bare}": the client adds the prefix itself'
    if kind == "runs" and key in ("name", "dataset_name", "dataset"):
        return 'a run has no name: filter datasets by name with get_datasets(filter={"dataset_name": ...})'
    close = [k for k in listed if k.startswith(key + "-")] or difflib.get_close_matches(key, listed, n=3, cutoff=0.6)  # dt -> dt-dt
    return f"did you mean {', '.join(close[:3])}?" if close else ""


# ------------------------------------------------------------------------------------------------ client transform


def _wrap_or_members(value: dict[str, Any]) -> None:
    """The client wraps plain members of an ``or`` list (``type(x) in (int, float, str)``: not booleans)."""
    if "or" in value and isinstance(value["or"], list):
        value["or"] = [{"=": x} if type(x) in (int, float, str) else x for x in value["or"]]


def _status(raw: Any, key: str) -> str:
    status = raw.upper()
    if status not in T.CLIENT_STATUSES:
        raise ClientRaises("client-rejects-invalid-status", "status must be either GOOD, BAD, STANDBY, EXCLUDED, NOTSET or EMPTY", key)
    return status


def client_transform(user_filter: Any, kind: Kind) -> tuple[dict[str, Any], list[Finding]]:
    """runregistry 3.1.2's transform of a user-format filter (``transform_to_rr_run_filter`` for ``runs``,
    ``transform_to_rr_dataset_filter`` for ``datasets``) and what it does silently; :class:`ClientRaises` where
    the client raises."""
    findings: list[Finding] = []
    if not user_filter or not isinstance(user_filter, dict):
        if not isinstance(user_filter, dict) and user_filter not in (None, ""):
            findings.append(finding("client-ignores-non-dict-filter", f"the filter is a {type(user_filter).__name__}, not a dict: it is sent as no filter"))
        return {}, findings
    user_filter = copy.deepcopy(user_filter)  # the client rewrites "or" lists in place
    out: dict[str, Any] = {}
    for key, value in user_filter.items():
        if kind == "runs":
            _run_entry(key, value, out, findings)
        else:
            _dataset_entry(key, value, out, findings)
    return out, findings


def _run_entry(key: str, value: Any, out: dict[str, Any], findings: list[Finding]) -> None:
    if not isinstance(value, dict):
        value = {"=": value}
    _wrap_or_members(value)
    if key in T.RUN_TABLE_ATTRIBUTES:  # a substring test in the client: "run" passes
        out[key] = value
    elif key in T.RUN_RR_ATTRIBUTES:
        out["rr_attributes." + key] = value
    elif key in T.RUN_TRIPLET_ATTRIBUTES:
        if "=" in value and isinstance(value["="], str):
            status = _status(value["="], key)
            out[f"triplet_summary.{key}.{status}"] = {">": 0}
            findings.append(
                finding(
                    "flag-means-some-lumisection",
                    f"{key} == {status} selects runs with at least one {status} lumisection, not runs that are all {status}",
                    key,
                )
            )
        else:
            findings.append(
                finding(
                    "client-drops-boolean-flag-value",
                    f"the client keeps a flag only when its value is a status string; {json.dumps(value)} is dropped without a word",
                    key,
                    fix=f'write {{"{key}": "GOOD"}} (or the status meant)',
                )
            )
    elif key in T.RUN_OMS_ATTRIBUTES:
        out["oms_attributes." + key] = value
    elif key.startswith(T.RUN_PASSTHROUGH_PREFIXES):
        out[key] = value
        findings.append(finding("raw-key-passthrough", f"the backend key '{key}' is passed through unchanged", key))
    else:
        raise ClientRaises(
            "client-raises-unknown-attribute",
            f"filter attribute {key} not found within the listed attributes in runregistry/attributes.py",
            key,
            _unknown_key_fix(key, "runs"),
        )


def _dataset_entry(key: str, value: Any, out: dict[str, Any], findings: list[Finding]) -> None:
    if not isinstance(value, dict) and key not in T.DATASET_TABLE_ATTRIBUTES:
        value = {"=": value}
    elif not isinstance(value, dict):
        findings.append(finding("dataset-scalar-not-wrapped", f"the dataset transform sends {key}: {json.dumps(value)} as it is (RR reads it as equality)", key))
    if isinstance(value, dict):
        _wrap_or_members(value)
    if key in T.DATASET_TABLE_ATTRIBUTES:
        out["name" if key == "dataset_name" else key] = value
    elif key in T.DATASET_ATTRIBUTES:
        out["dataset_attributes." + key] = value
    elif key in T.DATASET_TRIPLET_ATTRIBUTES:
        if "=" not in value:
            raise ClientRaises("client-rejects-invalid-status", f"the dataset transform reads {key}['='] and raises KeyError: '='", key)
        if not isinstance(value["="], str):
            raise ClientRaises("client-rejects-invalid-status", "status must be either GOOD, BAD, STANDBY, EXCLUDED, NOTSET or EMPTY", key)
        status = _status(value["="], key)
        out[f"triplet_summary.{key}.{status}"] = {">": 0}
        findings.append(
            finding(
                "flag-means-some-lumisection",
                f"{key} == {status} selects datasets with at least one {status} lumisection, not datasets that are all {status}",
                key,
            )
        )
    elif key in T.RUN_RR_ATTRIBUTES:
        out["rr_attributes." + key] = value
    elif key in T.RUN_OMS_ATTRIBUTES:
        out["oms_attributes." + key] = value
    else:
        raise ClientRaises(
            "client-raises-unknown-attribute",
            f"filter attribute {key} not found within the listed attributes in runregistry/attributes.py. "
            "If this attribute does exist, please make a PR to this client.",
            key,
            _unknown_key_fix(key, "datasets"),
        )


# ------------------------------------------------------------------------------------------------ backend format

_NAMESPACE_PATHS: dict[str, str] = {"oms_attributes": "run.oms.", "rr_attributes": "run.rr.", "dataset_attributes": "dataset."}
_REAL_COLUMN_PATHS: dict[str, str] = {"run_number": "run.run_number", "name": "dataset.name"}
_NO_VALUE_FOUND = "NO VALUE FOUND"
_STORED_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_TEXT_OPS: dict[str, str] = {"=": "==", "<>": "!="}
_ORDER_OPS: dict[str, str] = {"=": "==", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class _Operand:
    """A backend key as the SQL compares it: the field, its SQL type (from the cast rule) and where it is."""

    def __init__(self, key: str, columns: dict[str, str], where: str) -> None:
        name, _, cast_name = key.partition("::")
        self.cast = E._CASTS.get(cast_name.strip().lower()) if cast_name else None
        column, *path = name.split(".")
        self.where = where
        self.json = columns.get(column) == "jsonb"
        self.column_type = columns.get(column, "text")
        if column == "triplet_summary":
            raise AssertionError("flags are read by _flag")  # pragma: no cover
        if self.json:
            if len(path) != 1 or column not in _NAMESPACE_PATHS:
                raise NotExpressible(f"the JSON path '{name}' is not a field dqquery knows", where)
            self.field, self.row = field_ref(_NAMESPACE_PATHS[column] + path[0], where)
        else:
            self.field, self.row = field_ref(_REAL_COLUMN_PATHS[column], where)

    def sqltype(self, operand: Any) -> str:
        """Sequelize's cast for this operand (the first member of a list decides)."""
        if self.cast:
            return self.cast
        if not self.json:
            return self.column_type
        first = operand[0] if isinstance(operand, list) and operand else operand
        return E._json_cast(first) or "text"


def _compare(operand: _Operand, sqltype: str, op: str, v: Any, where: str) -> Any:
    """``operand op v`` in SQL (with the type the backend uses) as a query node."""
    field, row = operand.field, operand.row
    if v is None:
        if op in ("=", "<>"):
            return A.IsNull(field=field, negated=op == "<>")
        return _FALSE  # any other comparison with NULL is NULL
    if op in ("like", "LIKE", "notlike"):
        if row.type != "string":
            raise NotExpressible(f"'{op}' on {field.name} ({row.type}) matches its stored JSON text", where)
        return checked(A.Like(field=field, pattern=v, negated=op == "notlike"), where)
    if op == "NOTLIKE":
        raise NotExpressible("NOTLIKE is a case-sensitive NOT LIKE; dqquery's like is case-insensitive", where)
    if sqltype == "text" and row.type == "datetime" and isinstance(v, str) and _STORED_TIME.fullmatch(v):
        # RR stores OMS times as this text, which orders as the instants it names (the compiler's stored_time_text)
        instant = _dt.datetime.strptime(v, T.STORED_TIME_FORMAT).replace(tzinfo=_dt.UTC)
        return checked(A.Compare(field=field, op=_ORDER_OPS[op], value=A.DateTimeValue(value=instant)), where)  # type: ignore[arg-type]
    if sqltype == "text":
        if row.type not in ("string",) or op not in _TEXT_OPS:
            raise NotExpressible(f"{field.name} ({row.type}) is compared as its stored JSON text here", where)
        return checked(A.Compare(field=field, op=_TEXT_OPS[op], value=A.StringValue(value=v)), where)
    if sqltype in ("double precision", "integer"):
        if isinstance(v, str):
            v = E._cast_text(v, sqltype)
        if row.type not in ("int", "float"):
            raise NotExpressible(f"{field.name} ({row.type}) is cast to a number here", where)
        if row.type == "int" and isinstance(v, float) and v.is_integer() and op not in ("=", "<>"):
            v = int(v)
        return checked(A.Compare(field=field, op=_ORDER_OPS[op], value=literal(v, row, where)), where)  # type: ignore[arg-type]
    # boolean
    if isinstance(v, str):
        v = E._cast_text(v, "boolean")
    if row.type != "bool" or op not in _TEXT_OPS:
        raise NotExpressible(f"{field.name} ({row.type}) is cast to a boolean and compared with '{op}'", where)
    return checked(A.Compare(field=field, op=_TEXT_OPS[op], value=A.BoolValue(value=v)), where)


def _and(parts: list[Any]) -> Any:
    present = _resolve_no_value_found([p for p in parts if p is not _TRUE])  # a lone NO VALUE FOUND count
    if any(p is _FALSE for p in present):
        return _FALSE
    if not present:
        return _TRUE
    return merge_ranges(A.make_and(present))  # type: ignore[arg-type]


def _or(parts: list[Any]) -> Any:
    present = [p for p in parts if p is not _TRUE]
    if len(present) < len(parts) and not present:
        return _FALSE  # an or of members without condition only: the emulator's _combine reads it as false
    present = _resolve_no_value_found([p for p in present if p is not _FALSE])
    if not present:
        return _FALSE
    return _in_set(A.make_or(present))


def _resolve_no_value_found(parts: list[Any]) -> list[Any]:
    """Within an ``or``: ``F == s1 or ... or F has NO VALUE FOUND`` naming every data status but ``X`` is
    ``F not in X`` (what the compiler writes for ``!=`` and ``not in``); anything else keeps no word for it."""
    out = [p for p in parts if not isinstance(p, _NoValueFound)]
    for token in (p for p in parts if isinstance(p, _NoValueFound)):
        path = token.field.path
        named = [p for p in out if isinstance(p, A.Compare) and p.op == "==" and p.field.path == path and isinstance(p.value, A.StatusValue)]
        left = [s for s in T.DATA_STATUSES if s != _NO_VALUE_FOUND and s not in {p.value.value for p in named}]
        if not left:
            raise NotExpressible("a status count for every status: no query says 'some lumisection has a status'", token.where)
        out = [p for p in out if p not in named]
        values = tuple(A.StatusValue(value=s) for s in left)
        out.append(checked(A.InSet(field=token.field, values=values, negated=True) if len(values) > 1 else
                           A.Compare(field=token.field, op="!=", value=values[0]), token.where))
    return out


def _in_set(node: Any) -> Any:
    """``x == a or x == b`` on one field -> ``x in [a, b]`` (same meaning in three-valued logic)."""
    if isinstance(node, A.Or) and all(isinstance(o, A.Compare) and o.op == "==" for o in node.operands):
        if len({o.field.path for o in node.operands}) == 1:
            return A.InSet(field=node.operands[0].field, values=tuple(o.value for o in node.operands))
    return node


def _condition(operand: _Operand, op: str, v: Any, sqltype: str, where: str) -> Any:
    """One ``{op: v}`` entry on an attribute; ``and``/``or`` lists keep the operand's type (no new cast)."""
    if op in E.COMBINATORS:
        kind = E.COMBINATORS[op]
        items = [{k: x} for k, x in v.items()] if isinstance(v, dict) else v
        members = []
        for i, item in enumerate(items):
            at = where_join(where_join(where, op), i)
            if isinstance(item, dict):
                members.append(_and([_condition(operand, k, x, sqltype, where_join(at, k)) for k, x in item.items()]))
            else:
                members.append(_compare(operand, sqltype, "=", item, at))
        return _or(members) if kind == "or" else _and(members)
    return _compare(operand, sqltype, op, v, where_join(where, op))


def _flag(key: str, value: Any, where: str) -> Any:
    """``triplet_summary.<flag>.<status>: {">": 0}`` -> ``flag == STATUS``."""
    name = key.partition("::")[0]
    parts = name.split(".")
    if len(parts) != 3 or key != name:
        raise NotExpressible(f"'{key}' is not a status count triplet_summary.<flag>.<status>", where)
    _, flag, status = parts
    field, row = field_ref("lumisection.rr." + flag, where)
    if row.type == "status" and status == _NO_VALUE_FOUND and value in ({">": 0}, {">=": 1}):
        return _NoValueFound(field, where)
    if status == "EMPTY":  # lumisections without a triplet for the flag, plus RR's gaps: no query counts them
        raise NotExpressible(f"'{key}' counts lumisections without a {flag} status (and RR's gaps): dqquery has no query for it", where)
    if row.type != "status" or status not in STATUSES:
        raise NotExpressible(f"'{key}' counts '{status}', which is not a status of {flag}", where)
    if not isinstance(value, dict) or len(value) != 1:
        raise NotExpressible(f"a status count is read here only as one comparison with 0 or 1, found {json.dumps(value)}", where)
    ((op, bound),) = value.items()
    if isinstance(bound, bool) or not isinstance(bound, (int, float)):
        raise NotExpressible(f"a status count compared with {json.dumps(bound)}", where)
    if (op == ">" and 0 <= bound < 1) or (op == ">=" and 0 < bound <= 1):
        return checked(A.Compare(field=field, op="==", value=A.StatusValue(value=status)), where)
    raise NotExpressible(f"'{key} {op} {bound}' is not 'some lumisection has status {status}'", where)


def _attribute(key: str, value: Any, columns: dict[str, str], where: str) -> Any:
    if key.startswith("triplet_summary"):
        return _flag(key, value, where)
    operand = _Operand(key, columns, where)
    if isinstance(value, dict):
        return _and([_condition(operand, op, v, operand.sqltype(v), where) for op, v in value.items()])
    if isinstance(value, list):  # a real column IN (...); the emulator refuses lists on JSON paths
        return _or([_compare(operand, operand.sqltype(x), "=", x, where_join(where, i)) for i, x in enumerate(value)]) if value else _FALSE
    return _compare(operand, operand.sqltype(value), "=", value, where)


def _where(where_obj: Any, columns: dict[str, str], where: str = "") -> Any:
    """A Sequelize ``where`` as a query node (or :data:`_TRUE` / :data:`_FALSE`)."""
    if not isinstance(where_obj, dict):
        return _TRUE
    parts = []
    for key, value in where_obj.items():
        at = where_join(where, key)
        if key in E.COMBINATORS:
            members = [{k: v} for k, v in value.items()] if isinstance(value, dict) else value
            converted = [_where(m, columns, where_join(at, i)) for i, m in enumerate(members)]
            parts.append(_or(converted) if E.COMBINATORS[key] == "or" else _and(converted))
        else:
            parts.append(_attribute(key, value, columns, at))
    return _and(parts)


def _lumisection_conjuncts(node: Any) -> list[Any]:
    operands = node.operands if isinstance(node, A.And) else (node,)
    return [o for o in operands if any(f.path.startswith("lumisection.") for f in A.fields_of(o))]


def _rejected_part(piece: Any, columns: Any, where: str = "") -> str:
    """The path of the smallest part of ``piece`` the backend refuses (``oms_attributes.energy``), "" if none alone."""
    if not isinstance(piece, dict):
        return ""
    for key, value in piece.items():
        at = where_join(where, key)
        try:
            E.compile_where({key: value}, columns)
        except E.RRBackendError:
            if key in E.COMBINATORS and isinstance(value, list):
                for i, member in enumerate(value):
                    if (inner := _rejected_part(member, columns, where_join(at, i))):
                        return inner
            return at
    return ""


def _one_object_fix(backend_filter: Any, where: str) -> str:
    """For ``{attr: {"and": [{op: v}, ...]}}`` (a number in an and-list of a JSON attribute, compared as text): the
    same conditions written in one object, which the backend compares as numbers; "" when that is not the case."""
    value = backend_filter.get(where) if isinstance(backend_filter, dict) else None
    if not (isinstance(value, dict) and list(value) in (["and"], ["AND"]) and isinstance(value[next(iter(value))], list)):
        return ""
    members = value[next(iter(value))]
    if not all(isinstance(m, dict) and len(m) == 1 for m in members):
        return ""
    merged = {op: v for m in members for op, v in m.items()}
    if len(merged) != len(members):
        return ""
    return f"write the conditions in one object, not in an and-list: {json.dumps(merged)}"


def backend_query(backend_filter: Any, kind: Kind) -> tuple[Any, list[Finding]]:
    """What RR's backend selects for a backend-format filter, as a query (``None`` with a finding when no query
    says it), and the findings on the way."""
    pieces: list[Any] = []
    tables: list[Any] = []
    try:
        if kind == "runs":
            pieces = list(E.split_run_filter(backend_filter))
            tables = [E.RUN_COLUMNS, E.TRIPLET_CACHE_COLUMNS]
        else:
            pieces = list(E.split_dataset_filter(backend_filter))
            tables = [E.DATASET_COLUMNS, E.RUN_COLUMNS, E.TRIPLET_CACHE_COLUMNS]
        for piece, columns in zip(pieces, tables):
            E.compile_where(piece, columns)  # the backend's planning errors
    except E.RRBackendError as err:
        if "not emulated" in str(err):
            return None, [finding("not-expressible", f"dqquery does not model this backend filter: {err}")]
        where = next((w for piece, columns in zip(pieces, tables) if (w := _rejected_part(piece, columns))), "")
        return None, [finding("rr-backend-rejects", f"the Run Registry backend answers HTTP 500: {err}", where,
                              fix=_one_object_fix(backend_filter, where))]
    findings = _likes_without_percent(backend_filter)
    try:
        converted = [_where(piece, dict(columns)) for piece, columns in zip(pieces, tables)]
    except NotExpressible as err:
        return None, [*findings, finding("not-expressible", str(err), err.where)]
    node = _and(converted)
    if node is _FALSE:
        return None, [*findings, finding("not-expressible", "the backend selects nothing for this filter (an empty 'or', or a comparison with null)")]
    if node is _TRUE:
        return None, findings
    flags = _lumisection_conjuncts(node)
    if len(flags) > 1:
        return None, [
            *findings,
            finding(
                "rr-flags-checked-separately",
                f"{len(flags)} flag conditions are each counted over the whole {kind[:-1]}: different lumisections may satisfy them",
                fix="filter the fetched lumisections with the query (dqquery.plan)",
            ),
        ]
    return node, findings + redundant_conditions(node)


def _likes_without_percent(backend_filter: Any) -> list[Finding]:
    """``like-without-percent`` for every like/notlike value without ``%`` or ``_`` (iterative walk)."""
    found = []
    stack: list[tuple[Any, str]] = [(backend_filter, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                at = where_join(where, key)
                if key.lower() in ("like", "notlike") and isinstance(value, str) and "%" not in value and "_" not in value:
                    found.append(
                        finding(
                            "like-without-percent",
                            f"like {json.dumps(value)} is a whole-value, case-insensitive equality",
                            at,
                            fix=f'write {json.dumps("%" + value + "%")} for a substring',
                        )
                    )
                stack.append((value, at))
        elif isinstance(node, list):
            stack.extend((child, where_join(where, i)) for i, child in enumerate(node))
    return found


# ------------------------------------------------------------------------------------------------ public


def from_rr(filter: Any, kind: Kind = "runs", raw: bool = False) -> Imported:
    """Import an RR filter: the client's user format (``raw=False``, what ``get_runs(filter=...)`` takes) or the
    backend format (``raw=True``, sent with ``ignore_filter_transformation=True``).

    The query selects what RR selects for the filter, the client's and the backend's quirks included (a flag value
    the client drops is absent, and reported); ``query`` is ``None`` when the client raises, the backend fails, the
    request is unfiltered or no query is exact, with a finding saying which. Input dqquery cannot read at all
    (non-text keys, nesting or lists past the limits) raises a located :class:`~dqquery.errors.QueryError`."""
    if kind not in ("runs", "datasets"):
        raise QueryError("unknown-value", f"kind must be 'runs' or 'datasets', not {kind!r}", target=TARGET)
    guard_input(filter, TARGET)
    findings: list[Finding] = []
    if raw:
        backend = filter
    else:
        try:
            backend, findings = client_transform(filter, kind)
        except ClientRaises as err:
            return Imported(None, "rr", kind, (finding(err.code, f"the runregistry client raises: {err}", err.where, fix=err.fix),))
    if raw and not isinstance(backend, dict):
        return Imported(None, "rr", kind, (finding("rr-backend-rejects", f"the backend format is a JSON object, not {type(backend).__name__}"),))
    query, more = backend_query(backend, kind)
    return Imported(query, "rr", kind, tuple(findings + more))
