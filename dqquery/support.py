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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from . import ast as A
from .errors import QueryError
from .targets import dials as _dials
from .targets import jsonlogic as _jsonlogic
from .targets import oms as _oms
from .targets import runregistry as _rr

__all__ = [
    "CONSTRUCTS",
    "REPRESENTATIVES",
    "TARGETS",
    "Target",
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
class Target:
    """One compile target: its name (as ``plan`` spells it), compiler, support table and example queries."""

    name: str
    compile: Callable[[str], Any]
    support: Mapping[str, str]
    examples: tuple[str, ...]
    plan_examples: tuple[str, ...] = ()


_DIALS_EXAMPLES: dict[str, tuple[str, ...]] = {
    "run": (
        "run_number in 367100..367200",
        "run_number > 367100",
        "dataset_id in [5, 9]",
        'dataset like "%zerobias%"',
        'dataset ~ "ZeroBias/Run2023C"',
        'dataset in ["/A/B/DQMIO", "/C/D/DQMIO"]',
        "run_number != 367112",
        "run_number == 5 or run_number == 7",
    ),
    "lumisection": (
        "run_number == 367112 and ls_number in 10..20",
        "ls_number < 100",
        "ls_number in [3, 7]",
    ),
    "ml-models-index": (
        "model_id in [19, 21]",
        'model_active and model_name ~ "PXLayer"',
        'target_me == "PixelPhase1/Tracks/PXBarrel/charge_PXLayer_1"',
    ),
    "th2": (
        "ls_number <= 50",
        "entries >= 100",
        "entries > 100",
        "entries <= 100",
        'me like "%charge%"',
    ),
}
_DIALS_PLANS: dict[str, tuple[str, ...]] = {
    "run": ('run_number in [367112, 367300] or dataset ~ "ZeroBias"', "run_number != 367112 and dataset_id == 5",
            "not (run_number in 367100..367200)"),
    "th2": ("entries <= 100 and run_number == 367112",),
}


def _dials_target(endpoint: str) -> Target:
    return Target(
        name=f"dials:{endpoint}",
        compile=lambda q: _dials.to_dials(q, endpoint=endpoint),
        support=_dials.SUPPORT[endpoint],
        examples=_DIALS_EXAMPLES.get(endpoint, ()),
        plan_examples=_DIALS_PLANS.get(endpoint, ()),
    )


def _oms_target(resource: str, examples: tuple[str, ...], plans: tuple[str, ...]) -> Target:
    return Target(
        name=f"oms:{resource}",
        compile=lambda q: _oms.to_oms(q, resource=resource),
        support=_oms.SUPPORT[resource],
        examples=examples,
        plan_examples=plans,
    )


_RR_EXAMPLES: tuple[str, ...] = tuple(q for q, kind in _rr.EXAMPLES if kind == "runs")

TARGETS: dict[str, Target] = {
    "rr": Target("rr", lambda q: _rr.to_rr(q, kind="runs"), _rr.SUPPORT, _RR_EXAMPLES, ("tracker-strip == GOOD and dt-dt == GOOD", "dt-dt == GOOD or energy > 6000")),
    "rr-raw": Target("rr-raw", lambda q: _rr.to_rr(q, kind="runs", raw=True), _rr.SUPPORT_RAW, _RR_EXAMPLES, ("energy > 6000 and bpix_ready",)),
    **{f"dials:{ep}": _dials_target(ep) for ep in _dials.ENDPOINTS},
    "oms:runs": _oms_target(
        "runs",
        ("energy in 6000..7000", "stable_beam", "fill_number in [7000, 7001]", "fill_number in [7000, 7005]", 'injection_scheme like "%2556%"', "start_time >= 2018-05-01", 'hlt_key ~ "Physics"'),
        ("fill_number in [7000, 7005]", 'energy > 6000 and hlt_key like "%physics%"'),
    ),
    "oms:lumisections": _oms_target(
        "lumisections",
        ("run_number == 297050 and bpix_ready", "not bpix_ready", "bpix_ready is not null", "recorded > 0.1", "bpix_ready or fpix_ready"),
        ("bpix_ready or fpix_ready",),
    ),
    "jsonlogic": Target(
        "jsonlogic",
        _jsonlogic.to_jsonlogic,
        _jsonlogic.SUPPORT,
        ("tracker-strip == GOOD", "energy <= 7000", "tracker-strip != BAD", "not bpix_ready", 'injection_scheme contains "25ns"', "run_number in 315000..316000", 'class like "Collisions%"'),
    ),
}
"""Every target the matrix covers, by the name ``dqquery.plan`` takes (``jsonlogic`` has no plan)."""

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


def compiles(target: Target, query: str) -> bool:
    """Whether ``target`` compiles ``query`` (``False`` on an ``unsupported`` error)."""
    try:
        target.compile(query)
    except QueryError as err:
        if err.category != "unsupported":
            raise
        return False
    return True


_LEVELS = ("exact", "superset", "partial", "unsupported")


def classify(target: Target, kind: str) -> str:
    """``exact`` | ``superset: ...`` | ``partial: ...`` | ``unsupported: reason`` for one table entry."""
    text = target.support[kind].strip()
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

dqquery compiles one query to the filter language of each CMS service. Every compiler is **strict**: it
returns a filter that selects exactly what the query selects, or one that selects more and says so
(`exact` false, with a note per reason), or raises `QueryError("unsupported")` pointing at the clause it
cannot express. It never drops a clause. The forgiving form is `dqquery.plan` (below).

Every example on this page was compiled when the page was generated.
"""

PLAN_USAGE = """\
## Using `plan`

`plan(query, target)` returns the requests to send (their union never misses a selected row) and the
*residual*, the query to evaluate locally on what comes back (`None` when the requests are exact). It
refuses (`unsupported`) only a query whose residual needs a field the target's rows do not carry (DIALS
th1/th2 rows have no `logical_file_name`, ml-bad-lumisection rows no `dataset`/`me`, OMS rows no
Run Registry flag): testing it locally would read it as missing and drop every matching row. Targets: `rr`, `rr-raw`, `rr-datasets`, `rr-datasets-raw`, `dials:<endpoint>`, `oms:runs`,
`oms:lumisections`. What cannot be sent is left out of a request (which only widens it); an `or` on a
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

