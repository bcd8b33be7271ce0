"""dqquery: one small query language for CMS data-quality selections.

Parse a query once, compile it to Run Registry filters, DIALS parameters, OMS filters or RR json-logic,
and compute golden JSONs locally from fetched lumisection data.

    >>> import dqquery
    >>> dqquery.unparse(dqquery.parse("tracker-strip == good and bpix_ready == true"))
    'tracker-strip == GOOD and bpix_ready'

Decision: ``DOCS_URL`` and ``__version__`` are written once, in :mod:`dqquery.about` (the bottom layer, so any
module can name them without importing this facade); they are re-exported here.

Decision: the core (parse, check, print) is imported eagerly and stays light; compilers, the evaluator,
fetching and the fake services are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from . import display  # noqa: F401  (installs the printing hooks of query nodes: str, repr, notebook HTML)
from .about import DOCS_URL, __version__
from .ast import Query, QueryLike, node_from_json, node_to_json
from .errors import QueryError, QueryWarning
from .query import as_node, parse
from .unparse import unparse

_LAZY = {
    "compile": "dqquery.targets.base",
    "Compiled": "dqquery.targets.base",
    "to_rr": "dqquery.targets.runregistry",
    "RRFilter": "dqquery.targets.runregistry",
    "to_dials": "dqquery.targets.dials",
    "to_oms": "dqquery.targets.oms",
    "to_jsonlogic": "dqquery.targets.jsonlogic",
    "from_jsonlogic": "dqquery.importers.jsonlogic",
    "from_jsonlogic_report": "dqquery.importers.jsonlogic",
    "rr_portal_request": "dqquery.targets.rr_portal",
    "to_sql": "dqquery.targets.sql",
    "golden_from_table": "dqquery.engines",
    "filter": "dqquery.engines",
    "plan": "dqquery.planning",
    "Plan": "dqquery.planning",
    "GoldenJSON": "dqquery.lumiranges",
    "GoldenJSONError": "dqquery.lumiranges",
    "Snapshot": "dqquery.snapshot",
    "SnapshotError": "dqquery.snapshot",
    "ColumnarSnapshot": "dqquery.columnar",
    "golden": "dqquery.evaluator",
    "explain": "dqquery.explanation",
    "ExplainReport": "dqquery.explanation",
    "fetch_snapshot": "dqquery.fetch",
    "remote_golden": "dqquery.fetch",
    "runs": "dqquery.runlists",
    "run_table": "dqquery.runlists",
}

__all__ = [
    "Query",
    "QueryError",
    "QueryLike",
    "QueryWarning",
    "as_node",
    "node_from_json",
    "node_to_json",
    "parse",
    "unparse",
    "__version__",
    "DOCS_URL",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name == "targets":  # the subpackage (registry of compile targets), imported on first use
        return importlib.import_module("dqquery.targets")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dqquery' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
