"""The official clients (runregistry 3.1.2, cmsdials 2.4.1) against the fakes, compared with dqquery's own answers."""

from __future__ import annotations

import json
import warnings

import pytest

from dqquery.errors import QueryError
from dqquery.evaluator import golden
from dqquery.query import parse
from dqquery.semantics import selects
from dqquery.sources import DialsClient, RunRegistryClient
from dqquery.sources.auth import SecretKey
from dqquery.targets.jsonlogic import rr_portal_request
from dqquery.targets.runregistry import to_rr
from dqquery.testing import DIALS_MOUNT, FakeDials, FakeServer, dials, run_registry, sample_snapshot

runregistry = pytest.importorskip("runregistry")
cmsdials = pytest.importorskip("cmsdials")

SNAP = sample_snapshot(9, ls_per_run=20, seed=21)
RUN_QUERIES = [
    "energy > 6000",
    'class == "Collisions18" and fill_number >= 7002',
    "run_number in 315001..315006 and b_field >= 3.7",
    'hlt_key like "%v3%" or stable_beam == false',
]


def _expected_runs(query: str) -> set[int]:
    """dqquery's reference semantics on each run's attributes (independent of the fake and of to_rr)."""
    node = parse(query)
    out = set()
    for run in SNAP.runs:
        row = {"run.run_number": run.run_number}
        row |= {f"run.oms.{k}": v for k, v in run.oms_attributes.items()}
        row |= {f"run.rr.{k}": v for k, v in run.rr_attributes.items()}
        if selects(node, row):
            out.add(run.run_number)
    return out


@pytest.fixture
def rr_module(serve, monkeypatch):
    """The official module set up for ``local`` and pointed at a fake RR on an ephemeral port."""
    server = serve(run_registry(SNAP, portal_polls=2))
    module = runregistry.runregistry
    monkeypatch.setattr(module, "target_name", module.target_name)
    module.setup("local")
    monkeypatch.setattr(module, "api_url", server.url)
    monkeypatch.setattr(module, "JSON_CREATION_SLEEP_TIME", 0)
    yield module, server
    module.setup("production")


@pytest.mark.parametrize("query", RUN_QUERIES)
def test_get_runs_user_and_raw_formats(rr_module, query):
    module, _ = rr_module
    expected = _expected_runs(query)
    raw = module.get_runs(filter=to_rr(query, raw=True), ignore_filter_transformation=True)
    assert {r["run_number"] for r in raw} == expected
    try:
        user_filter = to_rr(query)
    except QueryError as err:  # the user format cannot say it (an `or` across attributes): refused, not dropped
        assert err.category == "unsupported"
        return
    user = module.get_runs(filter=user_filter)
    assert {r["run_number"] for r in user} == expected
    assert all("lumisections" in r and "class" in r for r in user)  # the client's compressed run objects


def test_get_datasets_and_lumisection_getters(rr_module):
    module, server = rr_module
    query = 'dataset == "/PromptReco/Collisions2018A/DQM" and energy > 6000'
    datasets = module.get_datasets(filter=to_rr(query, kind="datasets", raw=True), ignore_filter_transformation=True)
    assert {d["run_number"] for d in datasets} == _expected_runs("energy > 6000")
    ours = RunRegistryClient(server.url)
    run = SNAP.runs[0].run_number
    assert module.get_lumisection_ranges(run) == ours.lumisection_ranges(run)
    assert module.get_oms_lumisection_ranges(run) == ours.oms_lumisection_ranges(run)
    assert len(module.get_lumisections(run)) == 20
    assert module.get_dataset_names_of_run(run) == ["online", "/PromptReco/Collisions2018A/DQM"]  # creation order (recorded)


@pytest.mark.parametrize("query", ["energy > 6000 and dt-dt == GOOD and cms_active", "tracker-strip == GOOD and csc-csc != BAD"])
def test_create_json_equals_the_local_golden_json(rr_module, query):
    module, _ = rr_module
    request = rr_portal_request(query, "online")
    final = module.create_json(json.loads(request["json_logic"]), request["dataset_name_filter"])
    from dqquery.lumiranges import GoldenJSON

    assert GoldenJSON(final["generated_json"]) == golden(query, SNAP, "online")


def test_cmsdials_list_all_against_the_fake(serve):
    # cmsdials 2.4.1's RunClient requires ls_completeness, which the v1.12.0 server does not serve (its model then
    # fails validating a real v1.12.0 page): the fake imitates the generation that client was written for.
    server = serve(FakeServer(FakeDials(SNAP, secrets={"dials-secret"}, generation="2.4.1"), mount=DIALS_MOUNT))
    from cmsdials.auth.secret_key import Credentials
    from cmsdials.filters import LumisectionFilters, RunFilters

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        creds = Credentials(token="dials-secret")
    client = cmsdials.Dials(creds, base_url=server.root)
    runs = client.run.list_all(RunFilters(run_number__gte=315004, page_size=2))
    assert runs.next is None and runs.exc_type is None
    assert sorted(r.run_number for r in runs.results) == [r.run_number for r in SNAP.runs if r.run_number >= 315004]
    lumis = client.lumi.list_all(LumisectionFilters(run_number=315002, ls_number__lte=5, page_size=3))
    assert [r.ls_number for r in lumis.results] == [1, 2, 3, 4, 5]
    ours = DialsClient(server.url, auth=SecretKey("dials-secret"), page_size=4).rows("lumisection", {"run_number": 315002, "ls_number__lte": 5})
    assert ours == [r.model_dump() for r in lumis.results]


DIALS_QUERIES = [
    "run_number in 315002..315004 and ls_number <= 7",
    'run_number > 315005 and dataset like "%PromptReco%"',
    "ls_number in 3..5 and run_number == 315003 and dataset ~ \"Collisions\"",
]


@pytest.mark.parametrize("query", DIALS_QUERIES)
def test_cmsdials_with_compiled_filters_returns_exactly_the_query_rows(serve, query):
    """to_dials(..., as_filters=True) through the real client, in a workspace: the rows dqquery's own
    semantics select from the whole lumisection table, no more, no fewer."""
    from cmsdials.auth.secret_key import Credentials
    from cmsdials.filters import LumisectionFilters

    from dqquery.targets.dials import row_paths, to_dials

    server = serve(dials(SNAP, secrets={"dials-secret"}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        creds = Credentials(token="dials-secret")
    client = cmsdials.Dials(creds, workspace="tracker", base_url=server.root)
    everything = client.lumi.list_all(LumisectionFilters(page_size=500)).results
    expected = sorted((r.dataset_id, r.run_number, r.ls_number) for r in everything if selects(parse(query), row_paths("lumisection", r.model_dump())))
    assert expected, "the query selects nothing: a weak test"
    filters = to_dials(query, endpoint="lumisection", as_filters=True)
    got = sorted((r.dataset_id, r.run_number, r.ls_number) for r in client.lumi.list_all(filters).results)
    assert got == expected
    assert all(r.headers.get("workspace") == "tracker" for r in server.log.matching("lumisection"))
