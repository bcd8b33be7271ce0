"""The compliance corpus (tests/compliance/*.yaml): data, validated against schema.json, run case by case."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

import dqquery
from dqquery.ast import node_from_json, node_to_json

HERE = Path(__file__).parent / "compliance"


def _load(name: str) -> list[dict]:
    return yaml.safe_load((HERE / name).read_text(encoding="utf-8")) or []


VALID = _load("valid.yaml")
INVALID = _load("invalid.yaml")


def test_corpus_matches_schema() -> None:
    # The acceptance sizes: at least 80 valid and 40 invalid queries, 60 with per-target expectations.
    assert len(VALID) >= 80 and len(INVALID) >= 40
    schema = json.loads((HERE / "schema.json").read_text())
    document = {"valid": VALID, "invalid": INVALID}
    targets = HERE / "targets.yaml"
    if targets.exists():
        document["targets"] = _load("targets.yaml")
    jsonschema.validate(document, schema)


def test_corpus_queries_are_unique() -> None:
    queries = [c["query"] for c in VALID + INVALID]
    assert len(queries) == len(set(queries))


@pytest.mark.parametrize("case", VALID, ids=[f"valid::{i}" for i in range(len(VALID))])
def test_valid_query(case: dict) -> None:
    node = dqquery.parse(case["query"])
    assert dqquery.unparse(node) == case["canonical"]
    assert json.loads(node_to_json(node)) == case["ast"]
    # The canonical text is a fixed point and means the same tree.
    assert dqquery.parse(case["canonical"]) == node
    assert node_from_json(case["ast"]) == node


@pytest.mark.parametrize("case", INVALID, ids=[f"invalid::{i}" for i in range(len(INVALID))])
def test_invalid_query(case: dict) -> None:
    with pytest.raises(dqquery.QueryError) as info:
        dqquery.parse(case["query"])
    err = info.value
    assert err.category == case["category"], str(err)
    assert (err.line, err.column) == (case["line"], case["column"]), str(err)
    # The rendered message shows the offending line and a caret under the column.
    rendered = str(err)
    if case["query"].strip():
        src_line = case["query"].split("\n")[err.line - 1]
        shown, caret_line = rendered.split("\n")[1:3]
        caret = caret_line.index("^") - len("  | ")
        if len(src_line) <= 100:
            assert shown == f"  | {src_line}"
            assert caret == err.column - 1
        else:  # a long line is shown as a window around the caret, cut with "..."
            window = shown[len("  | ") :]
            assert window.strip(".") in src_line and len(window) <= 106
            assert window[caret] == src_line[err.column - 1]


def test_status_words_follow_the_grammar_name_terminal() -> None:
    """ast's status-word pattern is the grammar's NAME without its reserved-word look-ahead (no drift)."""
    import re

    from dqquery import ast as A
    from dqquery.parser import grammar_text

    name = re.search(r"^NAME: /(.*)/$", grammar_text(), re.M).group(1)
    assert name.startswith("(?!") and name.endswith(A._WORD.pattern)
    assert len(name) > len(A._WORD.pattern)
