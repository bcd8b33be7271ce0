"""Pattern languages, in one place: SQL LIKE (dqquery's ``like``), PostgreSQL SIMILAR TO (RR's dataset name
filter), user regular expressions (``~``) and Python's case folding (to spell out case-insensitive matches
where a target has none).

Decisions:
* ``like`` is case-insensitive as Run Registry's ``ILIKE``; "case-insensitive" means exactly what Python's
  ``re.IGNORECASE`` means (so ``k`` also matches the Kelvin sign), and every target that spells the match
  out character by character uses :func:`case_insensitive_class`, so they all agree with the reference.
* In a LIKE pattern ``%`` is any run of characters, ``_`` one character and a backslash escapes the next one.
* Every pattern a user writes (a ``~`` regex, a LIKE pattern, a SIMILAR TO dataset pattern) is matched by
  RE2 (google-re2), whose time is linear in the subject and whose memory is bounded, never by Python's
  backtracking ``re`` (``(a+)+$`` or ``(_|_)*X`` took exponential time). LIKE and SIMILAR TO are
  translated into RE2 syntax here; case-insensitive LIKE spells out :func:`case_insensitive_class` for each
  letter, so it keeps Python's folding exactly.
* A user regex is evaluated by :func:`regex_search` and nothing else; :func:`regex_problem` says why a
  pattern is refused. The language is the part of Python's syntax RE2 shares: no backreferences, no
  lookbehind, no atomic groups or possessive quantifiers, no conditionals. Lookaheads are accepted only
  as a conjunction at the very start (``^(?=A)(?!B)C``: A matches at the start, B does not, C matches at
  the start), which is how the DIALS compiler combines patterns; each part is matched by RE2 on its own.
* Python's ``\\Z`` (end of text) is RE2's ``\\z``; ``$`` means the end of the text (RE2 and PostgreSQL; not
  "or before a final newline" as in Python); ``\\d \\w \\s \\b`` are ASCII classes (RE2 and PostgreSQL in
  the C locale); ``(?i)`` folds case as RE2 does (Unicode simple folding: unlike Python, ``i`` does not match
  the dotless ``ı``).
* RE2 works on UTF-8: a lone surrogate in a subject (possible in JSON data) is matched as U+FFFD.
* Memory is bounded: each compiled pattern may use 2 MiB (RE2's ``max_mem``; a pattern needing more is refused,
  and matching falls back from RE2's DFA to its NFA, still linear), and 256 compiled patterns of each kind are
  cached.
"""

from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass
from typing import Any

import re2

from .limits import MAX_PATTERN_CHARS


