"""dqquery: one small query language for CMS data-quality selections.

Parse a query once, compile it to Run Registry filters, DIALS parameters, OMS filters or RR json-logic,
and compute golden JSONs locally from fetched lumisection data.
"""

from __future__ import annotations

from .ast import node_from_json, node_to_json
from .errors import QueryError
from .query import as_node, parse
from .unparse import unparse

__version__ = "0.1.0"

__all__ = [
    "QueryError",
    "as_node",
    "node_from_json",
    "node_to_json",
    "parse",
    "unparse",
    "__version__",
]
