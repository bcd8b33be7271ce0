"""Run Registry filters and listings against the answers recorded from the real service
(``tests/data/conformance/``, README there): every record of ``runregistry/filters.jsonl`` and ``traps.jsonl``
through the emulator and the fake server, the exactness claims of today's ``to_rr``, and the listing answers of
``runregistry/responses.jsonl`` (``/runs_filtered_ordered``, ``/datasets_filtered_ordered``,
``/get_all_dataset_names_of_run/N``) from the fake.

Data: the corpus was recorded from cms-DQM/runregistry at 3794426 and runregistry 3.1.2 (see its README).
"""

from __future__ import annotations

import copy
import functools
import math
import re
import warnings
from typing import Any

import pytest
from conformance import FILTERS, RESPONSES, TRAPS, ask, is_listing
from conformance import RR as CORPUS
from conformance import snapshot as corpus_snapshot
from hypothesis import HealthCheck, given, settings
from runregistry.utils import transform_to_rr_dataset_filter, transform_to_rr_run_filter

from dqquery import QueryWarning, Snapshot, to_jsonlogic, to_rr
from dqquery.catalog import FIELDS, RR_STORED_OMS_LUMISECTION_NAMES, not_stored_by_rr
from dqquery.emulate.runregistry import OMS_STORED_KEYS, RRBackendError, select_datasets, select_runs
from dqquery.fetch import fetch_snapshot
from dqquery.sources import RunRegistryClient
from dqquery.strategies_snapshot import snapshots
from dqquery.testing import run_registry
from dqquery.testing.fake_rr import FakeRunRegistry, SnapshotData

LISTINGS = [r for r in RESPONSES if is_listing(r)]


@functools.cache
def snapshot_data(name: str) -> SnapshotData:
    return SnapshotData(corpus_snapshot(name))


@functools.cache
def fake(name: str) -> FakeRunRegistry:
    return FakeRunRegistry(snapshot_data(name))


@functools.cache
def rows(name: str, kind: str) -> list[dict[str, Any]]:
    data = snapshot_data(name)
    return data.run_rows() if kind == "runs" else data.dataset_rows()


def backend_filter(record: dict[str, Any]) -> dict[str, Any]:
    """What reached the backend: the filter as is, or after the real client's transform (3.1.2)."""
    sent = copy.deepcopy(record["filter"])
    if record["format"] == "user":
        transform = transform_to_rr_run_filter if record["kind"] == "runs" else transform_to_rr_dataset_filter
        sent = transform(sent)
    return sent


def keys(kind: str, selected: list[dict[str, Any]]) -> list[Any]:
    if kind == "runs":
        return sorted(r["run_number"] for r in selected)
    return sorted([d["run_number"], d["name"]] for d in selected)


def emulated(record: dict[str, Any]) -> Any:
    """The emulator's answer in the record's ``real`` form (``{"error": 500}`` for a backend error)."""
    select = select_runs if record["kind"] == "runs" else select_datasets
    try:
        return keys(record["kind"], select(backend_filter(record), rows(record["snapshot"], record["kind"])))
    except RRBackendError as err:
        return {"error": err.status}


def served(record: dict[str, Any], page_size: int = 100) -> Any:
    """The fake server's answer over every page, in the record's ``real`` form."""
    app, found, page = fake(record["snapshot"]), [], 0
    while True:
        body = {"page": page, "filter": backend_filter(record), "page_size": page_size, "sortings": []}
        status, answer = ask(app, "POST", f"/{record['kind']}_filtered_ordered", body)
        if status != 200:
            assert set(answer) == {"err"}
            return {"error": status}
        found += answer[record["kind"]]
        page += 1
        if page >= answer["pages"]:
            return keys(record["kind"], found)


def expected(record: dict[str, Any]) -> Any:
    real = record["real"]
    return {"error": real["error"]} if isinstance(real, dict) else real


# ------------------------------------------------------------------------------------------ filters and traps


