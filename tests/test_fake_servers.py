"""The fake RR, DIALS, OMS and SSO services: shapes, pagination, errors and auth as the references describe."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dqquery.emulate import runregistry as rr_emulator
from dqquery.strategies import snapshots
from dqquery.testing import FakeSSO, dials, oms, run_registry, sample_snapshot, sso
from dqquery.testing.fake_dials import decode_cursor, encode_cursor
from dqquery.testing.fake_rr import (
    SnapshotData,
    convert_array_of_list_to_array_of_ranges,
    expand_ranges,
    ranges_of_list,
    similar_to_regex,
)

SNAP = sample_snapshot(7, ls_per_run=25, seed=3)


def post(url: str, body: object) -> requests.Response:
    return requests.post(url, data=json.dumps(body), headers={"Content-Type": "application/json"}, timeout=10)


# ------------------------------------------------------------------------------------------------- RR


@pytest.mark.parametrize("page_size", [1, 3, 50])
def test_rr_pages_partition_the_emulator_selection(serve, page_size):
    server = serve(run_registry(SNAP))
    backend_filter = {"oms_attributes.energy": {">": 100}}
    first = post(server.url + "/runs_filtered_ordered", {"page": 0, "page_size": page_size, "filter": backend_filter, "sortings": []}).json()
    rows = list(first["runs"])
    for page in range(1, first["pages"]):
        rows += post(server.url + "/runs_filtered_ordered",
                     {"page": page, "page_size": page_size, "filter": backend_filter, "sortings": []}).json()["runs"]
    expected = rr_emulator.select_runs(backend_filter, SnapshotData(SNAP).run_rows())
    assert [r["run_number"] for r in rows] == [r["run_number"] for r in expected]
    assert first["count"] == len(expected) and first["pages"] == -(-len(expected) // page_size)
    assert rows == sorted(rows, key=lambda r: -r["run_number"])  # default order: run_number DESC
    assert all("triplet_summary" in r["DatasetTripletCache"] for r in rows)


def test_rr_sortings_and_datasets(serve):
    server = serve(run_registry(SNAP))
    body = {"page": 0, "page_size": 100, "filter": {}, "sortings": [["run_number", "ASC"]]}
    runs = post(server.url + "/runs_filtered_ordered", body).json()["runs"]
    assert [r["run_number"] for r in runs] == sorted(r.run_number for r in SNAP.runs)
    datasets = post(server.url + "/datasets_filtered_ordered", {**body, "sortings": []}).json()["datasets"]
    keys = [(d["run_number"], d["name"]) for d in datasets]
    assert keys == sorted(keys, key=lambda k: (-k[0], k[1]))
    assert {"Run", "DatasetTripletCache", "dataset_attributes"} <= set(datasets[0])


def test_rr_backend_errors_are_500_err(serve):
    server = serve(run_registry(SNAP))
    answer = post(server.url + "/runs_filtered_ordered",
                  {"page": 0, "page_size": 5, "filter": {"run_number": {"not-an-operator": 1}}, "sortings": []})
    assert answer.status_code == 500 and "err" in answer.json()
    assert requests.get(server.url + "/no/such/route", timeout=5).status_code == 404


def test_rr_lumisection_endpoints_agree_with_the_snapshot(serve):
    server = serve(run_registry(SNAP))
    run = SNAP.runs[0].run_number
    body = {"run_number": run, "dataset_name": "online"}
    dense = post(server.url + "/lumisections/rr_lumisections", body).json()
    ranges = post(server.url + "/lumisections/rr_lumisection_ranges", body).json()
    original = expand_ranges(SNAP.lumisections[run]["online"].rr)
    assert len(dense) == max(original)
    assert expand_ranges(ranges) == {i + 1: row for i, row in enumerate(dense)}
    assert all(dense[ls - 1] == row for ls, row in original.items())
    by_component = post(server.url + "/lumisections/rr_lumisection_ranges_by_component", body).json()
    for comp, comp_ranges in by_component.items():
        per_ls = expand_ranges(comp_ranges)
        assert all(per_ls[ls] == row[comp] for ls, row in original.items())
    oms_ranges = post(server.url + "/lumisections/oms_lumisection_ranges", body).json()
    oms_original = expand_ranges(SNAP.lumisections[run]["online"].oms)
    assert expand_ranges(oms_ranges) == oms_original
    oms_dense = post(server.url + "/lumisections/oms_lumisections", body).json()
    assert all("recorded" in row for row in oms_dense)  # luminosity is in the per-LS list, not the ranges
    joint = post(server.url + "/lumisections/joint_lumisection_ranges", body).json()
    assert expand_ranges(joint)[1]["dt-dt"] == dense[0]["dt-dt"]
    names = requests.get(f"{server.url}/get_all_dataset_names_of_run/{run}", timeout=5).json()
    assert names == sorted(SNAP.datasets_of(run), key=lambda n: (n != "online", n))  # creation order, online first (recorded)


@given(st.lists(st.sampled_from([{"a": 1}, {"a": 2}, {"b": None}]), max_size=12))
@settings(deadline=None)  # no wall-clock limit: the machine may be loaded
def test_ranges_of_list_expands_back(items):
    ranges = ranges_of_list(items)
    assert expand_ranges(ranges) == {i + 1: item for i, item in enumerate(items)}
    assert all(a["end"] + 1 == b["start"] for a, b in zip(ranges, ranges[1:]))


def test_golden_json_helper_quirks_are_kept():
    # run-registry.md 4.5, verified outputs of golden-json-helpers 1.2.3
    assert convert_array_of_list_to_array_of_ranges([1, 2, 3, 4, 10, 11, 12]) == [[1, 4], [10, 12]]
    assert convert_array_of_list_to_array_of_ranges([3, 1, 2, 7, 5]) == [[3, 3], [1, 2], [7, 7], [5, 5]]
    assert convert_array_of_list_to_array_of_ranges([1, 2, 3, 1, 2, 3]) == [[1, 3], [1, 3]]


@pytest.mark.parametrize(
    "pattern, name, hit",
    [
        ("/PromptReco/Collisions2018_/DQM", "/PromptReco/Collisions2018A/DQM", True),
        ("/PromptReco/Collisions2018(A|B)/DQM", "/PromptReco/Collisions2018B/DQM", True),
        ("/PromptReco/Collisions2018(A|B)/DQM", "/PromptReco/Collisions2018C/DQM", False),
        ("%PromptReco/Collisions%", "/PromptReco/Collisions2018A/DQM", True),
        ("/PromptReco/Collisions2018./DQM", "/PromptReco/Collisions2018A/DQM", False),  # '.' is literal
        ("online", "online", True),
        ("onlin", "online", False),  # whole-string match
        ("ONLINE", "online", False),  # case-sensitive
    ],
)
def test_similar_to(pattern, name, hit):
    assert (similar_to_regex(pattern).fullmatch(name) is not None) is hit


def test_json_portal_errors(serve):
    server = serve(run_registry(SNAP))
    generate = server.url + "/json_portal/generate"
    logic = {"==": [{"var": "lumisection.rr.dt-dt"}, "GOOD"]}
    cases = [
        ({"json_logic": logic, "dataset_name_filter": "online"}, "JSON logic sent is not in json format"),
        ({"json_logic": "{", "dataset_name_filter": "online"}, "JSON logic sent is not in json format"),
        ({"json_logic": "{}", "dataset_name_filter": "online"}, "Empty json logic sent"),
        ({"json_logic": json.dumps(logic)}, "No dataset name specified"),
        ({"json_logic": json.dumps(logic), "dataset_name_filter": "/Nothing/%"}, "No datasets matched that dataset name"),
    ]
    for body, message in cases:
        answer = post(generate, body)
        assert answer.status_code == 500 and answer.json() == {"err": message}
    unknown = post(server.url + "/json_portal/json", {"id_json": "999"})
    assert unknown.status_code == 500 and "err" in unknown.json()


def test_json_portal_polls_then_answers_a_generated_json_row(serve):
    server = serve(run_registry(SNAP, portal_polls=2))
    logic = {"and": [{"==": [{"var": "lumisection.rr.dt-dt"}, "GOOD"]}, {">=": [{"var": "run.oms.energy"}, 6000]}]}
    job = post(server.url + "/json_portal/generate", {"json_logic": json.dumps(logic), "dataset_name_filter": "online"}).json()
    assert isinstance(job["id"], str) and job["data"]["json_logic"] == logic
    statuses = [post(server.url + "/json_portal/json", {"id_json": job["id"]}) for _ in range(3)]
    assert [s.status_code for s in statuses] == [203, 202, 200]
    assert 0 <= statuses[1].json()["progress"] <= 1
    row = statuses[2].json()["final_json"]
    for key in ("generated_json", "generated_anti_json", "generated_json_with_dataset_names", "runregistry_version"):
        assert key in row
    # Each lumisection with RR and OMS data is in exactly one of the json and the anti-json.
    data = SnapshotData(SNAP)
    for run in data.runs:
        both = set(data.rr_ls.get((run, "online"), {})) & set(data.oms_ls.get((run, "online"), {}))
        good = {ls for a, b in row["generated_json"].get(str(run), []) for ls in range(a, b + 1)}
        bad = {ls for a, b in row["generated_anti_json"].get(str(run), []) for ls in range(a, b + 1)}
        assert good | bad == both and not good & bad
        if data.runs[run]["oms_attributes"]["energy"] < 6000:
            assert not good


# ------------------------------------------------------------------------------------------- DIALS


def test_dials_auth_and_workspace(serve):
    server = serve(dials(SNAP, secrets={"good-secret"}))
    url = server.url + "/run/"
    assert requests.get(url, timeout=5).json() == {"detail": "Authorization header not found.", "code": "authorization_not_found"}
    bad = requests.get(url, headers={"X-CLIENT-SECRET": "wrong"}, timeout=5)
    assert bad.status_code == 403 and bad.json()["code"] == "token_not_valid"
    assert requests.get(url, headers={"X-CLIENT-SECRET": "good-secret"}, timeout=5).status_code == 200
    assert requests.get(url, headers={"Authorization": "Bearer anything"}, timeout=5).status_code == 200
    ws = requests.get(url, headers={"Authorization": "Bearer x", "Workspace": "nope"}, timeout=5)
    assert ws.status_code == 404 and ws.json() == {"detail": "Workspace 'nope' not found"}
    # As the real v1.12.0 server (conformance corpus, issue 9): no trailing slash is a 301 to the slashed path.
    moved = requests.get(server.url + "/run", params={"run_number": "1"}, headers={"Authorization": "Bearer x"}, timeout=5,
                         allow_redirects=False)
    assert moved.status_code == 301 and moved.headers["Location"] == server.url + "/run/?run_number=1"


@settings(max_examples=15, deadline=None)
@given(page_size=st.one_of(st.integers(-2, 12), st.just(10_000)), run_min=st.integers(315000, 315007))
def test_dials_cursor_pages_partition_the_filtered_rows(page_size, run_min):
    with dials(SNAP, auth=False) as server:
        params = {"run_number__gte": str(run_min), "page_size": str(page_size)}
        seen, url, pages = [], server.url + "/lumisection/", 0
        query: dict[str, str] | None = params
        while url:
            answer = requests.get(url, params=query, timeout=5).json()
            seen += answer["results"]
            pages += 1
            url, query = answer["next"], None
            if url:
                parsed = dict(parse_qsl(urlsplit(url).query))
                assert list(parsed) == sorted(parsed)  # DRF re-sorts the query parameters
        keys = [(r["dataset_id"], r["run_number"], r["ls_number"]) for r in seen]
        assert keys == sorted(set(keys))  # strictly increasing: nothing repeated, nothing out of order
        expected = [r for r in server.app.tables["lumisection"] if r["run_number"] >= run_min]
        assert len(seen) == len(expected)
        effective = 10 if page_size <= 0 else min(page_size, 500)
        assert pages == max(1, -(-len(expected) // effective))


def test_dials_errors_mes_and_count(serve):
    snapshot = SNAP.to_dict() | {"dials": {"mes": [{"me_id": 1, "me": "PixelPhase1/charge", "count": 3, "dim": 1},
                                                    {"me_id": 2, "me": "Strip/occupancy", "count": 2, "dim": 2}]}}
    server = serve(dials(snapshot, auth=False))
    assert requests.get(server.url + "/run/", params={"run_number": "abc"}, timeout=5).json() == {"run_number": ["Enter a number."]}
    bad_cursor = requests.get(server.url + "/run/", params={"next_token": "garbage!"}, timeout=5)
    assert bad_cursor.status_code == 404 and bad_cursor.json() == {"detail": "Invalid cursor"}
    mes = requests.get(server.url + "/mes/", params={"dim": "2"}, timeout=5).json()
    assert mes == [{"me_id": 2, "me": "Strip/occupancy", "count": 2, "dim": 2}]  # a bare array
    count = requests.get(server.url + "/run/count/", params={"run_number__gte": "315003"}, timeout=5).json()
    assert count == {"count": sum(1 for r in server.app.tables["run"] if r["run_number"] >= 315003)}
    # undeclared filters are ignored (the emulator's rule), so run_number__gt returns everything
    everything = requests.get(server.url + "/run/", params={"run_number__gt": "999999", "page_size": 500}, timeout=5).json()
    assert len(everything["results"]) == len(server.app.tables["run"])


def test_cursor_round_trip_and_drf_format():
    token = encode_cursor([14677060, 367102])
    assert base64.b64decode(token).decode().startswith("p=%5B%2214677060%22")
    assert decode_cursor(token) == (["14677060", "367102"], False)
    assert decode_cursor("cD0lNUIlMjIxNDY3NzA2MCUyMiUyQyslMjIzNjcxMDIlMjIlNUQ=") == (["14677060", "367102"], False)


# --------------------------------------------------------------------------------------------- OMS


def test_oms_filters_paging_and_fields(serve):
    server = serve(oms(SNAP))
    run = SNAP.runs[1].run_number
    base = {"filter[run_number][EQ]": str(run), "fields": "lumisection_number,cms_active", "sort": "lumisection_number"}
    rows, offset = [], 0
    while True:
        answer = requests.get(server.url + "/lumisections", params={**base, "page[offset]": offset, "page[limit]": 7}, timeout=5).json()
        rows += answer["data"]
        offset += 7
        if offset >= answer["meta"]["totalResourceCount"]:
            break
    assert [r["attributes"]["lumisection_number"] for r in rows] == list(range(1, 26))
    assert all(set(r["attributes"]) == {"lumisection_number", "cms_active"} for r in rows)
    assert rows[0]["id"] == f"{run}_1" and rows[0]["type"] == "lumisections"
    runs = requests.get(server.url + "/runs", params={"filter[energy][GE]": "6000"}, timeout=5).json()
    assert {d["attributes"]["run_number"] for d in runs["data"]} == {
        r.run_number for r in SNAP.runs if r.oms_attributes["energy"] >= 6000}
    meta = requests.get(server.url + "/runs/meta", timeout=5).json()
    assert "energy" in meta["meta"]["fields"]


# --------------------------------------------------------------------------------------------- SSO


def test_sso_client_credentials(serve):
    server = serve(sso({"me": "s3cret"}, expires_in=60))
    token_url = server.root + FakeSSO.path
    form = {"grant_type": "client_credentials", "client_id": "me", "client_secret": "s3cret", "audience": "cmsoms-prod"}
    answer = requests.post(token_url, data=form, timeout=5).json()
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 60
    assert server.app.valid(answer["access_token"], "cmsoms-prod") and not server.app.valid(answer["access_token"], "other")
    assert requests.post(token_url, data={**form, "client_secret": "no"}, timeout=5).status_code == 401
    assert all("s3cret" not in r.body for r in server.log)  # the request log masks secrets


def test_faults_apply_to_matching_paths_only(serve):
    server = serve(run_registry(SNAP))
    server.faults.fail_nth(2, status=502, path="/lumisections/")
    body = {"run_number": SNAP.runs[0].run_number, "dataset_name": "online"}  # RR answers 500 without dataset_name
    codes = [post(server.url + "/runs_filtered_ordered", {"page": 0, "page_size": 1, "filter": {}, "sortings": []}).status_code]
    codes += [post(server.url + "/lumisections/rr_lumisection_ranges", body).status_code for _ in range(3)]
    assert codes == [200, 200, 502, 200]
    assert [r.status for r in server.log] == codes


def test_command_line_serves_all_services_on_one_port(tmp_path):
    path = tmp_path / "snap.json"
    SNAP.save(path)
    proc = subprocess.Popen([sys.executable, "-m", "dqquery.testing", "serve", "--snapshot", str(path), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        urls = json.loads(proc.stdout.readline())  # type: ignore[union-attr]
        runs = post(urls["rr"] + "/runs_filtered_ordered", {"page": 0, "page_size": 2, "filter": {}, "sortings": []}).json()
        assert runs["count"] == len(SNAP.runs)
        assert requests.get(urls["dials"] + "/run/", headers={"Authorization": "Bearer x"}, timeout=5).status_code == 200
        assert requests.get(urls["oms"] + "/runs", timeout=5).json()["meta"]["totalResourceCount"] == len(SNAP.runs)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(snapshot=snapshots())
def test_summaries_counted_per_range_equal_the_per_lumisection_count(snapshot) -> None:
    """The fake RR counts triplet and DCS summaries per range (fast); per lumisection is the definition."""
    from dqquery.testing.fake_rr import SnapshotData

    fast = SnapshotData(snapshot)
    slow = SnapshotData(snapshot)
    slow._disjoint_ranges = lambda key, side: None  # force the per-lumisection count
    for run, name in sorted(fast.sources):
        assert fast.triplet_summary(run, name) == slow.triplet_summary(run, name)
        assert fast.dcs_summary(run, name) == slow.dcs_summary(run, name)


def test_command_line_reports_a_missing_snapshot_in_one_line(tmp_path) -> None:
    proc = subprocess.run([sys.executable, "-m", "dqquery.testing", "serve", "--snapshot", str(tmp_path / "nope.json.gz"), "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith("error:") and "Traceback" not in proc.stderr
    assert "nope.json.gz" in proc.stderr


def test_latency_and_failure_rate_knobs(serve) -> None:
    import time

    server = serve(run_registry(sample_snapshot(3, ls_per_run=3, datasets=("online",), luminosity=False)))
    body = {"page": 0, "page_size": 10, "filter": {}, "sortings": []}
    server.faults.set_latency(0.2)
    t0 = time.perf_counter()
    assert post(server.url + "/runs_filtered_ordered", body).status_code == 200
    assert time.perf_counter() - t0 >= 0.2
    server.faults.clear()

    def statuses(seed: int) -> list[int]:
        server.faults.set_failure_rate(0.5, seed=seed)
        return [post(server.url + "/runs_filtered_ordered", body).status_code for _ in range(40)]

    first = statuses(7)
    assert set(first) == {200, 503} and 8 <= first.count(503) <= 32
    assert statuses(7) == first  # reproducible with the same seed


def test_a_fetch_survives_a_failure_rate_with_retries(serve) -> None:
    from dqquery.evaluator import golden
    from dqquery.fetch import fetch_snapshot
    from dqquery.sources import RetryPolicy, RunRegistryClient

    snap = sample_snapshot(8, ls_per_run=5, datasets=("online",), luminosity=False)
    server = serve(run_registry(snap))
    server.faults.set_failure_rate(0.3, seed=3)
    client = RunRegistryClient(server.url, retry=RetryPolicy(attempts=10, seed=1), sleep=lambda s: None)
    fetched = fetch_snapshot("run_number >= 1", rr=client)
    failed = [r for r in server.log if r.status == 503]
    assert failed, "the knob injected no failure"
    assert golden("run_number >= 1", fetched) == golden("run_number >= 1", snap)


def test_the_fakes_of_one_server_share_one_copy_of_the_data() -> None:
    from dqquery.testing.fake_rr import SnapshotData

    data = SnapshotData(SNAP)
    assert SnapshotData.of(data) is data and SnapshotData.of(SNAP) is not data
