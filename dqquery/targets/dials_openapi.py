"""DIALS as a django-filter service read from its own OpenAPI document, with the differences the real server shows.

``tests/test_openapi_dials.py`` proves that :func:`dials_from_openapi` on DIALS' document (``swagger.json`` of
backend v1.12.0, kept in ``tests/data/openapi/``) gives the allow-lists of the hand-kept records
(:data:`dqquery.dials_api.ENDPOINTS`) and compiles every query of the DIALS corpora to the same parameters as
the hand-kept ``dials`` target.

Decisions:
* The document is older and says less than the server the conformance corpus recorded; the recording wins, and
  every difference is one row of :data:`OVERRIDES` with its source. Nothing else is adjusted: no parameter of
  the document is skipped and no hand-kept parameter is copied in without a row here.
* The hand-kept target addresses two server generations on ``ml-models-index`` (v1.12.0's names and the ones
  cmsdials 2.4.1 was written for); the document is v1.12.0's, so the 2.4.1 names are overrides tagged with their
  generation and the v1.12.0-only names are tagged too. ``active`` is declared by both.
* Field mapping (:data:`FIELDS`): the catalog fields of DIALS' filter sets, each to its column names on the
  server (``model_id``/``id``, ``filename``/``name``: the two generations' names of one field).
* The document is GPL-3.0 data of the DIALS project and is not shipped in the package; callers pass it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..dials_api import ENDPOINT_ALIASES, ENDPOINTS, GENERATIONS
from .openapi import OpenAPITarget, ParamOverride, from_openapi

__all__ = ["FIELDS", "OVERRIDES", "PATHS", "dials_from_openapi"]

PATHS: tuple[str, ...] = tuple(record.path for record in ENDPOINTS.values())
"""The list paths of the hand-kept endpoints (``/api/v1/run/`` first: the default option)."""

FIELDS: dict[str, str | tuple[str, ...]] = {
    "run_number": "run_number",
    "ls_number": "ls_number",
    "dataset_id": "dataset_id",
    "file_id": "file_id",
    "me_id": "me_id",
    "entries": "entries",
    "model_id": ("model_id", "id"),
    "dim": "dim",
    "dataset": "dataset",
    "me": "me",
    "logical_file_name": "logical_file_name",
    "file_status": "status",
    "file_size": "file_size",
    "model_active": "active",
    "model_name": ("filename", "name"),
    "target_me": "target_me",
}
"""Catalog field -> its column(s) in DIALS' filter sets."""

_RECORDED = "conformance corpus dials/declared.json (the FilterSet the v1.12.0 server ran)"
_CLIENT_2_4_1 = "cmsdials 2.4.1 MLModelsIndexFilters (the server generation that client was written for)"
_V1_12 = ("v1.12.0",)
_V2_4 = ("2.4.1",)

OVERRIDES: dict[str, dict[str, ParamOverride]] = {
    "file-index": {
        "dataset_id": ParamOverride(_RECORDED + "; the document's file-index/ lists no dataset_id", add=True, kind="number"),
        "min_size": ParamOverride("backend file_index/filters.py: min_size filters file_size with gte (its name does not say so)",
                                  means="file_size__gte"),
    },
    "ml-models-index": {
        **{name: ParamOverride("backend v1.12.0 names; the 2.4.1 generation ignores them", generations=_V1_12)
           for name in ("model_id", "model_id__in", "filename", "filename__regex", "target_me", "target_me__regex")},
        "id": ParamOverride(_CLIENT_2_4_1, add=True, kind="number", generations=_V2_4),
        "id__in": ParamOverride(_CLIENT_2_4_1, add=True, kind="number", generations=_V2_4),
        "name": ParamOverride(_CLIENT_2_4_1, add=True, kind="string", generations=_V2_4),
        "name__regex": ParamOverride(_CLIENT_2_4_1, add=True, kind="string", generations=_V2_4),
        "ready": ParamOverride(_CLIENT_2_4_1 + "; not compiled to (its meaning is not modelled)", add=True, kind="bool",
                               generations=_V2_4),
        "type": ParamOverride(_CLIENT_2_4_1 + "; not compiled to (its meaning is not modelled)", add=True, kind="string",
                              generations=_V2_4),
    },
}
"""Endpoint -> parameter -> how the real server differs from the v1.12.0 document (the recording wins)."""


def dials_from_openapi(document: Mapping[str, Any] | str | Path, *, name: str = "dials-openapi",
                       register: bool = False, replace: bool = False) -> OpenAPITarget:
    """The DIALS target read from DIALS' OpenAPI document with :data:`OVERRIDES` (options and aliases as the
    hand-kept ``dials`` target: ``run`` ... ``ml-models-index``, ``h1d``/``h2d``)."""
    return from_openapi(
        document, name=name, fields=FIELDS, service="DIALS", title="DIALS query parameters (from its OpenAPI document)",
        overrides=OVERRIDES, generations=GENERATIONS, include=PATHS, option_aliases=ENDPOINT_ALIASES,
        register=register, replace=replace,
    )
