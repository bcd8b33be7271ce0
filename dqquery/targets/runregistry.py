"""Compile a query to a Run Registry filter: the dict ``runregistry.get_runs(filter=...)`` /
``get_datasets(filter=...)`` take.

Semantics: the filter selects every run (dataset) that has **at least one lumisection satisfying the query**
(the query is evaluated per lumisection row, :mod:`dqquery.semantics`). RR itself only knows per run (dataset)
attributes and, for lumisection flags, a cached count of lumisections per status (``triplet_summary``), so:

* run/dataset-level predicates are constant over a run's lumisections, but RR's listing also returns runs
  (datasets) that have no lumisection with both RR and OMS data, which no query selects (D2 of the conformance
  corpus: every non-significant run, for instance). A filter is therefore exact only when it requires a
  lumisection flag condition (an ``and`` with at least one flag operand); a filter of attributes alone is a
  superset, with a note; evaluating the query on the fetched lumisections (``fetch`` then ``golden``) drops the
  extra runs (a run row alone cannot show them: its ``triplet_summary`` is ``{}``, as for a run whose joined
  lumisections carry no flags; a dataset row's ``dcs_summary`` has ``ls_duration`` exactly when it has some);
* ``flag == S`` is "some lumisection has status S" (``triplet_summary.<flag>.S > 0``): exact. ``flag != S``
  and ``flag (not) in [...]`` are ``or``\\ s of such counts over the other statuses (including the
  ``NO VALUE FOUND`` status RR stores when no classifier matched): exact;
* ``or`` distributes over "some lumisection" and stays exact; ``and`` of two or more lumisection-level
  operands is only a **superset** (each may hold on a different lumisection). :attr:`RRFilter.exact` says
  which, :attr:`RRFilter.notes` explains every superset clause. Filter the result locally (``dqquery.plan``)
  when ``exact`` is false.

Data model behind the exactness claim (stated once): RR's ``triplet_summary`` counts only lumisections with
both RR and OMS data (D1: an inner join), which are also the only lumisections dqquery's semantics and RR's JSON
portal evaluate; a lumisection's flag value is the status RR's lumisection API reports, where a lumisection without a triplet for a flag the run has reads ``EMPTY`` (that is
what the ``EMPTY`` counter counts); RR keeps no count of lumisections whose flag has no status, so
``flag is null`` is unsupported and ``flag is not null`` ("the run has the flag") a superset; stored times are OMS ISO strings
``YYYY-MM-DDTHH:MM:SSZ`` (compared as text by RR); ``<component>_included`` is true exactly for the upper-case
names in ``components``. Statuses outside RR's known set (a legacy empty
string) are invisible to ``!=``.

Two output formats (``target`` in errors: ``rr`` and ``rr-raw``):

* ``raw=False`` (default): the client's user format, for ``get_runs(filter=f)`` *without*
  ``ignore_filter_transformation``. Keys are the client's attribute names; every output goes through
  ``runregistry.utils.transform_to_rr_run_filter`` / ``transform_to_rr_dataset_filter`` (3.1.2) without error
  and without a dropped constraint. The client's whitelists (:data:`RUN_OMS_ATTRIBUTES` ... kept here as
  data, typos included) decide which fields are expressible. For runs, a field the whitelist lacks is sent
  under the client's documented pass-through prefixes (``oms_attributes.``, ``rr_attributes.``,
  ``triplet_summary.``); datasets have no pass-through. What the client would drop or break (an ``or`` on a
  flag, an ``or``/``and`` list on a numeric or boolean OMS/RR attribute, an ``or`` across attributes) is
  ``unsupported`` with the hint ``raw=True``.
* ``raw=True``: the backend format, for ``ignore_filter_transformation=True``. It avoids the backend's traps
  (reference section 2.5): numeric and boolean JSON attributes are only compared directly under their key
  (sibling operators in one dict are AND-ed and cast), membership lists use the ``key::float`` cast; an ``or``
  never mixes tables (the backend would split it and AND the parts: ``unsupported``), and when several tables
  are involved the filter is a top-level ``and`` of one member per table, so that the backend's per-table
  projection never leaves an empty ``or`` (which it would turn into "no result").

Decisions:
* D2 is told with ``exact=False`` and a note rather than hidden by a filter trick: no backend filter key can
  require "a lumisection with RR and OMS data" (``dcs_summary`` is not filterable on runs, and an empty
  ``triplet_summary`` is also what a run whose joined lumisections carry no flags has).
* ``not`` is pushed down to the predicates by the one negation normal form, :func:`dqquery.normal.to_nnf`
  (De Morgan and comparison flips hold in three-valued logic); ``not`` then stands only above a ``contains``.
* ``<component>_included`` keys exist only when true, so ``pixel_included == false`` (or ``not pixel_included``)
  selects nothing in RR. That is also what dqquery's semantics says on RR's data (a missing value is unknown),
  so it is compiled as written, ``{"=": false}``, and a warning suggests ``pixel_included is null``.
* ``components contains "PIXEL"`` compiles to ``pixel_included == true`` (exact under the data model above;
  only for upper-case component names).
* ``like`` is ILIKE (case-insensitive, as in dqquery). Regular expressions and case-sensitive substring tests
  do not exist in RR filters: ``unsupported`` (hint: ``like``). Lumisection OMS bits, lumisection numbers and
  DIALS fields are not in RR filters: ``unsupported``. Refusal hints only say what to write instead on RR; that
  ``dqquery.plan`` keeps a refused clause as a residual is the framework's hint
  (:func:`dqquery.targets.base.with_plan_hint`).
* The support tables (:data:`SUPPORT`, :data:`SUPPORT_RAW`) are :class:`~dqquery.targets.base.Support` data,
  consulted before dispatch: a node whose kind (and polarity) they call ``unsupported`` is refused with their
  reason as the message (plus :data:`_REFUSAL_HINTS`), so ``docs/targets.md`` and the compiler cannot disagree.
  Levels elsewhere are coarse (a ``superset`` kind may still refuse some fields); the per-field rules stay in
  the compiler, whose every refusal goes through :class:`~dqquery.targets.base.Refusals`.
* Dispatch over node classes is by tables (:data:`_ATTRIBUTE_HANDLERS`, :data:`_FLAG_HANDLERS`), one handler per
  negation-normal-form literal class (every predicate class and ``not``, which only stands above a ``contains``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Union

from .. import ast as A
from ..catalog import STATUSES, FieldInfo, lookup
from ..errors import QueryError
from ..normal import to_nnf
from ..query import as_node
from ..unparse import unparse
from .base import Compiled, Refusals, Support, Target, compile_bound, register, resolve

Kind = Literal["runs", "datasets"]

__all__ = [
    "SUPPORT",
    "SUPPORT_BY_TARGET",
    "SUPPORT_RAW",
    "RRFilter",
    "client_route",
    "compile_rr",
    "to_rr",
]

# ------------------------------------------------------------------------------------------------ client tables
# runregistry 3.1.2, runregistry/attributes.py (the client's whitelists, verbatim, typos included).

RUN_TABLE_ATTRIBUTES: str = "run_number"
"""A *string* in the client, so ``key in RUN_TABLE_ATTRIBUTES`` is a substring test (``run`` passes)."""

RUN_RR_ATTRIBUTES: tuple[str, ...] = tuple(
    (
        "class state significant stop_reason short_run run_needs_to_be_updated_manually "
    ).split()
)
RUN_OMS_ATTRIBUTES: tuple[str, ...] = tuple(
    (
        "energy l1_key b_field hlt_key l1_menu l1_rate end_time sequence duration end_lumi init_lumi "
        "clock_type components run_number start_time fill_number l1_hlt_mode last_update ls_duration "
        "stable_beam hf_included dt_included es_included csc_included cow_included daq_included "
        "dcs_included dqm_included gem_included ltc_included rpc_included trg_included trigger_mode "
        "hcal_included scal_included efed_included recorded_lumi ecal_included lumi_included "
        "tcds_included cmssw_version delivered_lumi totem_included tier0_transfer pixel_included "
        "ctpps_included hflumi_included l1_key_stripped castor_included hlt_physics_size fill_type_party2 "
        "tracker_included dt_efed_included fill_type_party1 injection_scheme hlt_physics_rate "
        "rpc_efed_included trg_efed_included fill_type_runtime pixel_up_included csc_efed_included "
        "ctpps_tot_included ecal_efed_included hcal_efed_included l1_triggers_counter hlt_physics_counter "
        "l1_hlt_mode_stripped tracker_efed_included initial_prescale_index hlt_physics_throughput "
        "beams_present_and_stable "
    ).split()
)
RUN_TRIPLET_ATTRIBUTES: tuple[str, ...] = tuple(
    (
        "castor-castor cms-cms csc-csc ctpps-ctpps dt-dt ecal-ecal ecal-es hcal-hcal hlt-hlt l1t-l1t "
        "l1t-l1tcalo l1t-l1tmu lumi-lumi rpc-rpc tracker-pixel tracker-strip btag-btag csc-mep csc-mem "
        "csc-triggerpe csc-csctf csc-ddus csc-efficiency csc-gasgains csc-integrity csc-timing csc-strips "
        "csc-resolution csc-segments csc-pedestals csc-occupancy ctpps-rp56_220 ctpps-rp56_cyl "
        "ctpps-rp56_210 ctpps-rp45_cyl ctpps-rp45_220 ctpps-rp45_210 ecal-tpg ecal-timing ecal-preshower "
        "ecal-noise ecal-laser ecal-esp ecal-esm ecal-eep ecal-eem ecal-ebp ecal-ebm ecal-collisions "
        "ecal-analysis egamma-egamma egamma-es hcal-hb hcal-ho12ls hcal-ho0ls hcal-hfls hcal-hels "
        "hcal-hbls hcal-ho12 hcal-ho0 hcal-hf hcal-he hlt-muons hlt-electrons hlt-photons hlt-jetmet "
        "hlt-tau hlt-bjets hlt-technical hlt-global jetmet-jetmet l1t-bptx_tech l1t-bcs_tech l1t-hf_tech "
        "l1t-rpc_tech l1t-software l1t-muon l1t-muon_dt l1t-muon_rpc l1t-muon_csc l1t-e_gamma l1t-jet "
        "l1t-energy_sums l1t-hf_rings rpc-elog rpc-lv rpc-hv rpc-feb rpc-noise rpc-strip tau-tau "
    ).split()
)
DATASET_ATTRIBUTES: tuple[str, ...] = tuple(
    (
        "appeared_in global_state dt_state cms_state csc_state hlt_state l1t_state rpc_state tau_state "
        "btag_state ecal_state hcal_state lumi_state muon_state ctpps_state castor_state egamma_state "
        "jetmet_state tracker_state "
    ).split()
)
DATASET_TRIPLET_ATTRIBUTES: tuple[str, ...] = tuple(
    (
        "dt-dt csc-tf rpc-hv rpc-lv cms-cms csc-csc ecal-es hcal-hb hcal-he hcal-hf hlt-hlt hlt-tau "
        "l1t-l1t rpc-feb rpc-rpc tau-tau ecal-ebm ecal-ebp ecal-eem ecal-eep ecal-esm ecal-esp ecal-tpg "
        "hcal-ho0 rpc-elog btag-btag ecal-ecal hcal-hcal hcal-ho12 hlt-bjets hlt-muons l1t-l1tmu "
        "lumi-lumi muon-muon rpc-noise csc-strips csc-timing ecal-laser ecal-noise hcal-hb_ls hcal-he_ls "
        "hcal-hf_ls hlt-jetmet ctpps-ctpps ecal-timing hcal-hoO_ls hlt-photons l1t-e_gamma l1t-hf_tech "
        "l1t-l1tcalo l1t-muon_dt tracker-pix csc-gasgains csc-segments hcal-ho12_ls l1t-bcs_tech "
        "l1t-hg_rings l1t-muon_csc l1t-muon_rpc l1t-rpc_tech l1t-software castor-castor csc-integrity "
        "csc-occupancy csc-pedestals ecal-analysis egamma-egamma hlt-electrons hlt-technical "
        "jetmet-jetmet l1t-bptx_tech tracker-strip tracker-track csc-efficiency csc-resolution "
        "csc-triggergpe ctpps-rp45_220 ctpps-rp45_cyl ctpps-rp56_210 ctpps-rp56_220 ctpps-rp56_cyl "
        "ecal-preshower hlt-hlt_global ecal-collisions l1t-energy_sums cms-infrastructure "
    ).split()
)

DATASET_TABLE_ATTRIBUTES: tuple[str, ...] = ("run_number", "dataset_name")
RUN_PASSTHROUGH_PREFIXES: tuple[str, ...] = ("rr_attributes", "oms_attributes", "triplet_summary")
CLIENT_STATUSES: tuple[str, ...] = ("GOOD", "BAD", "STANDBY", "EXCLUDED", "NOTSET", "EMPTY")
"""The only statuses the client accepts for a flag (it upper-cases the value and raises otherwise)."""

DATA_STATUSES: tuple[str, ...] = tuple(s for s in STATUSES if s != "EMPTY") + ("NO VALUE FOUND",)
"""Every status a lumisection can carry in RR's data (what ``!=`` must count). ``EMPTY`` counts lumisections
without a triplet for the flag: missing data, which ``!=`` never selects (as the evaluator does)."""


def client_route(kind: Kind, key: str) -> str | None:
    """The backend key the client's transform maps a user key to (``triplet_summary.<flag>`` for a status
    flag, whose status the value supplies), or ``None`` when the client raises. Same order as ``utils.py``."""
    if kind == "runs":
        if key in RUN_TABLE_ATTRIBUTES:
            return key
        if key in RUN_RR_ATTRIBUTES:
            return "rr_attributes." + key
        if key in RUN_TRIPLET_ATTRIBUTES:
            return "triplet_summary." + key
        if key in RUN_OMS_ATTRIBUTES:
            return "oms_attributes." + key
        if key.startswith(RUN_PASSTHROUGH_PREFIXES):
            return key
        return None
    if key in DATASET_TABLE_ATTRIBUTES:
        return "name" if key == "dataset_name" else key
    if key in DATASET_ATTRIBUTES:
        return "dataset_attributes." + key
    if key in DATASET_TRIPLET_ATTRIBUTES:
        return "triplet_summary." + key
    if key in RUN_RR_ATTRIBUTES:
        return "rr_attributes." + key
    if key in RUN_OMS_ATTRIBUTES:
        return "oms_attributes." + key
    return None


# ------------------------------------------------------------------------------------------------ field tables

Storage = Literal["integer", "text", "jsonb", "triplet"]
Table = Literal["run", "dataset", "triplet"]

# Real (non-JSON) columns, by field path and kind: (table, backend key, storage).
_REAL_COLUMNS: dict[tuple[Kind, str], tuple[Table, str, Storage]] = {
    ("runs", "run.run_number"): ("run", "run_number", "integer"),
    ("datasets", "run.run_number"): ("dataset", "run_number", "integer"),
    ("datasets", "dataset.name"): ("dataset", "name", "text"),
}
# Everything else by namespace: (table, backend key prefix, storage), or the reason it cannot be filtered.
_NAMESPACES: dict[tuple[Kind, str], tuple[Table, str, Storage] | tuple[str, str]] = {
    ("runs", "run.oms"): ("run", "oms_attributes.", "jsonb"),
    ("runs", "run.rr"): ("run", "rr_attributes.", "jsonb"),
    ("runs", "lumisection.rr"): ("triplet", "triplet_summary.", "triplet"),
    ("runs", "dataset"): ("dataset attributes are not run filters", 'use kind="datasets"'),
    ("datasets", "run.oms"): ("run", "oms_attributes.", "jsonb"),
    ("datasets", "run.rr"): ("run", "rr_attributes.", "jsonb"),
    ("datasets", "dataset"): ("dataset", "dataset_attributes.", "jsonb"),
    ("datasets", "lumisection.rr"): ("triplet", "triplet_summary.", "triplet"),
}
_NOT_IN_RR: dict[str, str] = {
    "lumisection.oms": "RR filters cannot test OMS lumisection bits",
    "lumisection": "RR filters cannot select lumisection numbers",
    "dials": "DIALS fields do not exist in Run Registry",
}
# List fields whose membership RR keeps as derived flags: path -> backend key template (per member).
_DERIVED_MEMBERSHIP: dict[str, str] = {"run.oms.components": "oms_attributes.{}_included"}
_COMPONENT_NAME = re.compile(r"[A-Z0-9_]+")
# Boolean attributes RR stores only when true.
_ONLY_WHEN_TRUE_SUFFIX = "_included"

_BACKEND_OP = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}

# ------------------------------------------------------------------------------------------------ support

_ALONE = "; without a flag condition and-ed to it a superset (see the traps)"
_NO_REGEX = Support("unsupported", "RR filters have no regular expressions (use like)")
SUPPORT_RAW: Mapping[str, Support] = {
    "compare": Support(
        "superset",
        "= <> < <= > >= on attributes, exact when and-ed with a flag condition" + _ALONE
        + "; flag == S as count(S) > 0, flag != S as counts of the other statuses: exact",
    ),
    "in_range": Support("superset", "sibling >= and <= in one dict; not in: < or > (filter-level or)" + _ALONE),
    "in_set": Support("superset", "or-list (key::float for numbers)" + _ALONE + "; on flags an or of status counts: exact"),
    "like": Support("superset", "like (ILIKE) and notlike (NOT ILIKE)" + _ALONE),
    "regex": _NO_REGEX,
    "contains": Support("partial", "components contains \"X\" as x_included; no case-sensitive substring test" + _ALONE),
    "is_null": Support(
        "partial",
        "{\"=\": null} / {\"<>\": null} on attributes" + _ALONE
        + "; flag is not null as a superset (the EMPTY counter exists); flag is null unsupported",
    ),
    "not": Support("exact", "pushed down to the predicates"),
    "and": Support("partial", "exact with exactly one lumisection-level operand, a superset otherwise"),
    "or": Support(
        "partial",
        "exact within the flags of one RR table; unsupported across run/dataset attributes and flags (the backend ANDs the parts)",
    ),
}
SUPPORT: Mapping[str, Support] = {
    "compare": Support(
        "superset",
        "attributes of the client's whitelists (runs: also pass-through keys)" + _ALONE + "; flag == S only (not !=): exact",
    ),
    "in_range": Support("superset", "sibling >= and <= in one dict; not in: only on strings and run_number" + _ALONE),
    "in_set": Support(
        "partial", "strings and run_number only (the client's or-wrapping breaks numeric and boolean JSON attributes)" + _ALONE
    ),
    "like": Support("superset", "like (ILIKE) and notlike (NOT ILIKE)" + _ALONE),
    "regex": _NO_REGEX,
    "contains": Support("partial", "components contains \"X\" as x_included; no case-sensitive substring test" + _ALONE),
    "is_null": Support(
        "partial",
        "{\"=\": null} / {\"<>\": null} on attributes" + _ALONE
        + "; flag is not null as a superset, runs only (pass-through); flag is null unsupported",
    ),
    "not": Support("exact", "pushed down to the predicates"),
    "and": Support("partial", "exact with exactly one lumisection-level operand, a superset otherwise"),
    "or": Support("partial", "only values of one string attribute or run_number; no or across attributes or flags (use raw=True)"),
}
SUPPORT_BY_TARGET: Mapping[str, Mapping[str, Support]] = {"rr": SUPPORT, "rr-raw": SUPPORT_RAW}
"""Node kind -> :class:`~dqquery.targets.base.Support`, per output format (the datasets formats use the same
tables). The compiler consults them before dispatch: a kind (and polarity) they call ``unsupported`` is refused
with their reason, so ``docs/targets.md`` and the behaviour cannot disagree."""

_REFUSAL_HINTS: Mapping[str, str] = {"regex": 'use like with % and _ wildcards, e.g. like "%25ns%"'}
"""What to write instead on RR, for the kinds the support tables refuse (the reason is the table's)."""


# ------------------------------------------------------------------------------------------------ result


class RRFilter(dict):  # type: ignore[type-arg]
    """A Run Registry filter (a plain ``dict``, ready for ``get_runs(filter=...)``) that also says how
    faithful it is: ``exact`` (selects exactly the runs/datasets with a lumisection satisfying the query)
    or a superset, ``notes`` (why, per clause), ``warnings`` (exact but probably not what was meant),
    ``kind`` and ``raw`` (backend format, for ``ignore_filter_transformation=True``)."""

    def __init__(
        self,
        mapping: dict[str, Any],
        *,
        exact: bool,
        notes: Iterable[str] = (),
        warnings: Iterable[str] = (),
        kind: Kind = "runs",
        raw: bool = False,
    ) -> None:
        super().__init__(mapping)
        self.exact = exact
        self.notes = list(notes)
        self.warnings = list(warnings)
        self.kind = kind
        self.raw = raw

    def __repr__(self) -> str:
        return f"RRFilter({dict.__repr__(self)}, exact={self.exact}, kind={self.kind!r}, raw={self.raw})"


# ------------------------------------------------------------------------------------------------ IR


@dataclass(frozen=True)
class _Cond:
    """One backend condition ``{key: {op: value}}`` on one table."""

    table: Table
    key: str
    op: str
    value: Any
    storage: Storage
    node: Any = field(compare=False, repr=False)


@dataclass(frozen=True)
class _Group:
    """``and``/``or`` of conditions (``node`` is the query node it comes from, for errors)."""

    kind: Literal["and", "or"]
    items: tuple[Any, ...]
    node: Any = field(compare=False, repr=False)


_IR = Union[_Cond, _Group]


def _group(kind: Literal["and", "or"], items: Iterable[_IR], node: Any) -> _IR:
    """``and``/``or`` of IR items, flattened, without repeated items; one item stands alone."""
    flat: list[_IR] = []
    seen: set[_IR] = set()  # repeated items found by hash: a list of thousands of runs stays linear
    for item in items:
        for sub in item.items if isinstance(item, _Group) and item.kind == kind else (item,):
            try:
                if sub in seen:
                    continue
                seen.add(sub)
            except TypeError:  # an unhashable value (a list): compared with every item kept
                if sub in flat:
                    continue
            flat.append(sub)
    return flat[0] if len(flat) == 1 else _Group(kind, tuple(flat), node)


def _tables(ir: _IR) -> set[str]:
    if isinstance(ir, _Cond):
        return {ir.table}
    out: set[str] = set()
    for item in ir.items:
        out |= _tables(item)
    return out


def _flatten(ir: _IR, kind: str) -> list[_IR]:
    """The operands of a (nested) group of ``kind`` (``and`` or ``or``); anything else is one operand."""
    if isinstance(ir, _Group) and ir.kind == kind:
        out: list[_IR] = []
        for item in ir.items:
            out.extend(_flatten(item, kind))
        return out
    return [ir]


# ------------------------------------------------------------------------------------------------ compiler


@dataclass(frozen=True)
class _Column:
    """Where a field lives in RR: its table, its backend key and how the value is stored."""

    table: Table
    key: str
    storage: Storage

    def cond(self, op: str, value: Any, node: Any) -> _Cond:
        return _Cond(self.table, self.key, op, value, self.storage, node)


def _literal_of(node: Any) -> Any:
    """The predicate of a negation-normal-form literal (``not`` stands only above a ``contains``)."""
    return node.operand if isinstance(node, A.Not) else node


def _polarity(node: Any) -> tuple[str, bool]:
    """(node kind, negated) of a negation-normal-form literal or junction: the key into the support tables."""
    if isinstance(node, A.Not):
        return node.operand.kind, True
    return node.kind, bool(getattr(node, "negated", False))


def _first_not(node: Any) -> A.Not | None:
    """The first ``not`` of a tree, in source order (before negation normal form removes most of them)."""
    if isinstance(node, A.Not):
        return node
    for operand in getattr(node, "operands", ()):
        found = _first_not(operand)
        if found is not None:
            return found
    return None


@dataclass
class _Compiler:
    kind: Kind
    raw: bool
    refusals: Refusals
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    superset_nodes: set[int] = field(default_factory=set)  # ids of predicates compiled to a superset

    @property
    def support(self) -> Mapping[str, Support]:
        return SUPPORT_RAW if self.raw else SUPPORT

    def unsupported(self, node: Any, message: str, hint: str = "") -> QueryError:
        return self.refusals.unsupported(node, message, hint)

    def refuse_by_table(self, node: Any, kind: str, negated: bool) -> None:
        """Refuse ``node`` with the support table's reason when the table calls its kind (and polarity) unsupported."""
        support = self.support[kind].of(negated)
        if support.level == "unsupported":
            raise self.unsupported(node, support.reason, _REFUSAL_HINTS.get(kind, ""))

    # -------------------------------------------------------------------- structure

    def compile_query(self, node: Any) -> tuple[_IR, bool, bool]:
        """(IR, exact, depends on lumisections) of a whole query: ``not`` is checked against the table, then pushed
        down to the predicates (:func:`dqquery.normal.to_nnf`)."""
        negation = _first_not(node)
        if negation is not None:
            self.refuse_by_table(negation, "not", False)
        return self.compile(to_nnf(node))

    def compile(self, node: Any) -> tuple[_IR, bool, bool]:
        """(IR, exact, depends on lumisections) of a tree in negation normal form."""
        self.refuse_by_table(node, *_polarity(node))
        if isinstance(node, (A.And, A.Or)):
            return self.junction(node)
        ir = self.predicate(node)
        return ir, id(node) not in self.superset_nodes, self.row(node).level == "lumisection"

    def junction(self, node: A.And | A.Or) -> tuple[_IR, bool, bool]:
        parts = [self.compile(o) for o in node.operands]
        ir = _group(node.kind, (p[0] for p in parts), node)
        exact = all(p[1] for p in parts)
        per_ls = [o for o, p in zip(node.operands, parts) if p[2]]
        if node.kind == "or":
            if len(_tables(ir)) > 1:
                raise self.unsupported(
                    node,
                    "RR cannot combine these with `or`: the backend splits an `or` over "
                    + " and ".join(sorted(_TABLE_WORDS[t] for t in _tables(ir)))
                    + " and requires both parts",
                )
        elif len(per_ls) > 1:
            exact = False
            self.notes.append(
                "superset: "
                + ", ".join(f"`{unparse(o)}`" for o in per_ls)
                + " are each required of some lumisection, not necessarily the same one"
                " (RR only counts lumisections per status)"
            )
        return ir, exact, bool(per_ls)

    def row(self, node: Any) -> FieldInfo:
        path = _literal_of(node).field.path
        info = lookup(path)
        if info is None:  # check() resolved it already; a hand-built FieldRef may still be odd
            raise self.unsupported(node, f"unknown field '{path}'")
        return info

    # -------------------------------------------------------------------- predicates

    def column(self, node: Any) -> _Column:
        info = self.row(node)
        real = _REAL_COLUMNS.get((self.kind, info.path))
        if real is not None:
            return _Column(*real)
        where = _NAMESPACES.get((self.kind, info.namespace))
        if where is None:
            reason = _NOT_IN_RR.get(info.namespace) or _NOT_IN_RR.get(info.namespace.split(".")[0], "RR cannot filter on it")
            raise self.unsupported(node, f"'{info.name}': {reason}")
        if len(where) == 2:
            raise self.unsupported(node, f"'{info.name}': {where[0]}", where[1])
        table, prefix, storage = where  # type: ignore[misc]
        return _Column(table, prefix + info.attribute, storage)

    def predicate(self, node: Any) -> _IR:
        """A negation-normal-form literal: a lumisection flag as status counts, anything else as an attribute condition."""
        column = self.column(node)
        if column.storage == "triplet":
            return _FLAG_HANDLERS[type(node)](self, node, column.key)
        return _ATTRIBUTE_HANDLERS[type(node)](self, node, column)

    def membership(self, node: Any, column: _Column, negated: bool) -> _IR:
        """``contains`` (``negated``: ``not contains``) on a list RR keeps as derived ``<member>_included`` keys."""
        contains = _literal_of(node)
        info = self.row(node)
        template = _DERIVED_MEMBERSHIP.get(info.path)
        needle = contains.value.value if isinstance(contains.value, A.StringValue) else None
        if template is None or needle is None or not _COMPONENT_NAME.fullmatch(needle):
            if info.type == "string":
                raise self.unsupported(node, "RR filters have no case-sensitive substring test", f'use `{info.name} like "%text%"` (case-insensitive)')
            raise self.unsupported(
                node,
                f"RR cannot test membership in '{info.name}'"
                + (" (only upper-case component names map to <component>_included)" if template else ""),
            )
        flag = template.format(needle.lower())
        if negated:
            list_key = "oms_attributes." + info.attribute
            return _group(
                "and",
                (_Cond(column.table, flag, "=", None, "jsonb", node), _Cond(column.table, list_key, "<>", None, "jsonb", node)),
                node,
            )
        return _Cond(column.table, flag, "=", True, "jsonb", node)

    def literal(self, node: Any, value: Any) -> Any:
        """A query literal as the JSON value RR compares (dates as OMS ISO strings, compared as text)."""
        if isinstance(value, (A.DateValue, A.DateTimeValue)):
            text = stored_time_text(value)
            if text is None:
                raise self.unsupported(node, "RR compares times as text to the second", "write the time without fractions of a second")
            return text
        return value.value

    def warn_only_when_true(self, node: A.Compare) -> None:
        attribute = node.field.path.rpartition(".")[2]
        means_false = (node.op == "==" and node.value.value is False) or (node.op == "!=" and node.value.value is True)
        if attribute.endswith(_ONLY_WHEN_TRUE_SUFFIX) and isinstance(node.value, A.BoolValue) and means_false:
            self.warnings.append(
                f"`{unparse(node)}` never matches in RR: it stores {attribute} only when true;"
                f" write `{node.field.name} is null` for runs without the component"
            )


# Run/dataset attributes (JSON or real columns): one handler per negation-normal-form literal class.


def _attribute_compare(comp: _Compiler, node: A.Compare, column: _Column) -> _IR:
    comp.warn_only_when_true(node)
    return column.cond(_BACKEND_OP[node.op], comp.literal(node, node.value), node)


def _attribute_range(comp: _Compiler, node: A.InRange, column: _Column) -> _IR:
    low, high = comp.literal(node, node.low), comp.literal(node, node.high)
    if node.negated:
        return _group("or", (column.cond("<", low, node), column.cond(">", high, node)), node)
    return _group("and", (column.cond(">=", low, node), column.cond("<=", high, node)), node)


def _attribute_set(comp: _Compiler, node: A.InSet, column: _Column) -> _IR:
    values = list(dict.fromkeys(json.dumps(comp.literal(node, v)) for v in node.values))
    conds = tuple(column.cond("<>" if node.negated else "=", json.loads(v), node) for v in values)
    return _group("and" if node.negated else "or", conds, node)


def _attribute_like(comp: _Compiler, node: A.Like, column: _Column) -> _IR:
    return column.cond("notlike" if node.negated else "like", node.pattern, node)


def _attribute_is_null(comp: _Compiler, node: A.IsNull, column: _Column) -> _IR:
    return column.cond("<>" if node.negated else "=", None, node)


def _attribute_contains(comp: _Compiler, node: A.Contains, column: _Column) -> _IR:
    return comp.membership(node, column, negated=False)


def _attribute_not_contains(comp: _Compiler, node: A.Not, column: _Column) -> _IR:
    return comp.membership(node, column, negated=True)


def _refused_before_dispatch(comp: _Compiler, node: Any, where: Any) -> _IR:  # pragma: no cover - the support tables refuse it
    raise AssertionError(f"the support tables refuse {type(node).__name__} before dispatch")


_ATTRIBUTE_HANDLERS: A.NodeTable[Callable[[_Compiler, Any, _Column], _IR]] = A.NodeTable("rr.attribute", (*A.PREDICATE_CLASSES, A.Not), {
    A.Compare: _attribute_compare,
    A.InRange: _attribute_range,
    A.InSet: _attribute_set,
    A.Like: _attribute_like,
    A.Regex: _refused_before_dispatch,
    A.Contains: _attribute_contains,
    A.IsNull: _attribute_is_null,
    A.Not: _attribute_not_contains,
})
"""Attribute literal class -> compiler: every predicate class, and ``not`` (only above a ``contains`` in NNF)."""


# Lumisection flags, as ``triplet_summary`` counts ("some lumisection has status S").


def _some_status(node: Any, key: str, statuses: Iterable[str]) -> _IR:
    conds = tuple(_Cond("triplet", f"{key}.{s}", ">", 0, "triplet", node) for s in statuses)
    return _group("or", conds, node)


def _flag_compare(comp: _Compiler, node: A.Compare, key: str) -> _IR:
    status = node.value.value
    return _some_status(node, key, [status] if node.op == "==" else [s for s in DATA_STATUSES if s != status])


def _flag_set(comp: _Compiler, node: A.InSet, key: str) -> _IR:
    listed = list(dict.fromkeys(v.value for v in node.values))
    return _some_status(node, key, [s for s in DATA_STATUSES if s not in listed] if node.negated else listed)


def _flag_is_null(comp: _Compiler, node: A.IsNull, key: str) -> _IR:
    if not node.negated:
        raise comp.unsupported(node, "RR does not count lumisections whose flag has no status")
    # EMPTY is present (a count, possibly 0) when the run has the flag at all; some lumisections may
    # still carry it without a status, so this is a superset.
    comp.superset_nodes.add(id(node))
    comp.notes.append(f"superset: `{unparse(node)}` is read as 'the run has this flag' (RR keeps no count of statuses that are missing)")
    return _Cond("triplet", f"{key}.EMPTY", "<>", None, "triplet", node)


def _flag_refused(comp: _Compiler, node: Any, key: str) -> _IR:  # pragma: no cover - check() refuses these on status flags
    raise comp.unsupported(node, "RR can only test lumisection flags for a status")


_FLAG_HANDLERS: A.NodeTable[Callable[[_Compiler, Any, str], _IR]] = A.NodeTable("rr.flag", (*A.PREDICATE_CLASSES, A.Not), {
    A.Compare: _flag_compare,
    A.InRange: _flag_refused,
    A.InSet: _flag_set,
    A.Like: _flag_refused,
    A.Regex: _refused_before_dispatch,
    A.Contains: _flag_refused,
    A.IsNull: _flag_is_null,
    A.Not: _flag_refused,
})
"""Flag literal class -> compiler: every predicate class, and ``not`` (only above a ``contains`` in NNF)."""


_ATTRIBUTES_ONLY_NOTE = (
    "superset: the filter tests only run/dataset attributes, and RR also returns {kind} that have no lumisection"
    " with both RR and OMS data (non-significant runs, for instance), which no query selects; evaluating the query on"
    " their lumisections (dqquery fetch, then golden) drops them"
)
"""D2 of the conformance corpus: RR's listing needs only the run's (dataset's) triplet-cache row, which exists
even when the summary is empty; a lumisection flag condition (a count > 0) needs a joined lumisection."""

STORED_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
"""How RR stores OMS times (``start_time``, ``end_time``, ``last_update``): UTC, to the second, with ``Z``.
Compared as text, such strings order as the instants they name; RR's filters and its JSON portal both compare
the stored text, so a date literal becomes this text."""


def stored_time_text(value: A.DateValue | A.DateTimeValue) -> str | None:
    """A date/datetime literal as RR's stored text (a date is midnight UTC); ``None`` when it has fractions of a
    second, which text comparison with the stored seconds would get wrong."""
    if isinstance(value, A.DateValue):
        return value.value.isoformat() + "T00:00:00Z"
    if value.value.microsecond:
        return None
    return value.value.strftime(STORED_TIME_FORMAT)


_TABLE_WORDS: dict[str, str] = {"run": "run attributes", "dataset": "dataset attributes", "triplet": "lumisection flags"}


# ------------------------------------------------------------------------------------------------ backend format


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _shared_list_key(conds: list[_Cond]) -> str | None:
    """The key under which conditions on one attribute can share an attribute-level ``or`` list, or ``None``.

    Real columns and text comparisons are safe in lists; numbers need the ``::float`` cast (inside a list
    Sequelize leaves the JSON text uncast); booleans and mixed lists are not (use a filter-level ``or``)."""
    if len({c.key for c in conds}) != 1:
        return None
    first = conds[0]
    values = [c.value for c in conds]
    if first.storage in ("integer", "text") or all(isinstance(v, str) or v is None for v in values):
        return first.key
    if all(_is_number(v) for v in values):
        return first.key + "::float"
    return None


def _raw_conjunction(items: list[_IR]) -> dict[str, Any]:
    """Conditions of one table AND-ed in one filter dict (sibling operators on a key are AND-ed and each
    cast by Sequelize); repeated keys or ``or`` entries fall back to a filter-level ``and`` list."""
    entries: list[tuple[str, Any]] = []
    for item in items:
        if isinstance(item, _Cond):
            entries.append((item.key, {item.op: item.value}))
            continue
        alternatives = _flatten(item, "or")
        conds = [d for d in alternatives if isinstance(d, _Cond)]
        key = _shared_list_key(conds) if len(conds) == len(alternatives) else None
        if key is not None:
            entries.append((key, {"or": [{c.op: c.value} for c in conds]}))
        else:
            entries.append(("or", [_raw_conjunction(_flatten(d, "and")) for d in alternatives]))
    merged: dict[str, Any] = {}
    for key, value in entries:
        if key not in merged:
            merged[key] = value
        elif key != "or" and "or" not in value and "or" not in merged[key] and not set(value) & set(merged[key]):
            merged[key] = {**merged[key], **value}
        else:
            return {"and": [{k: v} for k, v in entries]}
    return merged


def _raw(ir: _IR) -> dict[str, Any]:
    """The backend-format filter: one dict per table; several tables with any filter-level list become a
    top-level ``and`` of one member per table (the backend's projection drops members without content for a
    table, instead of leaving an empty ``or`` that would select nothing)."""
    by_table: dict[str, list[_IR]] = {}
    for item in _flatten(ir, "and"):
        (table,) = _tables(item)  # ``or``s are single-table (checked while compiling)
        by_table.setdefault(table, []).append(item)
    members = [_raw_conjunction(items) for items in by_table.values()]
    if len(members) == 1:
        return members[0]
    if any("and" in m or "or" in m for m in members):
        return {"and": members}
    merged: dict[str, Any] = {}
    for m in members:
        merged.update(m)
    return merged


# ------------------------------------------------------------------------------------------------ user format

_RAW_HINT = "use to_rr(query, raw=True) and get_runs(filter=..., ignore_filter_transformation=True)"


def _short_key(kind: Kind, key: str) -> str:
    """The client's attribute name for a backend key (``oms_attributes.energy`` -> ``energy``)."""
    if kind == "datasets" and key == "name":
        return "dataset_name"
    return key.rpartition(".")[2]


def _user_key(kind: Kind, key: str) -> str | None:
    """The first user key the client routes to ``key``: its attribute name, else the pass-through key."""
    for candidate in (_short_key(kind, key), key):
        if client_route(kind, candidate) == key:
            return candidate
    return None


def _user_flag_entries(comp: _Compiler, cond: _Cond) -> list[tuple[str, Any]]:
    """Ways to send one flag condition, preferred first: ``{"dt-dt": "GOOD"}``, then a pass-through key."""
    options: list[tuple[str, Any]] = []
    flag_key, _, status = cond.key.rpartition(".")
    flag = flag_key.partition(".")[2]
    if cond.op == ">" and cond.value == 0 and status in CLIENT_STATUSES and client_route(comp.kind, flag) == flag_key:
        options.append((flag, status))
    if client_route(comp.kind, cond.key) == cond.key:
        options.append((cond.key, {cond.op: cond.value}))
    return options


def _user_value(comp: _Compiler, key: str, items: list[_IR]) -> Any:
    """The condition for one user key. Several conditions: sibling operators when distinct, else an
    ``and`` list; ``or`` of values: an ``or`` list. Lists are refused on numeric and boolean JSON attributes
    (the backend compares their text uncast inside lists and fails)."""
    parts: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, _Cond):
            parts.append({item.op: item.value})
        else:
            parts.append({"or": [{c.op: c.value} for c in _flatten(item, "or")]})  # type: ignore[union-attr]
    conds = [c for item in items for c in (_flatten(item, "or") if isinstance(item, _Group) else [item])]
    json_scalar = conds[0].storage == "jsonb" and any(isinstance(c.value, (bool, int, float)) for c in conds)  # type: ignore[union-attr]
    if len(parts) == 1 and "or" not in parts[0]:
        return parts[0]
    ops = [op for p in parts for op in p]
    if "or" not in ops and len(set(ops)) == len(ops):
        return {op: v for p in parts for op, v in p.items()}
    if json_scalar:
        offender = next((i for i in items if isinstance(i, _Group)), items[-1])
        raise comp.unsupported(
            offender.node,
            f"the runregistry client cannot send this combination of conditions on '{_short_key(comp.kind, key)}':"
            " inside and/or lists RR compares numbers and booleans with the attribute's text and fails",
            _RAW_HINT,
        )
    return parts[0] if len(parts) == 1 else {"and": parts}


