"""The fast LALR(1) driver: runs the grammar's parse tables with a tight loop, a one-regex lexer and direct reductions.

:mod:`dqquery.parser` owns the grammar, the transformer and the error messages; this module owns the tables' data
form (:class:`Tables`, plain JSON) and the loop that runs them (:class:`FastLALR`).

Decisions:
* Lark's generic driver costs several microseconds per token and per reduction, more than the whole budget for a
  10-clause query; this driver is about 2x faster end to end (``tests/benchmarks/bench_parse.py``). It runs exactly
  the tables Lark builds from ``grammar/dqquery.lark`` in strict mode (the grammar stays the only definition of the
  language), applies Lark's tree-shaping rules (filtered tokens, ``?rule`` inlining, alias names, spliced ``_helper``
  rules) recorded from Lark's rule objects, and calls the same transformer methods.
* The tables are data (:class:`Tables`): extracted from a Lark parser by :func:`tables_from_lark`, with the states
  numbered canonically (breadth first from the start state, symbols in sorted order), so two builds of the same
  grammar, by any Lark version or hash seed, give equal tables and a stored copy can be compared with a fresh build.
* The driver never needs Lark at run time: its lexer is one master regex of the terminals' own patterns, in
  :data:`LEXER_ORDER` (Lark's priorities: dates before numbers, ``NAME`` before the keywords it excludes, longer
  operators before shorter ones). Ignored text (spaces, comments) is one more token kind of that regex, skipped by
  the driver: each match consumes one whole run, so nothing can backtrack into it.
* On any lexing or parsing problem the driver returns :class:`Unparsed` with the offset of the problem (what Lark
  reports as the error position); the caller asks Lark's own parser for the message, so messages stay Lark's
  analysis (expected terminals) translated by :mod:`dqquery.parser`. A differential test (``tests/test_parser_lalr.py``)
  checks that both drivers build identical trees and fail at the same offset, also against the newest Lark release.
* Hostile input is bounded as it is met (:mod:`dqquery.limits`): too deep nesting (parentheses and prefix ``not``)
  and too long lists raise a located :class:`~dqquery.errors.QueryError`, so neither the parse stack nor the later
  recursive passes can grow without bound.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import QueryError
from .limits import MAX_LIST_ITEMS, MAX_NESTING

TABLES_FORMAT = 1
"""Version of the JSON form of :class:`Tables`; a stored copy of another format is rebuilt."""

LEXER_ORDER = (
    "__IGNORE_0", "__IGNORE_1", "COMMENT", "DATETIME", "DATE", "FLOAT", "INT", "STRING", "NAME",
    "_CONTAINS", "FALSE", "TRUE", "_NULL", "_LIKE", "_AND", "_NOT", "_OR", "_IN", "_IS",
    "__ANON_0", "__ANON_1", "COMPARE_OP", "TILDE", "LPAR", "RPAR", "LSQB", "RSQB", "COMMA",
)
"""Terminal order of the master regex (first match wins): ignored text first, then Lark's priority order."""

# Tokens after which "not" is part of a predicate (x not in .., x not like .., x is not null), not a prefix.
_PREDICATE_NOT_AFTER = frozenset({"NAME", "_IS"})


@dataclass(frozen=True)
class Unparsed:
    """The driver's answer for text it cannot parse: ``offset`` is where the problem is (``len(text)`` at the end)."""

    offset: int