class PatternError(ValueError):
    """A pattern dqquery refuses; ``offset`` is the 0-based position of the problem in the pattern."""

    def __init__(self, message: str, offset: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


_SURROGATE = re.compile("[\ud800-\udfff]")


def _utf8_safe(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


_RE2_MAX_MEM = 2 << 20  # bytes per compiled pattern (program and DFA cache); RE2 falls back to its NFA beyond
_CACHED = 256  # compiled patterns kept per kind: at most _CACHED * _RE2_MAX_MEM bytes each


def _options(dot_matches_newline: bool) -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern on stderr
    options.max_mem = _RE2_MAX_MEM
    options.dot_nl = dot_matches_newline
    return options


def _re2_compile(regex: str, dot_matches_newline: bool = False) -> Any:
    try:
        return re2.compile(regex, _options(dot_matches_newline))
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(str(reason)) from None


@dataclass(frozen=True)
class LinearPattern:
    """A compiled pattern with the ``search``/``match``/``fullmatch`` of ``re`` (a match object or ``None``),
    matched in linear time by RE2."""

    pattern: str
    compiled: Any

    def search(self, text: str) -> Any:
        return self.compiled.search(_utf8_safe(text))

    def match(self, text: str) -> Any:
        return self.compiled.match(_utf8_safe(text))

    def fullmatch(self, text: str) -> Any:
        return self.compiled.fullmatch(_utf8_safe(text))


def _linear(regex: str, dot_matches_newline: bool = False) -> LinearPattern:
    return LinearPattern(regex, _re2_compile(regex, dot_matches_newline))


def _literal(ch: str) -> str:
    """``ch`` as a literal in RE2 syntax (inside or outside a bracket class)."""
    return ch if ch.isalnum() or ch == "_" else f"\\x{{{ord(ch):x}}}"


def _check_length(pattern: str, what: str) -> None:
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternError(f"the {what} is {len(pattern):,} characters long; the limit is {MAX_PATTERN_CHARS:,}", MAX_PATTERN_CHARS)


@functools.lru_cache(maxsize=_CACHED)
def like_regex(pattern: str, case_insensitive: bool = True, backslash_escapes: bool = True) -> LinearPattern:
    """The compiled pattern of a SQL LIKE pattern (whole value; ``ILIKE`` by default, as RR; OMS's LIKE has no
    escape character: ``backslash_escapes=False``). Raises :class:`PatternError` for a too long pattern."""
    _check_length(pattern, "LIKE pattern")
    out: list[str] = []
    i = 0

    def lit(ch: str) -> str:
        if not case_insensitive:
            return _literal(ch)
        members = case_insensitive_class(ch)
        return _literal(ch) if len(members) == 1 else "[" + "".join(_literal(c) for c in members) + "]"

    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and backslash_escapes and i + 1 < len(pattern):
            out.append(lit(pattern[i + 1]))
            i += 2
            continue
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(lit(ch))
        i += 1
    return _linear("".join(out), dot_matches_newline=True)


def like_match(pattern: str, value: str) -> bool:
    """Whether ``value`` matches the LIKE ``pattern`` (case-insensitive, whole value)."""
    return like_regex(pattern).fullmatch(value) is not None


def like_items(pattern: str) -> tuple[bool, list[str | None], bool] | None:
    """``(leading %, items, trailing %)`` of a LIKE pattern whose ``%`` wildcards stand only at its ends;
    each item is a literal character, or ``None`` for ``_``. ``None`` when a ``%`` stands inside."""
    items: list[str | None] = []
    lead = trail = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "%":
            if items:
                trail = True
            else:
                lead = True
            i += 1
            continue
        if trail:
            return None  # text after a % that followed text: an inner %
        if ch == "\\" and i + 1 < len(pattern):
            items.append(pattern[i + 1])
            i += 2
            continue
        items.append(None if ch == "_" else ch)
        i += 1
    if not items and lead:
        trail = True
    return lead, items, trail


@functools.cache
def _cased_characters() -> tuple[str, ...]:
    # Every code point with a case mapping (about 2,900; computed once, ~0.1 s).
    return tuple(c for c in map(chr, range(0x110000)) if c.lower() != c or c.upper() != c)


@functools.cache
def _cased_set() -> frozenset[str]:
    return frozenset(_cased_characters())


def case_insensitive_class(ch: str) -> str:
    """Every character Python's case-insensitive matching equates with ``ch`` (``k`` -> ``KkK``).

    A character without a case mapping is its own class (checked for every such code point by the tests), so
    only the ~2,900 cased ones are ever computed and cached: a LIKE pattern of many distinct characters costs
    no more than a dictionary look-up per character."""
    if ch not in _cased_set():
        return ch
    return _cased_class(ch)


@functools.cache
def _cased_class(ch: str) -> str:
    matcher = re.compile(re.escape(ch), re.IGNORECASE)
    members = {ch} | {c for c in _cased_characters() if matcher.fullmatch(c)}
    return "".join(sorted(members))


@functools.lru_cache(maxsize=_CACHED)
def similar_to_regex(pattern: str) -> LinearPattern:
    """The compiled pattern of a PostgreSQL ``SIMILAR TO`` pattern (whole-string, case-sensitive), in RE2
    syntax. Raises :class:`PatternError` (a ``ValueError``) for an invalid or too long pattern."""
    _check_length(pattern, "dataset name pattern")
    out: list[str] = []
    i, n = 0, len(pattern)
    in_bracket = False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            out.append(_literal(pattern[i + 1]))
            i += 2
            continue
        if in_bracket:
            if ch == "]" and out[-1] not in ("[", "[^"):
                in_bracket = False
                out.append("]")
            elif ch == "-" and out[-1] not in ("[", "[^") and pattern[i + 1 : i + 2] != "]":
                out.append("-")  # a range
            else:
                out.append(_literal(ch))
            i += 1
            continue
        if ch == "[":
            in_bracket = True
            if i + 1 < n and pattern[i + 1] == "^":
                out.append("[^")
                i += 2
                if i < n and pattern[i] == "]":  # a leading ']' is literal
                    out.append(_literal("]"))
                    i += 1
                continue
            out.append("[")
            if i + 1 < n and pattern[i + 1] == "]":
                out.append(_literal("]"))
                i += 1
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        elif ch in "|*+?{}()":
            out.append("(?:" if ch == "(" else ch)
        else:
            out.append(_literal(ch))
        i += 1
    try:
        return _linear("".join(out), dot_matches_newline=True)
    except PatternError as exc:
        reason = exc.message.split(": ")[0]  # RE2 quotes its own translation after the colon: not the user's text
        raise PatternError(f"invalid dataset name pattern {pattern!r}: {reason}") from None


# ------------------------------------------------------------------------------------------ user regexes

# Group openings and escapes RE2 cannot run (or that would change meaning between the engines).
_REFUSED_GROUPS = {
    "(?<=": "lookbehind (?<=...)",
    "(?<!": "lookbehind (?<!...)",
    "(?P=": "a backreference (?P=name)",
    "(?>": "an atomic group (?>...)",
    "(?(": "a conditional group (?(...)...)",
    "(?#": "a comment group (?#...)",
}
_LOOKAHEADS = ("(?=", "(?!")


def _scan(pattern: str) -> tuple[list[tuple[int, int, bool]], str]:
    """The top-level lookahead groups of a pattern that starts with ``^`` (``(start, end, negative)``) and the
    RE2 text of the whole pattern (``\\Z`` -> ``\\z``). Raises :class:`PatternError` for a refused construct."""
    out: list[str] = []
    heads: list[tuple[int, int, bool]] = []
    depth = 0
    open_lookahead: list[int | None] = []  # per open group: the index of its entry in heads, or None
    i, n = 0, len(pattern)
    in_class = class_start = False
    prefix_open = pattern.startswith("^")  # still in the ^(?=..)(?!..) prefix
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            nxt = pattern[i + 1 : i + 2]
            if not in_class and nxt in tuple("123456789"):
                raise PatternError(f"backreferences (\\{nxt}) are not supported", i)
            if nxt == "Z" and not in_class:
                out.append("\\z")
            elif nxt == "C":
                raise PatternError("\\C (any byte) is not supported", i)
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if ch == "[" and pattern[i + 1 : i + 2] in (":", "=", "."):
                raise PatternError("POSIX bracket classes such as [[:alpha:]] mean different things in Python and RE2", i)
            if ch == "]" and not class_start:
                in_class = False
            class_start = False
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = class_start = True
            out.append(ch)
            i += 1
            if pattern[i : i + 1] == "^":
                out.append("^")
                i += 1
            continue
        if ch == "(":
            for opening, what in _REFUSED_GROUPS.items():
                if pattern.startswith(opening, i):
                    raise PatternError(f"{what} is not supported", i)
            if pattern.startswith(_LOOKAHEADS, i):
                if not (prefix_open and depth == 0):
                    raise PatternError("a lookahead (?=...) or (?!...) is supported only at the start, right after ^", i)
                heads.append((i, -1, pattern[i + 2] == "!"))
                open_lookahead.append(len(heads) - 1)
            else:
                open_lookahead.append(None)
                if depth == 0:
                    prefix_open = False
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
            index = open_lookahead.pop()
            if index is not None:
                start, _, negative = heads[index]
                heads[index] = (start, i + 1, negative)
                if pattern[i + 1 : i + 2] in ("*", "+", "?", "{"):
                    raise PatternError("a lookahead cannot be repeated", i + 1)
        elif depth == 0 and not (ch == "^" and i == 0):
            prefix_open = False
            if ch == "|" and heads:  # ^(?=a)|b: the lookahead would bind only one alternative
                raise PatternError("a pattern that starts with lookaheads cannot have a top-level |; group the alternatives", i)
        if ch == "{" and pattern[i + 1 : i + 2] == ",":
            raise PatternError("write a bound with its lower end: {0,5}, not {,5} (RE2 reads {,5} as text)", i)
        if ch in "*+?}" and pattern[i + 1 : i + 2] == "+":
            raise PatternError("possessive quantifiers (*+, ++, ?+) are not supported", i + 1)
        out.append(ch)
        i += 1
    return heads, "".join(out)


@dataclass(frozen=True)
class _UserRegex:
    """A user regex ready to run: conditions at the start (``(pattern, must_match)``) and the main pattern."""

    heads: tuple[tuple[LinearPattern, bool], ...]
    body: LinearPattern | None  # None: the pattern is only ^ and lookaheads

    def search(self, text: str) -> bool:
        if self.heads:
            if any((head.match(text) is not None) != wanted for head, wanted in self.heads):
                return False
            return self.body is None or self.body.match(text) is not None
        return self.body is not None and self.body.search(text) is not None


def re2_text(pattern: str) -> str:
    """The RE2 text of a user regex without lookaheads (what an engine with RE2, DuckDB's ``regexp_matches``, is
    given): dqquery's reading in RE2 syntax (``\\Z`` -> ``\\z``). Raises :class:`PatternError` as :func:`compile_regex`."""
    return _scan(pattern)[1]


@functools.lru_cache(maxsize=_CACHED)
def compile_regex(pattern: str, dot_matches_newline: bool = False) -> _UserRegex:
    """A user regex, checked and compiled (see the module docstring); raises :class:`PatternError`."""
    _check_length(pattern, "regular expression")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "possible nested set": refused below anyway
            re.compile(pattern)  # the syntax must be Python's too (compiling is linear; nothing is matched)
    except re.error as exc:
        raise PatternError(f"invalid regular expression: {exc}", exc.pos or 0) from None
    except (RecursionError, OverflowError):
        raise PatternError("the regular expression is too complex") from None
    heads, translated = _scan(pattern)
    try:
        if not heads:
            return _UserRegex((), _linear(translated, dot_matches_newline))
        parts = []
        for start, end, negative in heads:
            inner = pattern[start + 3 : end - 1]
            parts.append((_linear(_scan(inner)[1], dot_matches_newline), not negative))
        rest = _scan(pattern[heads[-1][1] :])[1]
        body = _linear(rest, dot_matches_newline) if rest else None
        return _UserRegex(tuple(parts), body)
    except PatternError as exc:
        raise PatternError(f"cannot run this regular expression in linear time (RE2): {exc.message}") from None


def regex_problem(pattern: str) -> PatternError | None:
    """Why dqquery refuses the user regex ``pattern``, or ``None`` when it can evaluate it."""
    try:
        compile_regex(pattern)
    except PatternError as exc:
        return exc
    return None


def regex_search(pattern: str, value: str, *, dot_matches_newline: bool = False) -> bool:
    """Whether the user regex ``pattern`` matches somewhere in ``value``: the one evaluation of ``~`` (golden,
    explain, plans, fake servers and emulators). Linear in ``len(value)``; raises :class:`PatternError`."""
    return compile_regex(pattern, dot_matches_newline).search(value)