def _user(ir: _IR, comp: _Compiler) -> dict[str, Any]:
    """The client's user format: one flat dict of attribute names, AND-ed."""
    groups: dict[str, list[_IR]] = {}
    for item in _flatten(ir, "and"):
        alternatives = _flatten(item, "or")
        if not all(isinstance(d, _Cond) for d in alternatives) or len({d.key for d in alternatives}) != 1:  # type: ignore[union-attr]
            flags = all(isinstance(d, _Cond) and d.table == "triplet" for d in alternatives)
            raise comp.unsupported(
                item.node,
                "the runregistry client's filter format has no `or` across flags or statuses (one status per flag)"
                if flags
                else "the runregistry client's filter format has no `or` across attributes",
                _RAW_HINT,
            )
        groups.setdefault(alternatives[0].key, []).append(item)  # type: ignore[union-attr]
    out: dict[str, Any] = {}
    for key, items in groups.items():
        first = items[0]
        if _flatten(first, "or")[0].table == "triplet":  # type: ignore[union-attr]
            for cond in items:
                if not isinstance(cond, _Cond):  # pragma: no cover - or-groups of one flag key are deduplicated
                    raise comp.unsupported(cond.node, "the runregistry client can only ask for one status per flag", _RAW_HINT)
                options = [o for o in _user_flag_entries(comp, cond) if o[0] not in out]  # type: ignore[arg-type]
                if not options:
                    flag = cond.key.split(".")[1]  # type: ignore[union-attr]
                    raise comp.unsupported(
                        cond.node,
                        f"the runregistry client cannot send this condition on flag '{flag}' for {comp.kind}"
                        + (" (its dataset whitelist lacks the flag)" if client_route(comp.kind, flag) is None else ""),
                        _RAW_HINT,
                    )
                out[options[0][0]] = options[0][1]
            continue
        user_key = _user_key(comp.kind, key)
        if user_key is None:
            raise comp.unsupported(
                first.node,
                f"the runregistry client does not know '{_short_key(comp.kind, key)}' for {comp.kind}",
                _RAW_HINT,
            )
        out[user_key] = _user_value(comp, key, items)
    return out


