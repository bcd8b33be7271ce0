"""Every importer answers any JSON-like input with an Imported or a located QueryError, never another exception."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import dqquery
from dqquery.errors import QueryError

_KEYS = st.sampled_from(
    ["run_number", "and", "or", "=", "<>", ">", "like", "name", "class", "tracker-strip", "oms_attributes.energy", "rr_attributes.x",
     "triplet_summary.dt-dt.GOOD", "dataset_attributes.global_state", "var", "in", "==", "!", "filter[run_number][GE]", "filter[x]",
     "me__regex", "run_number__in", "active", "class", "kwargs", "endpoint", "filters", "x::float", "dataset_name"]
)
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
                     st.text(max_size=8))
JSONISH = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=4)),
                       max_leaves=12)


def _answers(call: Any) -> None:
    try:
        imported = call()
    except QueryError as err:
        assert err.message
        return
    assert all(f.message for f in imported.findings)
    if imported.query is not None:
        dqquery.unparse(imported.query)  # printable


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(JSONISH, st.sampled_from(["runs", "datasets"]), st.booleans(), st.sampled_from(["th1", "run", "ml-models-index", "lumisection"]),
       st.sampled_from(["runs", "lumisections", "fills"]))
@example({"run_number": None, "filters": True, "endpoint": None}, "runs", False, "th1", "runs")  # found by a longer random run
def test_importers_never_raise_anything_else(value: Any, kind: str, raw: bool, endpoint: str, resource: str) -> None:
    _answers(lambda: dqquery.from_rr(value, kind=kind, raw=raw))
    _answers(lambda: dqquery.from_dials(value, endpoint))
    _answers(lambda: dqquery.from_oms(value, resource))
    _answers(lambda: dqquery.import_jsonlogic(value))
    _answers(lambda: dqquery.import_jsonlogic(value, "rr-component-classifier"))
