"""Import DIALS filters (query parameters, or cmsdials 2.4.1 filter objects) as dqquery queries.

:func:`from_dials` takes what a script sends to a DIALS list endpoint: a dict of query parameters, a cmsdials
filter object (``LumisectionHistogram1DFilters(me__regex=..., run_number__gte=...)``, read through its
``cleandict()``, the parameters the client sends) or the same object written as data,
``{"class": "LumisectionHistogram1DFilters", "kwargs": {...}}``. The query selects what the server selects:
django-filter ignores every parameter the endpoint does not declare, a repeated key keeps its last value,
strings are stripped, a boolean other than true/false/1/0 is no filter (:mod:`dqquery.emulate.dials` models
the server; its parsing functions are used here, so the two cannot disagree).

Decisions:
* What the server declares is :mod:`dqquery.dials_api` (per endpoint and server generation, v1.12.0 by
  default as recorded in the conformance corpus); a parameter outside it is ignored and reported
  (``dials-undeclared-parameter``), except ``next_token``/``page_size`` (pagination, not filters) and the
  misspelling of cmsdials' th1/th2 models, ``ls_numbet__lte`` (``dials-ls-number-typo``).
* cmsdials 2.4.1's filter models ignore unknown keyword arguments (pydantic ``extra='ignore'``): the record form
  drops them and reports ``cmsdials-unknown-kwarg-ignored``. Their fields are kept as data
  (:data:`CMSDIALS_FIELDS`, a test compares them with the installed client), so the record form needs no cmsdials.
  The finding names a close field (``did you mean``); a correctly spelled ``ls_number__lte`` on a th1/th2 class
  (whose field is the typo) says that the class cannot send the bound at all.
* A filter class of one endpoint sent to another (``LumisectionHistogram1DFilters`` to ``th2``) is reported
  (``h1d-filter-on-h2d-endpoint``); the query is what the endpoint it is sent to selects for those parameters.
* Values the server answers with HTTP 400 (not a number) or 500 (an invalid regex) give ``query=None`` and
  ``dials-rejects``. Regular expressions are checked by the linear-time heuristics of
  :func:`~dqquery.importers.common.regex_findings`.
"""

from __future__ import annotations

import decimal
import difflib
import json
from collections.abc import Mapping
from typing import Any

from .. import ast as A
from ..dials_api import ENDPOINTS, GENERATIONS, DeclaredParam, Endpoint
from ..dials_api import endpoint as endpoint_record
from ..emulate import dials as E
from ..errors import QueryError
from .common import NotExpressible, checked, field_ref, guard_input, literal, regex_findings
from .findings import Finding, Imported, finding
from .jsonlogic import merge_ranges

__all__ = ["CMSDIALS_FIELDS", "cmsdials_params", "from_dials"]

TARGET = "dials"

CMSDIALS_FIELDS: dict[str, tuple[str, ...]] = {
    "RunFilters": ("next_token", "page_size", "dataset_id", "run_number", "run_number__lte", "run_number__gte", "dataset", "dataset__regex"),
    "LumisectionFilters": (
        "next_token", "page_size", "dataset_id", "run_number", "run_number__lte", "run_number__gte", "ls_number",
        "ls_number__lte", "ls_number__gte", "dataset", "dataset__regex",
    ),
    "LumisectionHistogram1DFilters": (
        "next_token", "page_size", "dataset_id", "file_id", "run_number", "run_number__lte", "run_number__gte", "ls_number",
        "ls_numbet__lte", "ls_number__gte", "me_id", "entries__gte", "dataset", "dataset__regex", "logical_file_name",
        "logical_file_name__regex", "me", "me__regex",
    ),
    "LumisectionHistogram2DFilters": (
        "next_token", "page_size", "dataset_id", "file_id", "run_number", "run_number__lte", "run_number__gte", "ls_number",
        "ls_numbet__lte", "ls_number__gte", "me_id", "entries__gte", "dataset", "dataset__regex", "logical_file_name",
        "logical_file_name__regex", "me", "me__regex",
    ),
    "FileIndexFilters": (
        "next_token", "page_size", "dataset_id", "logical_file_name", "logical_file_name__regex", "status", "min_size",
        "dataset", "dataset__regex",
    ),
    "DatasetIndexFilters": ("next_token", "page_size", "dataset", "dataset__regex"),
    "MEFilters": ("me", "me__regex", "dim"),
    "MLBadLumisectionFilters": (
        "next_token", "page_size", "model_id", "model_id__in", "dataset_id", "dataset_id__in", "dataset", "dataset__regex",
        "me_id", "me", "me__regex", "run_number", "run_number__in", "ls_number",
    ),
    "MLModelsIndexFilters": (
        "next_token", "page_size", "id", "id__in", "name", "name__regex", "active", "ready", "type",
        "input_signature_contains_me", "input_signature_contains_me__regex", "tag_name", "tag_value",
    ),
}
"""cmsdials 2.4.1 filter class -> its fields (``model_fields``, in order; the th1/th2 typo included)."""

