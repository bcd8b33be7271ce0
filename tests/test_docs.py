"""Every example in README.md and docs/ is executed, so the documentation cannot rot, and it is executed the way a
reader runs it: against dqquery installed from its wheel in a fresh virtual environment, in a temporary folder
(not the source tree), so an example that needs a file only the checkout has fails here.

Conventions in the Markdown files:
* ```dq blocks hold queries: a line that starts at column 0 begins a query, indented lines continue it;
  each query must parse.
* ```text blocks that start with ``error[`` show a rendered error for the query on their second line;
  it must be reproduced exactly.
* ```python blocks are executed in order, one namespace per file, in a temporary directory; a line
  ``print(x)  # expected`` checks that the printed text equals ``expected``.
* ```console blocks hold ``$ dqquery ...`` commands; they run in-process and the lines below a command are
  its expected output (``...`` on a line of its own skips any number of lines; ``...`` inside a line matches any text; the
  output must be shown completely, or end with a ``...`` line). The commands of one block run in order in one
  folder, so a command may read what an earlier one wrote (``dqquery examples``, then ``@golden2018.dq``).

Decisions:
* The wheel is built and installed once per test session (tests/wheel_venv.py: offline, ``--no-deps``), and
  every example runs in ONE process of that environment (tests/docs_runner.py), which reports what happened;
  the tests here compare it with the documentation.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from dqquery.catalog import fields_markdown

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").rglob("*.md") if "dev" not in p.relative_to(ROOT / "docs").parts)]
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)


def blocks(kind: str) -> list[tuple[str, int, str]]:
    out = []
    for path in FILES:
        text = path.read_text(encoding="utf-8")
        for m in BLOCK.finditer(text):
            if m.group(1) == kind:
                out.append((path.name, text.count("\n", 0, m.start()) + 1, m.group(2)))
    return out


def split_queries(block: str) -> list[str]:
    queries: list[str] = []
    for line in block.splitlines():
        if not line.strip():
            continue
        if line[0] in " \t" and queries:
            queries[-1] += "\n" + line
        else:
            queries.append(line)
    return queries


def _python_files() -> list[Path]:
    return [p for p in FILES if "```python" in p.read_text(encoding="utf-8")]


def _python_blocks(path: Path) -> list[list[str]]:
    text = path.read_text(encoding="utf-8")
    return [[f"{path.name}:{text.count(chr(10), 0, m.start()) + 2}", m.group(2)] for m in BLOCK.finditer(text) if m.group(1) == "python"]


ERROR_BLOCKS = [b for b in blocks("text") if b[2].startswith("error[")]


def _key(*parts: Any) -> str:
    return ":".join(str(p) for p in parts)


@pytest.fixture(scope="module")
def installed(dqquery_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run every example against the wheel installed in a fresh environment; what happened, per example."""
    from wheel_venv import install_in_new_venv

    base = tmp_path_factory.mktemp("docs-wheel")
    python = install_in_new_venv(dqquery_wheel, base / "venv")
    jobs = {
        "queries": {_key(w, n, i): q for w, n, b in blocks("dq") for i, q in enumerate(split_queries(b))},
        "errors": {_key(w, n): b.splitlines()[1][len("  | ") :] for w, n, b in ERROR_BLOCKS},
        "python": {str(p.relative_to(ROOT)): _python_blocks(p) for p in _python_files()},
        "console": {},
    }
    for where, line, cmd, _ in _console_commands():
        jobs["console"].setdefault(_key(where, line), []).append(shlex.split(cmd)[1:])
    (base / "jobs.json").write_text(json.dumps(jobs), encoding="utf-8")
    work, home = base / "work", base / "home"
    work.mkdir()
    home.mkdir()
    env = {"PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": str(home),
           "DQQUERY_CACHE_DIR": str(home / "cache"), "MPLBACKEND": "Agg", "LANG": "C.UTF-8"}
    runner = Path(__file__).with_name("docs_runner.py")
    done = subprocess.run([str(python), "-I", str(runner), str(base / "jobs.json"), str(base / "results.json")],
                          cwd=work, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    results = json.loads((base / "results.json").read_text(encoding="utf-8"))
    assert Path(results["dqquery_file"]).is_relative_to(base / "venv"), f"not the wheel's dqquery: {results['dqquery_file']}"
    return results


def test_examples_run_against_the_installed_wheel(installed: dict[str, Any]) -> None:
    assert "site-packages" in Path(installed["dqquery_file"]).parts


@pytest.mark.parametrize("where,line,block", blocks("dq"), ids=lambda x: str(x)[:30])
def test_query_examples_parse(where: str, line: int, block: str, installed: dict[str, Any]) -> None:
    queries = split_queries(block)
    assert queries, f"{where}:{line}: empty dq block"
    for i, q in enumerate(queries):
        assert installed["queries"][_key(where, line, i)] is None, f"{where}:{line}: {q}\n{installed['queries'][_key(where, line, i)]}"


@pytest.mark.parametrize("where,line,block", ERROR_BLOCKS, ids=lambda x: str(x)[:30])
def test_error_examples_are_what_dqquery_prints(where: str, line: int, block: str, installed: dict[str, Any]) -> None:
    printed = installed["errors"][_key(where, line)]
    assert printed is not None, f"{where}:{line}: the query parses, but the page shows an error"
    assert printed == block.rstrip("\n")


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: p.name)
def test_python_examples_run(path: Path, installed: dict[str, Any]) -> None:
    result = installed["python"][str(path.relative_to(ROOT))]
    assert result["error"] is None, result["error"]
    code = "\n".join(block for _, block in _python_blocks(path))
    expected = [c.split("#", 1)[1].strip() for c in code.splitlines() if c.lstrip().startswith("print(") and "#" in c]
    for exp in expected:
        assert exp in result["printed"], f"{path.name}: expected a printed line {exp!r}, got {result['printed']}"


