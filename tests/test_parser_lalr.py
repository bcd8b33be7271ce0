"""The fast LALR driver (:mod:`dqquery.lalr`) against Lark's own LALR parser built from the same grammar.

Both must build the same tree (spans included) or fail at the same offset, for the compliance corpus and for
generated texts; the stored parse tables must equal the tables Lark builds now in strict mode. The same checks run
once more in an interpreter that has the newest Lark release (``DQQUERY_LARK_LATEST_PYTHON``, prepared by
``.ci/run``), so a Lark release that changes the tables or the tree shaping fails here.

Decisions:
* Outcomes are compared, not internals: a tree (compared with its spans), the offset of a syntax error (the fast
  driver's :class:`~dqquery.lalr.Unparsed` against Lark's error translated to a QueryError), or a QueryError the
  transformer raised (message and offset). The driver's own limits (nesting, list length) have no Lark counterpart.
* Absent ``DQQUERY_LARK_LATEST_PYTHON`` skips the newest-Lark test locally and fails it when ``CI=true``: in CI the
  check must have run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark.exceptions import UnexpectedInput, VisitError

import dqquery
from dqquery import parser as P
from dqquery.errors import QueryError
from dqquery.lalr import FastLALR, Tables, Unparsed, tables_from_lark
from dqquery.strategies import query_texts

ROOT = Path(__file__).resolve().parents[1]
COMPLIANCE = ROOT / "tests" / "compliance"
LIMIT_MESSAGES = ("nested too deeply", "a list holds more than")


def _spans(node: Any) -> list[Any]:
    out = [node.span]
    for child in getattr(node, "operands", ()) or ([node.operand] if hasattr(node, "operand") else []):
        out.extend(_spans(child))
    if hasattr(node, "field"):
        out.append(node.field.span)
    for attr in ("value", "low", "high"):
        if hasattr(getattr(node, attr, None), "span"):
            out.append(getattr(node, attr).span)
    out.extend(v.span for v in getattr(node, "values", ()) or ())
    return out


def fast_outcome(text: str) -> tuple[str, Any]:
    try:
        result = P._fast().parse(text)
    except QueryError as err:
        return ("refused", (err.message, err.offset))
    if isinstance(result, Unparsed):
        return ("syntax error at", result.offset)
    return ("tree", (result, _spans(result)))


def lark_outcome(text: str) -> tuple[str, Any]:
    try:
        result = P._parser().parse(text)
    except UnexpectedInput as err:
        return ("syntax error at", P._translate(text, err).offset)
    except VisitError as err:  # pragma: no cover - depends on how the Lark release wraps callback errors
        inner = err.orig_exc
        assert isinstance(inner, QueryError), inner
        return ("refused", (inner.message, inner.offset))
    except QueryError as err:
        return ("refused", (err.message, err.offset))
    return ("tree", (result, _spans(result)))


def assert_same_outcome(text: str) -> None:
    fast = fast_outcome(text)
    if fast[0] == "refused" and any(m in fast[1][0] for m in LIMIT_MESSAGES):
        return  # the driver's own limits: Lark has none
    assert fast == lark_outcome(text), text


def _corpus(name: str) -> list[str]:
    return [case["query"] for case in yaml.safe_load((COMPLIANCE / name).read_text(encoding="utf-8"))]


# ------------------------------------------------------------------------------------------ tables


def test_stored_tables_are_the_tables_lark_builds_in_strict_mode() -> None:
    stored = P.stored_tables()
    assert stored is not None, "dqquery/data/parse_tables.json is missing or stale: run write_tables() (see dqquery.parser)"
    assert stored == P.fresh_tables(), "the stored parse tables differ from Lark's: run write_tables() (see dqquery.parser)"


def test_tables_survive_their_json_form() -> None:
    tables = P.fresh_tables()
    assert Tables.from_json(json.loads(json.dumps(tables.to_json()))) == tables


def test_the_tables_are_built_in_strict_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    # The dangling else: a shift/reduce conflict that Lark resolves silently (by shifting) unless strict.
    from lark import Lark
    from lark.exceptions import LarkError

    dangling_else = 'start: s\ns: "if" s | "if" s "else" s | "x"\n%ignore " "\n'
    Lark(dangling_else, parser="lalr")
    monkeypatch.setattr(P, "grammar_text", lambda: dangling_else)
    with pytest.raises(LarkError, match="[Ss]hift/[Rr]educe"):
        P.fresh_tables()


def test_stale_tables_are_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = json.loads(P.TABLES_FILE.read_text(encoding="utf-8"))
    data["grammar_sha256"] = "0" * 64
    stale = tmp_path / "parse_tables.json"
    stale.write_text(json.dumps(data), encoding="utf-8")
    monkeypatch.setattr(P, "TABLES_FILE", stale)
    assert P.stored_tables() is None
    stale.write_text("{not json", encoding="utf-8")
    assert P.stored_tables() is None


def test_numbering_does_not_depend_on_the_hash_seed() -> None:
    code = "from dqquery.parser import fresh_tables; import json, sys; json.dump(fresh_tables().to_json(), sys.stdout)"
    outs = {
        subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": seed}, capture_output=True,
                       text=True, check=True, timeout=120).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 1


def test_driver_runs_tables_from_any_lark_parser() -> None:
    from lark import Lark

    lark = Lark(P.grammar_text(), parser="lalr", strict=True, maybe_placeholders=False)
    driver = FastLALR(tables_from_lark(lark), P._ToAst())
    text = "run_number in [1, 2] and not (tracker-strip == GOOD or class like \"%Coll%\")"
    assert driver.parse(text) == P._fast().parse(text) == P._parser().parse(text)


# ------------------------------------------------------------------------------------------ differential


@pytest.mark.parametrize("text", _corpus("valid.yaml"))
def test_valid_corpus_parses_the_same(text: str) -> None:
    assert fast_outcome(text)[0] == "tree"
    assert_same_outcome(text)


@pytest.mark.parametrize("text", _corpus("invalid.yaml"))
def test_invalid_corpus_fails_the_same(text: str) -> None:
    assert_same_outcome(text)


_PIECES = st.sampled_from(
    list("abxz_-.019 \"'\\()[],=!<>~%#\n\t")
    + ["and", "or", "not", "in", "like", "contains", "is", "null", "true", "false", "..", "2018-05-01",
       "T12:00Z", "tracker-strip", "GOOD", "energy", "bpix_ready", "==", "1e999", "run.oms.", "\\ud800", "[1, 2]"]
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query_texts())
def test_generated_queries_parse_the_same(text: str) -> None:
    assert fast_outcome(text)[0] == "tree"
    assert_same_outcome(text)


@settings(max_examples=1000, deadline=None)
@given(st.one_of(st.lists(_PIECES, max_size=12).map("".join), st.text(max_size=20)))
def test_generated_texts_fail_at_the_same_offset(text: str) -> None:
    assert_same_outcome(text)


def test_parse_syntax_reports_lark_s_error_where_the_driver_stopped() -> None:
    text = "tracker-strip == GOOD and (bpix_ready or"
    with pytest.raises(QueryError) as err:
        dqquery.parse(text)
    assert err.value.offset == fast_outcome(text)[1] == len(text)


# ------------------------------------------------------------------------------------------ newest Lark


def test_the_driver_agrees_with_the_newest_lark_release() -> None:
    python = os.environ.get("DQQUERY_LARK_LATEST_PYTHON", "")
    if not python:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but DQQUERY_LARK_LATEST_PYTHON is not set: .ci/run prepares the newest Lark in .ci/lark-latest")
        pytest.skip("DQQUERY_LARK_LATEST_PYTHON is not set (.ci/run installs the newest Lark release in .ci/lark-latest)")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DQQUERY_LARK_LATEST_PYTHON": ""}
    probe = "import dqquery, lark; print(lark.__version__); print(dqquery.__file__)"
    version, imported = subprocess.run([python, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True,
                                       timeout=60).stdout.split()
    assert Path(imported).resolve().is_relative_to(ROOT), f"the newest-Lark interpreter imports dqquery from {imported}"
    env.pop("CI", None)
    run = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(Path(__file__)), "-k", "not newest_lark"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, f"with lark {version}:\n{run.stdout[-4000:]}\n{run.stderr[-2000:]}"
    assert "passed" in run.stdout


# ------------------------------------------------------------------------------------------ startup


def test_a_valid_query_imports_no_lark_and_builds_no_validator() -> None:
    # What `dqquery check` pays for (tests/benchmarks/bench_startup.py measures it): stored tables, no Lark, no
    # pydantic validator (nodes are built trusted; validators are built on the first validation).
    code = (
        "import sys, dqquery\n"
        "from dqquery import ast as A, parser as P\n"
        "assert P.stored_tables() is not None\n"
        "dqquery.parse('run_number in [1, 2] and not (tracker-strip == GOOD or class like \"%C%\") and bpix_ready')\n"
        "assert 'lark' not in sys.modules, 'lark imported'\n"
        "built = [c.__name__ for c in A.NODE_CLASSES if c.__pydantic_complete__]\n"
        "assert not built, built\n"
        "try:\n"
        "    dqquery.parse('run_number in [1, 2')\n"
        "except dqquery.QueryError as err:\n"
        "    assert 'lark' in sys.modules and err.offset == 19, err\n"
        "assert A.node_from_json(A.node_to_json(dqquery.parse('bpix_ready'))) == dqquery.parse('bpix_ready')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