@dataclass(frozen=True)
class Tables:
    """One LALR(1) parser as plain data (the JSON form is :meth:`to_json`).

    ``terminals``: ``(name, regex, literal)`` in lexer order (``literal`` is the text of a string terminal, else "");
    ``rules``: ``(origin, alias, expand1, expansion)`` with ``expansion`` a tuple of ``(symbol, is_terminal,
    filtered_out)``; ``states``: per state, symbol -> action, a shift or goto as ``state >= 0``, a reduction by rule
    ``i`` as ``-1 - i``."""

    terminals: tuple[tuple[str, str, str], ...]
    ignored: tuple[str, ...]
    rules: tuple[tuple[str, str, bool, tuple[tuple[str, bool, bool], ...]], ...]
    states: tuple[Mapping[str, int], ...]
    start: int
    end: int

    def to_json(self) -> dict[str, Any]:
        return {
            "format": TABLES_FORMAT,
            "terminals": [list(t) for t in self.terminals],
            "ignored": list(self.ignored),
            "rules": [[origin, alias, expand1, [list(s) for s in expansion]] for origin, alias, expand1, expansion in self.rules],
            "states": [dict(row) for row in self.states],
            "start": self.start,
            "end": self.end,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tables:
        if data.get("format") != TABLES_FORMAT:
            raise ValueError(f"parse tables of format {data.get('format')!r}, expected {TABLES_FORMAT}")
        return cls(
            terminals=tuple((str(n), str(r), str(lit)) for n, r, lit in data["terminals"]),
            ignored=tuple(data["ignored"]),
            rules=tuple(
                (str(o), str(a), bool(e), tuple((str(s), bool(t), bool(f)) for s, t, f in exp)) for o, a, e, exp in data["rules"]
            ),
            states=tuple({str(k): int(v) for k, v in row.items()} for row in data["states"]),
            start=int(data["start"]),
            end=int(data["end"]),
        )


def tables_from_lark(lark: Any, lexer_order: tuple[str, ...] = LEXER_ORDER) -> Tables:
    """The tables of a Lark LALR parser (``Lark(..., parser="lalr")``), states numbered canonically."""
    from lark.parsers.lalr_analysis import Shift

    table = lark.parser.parser.parser.parse_table  # ParsingFrontend -> LALR_Parser -> _Parser
    terminal_defs = {t.name: t for t in lark.terminals}
    missing = set(terminal_defs) - set(lexer_order)
    if missing:
        raise ValueError(f"the fast lexer does not know terminals {sorted(missing)}: add them to LEXER_ORDER")
    terminals = tuple(
        (name, terminal_defs[name].pattern.to_regexp(), terminal_defs[name].pattern.value if terminal_defs[name].pattern.type == "str" else "")
        for name in lexer_order
        if name in terminal_defs
    )
    rule_key = {}
    for row in table.states.values():
        for action, arg in row.values():
            if action is not Shift:
                rule_key[arg] = (str(arg.origin.name), arg.alias or "", bool(arg.options.expand1),
                                 tuple((s.name, bool(s.is_term), bool(getattr(s, "filter_out", False))) for s in arg.expansion))
    rules = tuple(sorted(set(rule_key.values())))
    if len(rules) != len(rule_key):
        raise ValueError("two of the grammar's rules have the same shape")  # pragma: no cover - guards grammar edits
    rule_index = {key: i for i, key in enumerate(rules)}
    start, end = table.start_states["start"], table.end_states["start"]
    number = {start: 0}
    order = [start]
    queue = deque([start])
    while queue:
        state = queue.popleft()
        for symbol in sorted(table.states[state]):
            action, arg = table.states[state][symbol]
            if action is Shift and arg not in number:
                number[arg] = len(order)
                order.append(arg)
                queue.append(arg)
    states = tuple(
        {
            symbol: (number[arg] if action is Shift else -1 - rule_index[rule_key[arg]])
            for symbol, (action, arg) in sorted(table.states[state].items())
        }
        for state in order
    )
    return Tables(terminals=terminals, ignored=tuple(sorted(lark.ignore_tokens)), rules=rules, states=states,
                  start=0, end=number[end])


class _Tok(str):
    """A light token: the text plus ``type``, ``start_pos`` and ``end_pos`` (what the transformer reads)."""

    __slots__ = ("end_pos", "start_pos", "type")


class FastLALR:
    """Parses with :class:`Tables`, calling ``transformer``'s methods (named by rule alias or origin) at reductions."""

    def __init__(self, tables: Tables, transformer: Any) -> None:
        self.tables = tables
        self.start = tables.start
        self.end = tables.end
        # Terminals whose value some rule keeps; the others (keywords, punctuation) are filtered out by every
        # reduction, so the lexer does not build token objects for them.
        self.valued = frozenset(sym for rule in tables.rules for sym, is_term, filtered in rule[3] if is_term and not filtered)
        reductions = []
        for origin, alias, expand1, expansion in tables.rules:
            # Levels of nesting a reduction closes: its "(" and, for the prefix-not rule, its "not".
            closes = sum(1 for sym, _, _ in expansion if sym == "LPAR") + (alias == "not_")
            reductions.append((len(expansion), origin, _reducer(origin, alias, expand1, expansion, transformer), closes))
        self.ignored = frozenset(tables.ignored)
        self.master = re.compile("|".join(f"(?P<{name}>{regex})" for name, regex, _ in tables.terminals))
        # Per state and terminal, either ``(next_state,)`` for a shift or ``(size, origin, reduce, closes)``;
        # gotos (shifts on rule names) in their own table.
        self.actions: list[dict[str, tuple[Any, ...]]] = []
        self.gotos: list[dict[str, int]] = []
        for row in tables.states:
            self.actions.append({sym: ((arg,) if arg >= 0 else reductions[-1 - arg]) for sym, arg in row.items()})
            self.gotos.append({sym: arg for sym, arg in row.items() if arg >= 0})

    def parse(self, text: str) -> Any:
        """The transformer's value for ``text``, or :class:`Unparsed`. Raises QueryError only for the limits."""
        actions = self.actions
        gotos = self.gotos
        state = self.start
        state_stack = [state]
        value_stack: list[Any] = []
        match = self.master.match
        pos = 0
        n = len(text)
        end_state = self.end
        valued = self.valued
        ignored = self.ignored
        levels = 0  # open parentheses and prefix "not"s (the nesting the later recursive passes will walk)
        previous = ""
        list_items = 0
        tok: Any
        while True:
            start = pos
            m = match(text, pos) if pos < n else None
            if m is not None:
                kind = m.lastgroup
                if kind in ignored:
                    pos = m.end()
                    continue
                if kind == "COMMA":
                    list_items += 1
                    if list_items >= MAX_LIST_ITEMS:
                        raise QueryError(
                            "syntax", f"a list holds more than {MAX_LIST_ITEMS:,} values",
                            query=text, offset=pos, end=m.end(), hint="select runs with ranges (run_number in 315000..316000)",
                        )
                elif kind == "LSQB":
                    list_items = 0
                elif kind == "LPAR" or (kind == "_NOT" and previous not in _PREDICATE_NOT_AFTER):
                    levels += 1
                    if levels > MAX_NESTING:
                        raise QueryError(
                            "syntax", f"the query is nested too deeply (more than {MAX_NESTING} levels of parentheses or 'not')",
                            query=text, offset=pos, end=m.end(), hint="write the condition with fewer parentheses",
                        )
                previous = kind
                pos = m.end()
                if kind in valued:
                    tok = _Tok(text[start:pos])
                    tok.type = kind
                    tok.start_pos = start
                    tok.end_pos = pos
                else:
                    tok = kind  # placeholder: dropped by the reduction that consumes it
            else:
                if pos < n:
                    return Unparsed(pos)
                kind = "$END"
                tok = None
            while True:
                act = actions[state].get(kind)
                if act is None:
                    return Unparsed(start)
                if len(act) == 1:  # shift
                    state = act[0]
                    state_stack.append(state)
                    value_stack.append(tok)
                    break
                size, origin, reduce, closes = act
                levels -= closes
                children = value_stack[-size:]
                del state_stack[-size:]
                del value_stack[-size:]
                value = reduce(children)
                state = gotos[state_stack[-1]][origin]
                state_stack.append(state)
                value_stack.append(value)
                if kind == "$END" and state == end_state:
                    return value


def _reducer(origin: str, alias: str, expand1: bool, expansion: tuple[tuple[str, bool, bool], ...], transformer: Any) -> Callable[[list[Any]], Any]:
    """The function one reduction calls on its children, shaped as Lark shapes the tree for that rule."""
    include = tuple(
        (i, (not is_term) and sym.startswith("_")) for i, (sym, is_term, filtered) in enumerate(expansion) if not (is_term and filtered)
    )
    func: Any = None
    if origin.startswith("_"):  # helper rule of a repetition: its children are spliced into the parent
        kind = "splice"
    else:
        name = alias or origin
        func = getattr(transformer, name, None)
        func = getattr(func, "base_func", func)  # call the method itself, not Lark's v_args wrapper
        kind = "inline" if (expand1 and not alias) else "call"
        if func is None and kind == "call":
            raise ValueError(f"the transformer has no method for rule {name!r}")  # pragma: no cover - guards grammar edits

    positions = tuple(i for i, _ in include)
    plain = not any(expand for _, expand in include)
    # Specialised reducers for the common shapes (most reductions pass one child through, or hand every
    # child to a method); the general one splices helper rules and filters tokens.
    if plain and kind == "inline" and len(positions) == 1:
        (only,) = positions
        return lambda children: children[only]
    if plain and kind == "call" and positions == tuple(range(len(expansion))):
        return lambda children: func(*children)
    if plain and kind == "call":
        return lambda children: func(*[children[i] for i in positions])

    # A left-recursive helper (the items of a list) extends its own list in place: the list object
    # belongs to the parse stack alone, and copying it at every item would make long lists quadratic.
    grow_first = kind == "splice" and bool(include) and include[0][1]

    def reduce(children: list[Any]) -> Any:
        if grow_first:
            kept: list[Any] = children[include[0][0]]
            rest = include[1:]
        else:
            kept, rest = [], include
        for i, expand in rest:
            if expand:
                kept.extend(children[i])
            else:
                kept.append(children[i])
        if kind == "splice":
            return kept
        if kind == "inline" and len(kept) == 1:
            return kept[0]
        return func(*kept)

    return reduce
