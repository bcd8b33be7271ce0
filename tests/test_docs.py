"""Every example in README.md and docs/ is executed, so the documentation cannot rot.

Conventions in the Markdown files:
* ```dq blocks hold queries: a line that starts at column 0 begins a query, indented lines continue it;
  each query must parse.
* ```text blocks that start with ``error[`` show a rendered error for the query on their second line;
  it must be reproduced exactly.
* ```python blocks are executed in order, one namespace per file, in a temporary directory; a line
  ``print(x)  # expected`` checks that the printed text equals ``expected``.
* ```console blocks hold ``$ dqquery ...`` commands; they run in-process and the lines below a command are
  its expected output (``...`` on a line of its own skips any number of lines; ``...`` inside a line matches any text; the
  output must be shown completely, or end with a ``...`` line).
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

import dqquery
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


@pytest.mark.parametrize("where,line,block", blocks("dq"), ids=lambda x: str(x)[:30])
def test_query_examples_parse(where: str, line: int, block: str) -> None:
    queries = split_queries(block)
    assert queries, f"{where}:{line}: empty dq block"
    for q in queries:
        node = dqquery.parse(q)
        assert dqquery.parse(dqquery.unparse(node)) == node


ERROR_BLOCKS = [b for b in blocks("text") if b[2].startswith("error[")]


@pytest.mark.parametrize("where,line,block", ERROR_BLOCKS, ids=lambda x: str(x)[:30])
def test_error_examples_are_what_dqquery_prints(where: str, line: int, block: str) -> None:
    query = block.splitlines()[1][len("  | ") :]
    with pytest.raises(dqquery.QueryError) as info:
        dqquery.parse(query)
    assert str(info.value) == block.rstrip("\n")


def _python_files() -> list[Path]:
    return [p for p in FILES if "```python" in p.read_text(encoding="utf-8")]


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: p.name)
def test_python_examples_run(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    text = path.read_text(encoding="utf-8")
    for m in BLOCK.finditer(text):
        if m.group(1) != "python":
            continue
        code = m.group(2)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"{path.name}:{text.count(chr(10), 0, m.start()) + 2}", "exec"), namespace)
        expected = [c.split("#", 1)[1].strip() for c in code.splitlines() if c.lstrip().startswith("print(") and "#" in c]
        printed = out.getvalue().splitlines()
        for exp in expected:
            assert exp in printed, f"{path.name}: expected a printed line {exp!r}, got {printed}"


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


@pytest.mark.parametrize("where,line,cmd,expected", _console_commands(), ids=lambda x: str(x)[:40])
def test_console_examples(where: str, line: int, cmd: str, expected: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from dqquery.cli import main

    monkeypatch.chdir(tmp_path)
    argv = shlex.split(cmd)[1:]
    code = main(argv)
    captured = capsys.readouterr()
    got = (captured.out + captured.err).splitlines()
    shows_error = any(line.startswith("error") for line in expected)
    assert code in ((2,) if shows_error else (0, 1)), captured.err
    assert _matches(expected, got), f"{where}:{line}: {cmd}\nexpected:\n" + "\n".join(expected) + "\ngot:\n" + "\n".join(got)


def test_fields_page_is_generated_from_the_catalog() -> None:
    assert (ROOT / "docs" / "fields.md").read_text(encoding="utf-8") == fields_markdown(), (
        "docs/fields.md is stale: run `python -m dqquery.catalog > docs/fields.md`"
    )