PRINTS = re.compile(r"^```python\n.*?^```\n\s*prints\s*\n\s*^```text\n(.*?)^```", re.M | re.S)


def _printed_outputs() -> list[tuple[Path, str]]:
    """```text blocks introduced by a line ``prints`` right after a python block: that block's whole output."""
    return [(p, m.group(1)) for p in FILES for m in PRINTS.finditer(p.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("path,shown", _printed_outputs(), ids=lambda x: getattr(x, "name", str(x)[:30]))
def test_shown_output_of_a_python_example_is_what_it_prints(path: Path, shown: str, installed: dict[str, Any]) -> None:
    printed, lines = installed["python"][str(path.relative_to(ROOT))]["printed"], shown.splitlines()
    starts = [i for i in range(len(printed) - len(lines) + 1) if printed[i : i + len(lines)] == lines]
    assert starts, f"{path.name}: the shown output {lines} is not printed as it is; printed: {printed}"


# Fenced blocks that no test runs, each with the reason (keyed by page and first line). Anything else must be
# a kind that runs: dq, python, console, an error[ text block, or the output ("prints") of a python block.
NOT_EXECUTED = {
    ("README.md", "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/dqquery demo"):
        "the install commands themselves; .ci/run runs the second, tests/test_packaging.py checks they agree",
    ("getting-started.md", "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/dqquery demo"):
        "the README's install command",
    ("getting-started.md", '.venv/bin/pip install -e ".[plot,pandas]"  # plots (matplotlib) and DataFrames (pandas)'):
        "installing extras (network)",
    ("cli.md", "wrote snapshot.json.gz: 482 runs, 482 datasets, 250725 lumisections"):
        "stderr of a one-minute fetch of the demo year from dqquery serve (tests/test_cli_conventions.py checks the report)",
    ("fetching.md", "dqquery fetch @query.dq --dataset '/PromptReco/Collisions2022%/DQM' -o snap.json.gz"):
        "needs the production Run Registry and credentials",
    ("fetching.md", "error: fetching runs from Run Registry failed: cannot connect to http://127.0.0.1:9 (connection refused) after 5 attempts; check the Run Registry URL (--rr or DQQUERY_RR_URL) and your network"):
        "five retries with back-off; tests/test_sources.py checks the message",
    ("fetching.md", "python -m dqquery.testing serve --snapshot snap.json.gz --port 9500"):
        "a server until Ctrl-C; the same round trip runs as the python example above it",
    ("fetching.md", "dqquery golden @query.dq --rr \"$DQQUERY_RR_URL\" --dataset '/PromptReco/Collisions2018A/DQM' --compare-remote"):
        "needs the production Run Registry's JSON portal",
    ("language.md", '--8<-- "grammar/dqquery.lark"'): "the grammar file, included by the docs site",
    ("engines.md", 'pip install "dqquery[spark]"  # on the machine that runs spark-submit: the driver, in client mode'):
        "installing and spark-submit to a cluster; the same script runs in local mode in the python block below it",
    ("columnar.md", 'pip install "dqquery[fast]"     # numpy and pyarrow'):
        "an install line and the user's own snapshot file; tests/test_columnar.py runs both conversions and golden on a columnar file",
    ("columnar.md", "dqquery snapshot export --format parquet snapshot.dqc tables/          # range level (default)"):
        "the user's own snapshot file; tests/test_tables.py runs both levels of the export through the command line",
    ("columnar.md", "unzip snapshot.dqc -d snapshot-tables"):
        "unzip and polars on a file the reader made; tests/test_columnar.py reads every member with polars",
    ("reproduce-rr-golden-json.md", "dqquery fetch @golden2018.dq --dataset '/ReReco/Run2018__UL2019/DQM' -o run2018.json.gz"):
        "needs the production Run Registry and credentials",
    ("reproduce-rr-golden-json.md", "dqquery golden @golden2018.dq --snapshot run2018.json.gz --dataset '/ReReco/Run2018__UL2019/DQM' \\"):
        "needs the production Run Registry's JSON portal",
}


def test_every_fenced_block_runs_or_says_why_not() -> None:
    shown_outputs = {shown for _, shown in _printed_outputs()}
    skipped = set()
    for path in FILES:
        for m in re.finditer(r"^```(\w*)\n(.*?)^```", path.read_text(encoding="utf-8"), re.M | re.S):
            kind, body = m.group(1), m.group(2)
            if kind in ("dq", "python", "console") or (kind == "text" and (body.startswith("error[") or body in shown_outputs)):
                continue
            skipped.add((path.name, body.splitlines()[0] if body else ""))
    assert skipped == set(NOT_EXECUTED), (f"run these or list them in NOT_EXECUTED with the reason: {sorted(skipped - set(NOT_EXECUTED))}; "
                                          f"listed but gone: {sorted(set(NOT_EXECUTED) - skipped)}")


def _console_commands() -> list[tuple[str, int, str, list[str]]]:
    out = []
    for where, line, block in blocks("console"):
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            if lines[i].startswith("$ dqquery "):
                cmd = lines[i][2:]
                expected = []
                i += 1
                while i < len(lines) and not lines[i].startswith("$ "):
                    expected.append(lines[i])
                    i += 1
                out.append((where, line, cmd, expected))
            else:
                i += 1
    return out


def _line_matches(expected: str, got: str) -> bool:
    """Exact match, except that ``...`` inside a line stands for any text (timings, paths)."""
    pattern = ".*".join(re.escape(part) for part in expected.rstrip().split("..."))
    return re.fullmatch(pattern, got.rstrip()) is not None


def _matches(expected: list[str], got: list[str]) -> bool:
    if not expected:
        return not got
    if expected[0] == "...":
        return any(_matches(expected[1:], got[k:]) for k in range(len(got) + 1))
    return bool(got) and _line_matches(expected[0], got[0]) and _matches(expected[1:], got[1:])


def _console_cases() -> list[tuple[str, int, int, str, list[str]]]:
    """(page, block line, index of the command in its block, command, expected output)."""
    cases, seen = [], {}
    for where, line, cmd, expected in _console_commands():
        index = seen[(where, line)] = seen.get((where, line), -1) + 1
        cases.append((where, line, index, cmd, expected))
    return cases


@pytest.mark.parametrize("where,line,index,cmd,expected", _console_cases(), ids=lambda x: str(x)[:40])
def test_console_examples(where: str, line: int, index: int, cmd: str, expected: list[str], installed: dict[str, Any]) -> None:
    result = installed["console"][_key(where, line)][index]
    got = (result["out"] + result["err"]).splitlines()
    shows_error = any(line.startswith("error") for line in expected)
    assert result["code"] in ((2,) if shows_error else (0, 1)), result["err"]
    assert _matches(expected, got), f"{where}:{line}: {cmd}\nexpected:\n" + "\n".join(expected) + "\ngot:\n" + "\n".join(got)


def test_fields_page_is_generated_from_the_catalog() -> None:
    assert (ROOT / "docs" / "fields.md").read_text(encoding="utf-8") == fields_markdown(), (
        "docs/fields.md is stale: run `python -m dqquery.catalog > docs/fields.md`"
    )
