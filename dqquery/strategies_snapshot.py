"""Hypothesis strategy for small, realistic :class:`~dqquery.snapshot.Snapshot` objects.

``snapshots()`` draws a few runs, each with a few datasets (``online`` and offline names that exercise
``SIMILAR TO`` patterns), RR and OMS range lists with RR-like structure and the awkward cases of real data:
missing keys, ``null`` statuses and bits, lumisections with only RR or only OMS data (holes and shifted
coverage), OMS ranges carrying ``recorded``/``delivered``, optional per-lumisection luminosity blocks and
lumisection entries without a dataset object. RR ranges without flags (RR events without flags) and offline
datasets whose own OMS rows lack keys online has (read through online's values, as RR's portal does) are
drawn on purpose.

Decisions:
* Values have the types the catalog declares (numbers for numeric OMS attributes, booleans or ``null`` for
  bits): type noise is not what these snapshots test; it is covered by the one-row semantics tests.
* RR and OMS ranges are drawn independently, so lumisections with only RR or only OMS data are common, and
  one (run, dataset) in four has one side empty: Run Registry's summaries and portal count only lumisections
  with both (conformance corpus D1/D2), and the property tests must meet runs without any.
* :data:`SNAPSHOT_FIELDS` lists the query fields the generated data populates, for
  ``dqquery.strategies.queries(fields=SNAPSHOT_FIELDS)``.
"""

from __future__ import annotations

from typing import Any

try:
    from hypothesis import strategies as st
except ImportError as err:  # pragma: no cover - depends on the installation
    raise ImportError('dqquery.strategies_snapshot needs hypothesis: pip install "dqquery[strategies]"') from err

from .snapshot import ONLINE, Snapshot

__all__ = ["DATASET_NAMES", "OMS_BITS", "RR_FLAGS", "SNAPSHOT_FIELDS", "snapshots"]

DATASET_NAMES: tuple[str, ...] = (
    ONLINE,
    "/PromptReco/Collisions2018A/DQM",
    "/PromptReco/Collisions2018B/DQM",
    "/ReReco/Run2018A_UL2019/DQM",
)
RR_FLAGS: tuple[str, ...] = ("dt-dt", "csc-csc", "tracker-strip", "tracker-pixel", "hlt-hlt")
OMS_BITS: tuple[str, ...] = ("cms_active", "bpix_ready", "beam1_stable", "beam2_stable")
RR_STATUSES: tuple[str | None, ...] = ("GOOD", "GOOD", "GOOD", "BAD", "STANDBY", "EXCLUDED", "NOTSET", "EMPTY", None)

SNAPSHOT_FIELDS: tuple[str, ...] = (
    "run.run_number",
    "run.oms.energy",
    "run.oms.b_field",
    "run.oms.injection_scheme",
    "run.oms.hlt_key",
    "run.oms.fill_number",
    "run.oms.stable_beam",
    "run.oms.start_time",
    "run.oms.components",
    "run.rr.class",
    "run.rr.significant",
    "dataset.name",
    "dataset.global_state",
    "dataset.tracker_state",
    "lumisection.lumisection_number",
    *(f"lumisection.rr.{f}" for f in RR_FLAGS),
    *(f"lumisection.oms.{b}" for b in OMS_BITS),
    "lumisection.oms.recorded",
)

_MISSING = object()


def _maybe(draw: Any, values: st.SearchStrategy[Any]) -> Any:
    """A value (5 draws in 7), ``None`` (1 in 7) or :data:`_MISSING`, the key absent (1 in 7)."""
    kind = draw(st.sampled_from(["value"] * 5 + ["none", "missing"]))
    if kind == "none":
        return None
    if kind == "missing":
        return _MISSING
    return draw(values)


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not _MISSING:
        target[key] = value


@st.composite
def _ranges(draw: Any, last: int) -> list[tuple[int, int]]:
    """Sorted non-overlapping ranges inside ``[1, last]``, with occasional holes and a shifted start/end."""
    first = draw(st.integers(1, min(last, 4)))
    end = draw(st.integers(max(first, last - 4), last))
    cuts = draw(st.lists(st.integers(first + 1, end), max_size=5, unique=True)) if end > first else []
    bounds = [first, *sorted(cuts), end + 1]
    pieces = [(a, b - 1) for a, b in zip(bounds, bounds[1:])]
    keep = draw(st.lists(st.booleans(), min_size=len(pieces), max_size=len(pieces)))
    kept = [p for p, k in zip(pieces, keep) if k or len(pieces) == 1]
    return kept or pieces[:1]


@st.composite
def _rr_range(draw: Any, start: int, end: int) -> dict[str, Any]:
    rng: dict[str, Any] = {}
    for flag in draw(st.lists(st.sampled_from(RR_FLAGS), unique=True, max_size=len(RR_FLAGS))):
        status = draw(st.sampled_from(RR_STATUSES))
        rng[flag] = {"status": status, "comment": "", "cause": ""}
    rng["start"], rng["end"] = start, end
    return rng


