"""The support matrix and docs/targets.md: generated from the targets' own tables, checked against the compilers."""

from __future__ import annotations

from pathlib import Path

import pytest

from dqquery import ast as A
from dqquery.support import TARGETS, classify, compiles, representative_queries, support_matrix, targets_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "targets.md"
KINDS = [cls.model_fields["kind"].default for cls in A.NODE_CLASSES]

# (kind, target) -> why the target's SUPPORT table is wrong (reported to the lead; strict xfail).
KNOWN_TABLE_ERRORS: dict[tuple[str, str], str] = {}


def _cases() -> list[object]:
    out = []
    for kind in KINDS:
        for target in TARGETS:
            why = KNOWN_TABLE_ERRORS.get((kind, target))
            marks = [pytest.mark.xfail(reason=why, strict=True)] if why else []
            out.append(pytest.param(target, kind, marks=marks, id=f"{kind}-{target}"))
    return out


def test_docs_targets_page_is_up_to_date() -> None:
    assert DOC.exists(), "docs/targets.md is missing: run `python -m dqquery.support > docs/targets.md`"
    assert DOC.read_text(encoding="utf-8") == targets_markdown(), (
        "docs/targets.md is stale: regenerate it with `python -m dqquery.support > docs/targets.md`"
    )


@pytest.mark.parametrize("target, kind", _cases())
def test_every_node_kind_is_handled_or_refused_with_a_reason(target: str, kind: str) -> None:
    """Adding a node class without a row in each target's SUPPORT table (and a representative query) fails here."""
    t = TARGETS[target]
    assert kind in t.support, f"{target}: SUPPORT has no entry for node kind {kind!r}"
    queries = representative_queries(kind)
    assert queries, f"dqquery.support.REPRESENTATIVES has no query for node kind {kind!r}"
    level = classify(t, kind)
    handled = any(compiles(t, q) for q in queries)
    if level.startswith("unsupported"):
        reason = level.partition(":")[2].strip()
        assert len(reason) > 10, f"{target}/{kind}: unsupported without a reason"
        assert not handled, f"{target}/{kind}: the table says unsupported but a representative query compiles"
    else:
        assert handled, f"{target}/{kind}: the table says {level!r} but no representative query compiles"


def test_matrix_shape_and_levels() -> None:
    matrix = support_matrix()
    assert set(matrix) == set(TARGETS)
    for row in matrix.values():
        assert list(row) == KINDS
        for value in row.values():
            assert value == "exact" or value.split(":")[0] in ("exact", "superset", "partial", "unsupported")


def test_known_facts_show_in_the_matrix() -> None:
    # Facts from the service references, independent of how the tables are worded.
    matrix = support_matrix()
    for no_or in ("dials:run", "dials:th2", "oms:runs", "oms:lumisections"):
        assert matrix[no_or]["or"].startswith("unsupported")
    assert matrix["jsonlogic"]["or"] == "exact"
    for no_regex in ("rr", "rr-raw", "oms:runs", "jsonlogic"):
        assert matrix[no_regex]["regex"].startswith("unsupported")
    assert not matrix["dials:run"]["regex"].startswith("unsupported")
    assert matrix["dials:run"]["is_null"].startswith("unsupported")


def test_the_page_documents_the_cmsdials_typo_and_plan() -> None:
    page = targets_markdown()
    assert "ls_numbet__lte" in page and "ls_number__lte" in page
    assert "plan(" in page and "residual" in page
    for name in TARGETS:
        assert f"### `{name}`" in page
