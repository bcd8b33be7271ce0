"""The field catalog: every field users filter on, its type, its level and where each service keeps it.

Decisions:
* This module is data. Lists come from the Run Registry client's attribute lists (runregistry 3.1.2),
  RR's OMS lumisection whitelist, the OMS run/lumisection attribute lists and the DIALS filter sets
  (see ``docs/language.md`` for the table). Adding a field is adding a row, never a code branch.
* A field's ``path`` is the qualified name and also the variable RR's JSON portal evaluates
  (``run.oms.energy``, ``lumisection.rr.tracker-strip``, ``dataset.name``). Its ``name`` is the short form
  users type and the printer writes.
* Qualified names under :data:`OPEN_PREFIXES` are accepted even when not listed (OMS grows attributes
  every year). Their type is ``status`` under ``lumisection.rr.`` (every RR lumisection flag is a status)
  and ``any`` elsewhere.
* Levels: ``run`` (one value per run), ``dataset`` (per dataset of a run), ``lumisection``.
* OMS lumisection fields Run Registry never stores (``beams_stable``, ``beam_present``, ``gem_ready``,
  ``pileup``) stay in the catalog (OMS serves them), with a note in their description; RR-backed entry points
  (``to_jsonlogic``, ``fetch_snapshot``) warn with :func:`rr_unstored_warning` instead of refusing, since a query
  may ask ``beams_stable is null`` on purpose.
* Units are data too (:data:`UNITS`): a physical field carries the unit its values are in, and every text
  output that prints such a value names it. Luminosity is in ``/pb`` everywhere (:data:`LUMINOSITY_UNIT`):
  OMS declares ``pb^{-1}`` for run ``recorded_lumi``/``delivered_lumi`` (``meta.row.<attr>.units``), Run
  Registry stores OMS's per-lumisection values unchanged, and ``/pb`` is what CMS quotes for per-run recorded
  luminosity. Only units stated by the services' metadata or by CMS convention are listed; a field without a
  known unit has none (never a guess).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

FieldType = Literal["int", "float", "string", "bool", "datetime", "status", "string-list", "any"]
Level = Literal["run", "dataset", "lumisection"]

STATUSES: tuple[str, ...] = ("GOOD", "BAD", "STANDBY", "EXCLUDED", "NOTSET", "EMPTY")
"""Run Registry lumisection statuses accepted in queries (``NO VALUE FOUND`` may be quoted as a string)."""

LUMINOSITY_UNIT = "/pb"
"""The one luminosity unit of dqquery's outputs (inverse picobarn)."""

UNITS: dict[str, str] = {
    "run.oms.energy": "GeV",
    "run.oms.b_field": "T",
    "run.oms.recorded_lumi": LUMINOSITY_UNIT,
    "run.oms.delivered_lumi": LUMINOSITY_UNIT,
    "run.oms.init_lumi": "1e30/cm2/s",
    "run.oms.end_lumi": "1e30/cm2/s",
    "run.oms.l1_rate": "Hz",
    "run.oms.hlt_physics_rate": "Hz",
    "run.oms.duration": "s",
    "run.oms.crossing_angle_start": "urad",
    "run.oms.crossing_angle_stop": "urad",
    "run.oms.beta_star_start": "cm",
    "run.oms.beta_star_stop": "cm",
    "lumisection.oms.recorded": LUMINOSITY_UNIT,
    "lumisection.oms.delivered": LUMINOSITY_UNIT,
    "dials.file_size": "bytes",
}
"""Unit of each physical field, by qualified path (OMS metadata units; see the module docstring)."""

OPEN_PREFIXES: tuple[str, ...] = ("run.oms.", "run.rr.", "lumisection.oms.", "lumisection.rr.", "dataset.")


@dataclass(frozen=True)
class FieldInfo:
    """One catalog row."""

    name: str
    path: str
    type: FieldType
    level: Level
    aliases: tuple[str, ...] = ()
    doc: str = ""
    listed: bool = True  # False for qualified names accepted through an open prefix

    @property
    def unit(self) -> str:
        """The unit of the field's values (``GeV``, ``T``, ``/pb``...), ``""`` when it has none or none is known."""
        return UNITS.get(self.path, "")

    @property
    def namespace(self) -> str:
        """``run.oms``, ``run.rr``, ``run``, ``dataset``, ``lumisection.rr``, ``lumisection.oms``, ``lumisection`` or ``dials``."""
        head, _, rest = self.path.rpartition(".")
        return head

    @property
    def attribute(self) -> str:
        """The last component of the path (the service's own attribute name)."""
        return self.path.rpartition(".")[2]


