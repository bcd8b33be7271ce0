"""The safe json-logic-qubit runner: conformance with jsonlogic.com's shared suite, and what it refuses."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import json_logic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dqquery.errors import QueryError
from dqquery.jsonlogic_engine import (
    JSON_LOGIC_JS_OPERATORS,
    MAX_DEPTH,
    SAFE_OPERATORS,
    UnsafeEngineError,
    apply_rule,
    js_truthy,
    validate_rule,
)

SUITE = Path(__file__).parent / "data" / "jsonlogic" / "tests.json"


def _operators(rule: Any) -> set[str]:
    if isinstance(rule, dict):
        return {op for k, v in rule.items() for op in {k} | _operators(v)}
    if isinstance(rule, list):
        return {op for x in rule for op in _operators(x)}
    return set()


def _suite() -> tuple[list[Any], Counter[str]]:
    cases, skipped = [], Counter()
    section = ""
    for entry in json.loads(SUITE.read_text()):
        if isinstance(entry, str):
            section = entry
            continue
        refused = _operators(entry[0]) - SAFE_OPERATORS
        if refused:
            skipped.update(refused)
            continue
        cases.append(pytest.param(*entry, id=f"{section[:30]}:{json.dumps(entry[0])[:60]}"))
    return cases, skipped


CASES, SKIPPED = _suite()


def test_suite_is_complete_and_nothing_is_skipped() -> None:
    # 277 cases in the file; none uses a refused operator (its only "log" is a string in data).
    assert len(CASES) + sum(SKIPPED.values()) == 277
    assert Counter() == SKIPPED


def _same(a: Any, b: Any) -> bool:
    """Type-aware equality: true != 1, but 1 == 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


@pytest.mark.parametrize("rule,data,expected", CASES)
def test_conformance(rule: Any, data: Any, expected: Any) -> None:
    assert _same(apply_rule(rule, data), expected)


@pytest.mark.parametrize(
    "rule,category",
    [
        ({"method": [{"var": "lumisection"}, "clear"]}, "unsupported"),
        ({"and": [{"method": ["abc", "upper"]}]}, "unsupported"),
        ({"log": "hello"}, "unsupported"),
        ({"count": [1, 2]}, "unsupported"),
        ({"==": [{"var": "lumisection.rr.dt-dt"}, "GOOD"], "typo": 1}, "syntax"),
        ({"and": [{"==": [{"var": "x"}, 1], "extra": 2}, True]}, "syntax"),
        ({}, "syntax"),
        ({"datetime.date": [2018, 1, 1]}, "syntax"),
        ({"nosuchop": [1]}, "syntax"),
        ({"==": [1, float("nan")]}, "syntax"),
        ({"==": [1, {1, 2}]}, "syntax"),
    ],
)
def test_malformed_or_refused_rules_never_run(rule: Any, category: str) -> None:
    data = {"lumisection": {"rr": {"dt-dt": "BAD"}}}
    with pytest.raises(QueryError) as err:
        apply_rule(rule, data)
    assert err.value.category == category
    assert data == {"lumisection": {"rr": {"dt-dt": "BAD"}}}  # `method: clear` did not run


def test_two_key_object_is_a_true_literal_in_raw_qubit() -> None:
    """Why validation matters: the raw engine certifies a BAD lumisection with one malformed clause."""
    rule = {"and": [{"==": [{"var": "lumisection.rr.dt-dt"}, "GOOD"], "typo": 1}, True]}
    data = {"lumisection": {"rr": {"dt-dt": "BAD"}}}
    assert json_logic.jsonLogic(rule, data) is True
    with pytest.raises(QueryError):
        apply_rule(rule, data)


def test_depth_limit() -> None:
    deep: Any = True
    for _ in range(MAX_DEPTH + 1):
        deep = {"!": [deep]}
    with pytest.raises(QueryError, match="nested deeper"):
        validate_rule(deep)
    shallow: Any = True
    for _ in range(MAX_DEPTH // 2):  # an even number of negations, depth exactly MAX_DEPTH
        shallow = {"!": [shallow]}
    assert apply_rule(shallow, {}) is True


def test_custom_operation_shadowing_a_standard_operator_is_refused() -> None:
    json_logic.add_operation("==", lambda a, b: True)
    try:
        assert json_logic.jsonLogic({"==": [1, 2]}) is True  # the hazard
        with pytest.raises(UnsafeEngineError, match="=="):
            apply_rule({"==": [1, 2]}, {})
    finally:
        json_logic.rm_operation("==")
    assert apply_rule({"==": [1, 2]}, {}) is False


def test_replaced_builtin_is_refused() -> None:
    table = json_logic._common_operations
    original = table["in"]
    table["in"] = lambda a, b: True
    try:
        with pytest.raises(UnsafeEngineError, match="in"):
            apply_rule({"in": ["x", "abc"]}, {})
    finally:
        table["in"] = original
    assert apply_rule({"in": ["x", "abc"]}, {}) is False


def test_non_shadowing_custom_operation_is_unreachable() -> None:
    json_logic.add_operation("lsrange", lambda ls, a, b: a <= ls <= b)
    try:
        assert apply_rule({"<": [1, 2]}, {}) is True
        with pytest.raises(QueryError):
            apply_rule({"lsrange": [5, 1, 10]}, {})
    finally:
        json_logic.rm_operation("lsrange")


def test_allow_list_is_json_logic_js_minus_refused() -> None:
    assert SAFE_OPERATORS < JSON_LOGIC_JS_OPERATORS
    assert {"method", "log", "count"}.isdisjoint(SAFE_OPERATORS)
    assert set(json_logic.operations) >= SAFE_OPERATORS


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=3), kids, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(_json)
def test_validation_accepts_exactly_single_key_allowed_objects(rule: Any) -> None:
    def ok(node: Any) -> bool:
        if isinstance(node, dict):
            return len(node) == 1 and all(k in SAFE_OPERATORS and ok(v) for k, v in node.items())
        if isinstance(node, list):
            return all(ok(x) for x in node)
        return True

    if ok(rule):
        validate_rule(rule)
    else:
        with pytest.raises(QueryError):
            validate_rule(rule)


@pytest.mark.parametrize("value,expected", [([], True), ({}, True), (0, False), ("", False), (None, False), ("0", True), (0.0, False)])
def test_js_truthy(value: Any, expected: bool) -> None:
    assert js_truthy(value) is expected
