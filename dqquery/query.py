"""Parse and check: the front door for every function that takes a query.

Decision: every public function accepts either query text or an already parsed node (:func:`as_node`).
A node built by hand in Python is checked too, so its fields are resolved like parsed ones.

Decision: the types are :data:`dqquery.ast.Query` (a checked tree) and :data:`dqquery.ast.QueryLike`
(``Query | str``, what every public function takes); they are defined in :mod:`dqquery.ast`, the bottom layer,
so that every layer can name them, and re-exported by the package (``dqquery.Query``, ``dqquery.QueryLike``).
"""

from __future__ import annotations

from . import ast as A
from .check import check
from .errors import QueryError
from .parser import parse_syntax
from .unparse import unparse


def parse(text: str) -> A.Query:
    """Parse and check a query; returns the typed tree or raises :class:`QueryError` (and nothing else)."""
    tree = parse_syntax(text)
    try:
        return check(tree)
    except QueryError as err:
        raise err.with_query(text) from None
    except RecursionError:
        raise QueryError("syntax", "the query is nested too deeply", query=text, offset=0) from None


def as_node(query: A.QueryLike) -> A.Query:
    """A checked tree from query text or a node."""
    if isinstance(query, str):
        return parse(query)
    if isinstance(query, A.NODE_CLASSES):
        return check(query)
    raise TypeError(f"expected query text or a dqquery node, not {type(query).__name__}")


def source_text(query: A.QueryLike) -> str:
    """The text to show in error messages for a query given as text or node."""
    if isinstance(query, str):
        return query
    return unparse(query)
