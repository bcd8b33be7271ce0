"""What each compile target supports, as data, and the generated ``docs/targets.md``.

Decisions:
* The truth lives in the targets: each target module keeps a ``SUPPORT`` table (node kind -> text) next to
  its compiler. This module only *reads* those tables and *probes* the compilers; it never restates what a
  target can do. A table entry is classified by its first word (``exact``, ``superset``, ``partial``,
  ``unsupported``); an entry that is only a reason (the DIALS and OMS tables) is ``partial`` when one of the
  representative queries of :data:`REPRESENTATIVES` compiles, else ``unsupported``.
* Levels: ``exact`` (compiled forms mean exactly the query), ``superset`` (compiled forms may select more;
  ``dqquery.plan`` re-checks locally), ``partial: <detail>`` (some forms compile exactly, the others are
  rejected) and ``unsupported: <reason>``. ``partial`` is a fourth level because "exact" would overstate and
  "unsupported" would understate constructs such as OMS ``in`` (one value, or a run of integers).
* Every example in the generated page is produced by compiling it when the page is generated, so the page
  cannot drift from the code; ``tests/test_support_matrix.py`` fails when ``docs/targets.md`` is stale.
  Regenerate with ``python -m dqquery.support > docs/targets.md``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import ast as A
from .errors import QueryError
from .targets import base as registry
from .targets.base import Bound, Support

__all__ = [
    "CONSTRUCTS",
    "REPRESENTATIVES",
    "TARGETS",
    "Column",
    "compiles",
    "node_kinds",
    "support_matrix",
    "targets_markdown",
]


def node_kinds() -> tuple[str, ...]:
    """The ``kind`` of every AST node class, in :data:`dqquery.ast.NODE_CLASSES` order."""
    return tuple(cls.model_fields["kind"].default for cls in A.NODE_CLASSES)


CONSTRUCTS: tuple[str, ...] = node_kinds()


@dataclass(frozen=True)
class Column:
    """One column of the support matrix: a registered target with its option (``dials:th2``), read from the
    registry: its spec, support table and the example queries of ``docs/targets.md``."""

    bound: Bound

    @property
    def name(self) -> str:
        return self.bound.spec

    @property
    def support(self) -> Mapping[str, Support | str]:
        return self.bound.support()

    @property
    def examples(self) -> tuple[str, ...]:
        return self.bound.target.examples(self.bound.option)

    @property
    def plan_examples(self) -> tuple[str, ...]:
        return self.bound.target.plan_examples(self.bound.option) if self.bound.target.plannable else ()

    @property
    def traps(self) -> str:
        return self.bound.target.traps(self.bound.option)

    def compile(self, query: str) -> Any:
        return self.bound.compile(query)


class _Columns(Mapping[str, Column]):
    """The matrix's columns, read from the registry on every use (a target registered later shows up)."""

    def _all(self) -> dict[str, Column]:
        return {spec: Column(registry.resolve(spec)) for spec in registry.specs(matrix=True)}

    def __getitem__(self, spec: str) -> Column:
        return self._all()[spec]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


TARGETS: Mapping[str, Column] = _Columns()
"""Every matrix column, by the name ``dqquery.plan`` takes, read live from the target registry."""

# Representative queries per node kind: templates over a pool of fields, so that each target finds one its
# rows carry. ``{i}`` is an integer field, ``{s}`` a string field.
REPRESENTATIVES: dict[str, tuple[str, ...]] = {
    "compare": ("{i} == 5", "{i} >= 5", '{s} == "x"'),
    "in_range": ("{i} in 1..5",),
    "in_set": ("{i} in [1, 2]", '{s} in ["a", "b"]'),
    "like": ('{s} like "%x%"', '{s} like "%1%"'),
    "regex": ('{s} ~ "x"',),
    "contains": ('{s} contains "x"', 'components contains "PIXEL"'),
    "is_null": ("{i} is null", "{i} is not null", "{s} is not null"),
    "not": ("not ({i} < 5)", "not ({i} != 5)", 'not ({s} != "x")'),
    "and": ("{i} >= 1 and {i} <= 5", '{i} == 5 and {s} == "x"', '{s} like "x%" and {s} like "%x"'),
    "or": ("{i} == 1 or {i} == 2", '{s} == "a" or {s} == "b"'),
}
_INT_FIELDS: tuple[str, ...] = ("run_number", "ls_number", "fill_number", "entries", "dataset_id", "model_id", "dim", "file_size")
_STRING_FIELDS: tuple[str, ...] = ("class", "hlt_key", "dataset", "me", "logical_file_name", "file_status", "model_name", "prescale_name")


