"""Import OMS filters as dqquery queries: raw ``filter[attr][OP]=value`` parameters, omsapi ``.filter()`` chains
and cmsdials' ``dials.oms.query(endpoint, filters=[OMSFilter(...)])``.

:func:`from_oms` reads each form the way its client sends it and OMS reads it (:mod:`dqquery.emulate.oms`):
all filters are AND-ed, a missing operator is ``EQ``, the value is text read according to the attribute's
type (numbers numerically, booleans from ``true``/``false`` in any case, times as ISO text), ``null`` with
``EQ``/``NEQ`` is a null test, ``LIKE`` is case-sensitive SQL LIKE.

Decisions:
* Attributes map to catalog fields as the OMS compiler writes them (:func:`dqquery.targets.oms.attribute_of`,
  inverted): ``runs`` -> ``run.oms.*``, ``lumisections`` -> ``lumisection.oms.*`` then the run attribute of the
  same name (``fill_number``); a resource dqquery has no rows of (``fills``, ``bunches`` ...) is read with the run
  attributes of the same name. An attribute the catalog does not type gives ``query=None`` and a
  ``not-expressible`` note.
* omsapi drops a filter whose attribute is not among the resource's ``/meta`` fields. The ``/meta`` lists of
  ``runs`` and ``lumisections`` are taken to be the catalog's typed attributes of that resource; for another
  resource nothing is dropped (its ``/meta`` is not known here).
* ``CT`` (omsapi only, undocumented: presumably "contains") is reported (``oms-operator-not-in-cmsdials``) and not
  imported (``not-expressible``); a lower-case operator is reported, read upper-cased as OMS and omsapi do, and in
  the cmsdials form it makes cmsdials raise (``query=None``).
* ``LIKE`` becomes ``like`` only for a pattern without cased letters (dqquery's ``like`` is case-insensitive,
  OMS' is not), as the OMS compiler decides.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from .. import ast as A
from ..catalog import lookup
from ..emulate import oms as E
from ..errors import QueryError
from ..targets.oms import OMS_DATETIME_FORMAT, OMS_RENAMES
from .common import NotExpressible, checked, field_ref, guard_input
from .findings import Finding, Imported, finding
from .jsonlogic import merge_ranges

__all__ = ["CMSDIALS_OMS_OPERATORS", "OMSAPI_OPERATORS", "from_oms", "omsapi_params"]

TARGET = "oms"

OMSAPI_OPERATORS: tuple[str, ...] = ("EQ", "NEQ", "LT", "GT", "LE", "GE", "LIKE", "CT")
"""omsapi 0.9.8.1's operators."""
CMSDIALS_OMS_OPERATORS: tuple[str, ...] = ("EQ", "NEQ", "LT", "GT", "LE", "GE", "LIKE")
"""cmsdials 2.4.1 ``OMSFilter.operator`` (a pydantic ``Literal``: anything else raises)."""

_OPS: dict[str, str] = {"EQ": "==", "NEQ": "!=", "LT": "<", "GT": ">", "LE": "<=", "GE": ">="}
_FIXED: dict[str, str] = {"run_number": "run.run_number", "lumisection_number": "lumisection.lumisection_number"}
_STORED_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_NOT_CASED = re.compile(r"[^A-Za-z]*")
_FILTER_KEY = re.compile(r"filter\[([^\[\]]+)\](?:\[([^\[\]]+)\])?")


def _typed(path: str) -> bool:
    row = lookup(path)
    return row is not None and row.path == path and row.type != "any"


def attribute_path(resource: str, attribute: str) -> str | None:
    """The catalog path an OMS attribute of ``resource`` is read as (``None``: no typed field)."""
    if attribute in _FIXED:
        return _FIXED[attribute]
    if resource == "lumisections":
        renamed = {v: k for k, v in OMS_RENAMES.items()}.get(attribute, attribute)
        if _typed("lumisection.oms." + renamed):
            return "lumisection.oms." + renamed
    if resource == "runs" and attribute.endswith("_included"):
        return None  # Run Registry's key, not an OMS run attribute
    return "run.oms." + attribute if _typed("run.oms." + attribute) else None


def _meta_knows(resource: str, attribute: str) -> bool:
    """Whether ``attribute`` is among the resource's ``/meta`` fields (True for resources not modelled)."""
    if resource not in ("runs", "lumisections"):
        return True
    path = attribute_path(resource, attribute)
    return path is not None and (resource == "runs" or path.startswith(("lumisection.", "run.run_number")) or attribute == "fill_number")


