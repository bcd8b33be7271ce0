"""The reference meaning (dqquery/semantics.py), checked case by case against docs/semantics.md.

Every other evaluator and compiler is tested against this module, so it is tested on its own here, with
expectations written from the documented rules (not from the implementation).
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dqquery
from dqquery.semantics import evaluate, kleene_and, kleene_not, kleene_or, selects

T, F, U = True, False, None

# Kleene's tables, written out as in docs/semantics.md.
AND_TABLE = {(T, T): T, (T, U): U, (T, F): F, (U, T): U, (U, U): U, (U, F): F, (F, T): F, (F, U): F, (F, F): F}
OR_TABLE = {(T, T): T, (T, U): T, (T, F): T, (U, T): T, (U, U): U, (U, F): U, (F, T): T, (F, U): U, (F, F): F}


@pytest.mark.parametrize("a,b", list(itertools.product([T, U, F], repeat=2)))
def test_kleene_tables(a, b) -> None:
    assert kleene_and([a, b]) is AND_TABLE[(a, b)]
    assert kleene_or([a, b]) is OR_TABLE[(a, b)]


def test_not_of_unknown_is_unknown() -> None:
    assert kleene_not(None) is None and kleene_not(True) is False and kleene_not(False) is True


# (query, row, expected three-valued result)
CASES = [
    # comparisons with a missing value are unknown, whatever the operator
    ("energy == 6500", {}, U),
    ("energy != 6500", {}, U),
    ("energy <= 7000", {}, U),
    ("energy in 6000..7000", {}, U),
    ("energy not in 6000..7000", {}, U),
    ("energy in [6500, 6800]", {}, U),
    ("class like \"Coll%\"", {}, U),
    ("hlt_key ~ \"WMass\"", {}, U),
    ("injection_scheme contains \"25ns\"", {}, U),
    ("energy != 6500", {"run.oms.energy": None}, U),  # null is missing
    # is null / is not null are never unknown
    ("energy is null", {}, T),
    ("energy is null", {"run.oms.energy": None}, T),
    ("energy is null", {"run.oms.energy": 0}, F),
    ("energy is not null", {}, F),
    # ranges include both ends
    ("energy in 6000..7000", {"run.oms.energy": 6000}, T),
    ("energy in 6000..7000", {"run.oms.energy": 7000}, T),
    ("energy in 6000..7000", {"run.oms.energy": 7000.5}, F),
    ("energy not in 6000..7000", {"run.oms.energy": 7000.5}, T),
    ("run_number in [1, 5]", {"run.run_number": 5}, T),
    ("run_number not in [1, 5]", {"run.run_number": 3}, T),
    # values of another kind: unknown (a boolean is not a number)
    ("energy == 1", {"run.oms.energy": True}, U),
    ("energy > 1", {"run.oms.energy": "6500"}, U),
    ("class == \"Collisions18\"", {"run.rr.class": 18}, U),
    ("stable_beam", {"run.oms.stable_beam": 1}, U),
    ("stable_beam == false", {"run.oms.stable_beam": False}, T),
    ("not stable_beam", {"run.oms.stable_beam": None}, U),
    # like: case-insensitive, whole value, % and _, backslash escapes
    ("class like \"collisions%\"", {"run.rr.class": "Collisions18"}, T),
    ("class like \"Collisions\"", {"run.rr.class": "Collisions18"}, F),
    ("class like \"C_llisions18\"", {"run.rr.class": "Cxllisions18"}, T),
    ("class like \"C_llisions18\"", {"run.rr.class": "Cllisions18"}, F),
    ("class like \"100\\\\%\"", {"run.rr.class": "100%"}, T),
    ("class like \"100\\\\%\"", {"run.rr.class": "1000"}, F),
    ("class not like \"%Cosmics%\"", {"run.rr.class": "Collisions18"}, T),
    # ~: case-sensitive search anywhere; anchors work
    ("hlt_key ~ \"WMass\"", {"run.oms.hlt_key": "/cdaq/physics/WMass/v1"}, T),
    ("hlt_key ~ \"wmass\"", {"run.oms.hlt_key": "/cdaq/physics/WMass/v1"}, F),
    ("hlt_key ~ \"^WMass\"", {"run.oms.hlt_key": "/cdaq/physics/WMass/v1"}, F),
    ("hlt_key !~ \"WMass\"", {"run.oms.hlt_key": "/cdaq/physics/v1"}, T),
    # contains: case-sensitive substring; membership for lists
    ("injection_scheme contains \"25ns\"", {"run.oms.injection_scheme": "25ns_2556b"}, T),
    ("injection_scheme contains \"25NS\"", {"run.oms.injection_scheme": "25ns_2556b"}, F),
    ("components contains \"PIXEL\"", {"run.oms.components": ["DT", "PIXEL"]}, T),
    ("components contains \"PIX\"", {"run.oms.components": ["DT", "PIXEL"]}, F),
    # statuses compare exactly with the stored string
    ("dt-dt == GOOD", {"lumisection.rr.dt-dt": "GOOD"}, T),
    ("dt-dt != BAD", {"lumisection.rr.dt-dt": "GOOD"}, T),
    ("dt-dt in [GOOD, STANDBY]", {"lumisection.rr.dt-dt": "BAD"}, F),
    ("dt-dt == EMPTY", {}, T),  # EMPTY means the flag has no status: `is null`
    # dates: a date literal is midnight UTC; ISO strings in the data compare as instants
    ("start_time >= 2018-05-01", {"run.oms.start_time": "2018-05-01T00:00:00Z"}, T),
    ("start_time >= 2018-05-01", {"run.oms.start_time": "2018-04-30T23:59:59Z"}, F),
    ("start_time < 2018-05-01T12:00:00+02:00", {"run.oms.start_time": "2018-05-01T09:59:59Z"}, T),
    ("start_time < 2018-05-01T12:00:00+02:00", {"run.oms.start_time": "2018-05-01T10:00:00Z"}, F),
    ("start_time == 2018-05-01", {"run.oms.start_time": dt.datetime(2018, 5, 1, tzinfo=dt.UTC)}, T),
    ("start_time > 2018-05-01", {"run.oms.start_time": "not a date"}, U),
    # structure: Kleene and/or over unknown parts
    ("bpix_ready and fpix_ready", {"lumisection.oms.bpix_ready": False}, F),
    ("bpix_ready and fpix_ready", {"lumisection.oms.bpix_ready": True}, U),
    ("bpix_ready or fpix_ready", {"lumisection.oms.fpix_ready": True}, T),
    ("bpix_ready or fpix_ready", {"lumisection.oms.fpix_ready": False}, U),
    ("not (bpix_ready or fpix_ready)", {"lumisection.oms.fpix_ready": False}, U),
    ("bpix_ready or bpix_ready is null", {}, T),
]


@pytest.mark.parametrize("query,row,expected", CASES, ids=[f"{q} | {r}" for q, r, _ in CASES])
def test_documented_meaning(query: str, row: dict, expected) -> None:
    assert evaluate(dqquery.parse(query), row) is expected


def test_a_row_is_selected_only_when_the_query_is_true() -> None:
    q = dqquery.parse("energy != 6500")
    assert selects(q, {"run.oms.energy": 6000}) is True
    assert selects(q, {"run.oms.energy": 6500}) is False
    assert selects(q, {}) is False  # unknown: out


@given(st.one_of(st.none(), st.integers(-10, 10), st.floats(allow_nan=False), st.text(max_size=3), st.booleans()))
@settings(deadline=None)  # no wall-clock limit: the machine may be loaded
def test_negated_predicates_are_the_negation_in_three_valued_logic(value) -> None:
    row = {"run.oms.energy": value}
    for a, b in [("energy in 0..5", "energy not in 0..5"), ("energy in [1, 2]", "energy not in [1, 2]"),
                 ("energy < 3", "energy >= 3"), ("energy == 3", "energy != 3")]:
        x, y = evaluate(dqquery.parse(a), row), evaluate(dqquery.parse(b), row)
        assert y is kleene_not(x), (a, b, value)