TRAPS: dict[str, str] = {
    "rr": """\
* The client drops a status flag with `or` or any operator but `=` **silently** (`{"dt-dt": {"or": [...]}}`
  becomes `{}`): dqquery refuses `or`, `!=` and `in` on flags in this format (use `rr-raw`).
* Numbers and booleans inside `and`/`or` lists are compared with the attribute's text and the server fails
  (HTTP 500); the client wraps every list element that way. dqquery uses sibling operators in one dict
  (`{">=": 6000, "<=": 7000}`) and refuses lists on numeric attributes.
* The client's whitelists have gaps: `gem-gem` and offline-only flags for runs (sent through the
  `triplet_summary.` pass-through prefix), `tracker-pixel` for datasets (a typo, `tracker-pix`, in the
  client; no pass-through exists for datasets, so it is refused).
* `<component>_included` keys exist only when true: `pixel_included == false` selects nothing (a warning
  suggests `pixel_included is null`).
* `!=` is `<>`, `not like` is `notlike` (NOT ILIKE; upper-case `NOTLIKE` would be case-sensitive), `like` is
  ILIKE like dqquery's. Statuses are upper-case.
* `flag == S` means "some lumisection has status S": an `and` of two flags is a superset (`exact` false).
  RR's `triplet_summary` counts only lumisections that have both RR and OMS data, the same lumisections
  dqquery and RR's JSON portal evaluate.
* A filter on run or dataset attributes alone (`energy > 6000`, `class == "Collisions18"`,
  `dataset != "online"`) also returns runs and datasets without any lumisection having both RR and OMS data
  (non-significant runs, for instance), which no query selects: it is a superset (`exact` false, with a
  note). `dqquery fetch` followed by `golden` reads the lumisections and drops those runs; in a listing, a
  dataset row's `dcs_summary` has an `ls_duration` entry exactly when the dataset has such lumisections. Add
  a flag condition (`and dt-dt == GOOD`) and the filter is exact again.
""",
    "rr-raw": """\
* A top-level `or` mixing run attributes and flags is split by the backend, which then ANDs the parts:
  refused. Several tables are combined as a top-level `and` with one member per table.
* Numeric membership uses the `key::float` cast inside `or` lists; `flag != S` counts every other status,
  `NO VALUE FOUND` included, but not `EMPTY` (lumisections without the flag: missing data, never selected).
""",
    "dials": """\
* Undeclared parameters (`run_number__gt`, `entries__lte`, ...) are **silently ignored** and the server
  returns unfiltered data: dqquery emits only the parameters of the endpoint's filter set.
* No `__gt`/`__lt`: integers use `__gte v+1` / `__lte v-1`. `__in` exists only on some fields; elsewhere a
  list of consecutive integers becomes a range, and other lists are refused (`plan` splits them).
* `__regex` is PostgreSQL's case-sensitive search; `like` is case-insensitive, so its letters become
  classes (`[Cc]`) and the pattern is anchored. User regexes are limited to what Python and PostgreSQL read alike.
* th2 (and th1) take `entries__gte` only, and `ls_number__lte` is spelled correctly by the server, but
  cmsdials 2.4.1's filter models misspell it `ls_numbet__lte`, which the server ignores (the upper bound
  is lost). Workaround: `to_dials(...)` returns the parameter dict, which you send as raw query parameters;
  `to_dials(..., as_filters=True)` refuses to build a cmsdials filter object that would lose the bound.
* `ml-models-index` has two server generations. v1.12.0 declares `model_id`, `model_id__in`, `filename`,
  `filename__regex`, `target_me`, `target_me__regex`, `active`, and its rows carry `model_id`, `filename`,
  `target_me`, `active`. The generation cmsdials 2.4.1 was written for says `id`, `id__in`, `name`,
  `name__regex` and has no `target_me`. Each server ignores the other's names (v1.12.0 answered `id__in=19,21`
  with all four models), so dqquery sends both spellings with the same value; `target_me` only with
  `generation="v1.12.0"`. Plan residuals read either row shape.
* Listings are ordered and paged by the primary key; on `ml-bad-lumisection` that is all five of `model_id`,
  `dataset_id`, `run_number`, `ls_number`, `me_id`. Its rows carry `me_id` (not `dataset` or `me`), so a plan
  can re-check `me_id` locally.
* cmsdials 2.4.1's `RunClient` requires `ls_completeness` in `run/` rows, which v1.12.0 does not serve; its
  listing then fails validation. dqquery's own `DialsClient` reads either.
""",
    "oms": """\
* No `or`, no `in` (one value, or consecutive integers as `GE`+`LE`), no regex, no `not like`.
* `LIKE` is undocumented and presumably case-sensitive: only patterns without letters are sent, and the
  result is re-checked locally (`plan` keeps a residual).
* Times are `YYYY-MM-DDTHH:MM:SSZ`; `is not null` is `NEQ null`; RR's lumisection `recorded`/`delivered` are
  OMS' `*_per_lumisection`.
""",
    "jsonlogic": """\
* json-logic-js turns a missing value into 0 in `<`/`<=` and says `!=` is true on a missing value; the
  Python engine says `null == false`. Leaves that could pass on a missing value get a presence guard
  `{"!==": [{"var": ...}, null]}` and `false` is tested with `===`.
* `in` takes the needle first for substrings (`{"in": ["25ns", {"var": ...}]}`); the other order tests the
  opposite.
* Statuses are compared case-sensitively, so they are always upper-case. Regular expressions are refused.
* Both engines compare times as text. RR stores OMS times as `YYYY-MM-DDTHH:MM:SSZ` (UTC, to the second), whose
  text order is time order, so a date literal is sent as that text (`2018-07-01` is `"2018-07-01T00:00:00Z"`),
  exactly as `to_rr` sends it; a time with fractions of a second is refused.
""",
}