# ------------------------------------------------------------------------------------------------ tables

_RUN_OMS_FLOAT = (
    "energy b_field l1_rate init_lumi end_lumi recorded_lumi delivered_lumi hlt_physics_rate hlt_physics_size "
    "hlt_physics_throughput crossing_angle_start crossing_angle_stop beta_star_start beta_star_stop "
    "beamactive_total_deadtime"
).split()
_RUN_OMS_INT = (
    "duration fill_number ls_duration l1_triggers_counter hlt_physics_counter initial_prescale_index "
    "last_lumisection_number"
).split()
_RUN_OMS_STRING = (
    "l1_key hlt_key l1_menu sequence clock_type l1_hlt_mode trigger_mode cmssw_version l1_key_stripped "
    "fill_type_party1 fill_type_party2 fill_type_runtime l1_hlt_mode_stripped injection_scheme era"
).split()
_RUN_OMS_DATETIME = "start_time end_time last_update".split()
_RUN_OMS_BOOL = (
    "stable_beam tier0_transfer beams_present_and_stable hf_included dt_included es_included csc_included "
    "cow_included daq_included dcs_included dqm_included gem_included ltc_included rpc_included trg_included "
    "hcal_included scal_included efed_included ecal_included lumi_included tcds_included totem_included "
    "pixel_included ctpps_included hflumi_included castor_included tracker_included dt_efed_included "
    "rpc_efed_included trg_efed_included pixel_up_included csc_efed_included ctpps_tot_included "
    "ecal_efed_included hcal_efed_included tracker_efed_included"
).split()
_RUN_OMS_LIST = "components components_out".split()

_RUN_RR = {
    "class": "string",
    "state": "string",
    "stop_reason": "string",
    "significant": "bool",
    "short_run": "bool",
    "run_needs_to_be_updated_manually": "bool",
}

# RR lumisection flags (<workspace>-<column>): the online columns the client knows for runs, the offline
# ones of the dataset workspaces, and columns RR has gained since (gem-gem, dc-lowlumi).
RR_LUMISECTION_FLAGS: tuple[str, ...] = tuple(
    sorted(
        set(
            (
                "castor-castor cms-cms csc-csc ctpps-ctpps dt-dt ecal-ecal ecal-es hcal-hcal hlt-hlt l1t-l1t "
                "l1t-l1tcalo l1t-l1tmu lumi-lumi rpc-rpc tracker-pixel tracker-strip tracker-track btag-btag "
                "csc-mep csc-mem csc-triggerpe csc-csctf csc-ddus csc-efficiency csc-gasgains csc-integrity "
                "csc-timing csc-strips csc-resolution csc-segments csc-pedestals csc-occupancy csc-tf "
                "ctpps-rp56_220 ctpps-rp56_cyl ctpps-rp56_210 ctpps-rp45_cyl ctpps-rp45_220 ctpps-rp45_210 "
                "ctpps-trk45_210 ctpps-trk56_210 "
                "ecal-tpg ecal-timing ecal-preshower ecal-noise ecal-laser ecal-esp ecal-esm ecal-eep ecal-eem "
                "ecal-ebp ecal-ebm ecal-collisions ecal-analysis egamma-egamma egamma-es hcal-hb hcal-ho12ls "
                "hcal-ho0ls hcal-hfls hcal-hels hcal-hbls hcal-ho12 hcal-ho0 hcal-hf hcal-he hcal-hb_ls "
                "hcal-he_ls hcal-hf_ls hcal-ho12_ls hcal-ho0_ls hlt-muons hlt-electrons hlt-photons hlt-jetmet "
                "hlt-tau hlt-bjets hlt-technical hlt-global hlt-hlt_global jetmet-jetmet l1t-bptx_tech "
                "l1t-bcs_tech l1t-hf_tech l1t-rpc_tech l1t-software l1t-muon l1t-muon_dt l1t-muon_rpc "
                "l1t-muon_csc l1t-e_gamma l1t-jet l1t-energy_sums l1t-hf_rings rpc-elog rpc-lv rpc-hv rpc-feb "
                "rpc-noise rpc-strip tau-tau muon-muon cms-infrastructure gem-gem dc-lowlumi"
            ).split()
        )
    )
)