def test_the_corpus_is_complete() -> None:
    assert len(FILTERS) == 805 and len(TRAPS) == 30
    assert sum(isinstance(t["real"], dict) for t in TRAPS) == 5
    assert {r["format"] for r in FILTERS} == {"raw", "user"}


@pytest.mark.parametrize("record", FILTERS + TRAPS, ids=lambda r: f"{r['snapshot']}-{r['kind']}-{r['format']}")
def test_emulator_and_fake_server_give_the_recorded_answer(record: dict[str, Any]) -> None:
    assert emulated(record) == expected(record)
    assert served(record) == expected(record)


@pytest.mark.parametrize("record", [t for t in TRAPS if not isinstance(t["real"], dict)][:6], ids=str)
def test_fake_server_pages_small(record: dict[str, Any]) -> None:
    assert served(record, page_size=3) == expected(record)


def test_trap_10_returns_runs_whose_summary_lacks_the_status() -> None:
    """RR's summary of 315157 has tracker-strip but no BAD count: `BAD = null` returns it (D1)."""
    (trap,) = [t for t in TRAPS if t["filter"] == {"triplet_summary.tracker-strip.BAD": {"=": None}}]
    assert 315157 in trap["real"] and emulated(trap) == trap["real"]


def _today(record: dict[str, Any]) -> Any:
    return to_rr(record["query"], kind=record["kind"], raw=record["format"] == "raw")


def _meaning(record: dict[str, Any]) -> list[Any]:
    return sorted(record["meaning"])


@pytest.mark.parametrize("record", FILTERS, ids=lambda r: f"{r['snapshot']}-{r['kind']}-{r['format']}")
def test_exact_means_equal_to_the_real_answer_and_a_superset_contains_it(record: dict[str, Any]) -> None:
    """Today's ``to_rr`` of the record's query: ``exact`` holds on the recorded real answer, a superset contains
    the meaning. When today's filter differs from the recorded one, the emulator (checked above against every
    record) answers for it."""
    out = _today(record)
    sent = {**record, "filter": dict(out)}
    real = record["real"] if dict(out) == record["filter"] else emulated(sent)
    meaning = _meaning(record)
    assert all(m in real for m in meaning)
    if out.exact:
        assert real == meaning, f"{record['query']!r} is exact but RR answers {real} for {meaning}"
    else:
        assert out.notes


def test_attribute_only_filters_are_not_exact_and_say_why() -> None:
    """D2: RR returns runs without any lumisection having both RR and OMS data for attribute-only filters."""
    for query, kind in (("energy > 6000", "runs"), ('class == "Collisions18"', "runs"), ('dataset != "online"', "datasets")):
        out = to_rr(query, kind=kind, raw=True)
        assert not out.exact
        assert any("both RR and OMS data" in note for note in out.notes)
    assert to_rr("energy > 6000 and dt-dt == GOOD", raw=True).exact


def test_every_recorded_exact_claim_counts() -> None:
    """The exactness test above is not vacuous: both kinds of claim occur, and real answers differ from meaning."""
    claims = [_today(r).exact for r in FILTERS]
    assert claims.count(True) > 100 and claims.count(False) > 100
    assert sum(r["real"] != _meaning(r) for r in FILTERS) > 100


# ------------------------------------------------------------------------------------------ listings


def _without_version(value: Any) -> Any:
    """README 'How a test should use it', item 4: ``version`` counts the writes of the load."""
    if isinstance(value, dict):
        return {k: _without_version(v) for k, v in value.items() if k != "version"}
    if isinstance(value, list):
        return [_without_version(v) for v in value]
    return value


def test_the_listing_records_cover_every_path() -> None:
    paths = {r["path"].rsplit("/", 1)[0] if "names" in r["path"] else r["path"] for r in LISTINGS}
    assert paths == {"/runs_filtered_ordered", "/datasets_filtered_ordered", "/get_all_dataset_names_of_run"}
    assert all(r["nondeterministic"] is None for r in LISTINGS)
    assert len(LISTINGS) == 15 + 16 + 33 + 3 * (9 + 14 + 9)


