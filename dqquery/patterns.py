"""Pattern languages, in one place: SQL LIKE (dqquery's ``like``), PostgreSQL SIMILAR TO (RR's dataset name
filter) and Python's case folding (to spell out case-insensitive matches where a target has none).

Decisions:
* ``like`` is case-insensitive as Run Registry's ``ILIKE``; "case-insensitive" means exactly what Python's
  ``re.IGNORECASE`` means (so ``k`` also matches the Kelvin sign), and every target that spells the match
  out character by character uses :func:`case_insensitive_class`, so they all agree with the reference.
* In a LIKE pattern ``%`` is any run of characters, ``_`` one character and a backslash escapes the next one.
"""

from __future__ import annotations

import functools
import re


@functools.lru_cache(maxsize=4096)
def like_regex(pattern: str, case_insensitive: bool = True) -> re.Pattern[str]:
    """The compiled regular expression of a SQL LIKE pattern (whole value; ``ILIKE`` by default, as RR)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out), (re.IGNORECASE if case_insensitive else 0) | re.DOTALL)


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
def case_insensitive_class(ch: str) -> str:
    """Every character Python's case-insensitive matching equates with ``ch`` (``k`` -> ``KkK``)."""
    matcher = re.compile(re.escape(ch), re.IGNORECASE)
    members = {ch} | {c for c in _cased_characters() if matcher.fullmatch(c)}
    return "".join(sorted(members))


@functools.lru_cache(maxsize=256)
def similar_to_regex(pattern: str) -> re.Pattern[str]:
    """The Python regular expression of a PostgreSQL ``SIMILAR TO`` pattern (whole-string, case-sensitive)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    in_bracket = False
    while i < n:
        ch = pattern[i]
        if ch == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if in_bracket:
            if ch == "]" and out[-1] not in ("[", "[^"):
                in_bracket = False
                out.append("]")
            elif ch == "\\":
                out.append("\\\\")
            else:
                out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_bracket = True
            if i + 1 < n and pattern[i + 1] == "^":
                out.append("[^")
                i += 2
                if i < n and pattern[i] == "]":  # a leading ']' is literal
                    out.append("\\]")
                    i += 1
                continue
            out.append("[")
            if i + 1 < n and pattern[i + 1] == "]":
                out.append("\\]")
                i += 1
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        elif ch in "|*+?{}()":
            out.append(ch)
        else:
            out.append(re.escape(ch))
        i += 1
    try:
        return re.compile("".join(out), re.DOTALL)
    except re.error as exc:
        raise ValueError(f"invalid dataset name pattern {pattern!r}: {exc}") from None