CMSDIALS_0X_NAMES: dict[str, str] = {
    "title_contains": "me__regex", "min_entries": "entries__gte", "min_run_number": "run_number__gte",
    "max_run_number": "run_number__lte", "min_ls_number": "ls_number__gte",
}
"""Filter keywords of the cmsdials 0.x API (still in old READMEs, e.g. real-filters ``dialspy-0x-readme-h2d-title-contains``)
-> the 2.x field that means the same; 2.x ignores the old names without a word."""

PAGINATION_PARAMS: frozenset[str] = frozenset({"next_token", "page_size"})
_CLASS_ENDPOINTS: dict[str, Endpoint] = {record.cmsdials_filters: record for record in ENDPOINTS.values()}
_TYPOS: dict[str, str] = {typo: right for record in ENDPOINTS.values() for right, typo in record.cmsdials_misspelled.items()}
_LOOKUP_OPS: dict[str, str] = {"exact": "==", "gte": ">=", "lte": "<="}


def _endpoint(name: str) -> Endpoint:
    try:
        return endpoint_record(name)
    except KeyError:
        names = sorted([*ENDPOINTS, *(a for r in ENDPOINTS.values() for a in r.aliases)])
        raise QueryError("unknown-value", f"unknown DIALS endpoint {name!r}", hint=f"one of {', '.join(names)}", target=TARGET) from None


def cmsdials_params(class_name: str, kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], list[Finding]]:
    """What cmsdials 2.4.1 sends for ``class_name(**kwargs)``: its ``cleandict()`` (``None`` dropped, lists
    joined with commas), and a ``cmsdials-unknown-kwarg-ignored`` finding per keyword it silently ignores."""
    fields = CMSDIALS_FIELDS.get(class_name)
    if fields is None:
        raise QueryError("unknown-value", f"{class_name!r} is not a cmsdials filter class", hint=f"one of {', '.join(CMSDIALS_FIELDS)}", target=TARGET)
    findings = [_unknown_kwarg(class_name, fields, key, value) for key, value in kwargs.items() if key not in fields]
    params = {
        key: ",".join(str(v) for v in value) if isinstance(value, (list, tuple)) else value
        for key in fields
        if (value := kwargs.get(key)) is not None
    }
    return params, findings


def _unknown_kwarg(class_name: str, fields: tuple[str, ...], key: str, value: Any) -> Finding:
    """``cmsdials-unknown-kwarg-ignored`` for ``key``, with what to write instead: the correctly spelled
    ``ls_number__lte`` of the th1/th2 classes (whose own field is the typo) cannot be sent through the class at all."""
    shown = f"{key}={json.dumps(value, default=str)}"
    typo = next((t for t, right in _TYPOS.items() if right == key and t in fields), None)
    if typo is not None:
        return finding(
            "cmsdials-unknown-kwarg-ignored",
            f"{class_name} has no field '{key}' (it declares the misspelling '{typo}', which DIALS ignores too): cmsdials "
            f"ignores {shown}, the bound is lost",
            key,
            fix=f"the class cannot send this bound: pass {key} as a query parameter yourself (dqquery.to_dials(query, "
            f"'{_CLASS_ENDPOINTS[class_name].name}') writes it), or keep the rows with ls_number <= {json.dumps(value, default=str)} after fetching",
        )
    renamed = CMSDIALS_0X_NAMES.get(key)
    if renamed is not None and renamed in fields:
        fix = f"cmsdials 2.x names it {renamed}" + (" (a regular expression: escape + ( ) . * ? [ ] with a backslash)" if renamed.endswith("__regex") else "")
    else:
        close = difflib.get_close_matches(key, [f for f in fields if f not in PAGINATION_PARAMS and f not in _TYPOS], n=3, cutoff=0.6)
        fix = f"did you mean {', '.join(close)}?" if close else ""
    return finding("cmsdials-unknown-kwarg-ignored", f"{class_name} has no field '{key}': cmsdials ignores {shown}", key, fix=fix)


def _object_params(obj: Any) -> tuple[str | None, dict[str, Any], list[Finding]]:
    """``(class name, parameters, findings)`` of a filter given as params, a cmsdials object or the record form."""
    if isinstance(obj, Mapping) and set(obj) == {"class", "kwargs"} and isinstance(obj.get("kwargs"), Mapping):
        params, findings = cmsdials_params(str(obj["class"]), obj["kwargs"])
        return str(obj["class"]), params, findings
    if isinstance(obj, Mapping):
        return None, dict(obj), []
    cleandict = getattr(obj, "cleandict", None)
    if callable(cleandict) and type(obj).__name__ in CMSDIALS_FIELDS:
        return type(obj).__name__, dict(cleandict()), []
    raise QueryError(
        "type-mismatch",
        f"expected DIALS query parameters (a dict) or a cmsdials filter object, found {type(obj).__name__}",
        target=TARGET,
    )