@st.composite
def _oms_range(draw: Any, start: int, end: int) -> dict[str, Any]:
    rng: dict[str, Any] = {}
    for bit in OMS_BITS:
        _put(rng, bit, _maybe(draw, st.sampled_from([True, True, False])))
    _put(rng, "recorded", _maybe(draw, st.sampled_from([0.0, 0.05, 0.1, 0.25, 1])))
    _put(rng, "delivered", _maybe(draw, st.sampled_from([0.06, 0.11, 0.3])))
    rng["start"], rng["end"] = start, end
    return rng


@st.composite
def _run(draw: Any, run_number: int) -> dict[str, Any]:
    oms: dict[str, Any] = {}
    _put(oms, "energy", _maybe(draw, st.sampled_from([6500.0, 6500, 6369.0, 450.0, 6800.0])))
    _put(oms, "b_field", _maybe(draw, st.sampled_from([3.8, 3.79, 3.69, 0.0, 3.7])))
    _put(oms, "injection_scheme", _maybe(draw, st.sampled_from(["25ns_2556b_2544_2215_2332_144bpi_20injV2", "50ns_1374b", "Single_12b_8_8_8", ""])))
    _put(oms, "hlt_key", _maybe(draw, st.sampled_from(["/cdaq/physics/Run2018/2e34/v3.6.1/HLT/V2", "/cdaq/special/WMass/v1/HLT/V3"])))
    _put(oms, "fill_number", _maybe(draw, st.integers(6500, 6505)))
    _put(oms, "stable_beam", _maybe(draw, st.booleans()))
    _put(oms, "start_time", _maybe(draw, st.sampled_from(["2018-05-01T10:00:00Z", "2018-09-30T23:59:59Z"])))
    _put(oms, "components", _maybe(draw, st.sampled_from([["DT", "CSC", "TRACKER"], ["DT"], []])))
    rr: dict[str, Any] = {}
    _put(rr, "class", _maybe(draw, st.sampled_from(["Collisions18", "Cosmics18", ""])))
    _put(rr, "significant", _maybe(draw, st.booleans()))
    return {"run_number": run_number, "oms_attributes": oms, "rr_attributes": rr, "version": 1, "deleted": False}


@st.composite
def snapshots(draw: Any, max_runs: int = 3, max_lumisections: int = 24, dataset_names: tuple[str, ...] = DATASET_NAMES) -> Snapshot:
    """A small valid snapshot (see the module docstring)."""
    numbers = draw(st.lists(st.integers(315250, 315262), min_size=1, max_size=max_runs, unique=True))
    runs, datasets = [], []
    lumisections: dict[str, dict[str, Any]] = {}
    for run_number in sorted(numbers):
        runs.append(draw(_run(run_number)))
        names = draw(st.lists(st.sampled_from(dataset_names), min_size=1, max_size=3, unique=True))
        per_dataset: dict[str, Any] = {}
        for name in names:
            if draw(st.integers(0, 4)) > 0:
                attrs: dict[str, Any] = {}
                _put(attrs, "global_state", _maybe(draw, st.sampled_from(["OPEN", "SIGNOFF", "COMPLETED"])))
                _put(attrs, "tracker_state", _maybe(draw, st.sampled_from(["OPEN", "COMPLETED"])))
                datasets.append({"run_number": run_number, "name": name, "dataset_attributes": attrs})
            if draw(st.integers(0, 5)) == 0:
                continue  # a dataset without lumisection data
            last = draw(st.integers(1, max_lumisections))
            rr = [draw(_rr_range(a, b)) for a, b in draw(_ranges(last))]
            oms = [draw(_oms_range(a, b)) for a, b in draw(_ranges(last))]
            one_side = draw(st.integers(0, 7))
            if one_side == 0:  # OMS data only (a non-significant run): no lumisection RR's summaries count
                rr = []
            elif one_side == 1:  # RR data only
                oms = []
            if name != ONLINE and draw(st.integers(0, 2)) == 0:  # an offline dataset whose own OMS rows lack keys
                kept = set(draw(st.lists(st.sampled_from([*OMS_BITS, "recorded", "delivered"]), unique=True, max_size=2)))
                oms = [{k: v for k, v in o.items() if k in kept or k in ("start", "end")} for o in oms]
            entry: dict[str, Any] = {"rr": rr, "oms": oms}
            if draw(st.integers(0, 3)) == 0:
                start = draw(st.integers(1, last))
                n = draw(st.integers(0, last - start + 1))
                values = st.one_of(st.none(), st.sampled_from([0.0, 0.02, 0.125, 0.3]))
                entry["luminosity"] = {"start": start, "recorded": draw(st.lists(values, min_size=n, max_size=n))}
            per_dataset[name] = entry
        if per_dataset:
            lumisections[str(run_number)] = per_dataset
    return Snapshot.from_dict({"runs": runs, "datasets": datasets, "lumisections": lumisections})
