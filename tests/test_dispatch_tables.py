"""Class-to-handler tables (``dqquery.ast.NodeTable``), ``ast.walk`` and the one negated-operator table.

Every module of the package is imported first, so every table made with ``NodeTable`` is registered in
``ast.NODE_TABLES``; the coverage test then fails for any table that lacks a handler for a class it declares
(a new node class fails it until every table handles it).
"""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dqquery
from dqquery import ast as A
from dqquery import strategies as S
from dqquery.normal import negate, to_nnf
from dqquery.semantics import evaluate, evaluate_predicate, kleene_not
from dqquery.unparse import value_text


def _import_every_module() -> list[str]:
    names = [info.name for info in pkgutil.walk_packages(dqquery.__path__, prefix="dqquery.") if not info.name.endswith("__main__")]
    for name in names:
        importlib.import_module(name)
    return names


MODULES = _import_every_module()


def coverage_problems(tables: list[A.NodeTable]) -> list[str]:
    """One line per table that misses a declared class or handles an undeclared one."""
    problems = []
    for table in tables:
        if table.uncovered():
            problems.append(f"{table.name} has no handler for " + ", ".join(c.__name__ for c in table.uncovered()))
        if table.unexpected():
            problems.append(f"{table.name} handles undeclared " + ", ".join(c.__name__ for c in table.unexpected()))
    return problems


def test_every_module_was_imported() -> None:
    assert "dqquery.vectorized" in MODULES and "dqquery.targets.runregistry" in MODULES


def test_every_table_covers_every_class_it_declares() -> None:
    assert coverage_problems(A.NODE_TABLES) == []


def test_the_passes_over_trees_dispatch_through_registered_tables() -> None:
    modules = {table.name.split(".")[0] for table in A.NODE_TABLES}
    assert {"ast", "check", "normal", "semantics", "unparse", "evaluator", "vectorized", "rr", "dials", "oms"} <= modules
    for table in A.NODE_TABLES:
        if table.name.split(".")[0] in ("rr", "dials", "oms", "jsonlogic"):
            # A compiler's table may cover only the classes its support table lets through (the rest are refused
            # before dispatch, with the support table's reason); it still names them, and they are node classes.
            assert set(table.covers) <= {*A.NODE_CLASSES, *A.VALUE_CLASSES} and table.covers, table.name
        else:
            assert table.covers in (A.NODE_CLASSES, A.PREDICATE_CLASSES, A.VALUE_CLASSES), table.name
    assert len({table.name for table in A.NODE_TABLES}) == len(A.NODE_TABLES), "table names are unique"


def test_a_table_missing_a_class_is_reported() -> None:
    incomplete = A.NodeTable("test.incomplete", A.NODE_CLASSES, {cls: str for cls in A.NODE_CLASSES if cls is not A.Regex})
    overfull = A.NodeTable("test.overfull", A.PREDICATE_CLASSES, dict.fromkeys(A.NODE_CLASSES, str))
    try:
        assert incomplete in A.NODE_TABLES and overfull in A.NODE_TABLES
        assert coverage_problems(A.NODE_TABLES) == [
            "test.incomplete has no handler for Regex",
            "test.overfull handles undeclared Not, And, Or",
        ]
    finally:
        A.NODE_TABLES.remove(incomplete)
        A.NODE_TABLES.remove(overfull)
    assert coverage_problems(A.NODE_TABLES) == []


def test_lookup_by_class_with_subclass_fallback_and_a_named_error() -> None:
    table = A.NodeTable("test.lookup", A.PREDICATE_CLASSES, {A.Compare: "compare", A.IsNull: "is_null"})
    A.NODE_TABLES.remove(table)

    class Special(A.IsNull):
        pass

    assert table[A.Compare] == "compare"
    assert table[Special] == "is_null"
    with pytest.raises(TypeError, match=r"test\.lookup: no handler for Regex"):
        table[A.Regex]
    with pytest.raises(TypeError, match=r"test\.lookup: no handler for 'x'"):
        table["x"]


