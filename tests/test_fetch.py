"""End to end: fetch_snapshot from the fake RR (round trip, push-down, resume) and remote_golden."""

from __future__ import annotations

import json
import os
import warnings

import pytest
from hypothesis import HealthCheck, assume, given, settings

from dqquery import ast as A
from dqquery.catalog import lookup
from dqquery.errors import QueryError
from dqquery.evaluator import golden
from dqquery.fetch import fetch_snapshot, remote_golden, remote_golden_row, run_level_part
from dqquery.query import parse
from dqquery.snapshot import Snapshot
from dqquery.sources import FetchError, RetryPolicy, RunRegistryClient
from dqquery.strategies import queries
from dqquery.strategies_snapshot import SNAPSHOT_FIELDS, snapshots
from dqquery.targets.runregistry import to_rr
from dqquery.testing import FakeRunRegistry, Request, run_registry, sample_snapshot

SNAP = sample_snapshot(10, ls_per_run=25, seed=11)
OFFLINE = "/PromptReco/Collisions2018A/DQM"
QUERIES = [
    "energy > 6000 and dt-dt == GOOD",
    'class == "Collisions18" and tracker-strip == GOOD and cms_active and bpix_ready',
    "run_number in 315002..315007 and csc-csc in [GOOD, STANDBY]",
    'hlt_key like "%v1%" or dt-dt == BAD',
    "fill_number >= 7002 and not (tracker-strip == BAD) and fpix_ready is not null",
]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("dataset", ["online", OFFLINE])
def test_fetched_snapshot_gives_the_same_golden_json(serve, query, dataset):
    server = serve(run_registry(SNAP))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fetched = fetch_snapshot(query, dataset=dataset, rr=RunRegistryClient(server.url), workers=4)
    assert golden(query, fetched, dataset) == golden(query, SNAP, dataset)
    # only (run, dataset) pairs of the requested dataset were asked for
    asked = {r.json()["dataset_name"] for r in server.log.matching("/lumisections/")}
    assert asked == {dataset}


@pytest.mark.parametrize("dataset", ["online", OFFLINE])
def test_fetched_snapshot_keeps_the_luminosity_explain_needs(serve, dataset):
    from dqquery.explanation import explain

    query = "dt-dt == GOOD and bpix_ready and tracker-strip == GOOD"
    server = serve(run_registry(SNAP))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fetched = fetch_snapshot(query, dataset=dataset, rr=RunRegistryClient(server.url), workers=4)
    here, there = explain(query, fetched, dataset), explain(query, SNAP, dataset)
    assert there.total_recorded > 0
    assert here.total_recorded == pytest.approx(there.total_recorded)
    assert [c.inclusive_recorded for c in here.clauses] == pytest.approx([c.inclusive_recorded for c in there.clauses])


def test_alternatives_narrow_the_fetch_to_their_runs(serve):
    """An `or` of (run clause and lumisection clause): only the alternatives' runs are fetched, and the
    result equals the evaluation on the whole snapshot."""
    server = serve(run_registry(SNAP))
    runs = sorted(r.run_number for r in SNAP.runs)
    query = f"(run_number in {runs[0]}..{runs[1]} and dt-dt == GOOD) or (run_number == {runs[3]} and cms_active)"
    assert str(run_level_part(query)) == f"run_number in {runs[0]}..{runs[1]} or run_number == {runs[3]}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "fetching EVERY run" warning
        fetched = fetch_snapshot(query, rr=RunRegistryClient(server.url))
    asked = {r.json()["run_number"] for r in server.log.matching("/lumisections/")}
    assert asked == {runs[0], runs[1], runs[3]}
    assert golden(query, fetched, "online") == golden(query, SNAP, "online")
    assert str(run_level_part("not (dt-dt == GOOD or energy > 6000)")) == "energy <= 6000"
    assert run_level_part("dt-dt == GOOD or energy > 6000") is None  # one alternative has no run constraint


def test_run_level_clauses_are_pushed_down(serve):
    server = serve(run_registry(SNAP))
    query = "energy > 6000 and fill_number >= 7003 and dt-dt == GOOD"
    fetch_snapshot(query, rr=RunRegistryClient(server.url))
    sent = server.log.matching("runs_filtered_ordered")[0].json()["filter"]
    assert sent == dict(to_rr("energy > 6000 and fill_number >= 7003", kind="runs", raw=True))
    expected_runs = {r.run_number for r in SNAP.runs if r.oms_attributes["energy"] > 6000 and r.oms_attributes["fill_number"] >= 7003}
    asked = {r.json()["run_number"] for r in server.log.matching("/lumisections/")}
    assert asked == expected_runs
    assert str(run_level_part(query)) == "energy > 6000 and fill_number >= 7003"


def test_no_run_level_clause_warns_and_fetches_everything(serve):
    server = serve(run_registry(SNAP))
    with pytest.warns(UserWarning, match="EVERY run"):
        fetched = fetch_snapshot("dt-dt == GOOD", rr=RunRegistryClient(server.url))
    assert len(fetched.runs) == len(SNAP.runs)


