"""Regular expressions written for PostgreSQL (DIALS' ``__regex`` is PostgreSQL's ``~``, an ARE search) that
Python reads alike, so dqquery's reference evaluation and the server agree.

Decisions:
* Only the common subset of Python ``re`` and PostgreSQL ARE is emitted or accepted: ASCII punctuation is
  escaped with a backslash (a literal in both); letters, digits, ``_`` and non-ASCII characters are never
  escaped (``\\m`` is an escape class in ARE).
* A case-insensitive LIKE pattern becomes a case-sensitive regex body whose letters are classes of all their
  case variants (:func:`dqquery.patterns.case_insensitive_class`, Python's folding), since the server's regex
  is case-sensitive.
* A user regex is refused when its meaning may differ between the two (:func:`regex_portability_problem`):
  escapes before a letter or digit other than ``\\d \\D \\s \\S \\w \\W \\A \\Z \\1``-``\\9``, groups other than ``(?:``
  ``(?=`` ``(?!``, possessive quantifiers, POSIX bracket classes, a bare ``{``, bounds above 255. Remaining
  known difference: ``.`` matches a newline in PostgreSQL (callers compile with ``dot_matches_newline``).
* Several patterns on one value are one regex: lookaheads anchored at the start, then at most one searched
  pattern (:func:`lookahead_conjunction`), the form :mod:`dqquery.patterns` accepts for linear-time matching.
* Django strips parameter values: :func:`strip_safe` protects edge whitespace with a group.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .patterns import case_insensitive_class

__all__ = ["like_to_regex", "literal_regex", "lookahead_conjunction", "regex_portability_problem", "strip_safe"]


# ASCII punctuation is escaped with a backslash: "\<non-alphanumeric>" is that literal character in both
# Python re and PostgreSQL ARE. Letters, digits, "_" and non-ASCII characters are never escaped ("\<letter>"
# is an escape class, e.g. "\m", in ARE).
def _escape_char(ch: str) -> str:
    return "\\" + ch if ch.isascii() and not ch.isalnum() and ch != "_" else ch


def literal_regex(text: str) -> str:
    """A regex matching exactly ``text`` (case-sensitive), valid in Python re and PostgreSQL ARE."""
    return "".join(_escape_char(c) for c in text)


def _ci_char(ch: str) -> str:
    members = case_insensitive_class(ch)
    if len(members) == 1:
        return _escape_char(ch)
    return "[" + "".join(_escape_char(c) for c in members) + "]"


def like_to_regex(pattern: str) -> str:
    """The unanchored regex body of a case-insensitive SQL LIKE pattern (same reading as semantics.like_regex).

    ``%`` -> ``.*``, ``_`` -> ``.``, ``\\x`` -> literal ``x``, letters -> classes of their case variants.
    """
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(_ci_char(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else _ci_char(ch))
        i += 1
    return "".join(out)


# Portability lint for user regexes: constructs whose meaning differs between Python re and PostgreSQL ARE
# (or that one of them rejects). Escapes allowed before an ASCII letter/digit; everything else is refused.
_PORTABLE_ESCAPES = set("dDsSwWAZ123456789")
_PORTABLE_GROUPS = ("(?:", "(?=", "(?!")
_BOUND = re.compile(r"\{(\d+)(,(\d*))?\}")
_ARE_DUPMAX = 255


def regex_portability_problem(pattern: str) -> str | None:
    """Why ``pattern`` might mean something else in PostgreSQL than in Python, or ``None`` if portable."""
    i, n, in_class, class_start = 0, len(pattern), False, False
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            nxt = pattern[i + 1] if i + 1 < n else ""
            if nxt.isascii() and nxt.isalnum() and (nxt not in _PORTABLE_ESCAPES or (in_class and nxt in "AZ123456789")):
                return f"the escape \\{nxt} differs between Python and PostgreSQL (\\b is a backspace in PostgreSQL; use \\y there)"
            i += 2
            continue
        if in_class:
            if ch == "[" and pattern[i + 1 : i + 2] in (":", "=", "."):
                return "POSIX bracket classes such as [[:alpha:]] are not understood by Python"
            if ch == "]" and not class_start:
                in_class = False
            class_start = False
            i += 1
            continue
        if ch == "[":
            in_class, class_start = True, True
            i += 1
            if pattern[i : i + 1] == "^":
                i += 1
            continue
        if ch == "(" and pattern[i + 1 : i + 2] == "?" and not pattern.startswith(_PORTABLE_GROUPS, i):
            return "only (?:...), (?=...) and (?!...) groups work in both Python and PostgreSQL"
        if ch in "*+?}" and pattern[i + 1 : i + 2] == "+":
            return "possessive quantifiers (*+, ++) are Python-only"
        if ch == "{":
            m = _BOUND.match(pattern, i)
            if not m:
                return "write a literal { as \\{ (an unescaped { must be a bound such as {2,5})"
            if any(g and int(g) > _ARE_DUPMAX for g in (m.group(1), m.group(3))):
                return f"PostgreSQL repetition bounds stop at {_ARE_DUPMAX}"
            i = m.end()
            continue
        i += 1
    return None


def strip_safe(regex: str) -> str:
    """Django strips parameter values: protect edge whitespace with a group; never send an empty regex."""
    if regex == "":
        return "^"
    return f"(?:{regex})" if regex != regex.strip() else regex


def lookahead_conjunction(heads: Iterable[str], search: str | None = None) -> str:
    """One regex matching a text when every ``heads`` regex matches at its start and ``search`` (if any) is found
    in it: ``^(?=h1)(?=h2).*?(?:search)``."""
    return "^" + "".join(f"(?={h})" for h in heads) + (f".*?(?:{search})" if search is not None else "")