def test_passes_refuse_what_is_not_a_node_with_a_type_error() -> None:
    with pytest.raises(TypeError, match="not a query node"):
        dqquery.unparse(A.IntValue(value=1))
    with pytest.raises(TypeError, match="not a literal"):
        value_text(A.FieldRef(name="x", path="x"))


# ------------------------------------------------------------------------------------------ walk


def _reference_preorder(node: A.Node) -> list[A.Node]:
    out = [node]
    for child in A.children(node):
        out.extend(_reference_preorder(child))
    return out


@settings(max_examples=200, deadline=None, derandomize=True)
@given(S.queries())
def test_walk_is_the_pre_order_of_the_tree(node: A.Node) -> None:
    visited = list(A.walk(node))
    assert visited == _reference_preorder(node)
    assert all(a is b for a, b in zip(visited, _reference_preorder(node)))
    assert [n for n in visited if isinstance(n, A.PREDICATE_CLASSES)] == A.predicates_of(node)
    assert [n.field for n in visited if isinstance(n, A.PREDICATE_CLASSES)] == A.fields_of(node)
    assert sum(len(A.children(n)) for n in visited) == len(visited) - 1  # a tree: every node but the root has a parent


def test_walk_is_not_limited_by_the_recursion_limit() -> None:
    leaf = dqquery.parse("bpix_ready")
    node = leaf
    for _ in range(20_000):
        node = A.Not(operand=node)
    visited = list(A.walk(node))
    assert len(visited) == 20_001 and visited[-1] is leaf


def test_walk_order_is_source_order() -> None:
    node = dqquery.parse("run_number > 1 and (not bpix_ready or fill_number in [1, 2]) and energy is null")
    kinds = [n.kind for n in A.walk(node)]
    assert kinds == ["and", "compare", "or", "not", "compare", "in_set", "is_null"]


# ------------------------------------------------------------------------------------------ negation


def test_the_negated_operator_table_is_an_involution_over_every_operator() -> None:
    assert set(A.NEGATED_OP) == set(A.COMPARE_OPS) == set(A.NEGATED_OP.values())
    assert all(A.NEGATED_OP[A.NEGATED_OP[op]] == op for op in A.COMPARE_OPS)
    assert all(A.NEGATED_OP[op] != op for op in A.COMPARE_OPS)


_DATA = st.one_of(
    st.none(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.sampled_from(["GOOD", "BAD", "Collisions18", "25ns", "", "%", "2018-05-01"]),
    st.text(max_size=4),
    st.datetimes(min_value=dt.datetime(2017, 1, 1), max_value=dt.datetime(2019, 1, 1), timezones=st.just(dt.UTC)),
    st.lists(st.sampled_from(["tracker", "ecal", "dt"]), max_size=2),
)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(S.predicates(), _DATA)
def test_negated_has_the_opposite_truth_on_any_value(predicate: A.Node, data: object) -> None:
    flipped = A.negated(predicate)
    if isinstance(predicate, A.Contains):
        assert flipped is None
        return
    assert type(flipped) is type(predicate) and flipped.field == predicate.field
    assert evaluate_predicate(flipped, data) is kleene_not(evaluate_predicate(predicate, data))
    assert A.negated(flipped) == predicate


def test_negated_keeps_the_span() -> None:
    node = dqquery.parse("bpix_ready and run_number < 5 and energy in 1..2")
    for predicate in node.operands:
        assert A.negated(predicate).span == predicate.span is not None


@settings(max_examples=300, deadline=None, derandomize=True)
@given(S.queries(), st.data())
def test_normal_forms_keep_the_meaning(node: A.Node, data: st.DataObject) -> None:
    row = {f.path: data.draw(_DATA) for f in A.fields_of(node)}
    assert evaluate(to_nnf(node), row) is evaluate(node, row)
    assert evaluate(negate(node), row) is kleene_not(evaluate(node, row))
    for n in A.walk(to_nnf(node)):
        assert not isinstance(n, A.Not) or isinstance(n.operand, A.Contains)