def omsapi_params(chain: list[Any], resource: str) -> tuple[dict[str, Any], list[Finding]]:
    """The ``filter[...]`` parameters omsapi 0.9.8.1 emits for ``.filter(attr, value, op)`` calls (``op`` upper-cased,
    the value formatted with ``str``), and what it drops silently."""
    params: dict[str, Any] = {}
    findings: list[Finding] = []
    for i, item in enumerate(chain):
        where = f"[{i}]"
        if not isinstance(item, (list, tuple)) or len(item) not in (2, 3) or not isinstance(item[0], str):
            raise QueryError("syntax", f"an omsapi filter is [attribute, value, operator], found {json.dumps(item, default=str)} at {where}", target=TARGET)
        attribute, value = item[0], item[1]
        op = str(item[2]) if len(item) == 3 else "EQ"
        if op != op.upper():
            findings.append(finding("oms-lowercase-operator", f"operator {op!r}: omsapi sends it upper-cased", where))
        if not _meta_knows(resource, attribute):
            findings.append(
                finding(
                    "omsapi-drops-unknown-attribute",
                    f"'{attribute}' is not an attribute of {resource}: omsapi skips this filter without a word",
                    where,
                    fix=_did_you_mean(resource, attribute),
                )
            )
            continue
        key = f"filter[{attribute}][{op.upper()}]"
        text = str(value)
        params[key] = [*params[key], text] if isinstance(params.get(key), list) else [params[key], text] if key in params else text
    return params, findings


def _did_you_mean(resource: str, attribute: str) -> str:
    from ..catalog import suggest

    prefix = {"runs": "run.oms.", "lumisections": "lumisection.oms."}[resource]
    names = [n for n in suggest(attribute, 3) if attribute_path(resource, n.rsplit(".", 1)[-1])]
    return f"did you mean {', '.join(names)}?" if names else f"see the {prefix}* fields"


def _cmsdials_params(query: Mapping[str, Any]) -> tuple[str, dict[str, Any], list[Finding], bool]:
    """``(resource, parameters, findings, raises)`` of ``dials.oms.query(endpoint, filters=[...], pages=[...])``."""
    resource, filters = query.get("endpoint"), query.get("filters")
    if not isinstance(resource, str) or not resource or not isinstance(filters, list):
        raise QueryError("syntax", "dials.oms.query takes an endpoint name and a list of OMSFilter", target=TARGET)
    params: dict[str, Any] = {}
    findings: list[Finding] = []
    raises = False
    for i, item in enumerate(filters):
        where = f"filters[{i}]"
        kwargs = item.get("kwargs", item) if isinstance(item, Mapping) else None
        if not isinstance(kwargs, Mapping) or not isinstance(kwargs.get("attribute_name"), str) or "value" not in kwargs:
            raise QueryError("syntax", f"an OMSFilter needs attribute_name, value and operator at {where}", target=TARGET)
        op = str(kwargs.get("operator", ""))
        if op not in CMSDIALS_OMS_OPERATORS:
            raises = True
            if op.upper() in CMSDIALS_OMS_OPERATORS:
                findings.append(finding("oms-lowercase-operator", f"OMSFilter(operator={op!r}) raises a ValidationError: cmsdials takes upper case only", where, fix=f"operator={op.upper()!r}"))
            elif op.upper() == "CT":
                findings.append(finding("oms-operator-not-in-cmsdials", f"OMSFilter(operator={op!r}) raises a ValidationError: cmsdials has no CT", where))
            else:
                findings.append(finding("oms-rejects", f"OMSFilter(operator={op!r}) raises a ValidationError", where))
            continue
        params[f"filter[{kwargs['attribute_name']}][{op}]"] = kwargs["value"]
    return resource, params, findings, raises


def _parse_params(params: Any) -> dict[str, Any]:
    if isinstance(params, str):
        pairs = parse_qsl(params.lstrip("?"), keep_blank_values=True)
        out: dict[str, Any] = {}
        for key, value in pairs:
            out[key] = [*out[key], value] if isinstance(out.get(key), list) else [out[key], value] if key in out else value
        return out
    if isinstance(params, Mapping):
        return dict(params)
    raise QueryError("type-mismatch", f"expected OMS parameters (a dict or a query string), found {type(params).__name__}", target=TARGET)