def representative_queries(kind: str) -> list[str]:
    """Concrete queries of one node kind (``KeyError`` for a kind without templates)."""
    out: list[str] = []
    for template in REPRESENTATIVES[kind]:
        if "{" not in template:
            out.append(template)
            continue
        for i, s in zip(_INT_FIELDS, _STRING_FIELDS):
            out.append(template.format(i=i, s=s))
        if "{i}" in template and "{s}" not in template:
            out.extend(template.format(i=i, s="") for i in _INT_FIELDS[len(_STRING_FIELDS) :])
    return list(dict.fromkeys(out))


def compiles(target: Column, query: str) -> bool:
    """Whether ``target`` compiles ``query`` (``False`` on an ``unsupported`` error)."""
    try:
        target.compile(query)
    except QueryError as err:
        if err.category != "unsupported":
            raise
        return False
    return True


_LEVELS = ("exact", "superset", "partial", "unsupported")


def classify(target: Column, kind: str) -> str:
    """``exact`` | ``superset: ...`` | ``partial: ...`` | ``unsupported: reason`` for one table entry."""
    entry = target.support[kind]
    if isinstance(entry, Support):
        return entry.describe()
    text = entry.strip()
    word, _, detail = text.partition(":")
    if word in _LEVELS:
        detail = detail.strip()
        if word == "exact":
            return "exact" if not detail else f"exact: {detail}"
        return f"{word}: {detail or 'see the target module'}"
    handled = any(compiles(target, q) for q in representative_queries(kind))
    return f"partial: {text}" if handled else f"unsupported: {text}"


def support_matrix() -> dict[str, dict[str, str]]:
    """Target -> node kind -> ``exact`` | ``superset: ...`` | ``partial: ...`` | ``unsupported: reason``."""
    return {name: {kind: classify(t, kind) for kind in CONSTRUCTS} for name, t in TARGETS.items()}


# ------------------------------------------------------------------------------------------------ prose

INTRO = """\
# Compile targets

<!-- generated by `python -m dqquery.support > docs/targets.md`; do not edit by hand -->

dqquery compiles one query to the filter language of each CMS service: `dqquery.compile(query, "dials:th2")`
(or `dqquery compile --to dials:th2`) returns a `Compiled` with the request, `exact`, notes and warnings. Every
compiler is **strict**: it returns a filter that selects exactly what the query selects, or one that selects more
and says so (`exact` false, with a note per reason), or raises `QueryError("unsupported")` pointing at the clause
it cannot express, with the target in the message's header. It never drops a clause. The forgiving form is
`dqquery.plan` (below).

Every example on this page was compiled when the page was generated.
"""

PLAN_USAGE = """\
## Using `plan`

`plan(query, target)` returns the requests to send (their union never misses a selected row) and the
*residual*, the query to evaluate locally on what comes back (`None` when the requests are exact). It
refuses (`unsupported`) only a query whose residual needs a field the target's rows do not carry (DIALS
th1/th2 rows have no `logical_file_name`, ml-bad-lumisection rows no `dataset`/`me`, OMS rows no
Run Registry flag): testing it locally would read it as missing and drop every matching row. Targets: every
target of the matrix below, and `rr-datasets`, `rr-datasets-raw` (`rr-portal` is compile-only); a `jsonlogic`
residual, like Run Registry's, is evaluated on the lumisections (`dqquery golden`). What cannot be sent is left out of a request (which only widens it); an `or` on a
target without `or` becomes one request per alternative, and a list the target cannot send becomes one
request per value. `Plan.execute(fetch, key, row_view)` sends each request with `fetch`, merges the rows by
`key` and keeps those on which the residual holds (`row_view` maps a row to field paths, e.g.
`dqquery.targets.dials.row_paths`). For DIALS, `DialsClient(url).execute(plan)` does all of it, with the
primary keys of `dqquery.targets.dials.PRIMARY_KEYS`.

```python
from dqquery import plan
from dqquery.emulate.dials import apply_dials_filters
from dqquery.targets.dials import row_paths

rows = [
    {"dataset_id": 1, "run_number": 5, "dataset": "/ZeroBias/Run2023C/DQMIO"},
    {"dataset_id": 1, "run_number": 6, "dataset": "/ZeroBias/Run2023C/DQMIO"},
    {"dataset_id": 2, "run_number": 7, "dataset": "/Muon0/Run2023C/DQMIO"},
]
p = plan('run_number in [5, 7] and dataset != "/Muon0/Run2023C/DQMIO"', "dials:run")
print(len(p.requests), p.residual is not None)  # 2 True
selected = p.execute(
    fetch=lambda params: apply_dials_filters("run", params, rows),
    key=lambda row: (row["dataset_id"], row["run_number"]),
    row_view=lambda row: row_paths("run", row),
)
print([row["run_number"] for row in selected])  # [5]
```
"""