# ------------------------------------------------------------------------------------------------ entry point


def to_rr(query: A.QueryLike, kind: Kind = "runs", raw: bool = False) -> RRFilter:
    """Compile a query (text or tree) to a Run Registry filter for ``get_runs`` (``kind="runs"``) or
    ``get_datasets`` (``kind="datasets"``); ``raw=True`` gives the backend format for
    ``ignore_filter_transformation=True``. Raises :class:`QueryError` (``unsupported``) for what RR cannot
    express; never drops a clause. The same as ``dqquery.compile(query, "rr")`` (``rr-raw``, ``rr-datasets``,
    ``rr-datasets-raw``), whose ``request`` this returns."""
    if kind not in ("runs", "datasets"):
        raise ValueError(f"kind must be 'runs' or 'datasets', not {kind!r}")
    spec = ("rr-datasets" if kind == "datasets" else "rr") + ("-raw" if raw else "")
    return compile_bound(query, resolve(spec)).request  # type: ignore[no-any-return]


def _compile_rr(query: Any, kind: Kind, raw: bool, spec: str) -> RRFilter:
    """The filter for one format; refusals name ``spec`` (``rr``, ``rr-raw``, ``rr-datasets``, ``rr-datasets-raw``)."""
    comp = _Compiler(kind=kind, raw=raw, refusals=Refusals(query, spec))
    ir, exact, per_lumisection = comp.compile_query(as_node(query))
    if not per_lumisection:
        exact = False
        comp.notes.append(_ATTRIBUTES_ONLY_NOTE.format(kind=kind))
    mapping = _raw(ir) if raw else _user(ir, comp)
    return RRFilter(mapping, exact=exact, notes=comp.notes, warnings=comp.warnings, kind=kind, raw=raw)


