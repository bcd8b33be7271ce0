"""Notebook display helpers: short reprs, HTML tables and pandas frames for queries, snapshots and golden JSONs.

Jupyter shows ``_repr_html_`` when an object has one and ``repr`` otherwise. This module is the one place to
find every display function; each is defined in the layer of what it displays (docs/dev/architecture.md), so
that no core module imports upward to display itself.

Decisions:
* Queries: :mod:`dqquery.display` (``node_repr``, ``node_html``), installed into the nodes' ``str``/``repr``/
  ``_repr_html_`` by that module. A query's ``repr`` is the call that rebuilds it,
  ``dqquery.parse('<canonical text>')``: short, exact, and pasteable.
* Snapshots: :mod:`dqquery.snapshot` (``snapshot_repr``, ``snapshot_html``). Summaries are computed on ranges
  (never per lumisection), so displaying a full year is instant.
* Golden JSONs: :mod:`dqquery.lumiranges` (``golden_to_pandas``). pandas is optional
  (``pip install "dqquery[pandas]"``) and imported on first use.
* HTML is plain ``<table>``/``<code>`` markup with every piece of user text escaped (queries contain quotes and
  ``<``); no scripts, no CSS beyond inline alignment, so it renders in Jupyter, VS Code and GitHub alike.
"""

from __future__ import annotations

from .display import node_html, node_repr
from .lumiranges import golden_to_pandas
from .snapshot import snapshot_html, snapshot_repr

__all__ = ["golden_to_pandas", "node_html", "node_repr", "snapshot_html", "snapshot_repr"]