# ------------------------------------------------------------------------------------------------ markdown


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _compiled(target: Column, query: str) -> str:
    try:
        compiled = target.compile(query)
    except QueryError as err:
        return "unsupported: " + _cell(err.message)
    out = compiled.request
    if isinstance(out, str):  # a text request (SQL) is shown as itself; `` spans may hold a backtick
        text = f"`` {_cell(out)} ``" if "`" in out else f"`{_cell(out)}`"
    else:
        text = "`" + _cell(json.dumps(dict(out) if isinstance(out, Mapping) else out, ensure_ascii=False)) + "`"
    if not compiled.exact:
        text += " (superset)"
    return text


def _plan(query: str, target: str) -> Any:
    from .planning import plan

    return plan(query, target)


def _plan_line(target: Column, query: str) -> str:
    p = _plan(query, target.name)
    requests = "; ".join("`" + _cell(json.dumps(dict(r), ensure_ascii=False)) + "`" for r in p.requests)
    residual = "none" if p.residual is None else "the whole query"
    return f"| `{_cell(query)}` | {len(p.requests)}: {requests} | {residual} |"


def _matrix_markdown(matrix: dict[str, dict[str, str]]) -> list[str]:
    lines = ["| target | " + " | ".join(CONSTRUCTS) + " |", "|---|" + "---|" * len(CONSTRUCTS)]
    for name, row in matrix.items():
        lines.append(f"| `{name}` | " + " | ".join(row[k].partition(":")[0] for k in CONSTRUCTS) + " |")
    return lines


def _target_section(target: Column, row: dict[str, str]) -> list[str]:
    lines = [f"### `{target.name}`", ""]
    if target.examples:
        lines += ["| query | compiled |", "|---|---|"]
        lines += [f"| `{_cell(q)}` | {_compiled(target, q)} |" for q in target.examples]
        lines.append("")
    exact = [k for k in CONSTRUCTS if row[k].startswith("exact")]
    lines.append("Exact: " + (", ".join(f"`{k}`" for k in exact) or "nothing") + ".")
    lines.append("")
    lines.append("| construct | support |")
    lines.append("|---|---|")
    lines += [f"| `{k}` | {_cell(row[k])} |" for k in CONSTRUCTS if not row[k] == "exact"]
    lines.append("")
    if target.plan_examples:
        lines += ["What `plan` sends, and keeps as a residual:", "", "| query | requests | residual |", "|---|---|---|"]
        lines += [_plan_line(target, q) for q in target.plan_examples]
        lines.append("")
    if target.traps:
        lines += ["Service traps and how dqquery avoids them:", "", target.traps.rstrip(), ""]
    return lines


def targets_markdown() -> str:
    """The whole ``docs/targets.md`` page."""
    matrix = support_matrix()
    lines = [INTRO, "## Support matrix", ""]
    lines.append(
        "`exact`: the compiled filter means exactly the query; `superset`: it may select more and `plan` "
        "re-checks locally; `partial`: some forms compile (see the target's table), the others are refused; "
        "`unsupported`: always refused. `plan` handles every query on every target."
    )
    lines.append("")
    lines += _matrix_markdown(matrix)
    lines += ["", PLAN_USAGE, "## Targets", ""]
    lines.append(
        "The Run Registry compiler also targets `get_datasets` (`kind=\"datasets\"`, same tables, no pass-through"
        " keys). DIALS endpoints not listed with examples use the same rules with their own filter sets."
    )
    lines.append("")
    for name, target in TARGETS.items():
        lines += _target_section(target, matrix[name])
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.stdout.write(targets_markdown())
