"""Hints for notations carried over from other languages: ``=>``, ``in (1, 2)`` and ``in 1-5``.

Each hint shows the dqquery spelling; the property is that the spelling it shows parses, and means what the
user wrote (the operator, the list of values, the range).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dqquery
from dqquery import ast as A

INT_FIELDS = ["run_number", "ls_number", "fill_number"]
INTS = st.integers(-10**6, 10**7)


def _hint(query: str) -> str:
    with pytest.raises(dqquery.QueryError) as info:
        dqquery.parse(query)
    assert info.value.category == "syntax"
    return info.value.hint


def _suggested(hint: str) -> str:
    return hint.split("`")[1]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.sampled_from(INT_FIELDS), st.sampled_from([">", "<"]), INTS)
def test_swapped_comparison_gets_the_operator_it_means(field: str, arrow: str, value: int) -> None:
    hint = _hint(f"{field} ={arrow} {value}")
    assert hint.startswith(f"did you mean '{arrow}='?")
    assert dqquery.parse(f"{field} {arrow}= {value}") == A.Compare(field=dqquery.parse(f"{field} == 0").field, op=f"{arrow}=",
                                                                    value=dqquery.parse(f"{field} == {value}").value)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.sampled_from(INT_FIELDS), st.lists(INTS, min_size=1, max_size=4), st.sampled_from(["", "bpix_ready and "]))
def test_a_list_in_parentheses_gets_the_bracketed_list(field: str, values: list[int], prefix: str) -> None:
    written = ", ".join(map(str, values))
    hint = _hint(f"{prefix}{field} in ({written})")
    assert hint.startswith("lists use [ ]")
    assert dqquery.parse(_suggested(hint)) == dqquery.parse(f"{field} in [{written}]")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.sampled_from(INT_FIELDS), st.lists(st.integers(0, 10**7), min_size=2, max_size=2).map(sorted), st.sampled_from(["-", " - "]))
def test_a_hyphenated_range_gets_the_dotted_range(field: str, bounds: list[int], hyphen: str) -> None:
    low, high = bounds
    hint = _hint(f"{field} in {low}{hyphen}{high}")
    assert hint == f"ranges use '..': write `{low}..{high}`"
    node = dqquery.parse(f"{field} in {_suggested(hint)}")
    assert (node.low.value, node.high.value) == (low, high)


def test_the_three_hints_as_printed() -> None:
    assert _hint("run_number => 315000") == "did you mean '>='? comparison operators are ==, !=, <, <=, >, >="
    assert _hint("run_number in (1, 2)") == "lists use [ ]: write `run_number in [1, 2]`"
    assert _hint("run_number in 315000-316000") == "ranges use '..': write `315000..316000`"


def test_a_minus_elsewhere_gets_no_range_hint() -> None:
    assert "range" not in _hint("run_number - 3")
