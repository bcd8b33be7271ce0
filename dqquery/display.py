"""How query nodes display: ``str`` (the canonical text), ``repr`` (the call that rebuilds the query) and the HTML
a notebook shows.

Decisions:
* :mod:`dqquery.ast` keeps data only; this module, one layer up (it needs the printer and the field catalog),
  installs the three functions in :data:`dqquery.ast.DISPLAY_HOOKS` when it is imported. ``dqquery/__init__.py``
  imports it eagerly, and any ``import dqquery.<module>`` runs that first, so nodes always print this way.
* A query's ``repr`` is the call that rebuilds it, ``dqquery.parse('<canonical text>')``: short, exact, and
  pasteable. (pydantic's default repr of a 48-clause query is several kilobytes of nested models.)
* HTML is plain ``<table>``/``<code>``/``<pre>`` markup with every piece of user text escaped (queries contain
  quotes and ``<``); no scripts, so it renders in Jupyter, VS Code and GitHub alike.
"""

from __future__ import annotations

import html
from typing import Any

from . import ast as A
from .catalog import lookup
from .unparse import unparse, value_text

__all__ = ["node_html", "node_repr", "node_text"]


def node_text(node: Any) -> str:
    """The canonical text of an expression (:func:`~dqquery.unparse.unparse`) or of a literal value."""
    if isinstance(node, A.VALUE_CLASSES):
        return value_text(node)
    return unparse(node)


def node_repr(node: Any) -> str:
    """``dqquery.parse('<canonical text>')`` for an expression node; pydantic's repr for values and fields."""
    if not isinstance(node, A.NODE_CLASSES):
        return f"{type(node).__name__}({', '.join(f'{k}={v!r}' for k, v in node.model_dump().items())})"
    return f"dqquery.parse({unparse(node)!r})"


def node_html(node: Any) -> str:
    """The canonical query and the fields it reads (short name, qualified name, type, level)."""
    if not isinstance(node, A.NODE_CLASSES):
        return f"<code>{html.escape(node_repr(node))}</code>"
    seen: dict[str, Any] = {}
    for ref in A.fields_of(node):
        seen.setdefault(ref.path, ref)
    rows = []
    for path, ref in seen.items():
        info = lookup(path)
        kind = info.type if info is not None else "?"
        level = info.level if info is not None else "?"
        rows.append(
            f"<tr><td><code>{html.escape(ref.name)}</code></td><td><code>{html.escape(path)}</code></td>"
            f"<td>{html.escape(kind)}</td><td>{html.escape(level)}</td></tr>"
        )
    return (
        "<div class='dqquery-query'>"
        f"<pre style='white-space:pre-wrap'>{html.escape(unparse(node))}</pre>"
        "<table><thead><tr><th>field</th><th>qualified name</th><th>type</th><th>level</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


A.DISPLAY_HOOKS.update({"str": node_text, "repr": node_repr, "html": node_html})