def test_interrupted_fetch_resumes_without_repeating_completed_requests(serve):
    server = serve(run_registry(SNAP))
    client = RunRegistryClient(server.url, retry=RetryPolicy(attempts=2, backoff=0.001))
    server.faults.add("status", path="/lumisections/oms_lumisections", status=503, times=4)  # 2 units x 2 attempts
    query = "energy > 6000 and dt-dt == GOOD"
    with pytest.raises(FetchError) as info:
        fetch_snapshot(query, rr=client, workers=2)
    error = info.value
    n_failed = len(error.errors)  # 4 refused answers hit 1 or 2 units, depending on thread scheduling
    assert "resume_from" in str(error) and 1 <= n_failed <= 2
    assert error.partial["runs"] and len(error.partial["lumisections"]) > 0
    completed = {(r.path, r.body) for r in server.log if r.status == 200}
    n_before = len(server.log)
    snapshot = fetch_snapshot(query, rr=client, resume_from=error.resume)
    again = list(server.log)[n_before:]
    assert len(again) == n_failed and all(r.status == 200 and (r.path, r.body) not in completed for r in again)
    assert golden(query, snapshot, "online") == golden(query, SNAP, "online")


def test_remote_golden_matches_the_local_evaluator(serve, no_sleep):
    server = serve(run_registry(SNAP, portal_polls=3))
    client = RunRegistryClient(server.url, sleep=no_sleep)
    query = "energy > 6000 and dt-dt == GOOD and tracker-strip == GOOD and cms_active"
    remote = remote_golden(query, "online", rr=client)
    assert remote == golden(query, SNAP, "online") and remote.n_lumisections > 0
    assert no_sleep.waits == [2.0, 4.0, 8.0]  # polled with backoff
    row = remote_golden_row(query, OFFLINE, rr=client)
    assert set(row["generated_json_with_dataset_names"]) <= {f"{r.run_number}-{OFFLINE}" for r in SNAP.runs}


def _run_level_only(node) -> bool:
    return all((lookup(ref.path) is not None and lookup(ref.path).level == "run") for ref in A.fields_of(node))


def _as_rr_holds_it(app: FakeRunRegistry, snapshot: Snapshot) -> Snapshot:
    """The snapshot's online data as fetched through RR's lumisection endpoints (what fetch_snapshot returns)."""
    lumisections = {}
    for run in snapshot.runs:
        rr = app.LUMISECTION_ENDPOINTS["rr_lumisection_ranges"](app, run.run_number, "online")
        oms = [r for r in app.LUMISECTION_ENDPOINTS["oms_lumisection_ranges"](app, run.run_number, "online")
               if set(r) - {"start", "end"}]
        if rr or oms:
            lumisections[run.run_number] = {"online": {"rr": rr, "oms": oms}}
    return Snapshot.from_dict({"runs": [r.model_dump() for r in snapshot.runs],
                               "datasets": [d.model_dump() for d in snapshot.datasets], "lumisections": lumisections})


# Fields Run Registry filters can hold (lumisection OMS bits, lumisection numbers and dataset fields are refused
# by to_rr for runs, so generating them would only be filtered out).
RR_RUN_FIELDS = tuple(f for f in SNAPSHOT_FIELDS if f.startswith(("run.", "lumisection.rr.")))


@settings(max_examples=int(os.environ.get("DQQUERY_PROPERTY_EXAMPLES", 40)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])
@given(query=queries(fields=RR_RUN_FIELDS, max_leaves=4), snapshot=snapshots(dataset_names=("online", OFFLINE)))
def test_fake_rr_selection_contains_the_golden_runs(query, snapshot):
    try:
        backend_filter = to_rr(query, kind="runs", raw=True)
    except QueryError:
        assume(False)
        return
    assume("online" in snapshot.dataset_names())
    # The fake RR app answers the request body directly (the HTTP transport is tested elsewhere; a socket per
    # example would only slow the property down).
    app = FakeRunRegistry(snapshot)
    body = json.dumps({"page": 0, "page_size": 1000, "filter": backend_filter, "sortings": []}).encode()
    answer = app.handle(Request("POST", "/runs_filtered_ordered", [], {}, body, "http://127.0.0.1"))
    if answer.status == 500:  # the backend refuses the filter (a documented trap): not this property's concern
        assume(False)
    selected = {r["run_number"] for r in json.loads(answer.body)["runs"]}
    # Compare on the data as Run Registry holds and reports it: its lumisection API reads a flag missing in a
    # lumisection (or a gap lumisection) as EMPTY, where the raw snapshot has no value (see the report).
    held = _as_rr_holds_it(app, snapshot)
    golden_runs = set(golden(query, held, "online").runs)
    assert golden_runs <= selected
    if _run_level_only(query):
        with_data = set(golden(parse("run_number >= 1"), held, "online").runs)
        assert selected & with_data == golden_runs