compile_rr = to_rr


# ------------------------------------------------------------------------------------------------ docs

EXAMPLES: tuple[tuple[str, Kind], ...] = (
    ("run_number in 309000..310000", "runs"),
    ("energy in 6000..7000 and b_field >= 3.7", "runs"),
    ("fill_number in [7000, 7001]", "runs"),
    ("energy not in 6000..7000", "runs"),
    ('class like "Collisions%"', "runs"),
    ('class in ["Collisions18", "Collisions17"]', "runs"),
    ('hlt_key not like "%WMass%"', "runs"),
    ("start_time >= 2018-05-01", "runs"),
    ('state != "OPEN"', "runs"),
    ("pixel_included is null", "runs"),
    ('components contains "PIXEL"', "runs"),
    ("tracker-strip == GOOD", "runs"),
    ("tracker-strip != BAD", "runs"),
    ("tracker-strip in [GOOD, STANDBY]", "runs"),
    ("tracker-strip == GOOD and dt-dt == GOOD", "runs"),
    ("dt-dt == GOOD or csc-csc == GOOD", "runs"),
    ("energy > 6000 and (dt-dt == GOOD or csc-csc == GOOD)", "runs"),
    ("gem-gem == GOOD", "runs"),
    ("last_lumisection_number > 10", "runs"),
    ("dt-dt == GOOD or energy > 6000", "runs"),
    ('hlt_key ~ "Physics"', "runs"),
    ("beam1_present", "runs"),
    ('dataset like "/PromptReco/%" and global_state == "OPEN"', "datasets"),
    ("tracker-pixel == GOOD", "datasets"),
)