# OMS per-lumisection bits (RR's stored whitelist plus OMS-only ones). All bool or null.
OMS_LUMISECTION_BITS: tuple[str, ...] = tuple(
    (
        "cms_active physics_flag beams_stable beam_present beam1_present beam2_present beam1_stable beam2_stable "
        "bpix_ready fpix_ready tibtid_ready tob_ready tecp_ready tecm_ready ebp_ready ebm_ready eep_ready "
        "eem_ready esp_ready esm_ready hbhea_ready hbheb_ready hbhec_ready hf_ready ho_ready dtp_ready "
        "dtm_ready dt0_ready cscp_ready cscm_ready rpc_ready gem_ready gemp_ready gemm_ready castor_ready "
        "zdc_ready rp_time_ready rp_sect_45_ready rp_sect_56_ready"
    ).split()
)
RR_STORED_OMS_LUMISECTION_NAMES: tuple[str, ...] = tuple(
    (
        "beam1_present beam1_stable beam2_present beam2_stable bpix_ready castor_ready cms_active cscm_ready "
        "cscp_ready dt0_ready dtm_ready dtp_ready ebm_ready ebp_ready eem_ready eep_ready esm_ready esp_ready "
        "fpix_ready gemm_ready gemp_ready hbhea_ready hbheb_ready hbhec_ready hf_ready ho_ready physics_flag "
        "prescale_index prescale_name rp_sect_45_ready rp_sect_56_ready rp_time_ready rpc_ready tecm_ready "
        "tecp_ready tibtid_ready tob_ready zdc_ready recorded delivered"
    ).split()
)
"""The OMS lumisection names Run Registry keeps when it writes OMS data (38 bits plus the luminosity); it drops
every other name (recorded from the real backend: README R3 of ``tests/data/conformance``)."""

_NOT_IN_RR_DOC = "; never stored by Run Registry: always missing in RR data (fetch, golden --rr, JSON portal)"

_LS_OMS_OTHER = {
    "recorded": ("float", "recorded luminosity of the lumisection (as RR stores it)"),
    "delivered": ("float", "delivered luminosity of the lumisection (as RR stores it)"),
    "prescale_index": ("int", "prescale column index"),
    "prescale_name": ("string", "prescale column name"),
    "pileup": ("float", "average pile-up"),
}

_DATASET = {
    "name": ("string", ("dataset", "dataset_name"), "dataset name, e.g. /PromptReco/Collisions2018A/DQM; 'online' for the online dataset"),
    "appeared_in": ("string-list", (), "where the dataset appeared: 'DBS', 'DQM GUI'"),
}
DATASET_STATE_ATTRIBUTES: tuple[str, ...] = tuple(
    (
        "global_state dt_state cms_state csc_state hlt_state l1t_state rpc_state tau_state btag_state ecal_state "
        "hcal_state lumi_state muon_state ctpps_state castor_state egamma_state jetmet_state tracker_state"
    ).split()
)

# DIALS-only fields (the DIALS filter sets); their level is what one row of that table describes.
_DIALS: dict[str, tuple[FieldType, Level, str]] = {
    "dataset_id": ("int", "dataset", "DIALS dataset id"),
    "file_id": ("int", "dataset", "DIALS file id"),
    "logical_file_name": ("string", "dataset", "DIALS file logical name (LFN)"),
    "file_size": ("int", "dataset", "DIALS file size in bytes (file-index min_size)"),
    "file_status": ("string", "dataset", "DIALS file-index processing status"),
    "me": ("string", "lumisection", "DIALS monitoring element name"),
    "me_id": ("int", "lumisection", "DIALS monitoring element id"),
    "dim": ("int", "lumisection", "DIALS monitoring element dimension (1 or 2)"),
    "entries": ("int", "lumisection", "DIALS histogram entries"),
    "model_id": ("int", "lumisection", "DIALS ML model id"),
    "model_name": ("string", "lumisection", "DIALS ML model file name"),
    "target_me": ("string", "lumisection", "DIALS ML model target monitoring element"),
    "model_active": ("bool", "lumisection", "DIALS ML model active flag"),
}


