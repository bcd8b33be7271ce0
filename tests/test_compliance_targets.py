"""The per-target compliance corpus (tests/compliance/targets.yaml): every case against every compile target.

Each expectation was written from the service references, not from the compilers' output; a case id is
``targets::<index>::<target>``. Where a compiler disagrees with the corpus and the corpus is right, the pair is
listed in :data:`KNOWN_COMPILER_BUGS` (strict xfail: the test starts failing once the compiler is fixed, so the
entry must then be removed).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import dqquery
from dqquery import targets as registry
from dqquery.errors import QueryError, QueryWarning

CORPUS = Path(__file__).parent / "compliance" / "targets.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8")) or []

def column(spec: str) -> str:
    """The corpus column of a target spec of the registry: ``dials:th2`` -> ``dials_th2``, ``rr-raw`` -> ``rr_raw``."""
    return spec.replace("-", "_").replace(":", "_")


def _compile_fn(spec: str) -> Callable[[str], Any]:
    def compile_fn(query: str) -> Any:
        request = dqquery.compile(query, spec).request
        return dict(request) if isinstance(request, dict) else request

    return compile_fn


# Corpus key -> (compile function returning plain JSON data, QueryError.target of its rejections), from the registry:
# a target registered without a corpus column has no case here, and test_every_corpus_column_is_a_target fails on a
# column that names no target.
TARGETS: dict[str, tuple[Callable[[str], Any], str]] = {column(spec): (_compile_fn(spec), spec) for spec in registry.specs()}
REQUIRED_TARGETS = ("rr", "rr_raw", "dials_run", "dials_lumisection", "dials_th2", "oms_runs", "oms_lumisections", "jsonlogic",
                    "sql_duckdb", "sql_spark")
# (query, corpus key) -> why the corpus is right and the compiler is not (reported to the lead).
KNOWN_COMPILER_BUGS: dict[tuple[str, str], str] = {}


def _params() -> list[Any]:
    out = []
    for i, case in enumerate(CASES):
        for key in TARGETS:
            if key not in case:
                continue
            marks = []
            bug = KNOWN_COMPILER_BUGS.get((case["query"], key))
            if bug:
                marks.append(pytest.mark.xfail(reason=bug, strict=True))
            out.append(pytest.param(case["query"], key, case[key], id=f"targets::{i}::{key}", marks=marks))
    return out


def test_corpus_size_and_completeness() -> None:
    assert len(CASES) >= 60
    queries = [c["query"] for c in CASES]
    assert len(queries) == len(set(queries)), "duplicate queries in targets.yaml"
    for case in CASES:
        missing = [k for k in REQUIRED_TARGETS if k not in case]
        assert not missing, f"{case['query']!r} lacks expectations for {missing}"


def test_every_corpus_column_is_a_target() -> None:
    columns = {key for case in CASES for key in case if key not in ("query", "comment")}
    assert columns <= set(TARGETS), f"corpus columns naming no registered target: {sorted(columns - set(TARGETS))}"
    assert set(REQUIRED_TARGETS) <= set(TARGETS)


def test_known_bugs_refer_to_corpus_entries() -> None:
    entries = {(c["query"], k) for c in CASES for k in TARGETS if k in c}
    assert set(KNOWN_COMPILER_BUGS) <= entries


@pytest.mark.parametrize("query, key, expected", _params())
def test_target_output(query: str, key: str, expected: Any) -> None:
    compile_fn, target_name = TARGETS[key]
    if expected == "unsupported":
        with pytest.raises(QueryError) as info:
            compile_fn(query)
        assert info.value.category == "unsupported", str(info.value)
        assert info.value.target == target_name
        return
    with warnings.catch_warnings():  # a field RR never stores warns (tested in test_conformance_rr_filters); only the output is checked here
        warnings.simplefilter("ignore", QueryWarning)
        assert compile_fn(query) == expected
