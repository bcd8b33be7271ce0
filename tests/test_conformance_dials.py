"""Replay of the DIALS answers recorded from the real server (tests/data/conformance, DIALS v1.12.0).

Every record of ``dials/requests.jsonl`` must give exactly the recorded ``real`` keys:
* through the emulator (``apply_dials_filters`` on ``rows.json``, dimension names joined as the corpus README
  says);
* through dqquery's fake DIALS server fed the same rows, paged with the record's ``page_size``, both through
  dqquery's own :class:`DialsClient` and through plain ``requests`` following the ``next`` links.
Also: the parameters dqquery declares per endpoint are the v1.12.0 FilterSets (``dials/declared.json``).
No expected-failure list.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from conformance import DIALS as CORPUS
from conformance import DIALS_REQUESTS
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from dqquery.emulate.dials import FILTERSETS, apply_dials_filters
from dqquery.sources.dials import DialsClient
from dqquery.targets import dials as D
from dqquery.testing.fake_dials import FakeDials
from dqquery.testing.server import FakeServer, Request

ROWS: dict[str, list[dict[str, Any]]] = json.loads((CORPUS / "rows.json").read_text(encoding="utf-8"))
DECLARED: dict[str, dict[str, str]] = json.loads((CORPUS / "declared.json").read_text(encoding="utf-8"))
RECORDS: list[dict[str, Any]] = DIALS_REQUESTS

# The primary keys (order of the ``real`` tuples), copied from the table of the corpus README.
README_KEYS: dict[str, tuple[str, ...]] = {
    "run": ("dataset_id", "run_number"),
    "lumisection": ("dataset_id", "run_number", "ls_number"),
    "th1": ("dataset_id", "run_number", "ls_number", "me_id"),
    "th2": ("dataset_id", "run_number", "ls_number", "me_id"),
    "file-index": ("dataset_id", "file_id"),
    "dataset-index": ("dataset_id",),
    "mes": ("me_id",),
    "ml-bad-lumisection": ("model_id", "dataset_id", "run_number", "ls_number", "me_id"),
    "ml-models-index": ("model_id",),
}

# README: "An emulator that reads dataset, me or logical_file_name from the row itself needs those names
# joined in first: from dataset-index by dataset_id, from mes by me_id, and from file-index by file_id."
_NAMES = {
    "dataset": ("dataset_id", {r["dataset_id"]: r["dataset"] for r in ROWS["dataset-index"]}),
    "me": ("me_id", {r["me_id"]: r["me"] for r in ROWS["mes"]}),
    "logical_file_name": ("file_id", {r["file_id"]: r["logical_file_name"] for r in ROWS["file-index"]}),
}


def _joined(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for column, (via, names) in _NAMES.items():
        if via in row and column not in row:
            out[column] = names[row[via]]
    return out


def _key(endpoint: str, row: dict[str, Any]) -> list[Any]:
    return [row[c] for c in README_KEYS[endpoint]]


def _params(record: dict[str, Any]) -> list[dict[str, str]]:
    return record["params"] if isinstance(record["params"], list) else [record["params"]]


def _ids() -> list[str]:
    return [f"{i}-{r['endpoint']}" for i, r in enumerate(RECORDS)]


def test_the_corpus_is_complete():
    assert len(RECORDS) == 270
    assert {r["endpoint"] for r in RECORDS} == set(README_KEYS) == set(ROWS)


def test_primary_keys_are_the_readme_table():
    for endpoint, key in README_KEYS.items():
        assert D.primary_key_columns(endpoint, generation="v1.12.0") == key, endpoint
        assert D.primary_key_columns(endpoint, ROWS[endpoint][0]) == key, endpoint
    assert D.primary_key_columns("ml-models-index", {"id": 1, "name": "m"}) == ("id",)


# ------------------------------------------------------------------------------------------- emulator


@pytest.mark.parametrize("record", RECORDS, ids=_ids())
def test_emulator_gives_the_real_rows(record):
    endpoint = record["endpoint"]
    rows = [_joined(r) for r in ROWS[endpoint]]
    keys: set[tuple[Any, ...]] = set()
    for params in _params(record):
        keys |= {tuple(_key(endpoint, r)) for r in apply_dials_filters(endpoint, params, rows)}
    assert sorted(list(k) for k in keys) == record["real"]


@pytest.mark.parametrize("record", [r for r in RECORDS if r["endpoint"] in ("ml-bad-lumisection", "th1", "th2")][:40],
                         ids=lambda r: r["query"][:40])
def test_emulator_resolves_names_through_dimension_tables_like_the_server(record):
    # The server resolves dataset/me/logical_file_name through the dimension tables: the emulator given those
    # tables, on the rows exactly as served (without the joined names), must agree too.
    endpoint = record["endpoint"]
    dimensions = {column: names for column, (_, names) in _NAMES.items()}
    keys: set[tuple[Any, ...]] = set()
    for params in _params(record):
        keys |= {tuple(_key(endpoint, r)) for r in apply_dials_filters(endpoint, params, ROWS[endpoint], dimensions=dimensions)}
    assert sorted(list(k) for k in keys) == record["real"]


# ----------------------------------------------------------------------------------------- declared


def _lookup(declaration: str) -> tuple[str, str, str, bool]:
    """``"NumberInFilter(model_id__in)"`` -> (kind, column, lookup, method)."""
    m = re.fullmatch(r"(\w+)\((\w+)(, method)?\)", declaration)
    assert m, declaration
    cls, field, method = m.groups()
    column, *lookups = field.split("__")
    lookups = [lk for lk in lookups if lk != "exact"] or ["exact"]  # "dataset__regex__exact" is a regex
    kind = {"NumberFilter": "number", "NumberInFilter": "number", "CharFilter": "string", "BooleanFilter": "bool"}[cls]
    return kind, column, lookups[0], bool(method)


def test_emulated_filtersets_are_the_declared_v1_12_filtersets():
    assert set(FILTERSETS) == set(DECLARED)
    for endpoint, declared in DECLARED.items():
        assert set(FILTERSETS[endpoint]) == set(declared), endpoint
        for name, declaration in declared.items():
            kind, column, lookup, method = _lookup(declaration)
            flt = FILTERSETS[endpoint][name]
            assert (flt.kind, flt.column, flt.lookup, flt.via is not None) == (kind, column, lookup, method), (endpoint, name)


def test_compiler_declares_the_v1_12_filtersets():
    for endpoint, declared in DECLARED.items():
        assert set(D.params_of(endpoint, "v1.12.0")) == set(declared), endpoint
        for name, param in D.params_of(endpoint, "v1.12.0").items():
            assert param.lookup == _lookup(declared[name])[2], (endpoint, name)


def test_models_index_gets_both_generations_spellings():
    params = D.to_dials("model_id in [19, 21]", "ml-models-index")
    assert params == {"model_id__in": "19,21", "id__in": "19,21"}
    model_rows = ROWS["ml-models-index"]
    assert [r["model_id"] for r in apply_dials_filters("ml-models-index", params, model_rows)] == [19, 21]
    # the 2.4.1 spelling alone is what the recorded server ignored: every model came back
    assert len(apply_dials_filters("ml-models-index", {"id__in": "19,21"}, model_rows)) == 4


# ----------------------------------------------------------------------------------------- fake server


@pytest.fixture(scope="module")
def fake_url():
    server = FakeServer(FakeDials.from_tables(ROWS, auth=False), mount="/api/v1")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


def _plain_requests(url: str, endpoint: str, params: dict[str, str], page_size: int | None) -> list[dict[str, Any]]:
    if page_size is None:
        answer = requests.get(f"{url}/{endpoint}/", params=params, timeout=10)
        assert answer.status_code == 200
        return answer.json()  # type: ignore[no-any-return]
    rows: list[dict[str, Any]] = []
    next_url: str | None = f"{url}/{endpoint}/"
    query: dict[str, Any] | None = {**params, "page_size": page_size}
    while next_url:
        answer = requests.get(next_url, params=query, timeout=10)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        rows += body["results"]
        next_url, query = body["next"], None
    return rows


@pytest.mark.parametrize("record", RECORDS, ids=_ids())
def test_fake_server_gives_the_real_rows_through_the_client_and_plain_requests(record, fake_url):
    endpoint = record["endpoint"]
    client = DialsClient(fake_url, page_size=record["page_size"] or 500)
    try:
        by_client: list[list[Any]] = []
        by_requests: list[list[Any]] = []
        for params in _params(record):
            by_client += [_key(endpoint, r) for r in client.rows(endpoint, params)]
            by_requests += [_key(endpoint, r) for r in _plain_requests(fake_url, endpoint, params, record["page_size"])]
    finally:
        client.close()
    # the same rows in the same order both ways, none twice within one request's listing, and exactly `real`
    assert by_client == by_requests
    assert sorted({tuple(k) for k in by_client}) == [tuple(k) for k in record["real"]]
    if not isinstance(record["params"], list):
        assert by_client == sorted(by_client)  # primary-key order, as the real server pages


# ------------------------------------------------------------------------------------------ paging property

_BAD_LS = st.fixed_dictionaries({
    "model_id": st.integers(1, 2), "dataset_id": st.integers(1, 2), "file_id": st.just(7), "run_number": st.integers(1, 2),
    "ls_number": st.integers(1, 2), "me_id": st.integers(1, 4), "mse": st.floats(0, 2)})
_MODELS_V1 = st.fixed_dictionaries({"model_id": st.integers(1, 40), "filename": st.text("ab.", max_size=3),
                                    "target_me": st.text("m/", max_size=3), "active": st.booleans()})
_MODELS_V2 = st.fixed_dictionaries({"id": st.integers(1, 40), "name": st.text("ab.", max_size=3), "active": st.booleans()})


@st.composite
def paging_case(draw):
    endpoint, rows = draw(st.sampled_from([("ml-bad-lumisection", _BAD_LS), ("ml-models-index", _MODELS_V1),
                                           ("ml-models-index", _MODELS_V2)]))
    table = draw(st.lists(rows, max_size=40))
    return endpoint, table, draw(st.integers(1, 7))


def _me_id_tie(case: Any) -> bool:
    endpoint, table, _ = case
    if endpoint != "ml-bad-lumisection":
        return False
    without_me = {(r["model_id"], r["dataset_id"], r["run_number"], r["ls_number"]) for r in table}
    return len({tuple(r[c] for c in README_KEYS[endpoint]) for r in table}) > len(without_me) > 0


@pytest.mark.parametrize("case", [
    _me_id_tie,  # rows differing only in me_id (the fifth cursor field)
    lambda case: case[0] == "ml-models-index" and bool(case[1]) and "model_id" in case[1][0],
    lambda case: case[0] == "ml-models-index" and bool(case[1]) and "id" in case[1][0],
], ids=["me_id tie", "v1.12.0 models", "2.4.1 models"])
def test_the_paging_generator_draws_each_case(case):
    found = find(paging_case(), case, settings=settings(max_examples=3000, database=None, phases=[Phase.generate],
                                                         derandomize=True, suppress_health_check=list(HealthCheck)))
    assert case(found)


def _get(app: FakeDials, url: str) -> Any:
    parts = urlsplit(url)
    path = parts.path[len("/api/v1"):]
    answer = app.handle(Request("GET", path, parse_qsl(parts.query), {}, b"", "http://127.0.0.1:1", mount="/api/v1"))
    assert answer.status == 200, answer.body
    return json.loads(answer.body)


@given(paging_case())
@settings(max_examples=300, deadline=None, derandomize=True)
def test_fake_pages_return_every_row_once_in_key_order(case):
    """Rows that differ only in me_id (ml-bad-lumisection) or rows of either ml-models-index shape: following the
    cursor at any page size returns every row exactly once, in primary-key order (the real server's five-field
    cursor; the corpus data has no such tie)."""
    endpoint, table, page_size = case
    key = D.PRIMARY_KEYS[endpoint]
    columns = next((cols for cols in key.values() if all(c in table[0] for c in cols)), None) if table else None
    unique = list({tuple(r[c] for c in columns): r for r in table}.values()) if columns else []
    app = FakeDials.from_tables({endpoint: unique}, auth=False)
    seen: list[dict[str, Any]] = []
    url: str | None = f"http://127.0.0.1:1/api/v1/{endpoint}/?page_size={page_size}"
    while url:
        body = _get(app, url)
        seen += body["results"]
        url = body["next"]
    keys = [D.primary_key(endpoint, r) for r in seen]
    assert keys == sorted(D.primary_key(endpoint, r) for r in unique)


# ------------------------------------------------------------------------------------------ today's compiler


def _full_view(endpoint: str, row: dict[str, Any]) -> dict[str, Any]:
    """Every field the endpoint filters on, the dimension names joined in (what dqquery's semantics reads)."""
    joined = _joined(row)
    return {path: joined[col] for path, col in D.response_columns(endpoint).items() if col in joined}


@pytest.mark.parametrize("record", RECORDS, ids=_ids())
def test_todays_plan_on_the_real_server_model_selects_what_the_query_means(record):
    """The recorded queries, compiled by today's dqquery and run on the recorded rows through the v1.12.0 model
    (which the replay above shows to be exact): the rows the query means, ml-models-index included."""
    from dqquery import plan
    from dqquery.semantics import selects

    endpoint = record["endpoint"]
    dimensions = {column: names for column, (_, names) in _NAMES.items()}
    p = plan(record["query"], f"dials:{endpoint}")
    got = p.execute(fetch=lambda params: apply_dials_filters(endpoint, params, ROWS[endpoint], dimensions=dimensions),
                    key=lambda row: tuple(_key(endpoint, row)), row_view=lambda row: _full_view(endpoint, row))
    expected = [r for r in ROWS[endpoint] if selects(p.query, _full_view(endpoint, r))]
    assert sorted(_key(endpoint, r) for r in got) == sorted(_key(endpoint, r) for r in expected)


# ------------------------------------------------------------------------------------------ derived tables


def test_a_snapshots_fake_dials_serves_every_endpoint_with_the_v1_12_columns():
    """The fake derived from a snapshot (what ``dqquery serve`` and the demo serve) has rows on every endpoint,
    each with exactly the columns the real v1.12.0 server returned for it (``rows.json``; no ``ls_completeness``)."""
    from conformance import snapshot

    app = FakeDials(snapshot("seed"), auth=False)
    for endpoint, recorded in ROWS.items():
        body = _get(app, f"http://127.0.0.1:1/api/v1/{endpoint}/" + ("" if endpoint == "mes" else "?page_size=500"))
        served = body if endpoint == "mes" else body["results"]
        assert served, endpoint
        assert {frozenset(row) for row in served} == {frozenset(recorded[0])}, endpoint