def _build() -> tuple[dict[str, FieldInfo], dict[str, FieldInfo]]:
    rows: list[FieldInfo] = []
    rows.append(FieldInfo("run_number", "run.run_number", "int", "run", ("run",), "run number"))
    rows.append(
        FieldInfo(
            "ls_number",
            "lumisection.lumisection_number",
            "int",
            "lumisection",
            ("lumisection_number", "lumisection"),
            "lumisection number (1-based)",
        )
    )
    for names, typ in (
        (_RUN_OMS_FLOAT, "float"),
        (_RUN_OMS_INT, "int"),
        (_RUN_OMS_STRING, "string"),
        (_RUN_OMS_DATETIME, "datetime"),
        (_RUN_OMS_BOOL, "bool"),
        (_RUN_OMS_LIST, "string-list"),
    ):
        for n in names:
            rows.append(FieldInfo(n, f"run.oms.{n}", typ, "run", (), "OMS run attribute"))  # type: ignore[arg-type]
    for n, typ in _RUN_RR.items():
        rows.append(FieldInfo(n, f"run.rr.{n}", typ, "run", (), "Run Registry run attribute"))  # type: ignore[arg-type]
    for n in RR_LUMISECTION_FLAGS:
        rows.append(FieldInfo(n, f"lumisection.rr.{n}", "status", "lumisection", (), "Run Registry lumisection flag"))
    unstored = lambda n: "" if n in RR_STORED_OMS_LUMISECTION_NAMES else _NOT_IN_RR_DOC
    for n in OMS_LUMISECTION_BITS:
        rows.append(FieldInfo(n, f"lumisection.oms.{n}", "bool", "lumisection", (), "OMS per-lumisection DCS/beam bit" + unstored(n)))
    for n, (typ, doc) in _LS_OMS_OTHER.items():
        rows.append(FieldInfo(n, f"lumisection.oms.{n}", typ, "lumisection", (), doc + unstored(n)))  # type: ignore[arg-type]
    for n, (typ, aliases, doc) in _DATASET.items():
        short = aliases[0] if aliases else n
        rows.append(FieldInfo(short, f"dataset.{n}", typ, "dataset", aliases[1:], doc))  # type: ignore[arg-type]
    for n in DATASET_STATE_ATTRIBUTES:
        rows.append(FieldInfo(n, f"dataset.{n}", "string", "dataset", (), "dataset workspace state: OPEN, SIGNOFF, COMPLETED"))
    for n, (typ, level, doc) in _DIALS.items():
        rows.append(FieldInfo(n, f"dials.{n}", typ, level, (), doc))

    by_name: dict[str, FieldInfo] = {}
    by_path: dict[str, FieldInfo] = {}
    for row in rows:
        for key in (row.name, *row.aliases):
            if key in by_name:
                raise AssertionError(f"catalog: duplicate short name {key!r}")
            by_name[key] = row
        if row.path in by_path:
            raise AssertionError(f"catalog: duplicate path {row.path!r}")
        by_path[row.path] = row
    return by_name, by_path


BY_NAME, BY_PATH = _build()
"""Short names (and aliases) -> row; qualified paths -> row."""

FIELDS: tuple[FieldInfo, ...] = tuple(sorted(BY_PATH.values(), key=lambda f: f.path))


def lookup(name: str) -> FieldInfo | None:
    """Resolve a short name, alias or qualified path; ``None`` if unknown.

    A qualified name under an open prefix that is not listed resolves to an unlisted row of type
    ``status`` (``lumisection.rr.``) or ``any``.
    """
    row = BY_NAME.get(name) or BY_PATH.get(name)
    if row is not None:
        return row
    for prefix in OPEN_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            rest = name[len(prefix) :]
            if prefix == "dataset." and "." in rest:
                return None
            if prefix != "dataset." and "." in rest:
                return None
            if prefix == "lumisection.rr.":
                return FieldInfo(name, name, "status", "lumisection", (), "Run Registry lumisection flag", listed=False)
            level: Level = "run" if prefix.startswith("run.") else ("dataset" if prefix == "dataset." else "lumisection")
            return FieldInfo(name, name, "any", level, (), "attribute not in the catalog", listed=False)
    return None


