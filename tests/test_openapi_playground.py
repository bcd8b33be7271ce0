"""The DQM Playground target (an OpenAPI document written from the seed notebook) and its fake server built from the
same document: the allow-lists are the notebook's, the fake behaves as django-filter (undeclared parameters ignored,
pages of 50), and ``plan`` (pushdown plus local residual) on the fake selects exactly what the query means
(``dqquery.semantics``) for generated queries and rows.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

import dqquery
from dqquery.errors import QueryError
from dqquery.semantics import selects
from dqquery.strategies import queries
from dqquery.targets import playground as P
from dqquery.targets.openapi import from_openapi, read_list_paths
from dqquery.testing.fake_django_filter import BadRequest, FakeDjangoFilter
from dqquery.testing.server import FakeServer

H1D = "/api/lumisection_histograms_1d/"
OPTION = "lumisection_histograms_1d"
SPEC = f"playground:{OPTION}"

# The parameter lists of the seed notebook (shared/seeds/004_f58cf05858e57c7d.txt), copied as data without `page`.
NOTEBOOK: dict[str, list[str]] = {
    "runs": ["run_number", "run_date", "year", "period", "date", "oms_fill", "oms_lumisections", "oms_initial_lumi", "oms_end_lumi"],
    "lumisections": ["run", "ls_number", "date", "oms_zerobias_rate"],
    "lumisection_histograms_1d": [
        "lumisection__run__run_number", "lumisection__run__run_number__gte", "lumisection__run__run_number__lte",
        "lumisection__ls_number", "lumisection__ls_number__gte", "lumisection__ls_number__lte", "entries__gte", "entries__lte",
        "title", "lumisection__ls_number__in", "lumisection__run__run_number__in", "source_data_file__filepath__contains",
    ],
    "histogram_data_files": ["filepath__contains"],  # the notebook's list_histogram_data_files call (no list given)
}
NOTEBOOK["lumisection_histograms_2d"] = NOTEBOOK["lumisection_histograms_1d"]  # "Same filters with 1D Histograms apply."


def test_the_allow_lists_are_the_notebooks_parameter_lists():
    read = read_list_paths(P.DOCUMENT, P.FIELDS, page_size=P.PAGE_SIZE)
    assert {o: list(lp.params) for o, lp in read.items()} == NOTEBOOK
    assert all(lp.pagination.style == "page" and lp.pagination.size == 50 for lp in read.values())
    assert {o: lp.params for o, lp in P.TARGET.list_paths.items()} == {o: read[o].params for o in P.TARGET.options}
    assert P.TARGET.options == ("lumisection_histograms_1d", "lumisection_histograms_2d")


def test_the_playground_is_a_registered_target_with_aliases():
    assert "playground" in dqquery.targets.names()
    assert dqquery.targets.resolve("playground:h2d").option == "lumisection_histograms_2d"
    assert dqquery.targets.resolve("playground").option == OPTION


@pytest.mark.parametrize(("query", "request_"), [
    ("run_number in 315000..316000", {"lumisection__run__run_number__gte": 315000, "lumisection__run__run_number__lte": 316000}),
    ("run_number > 315000 and run_number < 315003", {"lumisection__run__run_number__gte": 315001, "lumisection__run__run_number__lte": 315002}),
    ("run_number in [315005, 315001]", {"lumisection__run__run_number__in": "315001,315005"}),
    ("ls_number in [3, 1, 2]", {"lumisection__ls_number__in": "1,2,3"}),
    ("entries > 100", {"entries__gte": 101}),
    ('me == "Summary_ClusterStoNCorr__OnTrack__TEC__MINUS__wheel__7"', {"title": "Summary_ClusterStoNCorr__OnTrack__TEC__MINUS__wheel__7"}),
    ('logical_file_name contains "ZeroBias_2017B_DataFrame_2D_17.csv"',
     {"source_data_file__filepath__contains": "ZeroBias_2017B_DataFrame_2D_17.csv"}),
])
def test_queries_compile_to_the_notebooks_parameters(query, request_):
    assert dqquery.compile(query, SPEC).request == request_


@pytest.mark.parametrize(("query", "located"), [
    ('me like "%TEC%"', 'me like "%TEC%"'),  # no regex filter: a like would be lost
    ('logical_file_name contains " x"', 'logical_file_name contains " x"'),  # Django strips the value
    ("run_number == 1 or entries == 2", "run_number == 1 or entries == 2"),
    ("dataset_id == 4", "dataset_id == 4"),  # not a Playground field
])
def test_what_the_playground_cannot_say_is_refused_where_it_is(query, located):
    with pytest.raises(QueryError) as info:
        dqquery.compile(query, SPEC)
    err = info.value
    assert err.category == "unsupported" and err.target == SPEC
    assert query[err.offset:err.end] == located
    assert "dqquery.plan" in err.hint


def test_runs_and_lumisections_use_their_own_column_for_the_run_number():
    everything = from_openapi(P.DOCUMENT, name="playground-all", fields=P.FIELDS, page_size=P.PAGE_SIZE, register=False)
    assert everything.compile("run_number == 5", "runs").request == {"run_number": 5}
    assert everything.compile("run_number == 5", "lumisections").request == {"run": 5}
    assert everything.row_view("lumisections", {"id": 1, "run": 5, "ls_number": 2}) == {
        "run.run_number": 5, "lumisection.lumisection_number": 2}


# ------------------------------------------------------------------------------------------------ the fake server

TITLES = ("Summary_TEC_7", "Summary_TIB_1", "PXLayer_1", "")
FILES = ("ZeroBias_2017B_DataFrame_1D_1.csv", "ZeroBias_2017B_DataFrame_1D_2.csv", "SingleMuon_2018A_1D.csv")


@st.composite
def histogram_rows(draw: Any, max_size: int = 130) -> list[dict[str, Any]]:
    n = draw(st.integers(0, max_size))
    rows = []
    for i in range(1, n + 1):
        source = draw(st.one_of(st.none(), st.sampled_from(FILES)))
        rows.append({
            "id": i,
            "lumisection": {"id": 1000 + i, "ls_number": draw(st.integers(1, 12)), "run": {"run_number": draw(st.integers(1, 6))}},
            "title": draw(st.sampled_from(TITLES)),
            "entries": draw(st.one_of(st.none(), st.integers(0, 12))),
            "data": [],
            "source_data_file": None if source is None else {"id": FILES.index(source), "filepath": source},
        })
    return rows


def _fake(rows: list[dict[str, Any]]) -> FakeDjangoFilter:
    return FakeDjangoFilter(P.DOCUMENT, {H1D: rows}, page_size=P.PAGE_SIZE)


def _fetch(fake: FakeDjangoFilter):
    return lambda request: list(P.TARGET.iter_rows(OPTION, request, fake.get))


def _row(i: int, **columns: Any) -> dict[str, Any]:
    row = {"id": i, "lumisection": {"id": i, "ls_number": 1, "run": {"run_number": 1}}, "title": "t", "entries": i,
           "data": [], "source_data_file": None}
    row.update(columns)
    return row


def test_the_fake_pages_by_50_and_ignores_undeclared_parameters():
    rows = [_row(i) for i in range(1, 121)]
    fake = _fake(rows)
    first = fake.get(H1D, {"entries__lt": "3", "title__contains": "zzz"})  # both undeclared: ignored
    assert first["count"] == 120 and len(first["results"]) == 50 and first["previous"] is None
    assert first["next"].endswith("page=2")
    third = fake.get(H1D, {"page": "3"})
    assert [r["id"] for r in third["results"]] == list(range(101, 121)) and third["next"] is None
    with pytest.raises(LookupError, match="Invalid page"):
        fake.get(H1D, {"page": "4"})
    assert [r["id"] for r in P.TARGET.iter_rows(OPTION, {}, fake.get)] == list(range(1, 121))


def test_the_fake_reads_values_as_django_filter_does():
    fake = _fake([_row(1, title="a"), _row(2, title="b"), _row(3, title=" a")])
    assert [r["id"] for r in fake.get(H1D, {"title": " a "})["results"]] == [1]  # stripped
    assert fake.get(H1D, {"title": ""})["count"] == 3  # an empty value skips the filter
    assert [r["id"] for r in fake.get(H1D, {"entries__gte": "2", "entries__gte ": "9"})["results"]] == [2, 3]
    with pytest.raises(BadRequest) as info:
        fake.get(H1D, {"entries__gte": "many"})
    assert info.value.errors == {"entries__gte": ["Enter a number."]}


def test_the_fake_refuses_a_document_it_cannot_emulate():
    doc = json.loads(P.DOCUMENT.read_text(encoding="utf-8"))
    doc["paths"][H1D]["get"]["parameters"].append({"name": "detector", "in": "query", "schema": {"type": "string"}})
    with pytest.raises(ValueError, match="row schema does not describe"):
        FakeDjangoFilter(doc, {H1D: []}, page_size=50)


def test_plan_runs_over_http_on_the_fake_server():
    rows = [_row(i, entries=i % 7, title=TITLES[i % 3]) for i in range(1, 140)]
    query = 'entries >= 5 and me like "%TEC%" or entries == 0'
    with FakeServer(_fake(rows)) as server:
        def get(path: str, params: Any) -> Any:
            answer = requests.get(server.url + path, params=params, timeout=10)
            answer.raise_for_status()
            return answer.json()
        got = dqquery.plan(query, SPEC).execute(fetch=lambda r: list(P.TARGET.iter_rows(OPTION, r, get)),
                                                key=lambda r: r["id"], row_view=lambda r: P.TARGET.row_view(OPTION, r))
    assert sorted(r["id"] for r in got) == [r["id"] for r in rows if selects(dqquery.parse(query), P.TARGET.row_view(OPTION, r))]
    assert len(got) > 0


# ------------------------------------------------------------------------------------------------ the plan property

def _plan_selects_what_the_query_means(query: Any, rows: list[dict[str, Any]]) -> dqquery.Plan:
    fake = _fake(rows)
    query = dqquery.parse(query) if isinstance(query, str) else query
    p = dqquery.plan(query, SPEC)
    got = p.execute(fetch=_fetch(fake), key=lambda r: r["id"], row_view=lambda r: P.TARGET.row_view(OPTION, r))
    want = [r["id"] for r in rows if selects(query, P.TARGET.row_view(OPTION, r))]
    assert sorted(r["id"] for r in got) == want, p.describe()
    return p


FIELDS = ["run_number", "ls_number", "entries", "me", "logical_file_name"]


@settings(max_examples=100, deadline=None, derandomize=True)
@given(query=queries(fields=FIELDS, max_leaves=5), rows=histogram_rows())
def test_plan_on_the_fake_playground_selects_what_the_query_means(query, rows):
    _plan_selects_what_the_query_means(query, rows)


def _leaf() -> st.SearchStrategy[str]:
    number = st.integers(0, 13)
    ints = st.sampled_from(["run_number", "ls_number", "entries"])
    return st.one_of(
        st.builds(lambda f, op, v: f"{f} {op} {v}", ints, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), number),
        st.builds(lambda f, a, b, neg: f"{f} {'not ' if neg else ''}in {min(a, b)}..{max(a, b)}", ints, number, number, st.booleans()),
        st.builds(lambda f, vs: f"{f} in [{', '.join(map(str, vs))}]", ints, st.lists(number, min_size=1, max_size=4)),
        st.builds(lambda v: f'me == "{v}"', st.sampled_from(TITLES)),
        st.builds(lambda v: f'me like "%{v}%"', st.sampled_from(["TEC", "tec", "Layer"])),
        st.builds(lambda v: f'logical_file_name contains "{v}"', st.sampled_from(["ZeroBias", "zerobias", "2017B", "1D_2", "muon", "Muon", "1D"])),
        st.sampled_from(["entries is null", "logical_file_name is not null"]),
    )


def _texts() -> st.SearchStrategy[str]:
    return st.recursive(_leaf(), lambda inner: st.one_of(
        inner.map(lambda q: f"not ({q})"),
        st.lists(inner, min_size=2, max_size=3).map(lambda qs: " and ".join(f"({q})" for q in qs)),
        st.lists(inner, min_size=2, max_size=3).map(lambda qs: " or ".join(f"({q})" for q in qs)),
    ), max_leaves=4)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(query=_texts(), rows=histogram_rows())
def test_plan_on_the_fake_playground_selects_what_the_query_means_on_values_the_rows_have(query, rows):
    _plan_selects_what_the_query_means(query, rows)


def test_the_property_exercises_exact_plans_that_rely_on_the_fake_alone():
    # A sanity check on the generator: without a residual the pushdown alone decides, so the fake's filtering is tested.
    rows = [_row(i, entries=i % 13, source_data_file={"id": 0, "filepath": FILES[i % 3]}) for i in range(1, 80)]
    for query in ("entries > 3 and entries <= 9", 'logical_file_name contains "1D_2"', "ls_number in [1, 2] and entries in [0, 5]",
                  "entries < 2 or entries > 11"):
        assert _plan_selects_what_the_query_means(query, rows).exact


@settings(max_examples=120, deadline=None, derandomize=True)
@given(params=st.lists(st.tuples(st.sampled_from([*NOTEBOOK[OPTION], "page", "entries__gt", "x"]),
                                 st.one_of(st.text(max_size=6), st.integers(-3, 400).map(str), st.sampled_from(["²", "1,,2", " 5 ", "(", "\x00"]))),
                       max_size=5),
       rows=histogram_rows(max_size=25))
def test_the_fake_answers_any_parameters_with_a_page_or_a_client_error(params, rows):
    from dqquery.testing.server import Request

    response = _fake(rows).handle(Request("GET", H1D, params, {}, b"", "http://fake"))
    assert response.status in (200, 400, 404)
    body = json.loads(response.body)
    if response.status == 200:
        assert len(body["results"]) <= P.PAGE_SIZE
