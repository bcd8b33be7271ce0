"""DIALS read from its own OpenAPI document (``tests/data/openapi/dials-v1.12.0.json``, copied byte for byte from
github.com/cms-DQM/dials backend/static/swagger.json at 42c2c5f8, v1.12.0; GPL-3.0, kept as data) equals the
hand-kept DIALS target: the same allow-lists, and the same parameters (or the same refusal) for every query of the
DIALS corpora (the conformance recordings and the compliance corpus' DIALS columns).

The differences between the document and the recorded server are the rows of ``dials_openapi.OVERRIDES``; each
row is shown to be needed (without it the allow-lists differ or the document is refused).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conformance import DIALS_REQUESTS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dqquery
from dqquery.dials_api import ENDPOINTS
from dqquery.errors import QueryError
from dqquery.strategies import queries
from dqquery.targets import dials_openapi as DO
from dqquery.targets.openapi import DocumentError, from_openapi

DOCUMENT = Path(__file__).parent / "data" / "openapi" / "dials-v1.12.0.json"
TARGET = DO.dials_from_openapi(DOCUMENT)
COMPLIANCE = yaml.safe_load((Path(__file__).parent / "compliance" / "targets.yaml").read_text(encoding="utf-8"))


def _allow_list(target: Any, endpoint: str) -> dict[str, tuple[Any, ...]]:
    return {n: (p.column, p.lookup, p.kind, p.path, p.generations) for n, p in target.list_paths[endpoint].params.items()}


def _hand_kept(endpoint: str) -> dict[str, tuple[Any, ...]]:
    # ``via`` (the id column a method filter resolves through) is the server's implementation, not in any document.
    return {p.name: (p.column, p.lookup, p.kind, p.path, p.generations) for p in ENDPOINTS[endpoint].params}


def test_the_document_is_the_v1_12_0_swagger_file():
    text = DOCUMENT.read_bytes()
    assert len(text) == 95005  # the blob size the data README gives
    assert json.loads(text)["openapi"] == "3.0.2"


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_allow_lists_read_from_the_document_equal_the_hand_kept_ones(endpoint):
    assert _allow_list(TARGET, endpoint) == _hand_kept(endpoint)
    assert TARGET.list_paths[endpoint].path == ENDPOINTS[endpoint].path
    assert (TARGET.list_paths[endpoint].pagination.style == "cursor") == ENDPOINTS[endpoint].paginated


def test_the_options_and_aliases_are_the_hand_kept_targets():
    hand = dqquery.targets.get("dials")
    assert TARGET.options == hand.options
    assert dict(TARGET.option_aliases) == dict(hand.option_aliases)


OVERRIDE_ROWS = [(endpoint, name) for endpoint, rows in DO.OVERRIDES.items() for name in rows]


@pytest.mark.parametrize(("endpoint", "name"), OVERRIDE_ROWS, ids=[f"{e}.{n}" for e, n in OVERRIDE_ROWS])
def test_every_override_is_needed(endpoint, name):
    fewer = {e: {n: o for n, o in rows.items() if (e, n) != (endpoint, name)} for e, rows in DO.OVERRIDES.items()}
    try:
        target = from_openapi(DOCUMENT, name="dials-fewer", fields=DO.FIELDS, overrides=fewer, generations=("v1.12.0", "2.4.1"),
                              include=DO.PATHS, register=False)
    except DocumentError:
        return  # e.g. a generation-tagged row whose companion rows no longer fit: the document alone is refused
    assert _allow_list(target, endpoint) != _hand_kept(endpoint)


def test_every_override_states_its_source():
    for rows in DO.OVERRIDES.values():
        for override in rows.values():
            assert override.reason.strip()


def _compiled(spec: str, query: str) -> Any:
    try:
        return dqquery.compile(query, spec).request
    except QueryError as err:
        assert err.category == "unsupported", err
        return "unsupported"


CASES = sorted(
    {(r["endpoint"], r["query"]) for r in DIALS_REQUESTS}
    | {(column.removeprefix("dials_").replace("_", "-"), case["query"]) for case in COMPLIANCE for column in case
       if column.startswith("dials_")}
)


def test_the_corpus_cases_cover_every_endpoint():
    assert {endpoint for endpoint, _ in CASES} == set(ENDPOINTS)
    assert len(CASES) > 300


@pytest.mark.parametrize(("endpoint", "query"), CASES)
def test_the_openapi_target_compiles_every_dials_corpus_query_as_the_hand_kept_one(endpoint, query):
    with dqquery.targets.registered(TARGET):
        mine = _compiled(f"dials-openapi:{endpoint}", query)
    assert mine == _compiled(f"dials:{endpoint}", query)


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_the_support_levels_equal_the_hand_kept_ones(endpoint):
    hand = dqquery.targets.get("dials").support(endpoint)
    mine = TARGET.support(endpoint)
    assert {k: (s.level, s.of(True).level) for k, s in mine.items()} == {k: (s.level, s.of(True).level) for k, s in hand.items()}


VALID = [case["query"] for case in yaml.safe_load((Path(__file__).parent / "compliance" / "valid.yaml").read_text(encoding="utf-8"))]


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_every_valid_compliance_query_compiles_alike_on_every_endpoint(endpoint):
    with dqquery.targets.registered(TARGET):
        mine = [_compiled(f"dials-openapi:{endpoint}", q) for q in VALID]
    assert mine == [_compiled(f"dials:{endpoint}", q) for q in VALID]


DIALS_FIELDS = sorted({p.path for record in ENDPOINTS.values() for p in record.params if p.path is not None})


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(endpoint=st.sampled_from(list(ENDPOINTS)), query=queries(fields=DIALS_FIELDS, max_leaves=4))
def test_generated_queries_compile_and_plan_alike(endpoint, query):
    text = dqquery.unparse(query)
    with dqquery.targets.registered(TARGET):
        mine = _compiled(f"dials-openapi:{endpoint}", text)
        try:
            my_plan: Any = dqquery.plan(query, f"dials-openapi:{endpoint}").requests
        except QueryError as err:
            my_plan = err.category
    assert mine == _compiled(f"dials:{endpoint}", text)
    try:
        hand_plan: Any = dqquery.plan(query, f"dials:{endpoint}").requests
    except QueryError as err:
        hand_plan = err.category
    if not (my_plan == "unsupported" or hand_plan == "unsupported"):
        assert my_plan == hand_plan