_TRAP_GROUP = {"rr": "rr", "rr-raw": "rr-raw", "jsonlogic": "jsonlogic"}


def _trap_text(name: str) -> str:
    return TRAPS.get(_TRAP_GROUP.get(name, name.split(":")[0]), "")


# ------------------------------------------------------------------------------------------------ markdown


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _compiled(target: Target, query: str) -> str:
    try:
        out = target.compile(query)
    except QueryError as err:
        return "unsupported: " + _cell(err.message)
    text = "`" + _cell(json.dumps(dict(out) if isinstance(out, Mapping) else out, ensure_ascii=False)) + "`"
    if getattr(out, "exact", True) is False:
        text += " (superset)"
    return text


def _plan(query: str, target: str) -> Any:
    from .planning import plan

    return plan(query, target)


def _plan_line(target: Target, query: str) -> str:
    p = _plan(query, target.name)
    requests = "; ".join("`" + _cell(json.dumps(dict(r), ensure_ascii=False)) + "`" for r in p.requests)
    residual = "none" if p.residual is None else "the whole query"
    return f"| `{_cell(query)}` | {len(p.requests)}: {requests} | {residual} |"


def _matrix_markdown(matrix: dict[str, dict[str, str]]) -> list[str]:
    lines = ["| target | " + " | ".join(CONSTRUCTS) + " |", "|---|" + "---|" * len(CONSTRUCTS)]
    for name, row in matrix.items():
        lines.append(f"| `{name}` | " + " | ".join(row[k].partition(":")[0] for k in CONSTRUCTS) + " |")
    return lines


def _target_section(target: Target, row: dict[str, str]) -> list[str]:
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
    traps = _trap_text(target.name)
    if traps and (target.name in TRAPS or target.name in ("dials:run", "oms:runs")):
        lines += ["Service traps and how dqquery avoids them:", "", traps.rstrip(), ""]
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