def _value_node(field: A.FieldRef, row_type: str, op: str, text: str, where: str) -> Any:
    """``filter[attr][op]=text`` as OMS reads it for a value of ``row_type``."""
    if text == "null" and op in ("EQ", "NEQ"):
        return A.IsNull(field=field, negated=op == "NEQ")
    if op == "LIKE":
        if row_type != "string":
            raise NotExpressible(f"LIKE on {field.name} ({row_type}) matches strings only: nothing", where)
        if not _NOT_CASED.fullmatch(text):
            raise NotExpressible(f"OMS' LIKE is case-sensitive, dqquery's like is not: {json.dumps(text)} has cased letters", where)
        return checked(A.Like(field=field, pattern=text), where)
    if row_type in ("int", "float"):
        try:
            number = decimal.Decimal(text.strip())
        except decimal.InvalidOperation:
            raise NotExpressible(f"{json.dumps(text)} is not a number: {field.name} never matches", where) from None
        if not number.is_finite():
            raise NotExpressible(f"{json.dumps(text)} is not a number: {field.name} never matches", where)
        if number == number.to_integral_value() and row_type == "int":
            if not A.MIN_INT <= number <= A.MAX_INT:
                raise NotExpressible(f"{json.dumps(text)} does not fit in 64 bits", where)
            value: Any = A.IntValue(value=int(number))
        elif math.isfinite(float(number)) and decimal.Decimal(repr(float(number))) == number:  # OMS compares repr's decimal
            value = A.IntValue(value=int(number)) if number == number.to_integral_value() and abs(number) < 2**63 else A.FloatValue(value=float(number))
        else:
            raise NotExpressible(f"{json.dumps(text)} is not a number a float holds exactly", where)
    elif row_type == "bool":
        truth = {"true": True, "false": False}.get(text.lower())
        if truth is None or op not in ("EQ", "NEQ"):
            raise NotExpressible(f"{op} {json.dumps(text)} on the boolean {field.name} never matches", where)
        value = A.BoolValue(value=truth)
    elif row_type == "datetime" and _STORED_TIME.fullmatch(text):
        value = A.DateTimeValue(value=_dt.datetime.strptime(text, OMS_DATETIME_FORMAT).replace(tzinfo=_dt.UTC))
    elif row_type == "string":
        value = A.StringValue(value=text)
    else:
        raise NotExpressible(f"{field.name} ({row_type}) compared with the text {json.dumps(text)}", where)
    return checked(A.Compare(field=field, op=_OPS[op], value=value), where)  # type: ignore[arg-type]


def _query(resource: str, params: Mapping[str, Any]) -> tuple[Any, list[Finding]]:
    findings: list[Finding] = []
    nodes = []
    for key, raw in params.items():
        m = _FILTER_KEY.fullmatch(key)
        if not m:
            continue  # fields, sort, page[...]: not filters
        attribute, op = m.group(1), m.group(2)
        if op is None:
            findings.append(finding("oms-filter-without-operator", f"{key} has no operator: OMS reads it as EQ", key, fix=f"filter[{attribute}][EQ]"))
            op = "EQ"
        elif op != op.upper():
            findings.append(finding("oms-lowercase-operator", f"operator {op!r}: cmsdials rejects it, OMS reads it as {op.upper()}", key, fix=f"filter[{attribute}][{op.upper()}]"))
        op = op.upper()
        if op == "CT":
            findings.append(finding("oms-operator-not-in-cmsdials", f"{key}: CT is omsapi's, cmsdials' OMSFilter has no CT", key))
            return None, [*findings, finding("not-expressible", "OMS does not document CT (presumably 'contains'): not imported", key)]
        if op not in E.OPERATORS:
            return None, [*findings, finding("oms-rejects", f"OMS answers HTTP 400: unknown filter operator {op!r} in {key}", key)]
        path = attribute_path(resource, attribute)
        if path is None:
            return None, [*findings, finding("not-expressible", f"'{attribute}' of {resource} is not a field dqquery knows", key)]
        field, row = field_ref(path, key)
        for text in raw if isinstance(raw, (list, tuple)) else [raw]:
            text = "True" if text is True else "False" if text is False else str(text)
            try:
                nodes.append(_value_node(field, row.type, op, text, key))
            except NotExpressible as err:
                return None, [*findings, finding("not-expressible", str(err), err.where)]
    if not nodes:
        return None, findings
    return merge_ranges(A.make_and(nodes)), findings


def from_oms(params: Any, resource: str = "runs") -> Imported:
    """Import an OMS filter for ``resource`` (``runs``, ``lumisections``, ``fills``, ...): raw parameters (a dict or
    a query string), an omsapi chain ``[[attribute, value, operator], ...]`` or the cmsdials form
    ``{"endpoint": ..., "filters": [{"class": "OMSFilter", "kwargs": {...}}, ...]}`` (its endpoint is the resource).

    ``query`` selects what OMS selects (``None`` when nothing is filtered, the call fails, or no query says it,
    with a finding saying why)."""
    guard_input(params, TARGET)
    if isinstance(params, Mapping) and "filters" in params and "endpoint" in params:
        resource, sent, findings, raises = _cmsdials_params(params)
        if raises:
            return Imported(None, "oms", resource, tuple(findings))
    elif isinstance(params, list):
        sent, findings = omsapi_params(params, resource)
    else:
        sent, findings = _parse_params(params), []
    if not resource or not isinstance(resource, str):
        raise QueryError("unknown-value", "an OMS resource name is needed (runs, lumisections, ...)", target=TARGET)
    query, more = _query(resource, sent)
    return Imported(query, "oms", resource, tuple(findings + more))