@pytest.mark.parametrize("record", LISTINGS, ids=lambda r: f"{r['snapshot']}-{r['path']}")
def test_fake_listings_answer_as_rr(record: dict[str, Any]) -> None:
    status, answer = ask(fake(record["snapshot"]), record["method"], record["path"], record["body"])
    assert status == record["status"]
    if status == 500:
        assert set(answer) == {"err"}
        return
    assert _without_version(answer) == _without_version(record["response"])


def test_listing_counts_and_pages() -> None:
    for record in LISTINGS:
        if record["path"].endswith("_filtered_ordered") and record["status"] == 200:
            body, response = record["body"], record["response"]
            assert response["pages"] == math.ceil(response["count"] / body["page_size"])


# ------------------------------------------------------------------------------------------ R3: stored OMS names


def test_the_catalog_keeps_rrs_list_of_stored_oms_names() -> None:
    """The 38 names of README R3 (plus the luminosity), read from the README itself."""
    readme = (CORPUS.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("**R3.", 1)[1].split("* Any other name", 1)[0]
    listed = re.findall(r"`([a-z0-9_]+)`", section.split("these 38 names:", 1)[1])
    assert len(listed) == 38
    assert set(RR_STORED_OMS_LUMISECTION_NAMES) == {*listed, "recorded", "delivered"}
    assert set(OMS_STORED_KEYS) == set(RR_STORED_OMS_LUMISECTION_NAMES)
    unstored = {row.name for row in FIELDS if not_stored_by_rr(row.path)}
    assert {"beams_stable", "beam_present", "gem_ready"} <= unstored
    assert all("never stored by Run Registry" in row.doc for row in FIELDS if not_stored_by_rr(row.path))


@pytest.mark.parametrize("query", ["beams_stable", "gem_ready is null or bpix_ready", "not beam_present"])
def test_portal_rules_on_unstored_names_warn(query: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        to_jsonlogic(query)
    assert [w for w in caught if issubclass(w.category, QueryWarning) and "Run Registry never stores" in str(w.message)]


def test_stored_names_do_not_warn() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        to_jsonlogic("bpix_ready and beam1_stable and recorded > 0")
    assert not [w for w in caught if issubclass(w.category, QueryWarning)], [str(w.message) for w in caught]


def test_fetching_from_rr_warns_on_unstored_names(serve) -> None:
    server = serve(run_registry(corpus_snapshot("seed")))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fetch_snapshot("run_number == 315100 and beams_stable", rr=RunRegistryClient(server.url))
    assert [w for w in caught if issubclass(w.category, QueryWarning) and "'beams_stable'" in str(w.message)]


def _joined(snapshot: Snapshot, run: int, name: str) -> set[int]:
    """Lumisections where the dataset has an RR range and an OMS range of its own, from the snapshot file."""
    entry = snapshot.to_dict()["lumisections"].get(str(run), {}).get(name) or {}
    covered = lambda side: {ls for r in entry.get(side) or [] for ls in range(r["start"], r["end"] + 1)}
    return covered("rr") & covered("oms")


def test_recorded_dataset_rows_show_joined_lumisections_by_ls_duration() -> None:
    """What the docs promise a user reading a listing: ``dcs_summary.ls_duration`` exists exactly when the dataset
    has a lumisection with both RR and OMS data, and is then the last such lumisection."""
    seen = 0
    for record in LISTINGS:
        if record["path"] != "/datasets_filtered_ordered" or record["status"] != 200:
            continue
        snapshot = corpus_snapshot(record["snapshot"])
        for row in record["response"]["datasets"]:
            joined = _joined(snapshot, row["run_number"], row["name"])
            duration = row["DatasetTripletCache"]["dcs_summary"].get("ls_duration")
            assert duration == ({"TRUE": max(joined)} if joined else None)
            seen += 1
    assert seen > 100


# ------------------------------------------------------------------------------------------ summaries per lumisection


def _per_lumisection_cache(snapshot: Snapshot, run: int, name: str) -> dict[str, Any]:
    """RR's cache computation written out per lumisection (an independent model of what the fake counts per
    range): join the dataset's RR lumisections with its own OMS lumisections (online's values underneath for
    another dataset, the luminosity block applied), then walk lumisections 1..last joined one."""
    data = snapshot.to_dict()["lumisections"]

    def expand(entry: dict[str, Any], side: str) -> dict[int, dict[str, Any]]:
        out = {}
        for r in entry.get(side) or []:
            for ls in range(r["start"], r["end"] + 1):
                out[ls] = {k: v for k, v in r.items() if k not in ("start", "end")}
        if side == "oms" and entry.get("luminosity"):
            block = entry["luminosity"]
            for key in ("recorded", "delivered"):
                for i, value in enumerate(block.get(key) or []):
                    row = out.get(block["start"] + i)
                    if row is not None:
                        row.pop(key, None) if value is None else row.__setitem__(key, value)
        return out

    entry = data.get(str(run), {}).get(name) or {}
    rr, oms = expand(entry, "rr"), expand(entry, "oms")
    if name != "online":
        online = expand(data.get(str(run), {}).get("online") or {}, "oms")
        oms = {ls: {**online.get(ls, {}), **row} for ls, row in oms.items()}
    oms = {ls: {k: v for k, v in row.items() if k in RR_STORED_OMS_LUMISECTION_NAMES} for ls, row in oms.items()}
    joined = sorted(set(rr) & set(oms))
    if not joined:
        return {"triplet_summary": {}, "dcs_summary": {}}
    flags = list(dict.fromkeys(f for ls in joined for f in rr[ls]))
    names = list(dict.fromkeys(n for ls in joined for n in oms[ls]))
    triplets: dict[str, dict[str, Any]] = {f: {"EMPTY": 0, "comments": [], "causes": []} for f in flags}
    dcs: dict[str, dict[str, int]] = {n: {"TRUE": 0, "FALSE": 0, "NULL": 0, "EMPTY": 0} for n in names}
    for ls in range(1, joined[-1] + 1):
        for f in flags:
            triplet = rr[ls].get(f) if ls in joined else None
            if triplet is None:
                triplets[f]["EMPTY"] += 1
            else:
                status = "null" if triplet.get("status") is None else triplet["status"]
                triplets[f][status] = triplets[f].get(status, 0) + 1
                for word, bucket in (("comment", "comments"), ("cause", "causes")):
                    if triplet.get(word) and triplet[word] not in triplets[f][bucket]:
                        triplets[f][bucket].append(triplet[word])
        for n in names:
            if ls not in joined or n not in oms[ls]:
                dcs[n]["EMPTY"] += 1
            elif oms[ls][n] is None or isinstance(oms[ls][n], bool):  # a number or a text counts nowhere
                dcs[n]["NULL" if oms[ls][n] is None else ("TRUE" if oms[ls][n] else "FALSE")] += 1
    return {"triplet_summary": triplets, "dcs_summary": {**dcs, "ls_duration": {"TRUE": joined[-1]}}}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(snapshot=snapshots(max_runs=4))
def test_range_summaries_equal_the_per_lumisection_count(snapshot: Snapshot) -> None:
    data = SnapshotData(snapshot)
    for ds in data.datasets:
        assert data.triplet_cache(ds["run_number"], ds["name"]) == _per_lumisection_cache(snapshot, ds["run_number"], ds["name"])


@pytest.mark.parametrize("name", ["seed", "hyp_0", "hyp_1", "hyp_2"])
def test_per_lumisection_model_matches_the_recorded_summaries(name: str) -> None:
    """The independent model above is itself right: it gives RR's recorded summaries."""
    snapshot = corpus_snapshot(name)
    checked = 0
    for record in LISTINGS:
        if record["snapshot"] == name and record["path"] == "/datasets_filtered_ordered" and record["status"] == 200:
            for row in record["response"]["datasets"]:
                assert _per_lumisection_cache(snapshot, row["run_number"], row["name"]) == row["DatasetTripletCache"]
                checked += 1
    assert checked
