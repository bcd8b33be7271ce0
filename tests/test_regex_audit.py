"""Audit of every regular expression dqquery itself compiles with Python's backtracking ``re``.

User patterns never reach ``re`` for matching (they go to RE2, see dqquery/patterns.py); the package's own
patterns do, so each must run in linear time on any subject. This test finds them all:

* every call ``re.<function>(pattern, ...)`` in the package's source (found with ``ast``): a constant pattern
  is checked structurally; a computed one must be one of the reviewed sites in ``COMPUTED_SITES``;
* every terminal of the grammar (the fast lexer's master regex is their alternation).

The structural check (on ``re``'s own parse tree) refuses the shapes that make a backtracking engine take
exponential time: a repeated group whose body holds another unbounded repeat (``(?:[ \\t]+)*``, ``(a+)+``)
and a repeated alternation whose branches can start with the same character (``(?:a|ab)*``). A pattern with
a nested repeat is accepted only when reviewed in ``NESTED_REVIEWED``, with the reason it cannot backtrack.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

try:  # Python 3.11+: the private parser module
    from re import _constants as C
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover
    import sre_constants as C  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

from dqquery.parser import _fast, _parser

PACKAGE = Path(__import__("dqquery").__file__).parent
RE_FUNCTIONS = {"compile", "match", "fullmatch", "search", "sub", "subn", "split", "findall", "finditer"}

# Computed patterns, reviewed: (module, enclosing function) -> why the pattern cannot backtrack badly.
COMPUTED_SITES = {
    ("lalr.py", "__init__"): "the fast lexer's master regex: the alternation of the grammar's terminals (stored tables, equal to Lark's), each audited below",
    ("patterns.py", "_cased_class"): "re.escape of one character",
    ("patterns.py", "compile_regex"): "a user regex compiled to check its syntax only; RE2 matches it",
    ("testing/server.py", "matching"): "route patterns of the fake servers, written in dqquery's own code",
    ("testing/server.py", "fires"): "fault-injection path patterns, written by the test that injects the fault",
}

# Patterns with a repeat inside a repeat, each reviewed: why every character is consumed one way only.
NESTED_REVIEWED = {
    # NAME (grammar and ast._WORD): each inner repeat stops at '-' or '.', which starts the next iteration.
    r"(?!(?:and|or|not|in|like|contains|is|null|true|false)(?![A-Za-z0-9_.-]))[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*(?:\.[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*)*": "iterations start with '.' or '-', which no inner class holds",
    r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*(?:\.[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*)*": "iterations start with '.' or '-', which no inner class holds",
    # STRING: the "unrolled loop", possessive: nothing is given back (no backtracking at all).
    "\"[^\"\\\\\n]*+(?:\\\\.[^\"\\\\\n]*+)*+\"|'[^'\\\\\n]*+(?:\\\\.[^'\\\\\n]*+)*+'": "possessive repeats cannot backtrack",
}

ALPHABET = [chr(c) for c in range(256)] + ["\u0100", "\u212a", "\u2028", "\U0001f600"]
_CATEGORY_TESTS = {
    C.CATEGORY_DIGIT: re.compile(r"\d"),
    C.CATEGORY_NOT_DIGIT: re.compile(r"\D"),
    C.CATEGORY_SPACE: re.compile(r"\s"),
    C.CATEGORY_NOT_SPACE: re.compile(r"\S"),
    C.CATEGORY_WORD: re.compile(r"\w"),
    C.CATEGORY_NOT_WORD: re.compile(r"\W"),
}


def _in_class(items: list, ch: str) -> bool:
    negate = False
    hit = False
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            hit = hit or ord(ch) == av
        elif op is C.RANGE:
            hit = hit or av[0] <= ord(ch) <= av[1]
        elif op is C.CATEGORY:
            hit = hit or _CATEGORY_TESTS[av].match(ch) is not None
        else:  # pragma: no cover - charset forms re does not produce for str patterns
            hit = True
    return hit != negate


def first_chars(seq) -> tuple[frozenset[str], bool]:
    """Characters (of ALPHABET) that can start a match of a parsed sequence, and whether it can match empty."""
    out: set[str] = set()
    for op, av in seq:
        chars, nullable = _first_item(op, av)
        out |= chars
        if not nullable:
            return frozenset(out), False
    return frozenset(out), True


def _first_item(op, av) -> tuple[frozenset[str], bool]:
    if op is C.LITERAL:
        return frozenset({chr(av)}), False
    if op is C.NOT_LITERAL:
        return frozenset(c for c in ALPHABET if ord(c) != av), False
    if op is C.ANY:
        return frozenset(ALPHABET), False
    if op is C.IN:
        return frozenset(c for c in ALPHABET if _in_class(av, c)), False
    if op is C.SUBPATTERN:
        return first_chars(av[-1])
    if op is C.BRANCH:
        chars: set[str] = set()
        nullable = False
        for alt in av[1]:
            c, n = first_chars(alt)
            chars |= c
            nullable = nullable or n
        return frozenset(chars), nullable
    if op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)):
        lo, _hi, body = av
        chars, nullable = first_chars(body)
        return chars, nullable or lo == 0
    if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
        return frozenset(), True
    return frozenset(ALPHABET), True  # back-references, atomic groups: anything


def _unbounded(op, av) -> bool:
    return op in (C.MAX_REPEAT, C.MIN_REPEAT) and (av[1] is C.MAXREPEAT or av[1] > 1)


def _contains_repeat(seq) -> bool:
    for op, av in seq:
        if _unbounded(op, av):
            return True
        if op is C.SUBPATTERN and _contains_repeat(av[-1]):
            return True
        if op is C.BRANCH and any(_contains_repeat(alt) for alt in av[1]):
            return True
        if op in (C.ASSERT, C.ASSERT_NOT) and _contains_repeat(av[1]):
            return True
    return False


def structural_problems(pattern: str) -> list[str]:
    """Nested unbounded repeats and overlapping repeated alternations in ``pattern``."""
    problems: list[str] = []

    def walk(seq, under_repeat: bool) -> None:
        for op, av in seq:
            if _unbounded(op, av):
                body = av[2]
                if _contains_repeat(body):
                    problems.append("a repeat inside a repeat")
                walk(body, True)
            elif op is C.SUBPATTERN:
                walk(av[-1], under_repeat)
            elif op is C.BRANCH:
                if under_repeat:
                    seen: set[str] = set()
                    for alt in av[1]:
                        chars, _ = first_chars(alt)
                        if seen & chars:
                            problems.append(f"repeated alternatives can start with the same character {sorted(seen & chars)[0]!r}")
                            break
                        seen |= chars
                for alt in av[1]:
                    walk(alt, under_repeat)
            elif op in (C.ASSERT, C.ASSERT_NOT):
                walk(av[1], under_repeat)
            elif op is C.MIN_REPEAT or op is C.MAX_REPEAT:
                walk(av[2], under_repeat)

    walk(sre_parse.parse(pattern), False)
    return problems


def _enclosing_function(tree: ast.AST, target: ast.AST) -> str:
    best = "<module>"
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(n is target for n in ast.walk(node)):
            best = node.name  # the innermost wins: ast.walk visits outer functions first
    return best


def package_regex_sites() -> tuple[list[tuple[str, str]], set[tuple[str, str]]]:
    """``(where, pattern)`` for every constant pattern, and the ``(module, function)`` of every computed one."""
    constant: list[tuple[str, str]] = []
    computed: set[tuple[str, str]] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = path.relative_to(PACKAGE).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in RE_FUNCTIONS):
                continue
            if not (isinstance(node.func.value, ast.Name) and node.func.value.id == "re") or not node.args:
                continue
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                constant.append((f"{module}:{node.lineno}", arg.value))
            else:
                computed.add((module, _enclosing_function(tree, node)))
    return constant, computed


def grammar_patterns() -> list[tuple[str, str]]:
    return [(f"grammar {t.name}", t.pattern.to_regexp()) for t in _parser().terminals]


def test_the_audit_finds_the_package_patterns() -> None:
    constant, computed = package_regex_sites()
    assert len(constant) >= 15  # the scan works (the package has a few dozen)
    assert any("_ESCAPE_RE" in Path(PACKAGE / w.split(":")[0]).read_text() for w, _ in constant)
    assert {name for name, _ in grammar_patterns()} >= {"grammar STRING", "grammar NAME", "grammar COMMENT"}


def test_computed_patterns_are_reviewed() -> None:
    _, computed = package_regex_sites()
    assert computed == set(COMPUTED_SITES), "a regex site computes its pattern: review it and list it in COMPUTED_SITES"


@pytest.mark.parametrize("where,pattern", package_regex_sites()[0] + grammar_patterns())
def test_no_backtracking_shapes(where: str, pattern: str) -> None:
    problems = structural_problems(pattern)
    if problems and set(problems) == {"a repeat inside a repeat"} and pattern in NESTED_REVIEWED:
        return
    assert problems == [], f"{where}: {pattern!r}: {problems}"


def test_reviewed_nested_patterns_are_still_used() -> None:
    used = {p for _, p in package_regex_sites()[0] + grammar_patterns()}
    assert set(NESTED_REVIEWED) <= used


def test_fast_lexer_master_is_the_terminals() -> None:
    # The master regex is the alternation of the terminals (named groups): nothing else can backtrack.
    master = _fast().master.pattern
    parts = {f"(?P<{t.name}>{t.pattern.to_regexp()})" for t in _parser().terminals}
    assert master.count("(?P<") == len(parts)
    assert all(part in master for part in parts)


@pytest.mark.parametrize(
    "pattern",
    [r"(?:[ \t\r\n]+)*\Z", r"(a+)+$", r"(?:\d\d|\w)*!", r'"(?:[^"]|\\.|\\")*"', r"(?:#[^\n]*|[ \t]+)*x"],
)
def test_the_check_catches_known_bad_shapes(pattern: str) -> None:
    assert structural_problems(pattern)