PLAN_EXAMPLES: dict[str, tuple[str, ...]] = {
    "runs": ("tracker-strip == GOOD and dt-dt == GOOD", "dt-dt == GOOD or energy > 6000"),
    "runs-raw": ("energy > 6000 and bpix_ready",),
}

TRAPS: dict[str, str] = {
    "runs": """\
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
    "runs-raw": """\
* A top-level `or` mixing run attributes and flags is split by the backend, which then ANDs the parts:
  refused. Several tables are combined as a top-level `and` with one member per table.
* Numeric membership uses the `key::float` cast inside `or` lists; `flag != S` counts every other status,
  `NO VALUE FOUND` included, but not `EMPTY` (lumisections without the flag: missing data, never selected).
""",
}


class RunRegistryTarget(Target):
    """Run Registry ``get_runs``/``get_datasets`` filters, in the client's format or the backend's (``raw``).

    Options: ``runs`` (the default, spelled ``rr``), ``raw`` (``rr-raw``), ``datasets`` (``rr-datasets``),
    ``datasets-raw`` (``rr-datasets-raw``): the spellings users already type stay the canonical names."""

    name = "rr"
    service = "Run Registry"
    option_word = "format"
    title = "Run Registry filters"
    options = ("runs", "raw", "datasets", "datasets-raw")
    SPECS: ClassVar[dict[str, str]] = {"runs": "rr", "raw": "rr-raw", "datasets": "rr-datasets", "datasets-raw": "rr-datasets-raw"}
    spec_aliases = {spelled: option for option, spelled in SPECS.items() if option != "runs"}
    option_aliases = {"runs-raw": "raw"}

    @staticmethod
    def _kind(option: str | None) -> tuple[Kind, bool]:
        option = option or "runs"
        return ("datasets" if option.startswith("datasets") else "runs"), option.endswith("raw")

    def spec(self, option: str | None) -> str:
        return self.SPECS[option or "runs"]

    def matrix_options(self) -> tuple[str | None, ...]:
        return ("runs", "raw")

    def compile(self, query: Any, option: str | None, **settings: Any) -> Compiled:
        kind, raw = self._kind(option)
        out = _compile_rr(query, kind, raw, self.spec(option))
        return Compiled(self.spec(option), out, out.exact, tuple(out.notes), tuple(out.warnings))

    def support(self, option: str | None) -> Mapping[str, Support]:
        return SUPPORT_RAW if self._kind(option)[1] else SUPPORT

    def empty_request(self, option: str | None) -> Any:
        kind, raw = self._kind(option)
        return RRFilter({}, exact=False, kind=kind, raw=raw)

    def examples(self, option: str | None) -> tuple[str, ...]:
        kind, _ = self._kind(option)
        return tuple(q for q, k in EXAMPLES if k == kind)

    def plan_examples(self, option: str | None) -> tuple[str, ...]:
        return PLAN_EXAMPLES.get("runs-raw" if self._kind(option)[1] else "runs", ()) if self._kind(option)[0] == "runs" else ()

    def traps(self, option: str | None) -> str:
        return TRAPS["runs-raw" if self._kind(option)[1] else "runs"]


register(RunRegistryTarget())