def _number(value: decimal.Decimal) -> Any:
    return int(value) if value == value.to_integral_value() else float(value)


def _condition(param: DeclaredParam, value: Any, name: str) -> Any:
    """One declared parameter's parsed value as a query node."""
    if param.path is None:
        raise NotExpressible(f"{name} filters something dqquery's catalog has no field for", name)
    field, row = field_ref(param.path, name)
    if param.lookup == "in":
        wanted = [_number(v) if isinstance(v, decimal.Decimal) else v for v in value if v is not None]
        if not wanted:
            raise NotExpressible(f"{name} lists no value: DIALS selects nothing", name)
        return checked(A.InSet(field=field, values=tuple(literal(v, row, name) for v in wanted)), name)
    if param.lookup == "regex":
        return checked(A.Regex(field=field, pattern=value), name)
    if isinstance(value, decimal.Decimal):
        value = _number(value)
    return checked(A.Compare(field=field, op=_LOOKUP_OPS[param.lookup], value=literal(value, row, name)), name)  # type: ignore[arg-type]


def _query(record: Endpoint, params: Mapping[str, Any], generation: str) -> tuple[Any, list[Finding]]:
    declared = record.declared(generation)
    findings: list[Finding] = []
    for name, value in params.items():
        if name in declared or name in PAGINATION_PARAMS:
            continue
        if name in _TYPOS:
            findings.append(
                finding(
                    "dials-ls-number-typo",
                    f"{name}={json.dumps(value, default=str)} is cmsdials' misspelling of {_TYPOS[name]}: DIALS ignores it, the bound is lost",
                    name,
                    fix=f"send {_TYPOS[name]} as a raw query parameter (dqquery.to_dials(query, {record.name!r}))",
                )
            )
        else:
            findings.append(
                finding(
                    "dials-undeclared-parameter",
                    f"{record.name}/ does not declare {name}: django-filter ignores it",
                    name,
                    fix=f"declared: {', '.join(declared)}",
                )
            )
    parts = []
    errors: dict[str, str] = {}
    for name, param in declared.items():
        text = E._wire(E._last(params.get(name)))
        if text in ("", None):
            continue
        flt = E.Filter(param.column, param.lookup, param.kind, param.via)
        try:
            value = E._parse(flt, text)  # type: ignore[arg-type]
            if param.lookup == "regex" and value is not E._NO_FILTER:
                E._regex(value)
        except ValueError as err:
            errors[name] = f"HTTP 400 {{{json.dumps(name)}: [{json.dumps(str(err))}]}}"
            continue
        except E.DialsServerError as err:
            errors[name] = f"HTTP 500 ({err})"
            continue
        if value is E._NO_FILTER or value == []:
            findings.append(finding("dials-value-ignored", f"DIALS reads {name}={json.dumps(text)} as no filter", name))
            continue
        if param.lookup == "regex":
            findings += regex_findings(value, name)
        parts.append((name, param, value))
    if errors:
        return None, findings + [finding("dials-rejects", f"DIALS answers {message}", name) for name, message in errors.items()]
    try:
        nodes = [_condition(param, value, name) for name, param, value in parts]
    except NotExpressible as err:
        return None, [*findings, finding("not-expressible", str(err), err.where)]
    if not nodes:
        return None, findings
    return merge_ranges(A.make_and(nodes)), findings


def from_dials(params_or_filter_object: Any, endpoint: str, generation: str = "v1.12.0") -> Imported:
    """Import what a script sends to the DIALS list ``endpoint`` (``th1``/``h1d``, ``run``, ...): a dict of query
    parameters, a cmsdials filter object, or ``{"class": ..., "kwargs": {...}}``.

    The query selects what the DIALS server of ``generation`` (``"v1.12.0"`` or ``"2.4.1"``) selects for it;
    ``query`` is ``None`` when nothing is filtered, the server answers an error or no query says it, with a
    finding saying which. Unknown endpoints and classes, and input past the limits, raise a located
    :class:`~dqquery.errors.QueryError`."""
    if generation not in GENERATIONS:
        raise QueryError("unknown-value", f"unknown DIALS server generation {generation!r}", hint=f"one of {', '.join(GENERATIONS)}", target=TARGET)
    record = _endpoint(endpoint)
    guard_input(params_or_filter_object if isinstance(params_or_filter_object, Mapping) else None, TARGET)
    class_name, params, findings = _object_params(params_or_filter_object)
    if class_name is not None and _CLASS_ENDPOINTS[class_name].name != record.name:
        meant = _CLASS_ENDPOINTS[class_name]
        findings.append(
            finding(
                "h1d-filter-on-h2d-endpoint",
                f"a {class_name} (for {meant.name}/) is sent to {record.name}/: cmsdials does not check the pairing",
                fix=f"use {record.cmsdials_filters} for {record.name}/, or send it to {meant.name}/",
            )
        )
    query, more = _query(record, params, generation)
    return Imported(query, "dials", record.name, tuple(findings + more))
