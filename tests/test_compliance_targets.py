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

from dqquery.errors import QueryError, QueryWarning
from dqquery.targets.dials import to_dials
from dqquery.targets.jsonlogic import to_jsonlogic
from dqquery.targets.oms import to_oms
from dqquery.targets.runregistry import to_rr

CORPUS = Path(__file__).parent / "compliance" / "targets.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8")) or []

# Corpus key -> (compile function returning plain JSON data, QueryError.target of its rejections).
TARGETS: dict[str, tuple[Callable[[str], Any], str]] = {
    "rr": (lambda q: dict(to_rr(q, kind="runs", raw=False)), "rr"),
    "rr_raw": (lambda q: dict(to_rr(q, kind="runs", raw=True)), "rr-raw"),
    "rr_datasets": (lambda q: dict(to_rr(q, kind="datasets", raw=False)), "rr"),
    "rr_datasets_raw": (lambda q: dict(to_rr(q, kind="datasets", raw=True)), "rr-raw"),
    "dials_run": (lambda q: to_dials(q, endpoint="run"), "dials:run"),
    "dials_lumisection": (lambda q: to_dials(q, endpoint="lumisection"), "dials:lumisection"),
    "dials_th2": (lambda q: to_dials(q, endpoint="th2"), "dials:th2"),
    "oms_runs": (lambda q: to_oms(q, resource="runs"), "oms:runs"),
    "oms_lumisections": (lambda q: to_oms(q, resource="lumisections"), "oms:lumisections"),
    "jsonlogic": (to_jsonlogic, "jsonlogic"),
}
REQUIRED_TARGETS = ("rr", "rr_raw", "dials_run", "dials_lumisection", "dials_th2", "oms_runs", "oms_lumisections", "jsonlogic")

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