def not_stored_by_rr(path: str) -> bool:
    """Whether Run Registry never stores this lumisection OMS field (listed or not), so that on RR data it is
    always missing: a lumisection OMS name outside :data:`RR_STORED_OMS_LUMISECTION_NAMES`."""
    head, _, name = path.rpartition(".")
    return head == "lumisection.oms" and name not in RR_STORED_OMS_LUMISECTION_NAMES


def rr_unstored_warning(paths: Iterable[str]) -> str | None:
    """The warning for a query read on Run Registry data that uses fields RR never stores, or ``None``."""
    names = sorted({(lookup(p) or FieldInfo(p, p, "any", "lumisection")).name for p in paths if not_stored_by_rr(p)})
    if not names:
        return None
    listed = ", ".join(f"'{n}'" for n in names)
    return (
        f"Run Registry never stores {listed} (it keeps a fixed list of OMS lumisection names, see `dqquery fields`):"
        " on RR data the value is always missing, so a comparison on it is unknown and selects nothing"
    )


def suggest(name: str, n: int = 1) -> list[str]:
    """Closest known names to ``name`` (short names, aliases and qualified paths)."""
    pool = list(BY_NAME) + list(BY_PATH)
    if name.lower() != name and name.lower() in pool:  # RUN_NUMBER -> run_number
        return [name.lower()]
    short_hits = difflib.get_close_matches(name, pool, n=n, cutoff=0.6)
    if short_hits:
        return short_hits
    # Try the last component of a qualified name (run.oms.enrgy -> energy).
    tail = name.rpartition(".")[2]
    return difflib.get_close_matches(tail, list(BY_NAME), n=n, cutoff=0.6)


def near_listed(path: str) -> str | None:
    """A listed qualified path very close to an unlisted one under the same prefix (``run.oms.enrgy`` ->
    ``run.oms.energy``): probably a typo, since an unlisted name is accepted without question."""
    prefix = next((p for p in OPEN_PREFIXES if path.startswith(p)), None)
    if prefix is None:
        return None
    # Compared without the shared prefix, which would make every name look close to every other.
    tails = {p[len(prefix) :]: p for p in BY_PATH if p.startswith(prefix)}
    tail = path[len(prefix) :]
    hits = difflib.get_close_matches(tail, list(tails), n=1, cutoff=0.88) or difflib.get_close_matches(tail.lower(), list(tails), n=1, cutoff=0.999)
    return tails[hits[0]] if hits else None


def fields_markdown() -> str:
    """The whole docs/fields.md page, generated from the catalog (a test fails when the file is stale)."""
    lines = [
        "# Field catalog",
        "",
        "<!-- generated by `python -m dqquery.catalog > docs/fields.md`; do not edit by hand -->",
        "",
        "Every field dqquery knows, with its type, its level and its qualified name (which is also the json-logic",
        "variable Run Registry's JSON portal evaluates). Qualified names under `run.oms.`, `run.rr.`,",
        "`lumisection.oms.`, `lumisection.rr.` and `dataset.` are accepted even when not listed here.",
        "",
        "Run Registry stores only these OMS lumisection names: "
        + ", ".join(f"`{n}`" for n in RR_STORED_OMS_LUMISECTION_NAMES)
        + ". It drops every other name when it writes OMS data, so the fields marked *never stored by Run Registry*"
        " below are always missing in data read from RR (`dqquery fetch`, `golden --rr`, the JSON portal): a"
        " comparison on them is unknown and selects nothing, and `to_jsonlogic` and `fetch_snapshot` warn about"
        " them. OMS itself serves them (`to_oms`, `fetch_snapshot(..., oms=...)`).",
        "",
        f"Luminosity is in `{LUMINOSITY_UNIT}` (inverse picobarn) in every dqquery input and output.",
        "",
        "| name | qualified name | type | unit | level | also written | description |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in sorted(BY_PATH.values(), key=lambda r: ({"run": 0, "dataset": 1, "lumisection": 2}[r.level], r.path)):
        aliases = ", ".join(f"`{a}`" for a in row.aliases)
        unit = f"`{row.unit}`" if row.unit else ""
        lines.append(f"| `{row.name}` | `{row.path}` | {row.type} | {unit} | {row.level} | {aliases} | {row.doc} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover
    import sys

    sys.stdout.write(fields_markdown())
