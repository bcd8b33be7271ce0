"""Text -> syntax tree. The only module that sees Lark objects.

Decisions:
* One LALR(1) parser in strict mode, built once per process (``functools.cache``) from the grammar file.
  The grammar is looked up inside the installed package first (the wheel carries a copy) and then in the
  top-level ``grammar/`` folder of a source checkout (editable installs).
* The tree is built by a Transformer passed to Lark (no intermediate parse tree). Spans come from the
  tokens, so ``propagate_positions`` is not needed.
* Every Lark exception is translated into :class:`~dqquery.errors.QueryError` with a readable message;
  nothing else escapes :func:`parse_syntax` for any input string.
* Hostile text is bounded before it costs anything (:mod:`dqquery.limits`): the query length is checked
  first; the fast driver refuses too deep nesting and too long lists as it meets them, with a located error,
  so neither the parse stack nor the later recursive passes can grow without bound.
* No regular expression of the lexer can backtrack more than once per character: ignored text (spaces,
  comments) is lexed as ordinary tokens of the one master regex, never as a repeated group, and strings are
  an "unrolled loop" (``tests/test_regex_audit.py`` checks every pattern of the package).
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from importlib import resources
from pathlib import Path
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from . import ast as A
from .catalog import lookup
from .errors import QueryError
from .limits import MAX_LIST_ITEMS, MAX_NESTING, MAX_QUERY_CHARS

GRAMMAR_FILE = "dqquery.lark"

KEYWORDS = frozenset({"and", "or", "not", "in", "like", "contains", "is", "null", "true", "false"})

_TOKEN_NAMES = {
    "_AND": "'and'",
    "_OR": "'or'",
    "_NOT": "'not'",
    "_IN": "'in'",
    "_LIKE": "'like'",
    "_CONTAINS": "'contains'",
    "_IS": "'is'",
    "_NULL": "'null'",
    "TRUE": "'true'",
    "FALSE": "'false'",
    "NAME": "a name",
    "COMPARE_OP": "a comparison (==, !=, <, <=, >, >=)",
    "STRING": "a quoted string",
    "INT": "a number",
    "FLOAT": "a number",
    "DATE": "a date",
    "DATETIME": "a datetime",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "TILDE": "'~'",
    "$END": "the end of the query",
}


def grammar_text() -> str:
    """The grammar source: from the installed package, else from the source checkout."""
    try:
        packaged = resources.files("dqquery").joinpath("grammar", GRAMMAR_FILE)
        if packaged.is_file():
            return packaged.read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError, NotADirectoryError):  # pragma: no cover - defensive
        pass
    checkout = Path(__file__).resolve().parents[1] / "grammar" / GRAMMAR_FILE
    return checkout.read_text(encoding="utf-8")


@functools.cache
def _parser() -> Lark:
    return Lark(grammar_text(), parser="lalr", strict=True, transformer=_ToAst(), maybe_placeholders=False)


@functools.cache
def _fast() -> _FastLALR:
    return _FastLALR(_parser())


def build_parser(parser: str = "lalr", with_transformer: bool = True) -> Lark:
    """A fresh parser (for benchmarks and tests; :func:`parse_syntax` uses the cached one)."""
    kwargs: dict[str, Any] = {"parser": parser}
    if parser == "lalr":
        kwargs["strict"] = True
        if with_transformer:
            kwargs["transformer"] = _ToAst()
    return Lark(grammar_text(), **kwargs)


# ------------------------------------------------------------------------------------------ strings

_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t"}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.S)
_SURROGATE_PAIR_RE = re.compile("([\ud800-\udbff])([\udc00-\udfff])")
_LONE_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def decode_string(token_text: str) -> str:
    """The value of a quoted string token.

    Decision: only ``\\" \\' \\\\ \\n \\t \\uXXXX`` are escapes; any other backslash pair (``\\d``, ``\\b``,
    ``\\%``) is kept as written, so a regular expression's ``\\b`` stays a word boundary and LIKE's ``\\%``
    stays an escaped percent. JSON-style surrogate pairs (``\\ud83d\\ude00``) combine into one character;
    a lone surrogate is left in the text for :func:`checked_string` to reject.
    """
    body = token_text[1:-1]

    def repl(m: re.Match[str]) -> str:
        esc = m.group(1)
        if esc[0] == "u" and len(esc) == 5:
            return chr(int(esc[1:], 16))
        return _ESCAPES.get(esc, "\\" + esc)

    value = _ESCAPE_RE.sub(repl, body)
    if _LONE_SURROGATE_RE.search(value):
        value = _SURROGATE_PAIR_RE.sub(lambda m: (m.group(1) + m.group(2)).encode("utf-16", "surrogatepass").decode("utf-16"), value)
    return value


def checked_string(tok: Token) -> str:
    """:func:`decode_string`, refusing text that is not valid Unicode (a lone surrogate)."""
    value = decode_string(str(tok))
    if _LONE_SURROGATE_RE.search(value):
        raise QueryError(
            "syntax",
            "the string contains a lone surrogate (half of a \\uXXXX pair), which is not a character",
            offset=tok.start_pos,
            end=tok.end_pos,
            hint="write the character itself, or both halves of the pair: \"\\ud83d\\ude00\"",
        )
    return value


# ------------------------------------------------------------------------------------------ transformer


def _span(start_tok: Any, end_tok: Any) -> A.Span:
    return A.Span(start=_start(start_tok), end=_end(end_tok))


def _start(x: Any) -> int:
    if isinstance(x, str):  # a token (Lark's or the fast lexer's): both carry start_pos/end_pos
        return x.start_pos or 0  # type: ignore[attr-defined]
    span = x.span
    return span.start if span else 0


def _end(x: Any) -> int:
    if isinstance(x, str):
        return x.end_pos or 0  # type: ignore[attr-defined]
    span = x.span
    return span.end if span else 0


_OP_ALIASES = {"=": "==", "<>": "!="}


def _shorten(text: str, width: int = 24) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


@v_args(inline=True)
class _ToAst(Transformer):
    """Builds :mod:`dqquery.ast` nodes straight from the LALR parser's reductions.

    Decision: nodes are made with :func:`dqquery.ast.trusted` (no pydantic validation): every value comes from a
    token whose form the grammar fixes, and the checks validation would repeat (64-bit integers, finite
    floats, UTC datetimes, status words, flat and/or) are made here. Validation costs more than the parse
    itself; nodes built in Python or loaded from JSON are still validated."""

    # values ---------------------------------------------------------------------------------------
    def int(self, tok: Token) -> A.IntValue:
        # A digit string longer than any 64-bit integer is refused before int() (which refuses 4300 digits);
        # leading zeros are dropped first, so 000...01 is 1 however many zeros it has.
        negative = tok.startswith("-")
        digits = tok.lstrip("-").lstrip("0") or "0"
        value = (-int(digits) if negative else int(digits)) if len(digits) <= 19 else A.MAX_INT + 1
        if not A.MIN_INT <= value <= A.MAX_INT:
            raise QueryError(
                "syntax", f"integer {_shorten(str(tok))} is too large", offset=tok.start_pos, end=tok.end_pos,
                hint="integers must fit in 64 bits (-9223372036854775808..9223372036854775807)",
            )
        return A.trusted(A.IntValue, value=value, span=A.Span(tok.start_pos, tok.end_pos))

    def float(self, tok: Token) -> A.FloatValue:
        value = float(tok)
        if value != value or value in (float("inf"), float("-inf")):
            raise QueryError("syntax", f"number {tok} is too large", offset=tok.start_pos, end=tok.end_pos)
        return A.trusted(A.FloatValue, value=value, span=_span(tok, tok))

    def string(self, tok: Token) -> A.StringValue:
        return A.trusted(A.StringValue, value=checked_string(tok), span=_span(tok, tok))

    def true(self, tok: Token) -> A.BoolValue:
        return A.trusted(A.BoolValue, value=True, span=_span(tok, tok))

    def false(self, tok: Token) -> A.BoolValue:
        return A.trusted(A.BoolValue, value=False, span=_span(tok, tok))

    def null(self, *toks: Token) -> A.StatusValue:
        # Placeholder the checker turns into a helpful error ("use `is null`").
        return A.trusted(A.StatusValue, value=A.NULL_PLACEHOLDER)

    def word(self, tok: Token) -> A.StatusValue:
        return A.trusted(A.StatusValue, value=str(tok), span=A.Span(tok.start_pos, tok.end_pos))

    def date(self, tok: Token) -> A.DateValue:
        try:
            value = _dt.date.fromisoformat(str(tok))
        except ValueError:
            raise QueryError(
                "syntax", f"{tok} is not a valid date", offset=tok.start_pos, end=tok.end_pos, hint="write dates as YYYY-MM-DD"
            ) from None
        return A.trusted(A.DateValue, value=value, span=_span(tok, tok))

    def datetime(self, tok: Token) -> A.DateTimeValue:
        text = str(tok)
        try:
            value = _dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
            value = value.replace(tzinfo=_dt.UTC) if value.tzinfo is None else value.astimezone(_dt.UTC)
        except OverflowError:
            raise QueryError("syntax", f"{tok} is out of range once converted to UTC", offset=tok.start_pos, end=tok.end_pos) from None
        except ValueError:
            raise QueryError(
                "syntax",
                f"{tok} is not a valid datetime",
                offset=tok.start_pos,
                end=tok.end_pos,
                hint="write datetimes as YYYY-MM-DDTHH:MM:SSZ",
            ) from None
        return A.trusted(A.DateTimeValue, value=value, span=_span(tok, tok))

    # fields and predicates ----------------------------------------------------------------------
    def _field(self, tok: Token) -> A.FieldRef:
        # Names resolve here (a dictionary look-up); unknown names are kept as written and the checker
        # reports them with a suggestion.
        text = str(tok)
        span = A.Span(tok.start_pos, tok.end_pos)
        row = lookup(text)
        if row is None:
            return A.trusted(A.FieldRef, name=text, path=text, span=span)
        return A.trusted(A.FieldRef, name=row.name, path=row.path, span=span)

    def compare(self, name: Token, op: Token, value: Any) -> A.Compare:
        field = self._field(name)
        op_text = _OP_ALIASES.get(str(op), str(op))
        return A.trusted(A.Compare, field=field, op=op_text, value=value, span=_span(field, value if value.span else op))

    def range(self, low: Any, high: Any) -> tuple[Any, Any]:
        return (low, high)

    def list(self, *items: Any) -> tuple[tuple[Any, ...], Any]:
        return items[:-1], items[-1]  # (values, closing bracket token)

    def in_range(self, name: Token, bounds: tuple[Any, Any], negated: bool = False) -> A.InRange:
        field = self._field(name)
        low, high = bounds
        return A.trusted(A.InRange, field=field, low=low, high=high, negated=negated, span=_span(field, high))

    def not_in_range(self, name: Token, bounds: tuple[Any, Any]) -> A.InRange:
        return self.in_range(name, bounds, True)

    def in_list(self, name: Token, items: tuple[tuple[Any, ...], Any], negated: bool = False) -> A.InSet:
        field = self._field(name)
        values, closing = items
        return A.trusted(A.InSet, field=field, values=values, negated=negated, span=_span(field, closing))

    def not_in_list(self, name: Token, items: tuple[tuple[Any, ...], Any]) -> A.InSet:
        return self.in_list(name, items, True)

    def like(self, name: Token, tok: Token, negated: bool = False) -> A.Like:
        field = self._field(name)
        return A.trusted(A.Like, field=field, pattern=checked_string(tok), negated=negated, span=_span(field, tok))

    def not_like(self, name: Token, tok: Token) -> A.Like:
        return self.like(name, tok, True)

    def regex(self, name: Token, tok: Token, negated: bool = False) -> A.Regex:
        field = self._field(name)
        return A.trusted(A.Regex, field=field, pattern=checked_string(tok), negated=negated, span=_span(field, tok))

    def not_regex(self, name: Token, tok: Token) -> A.Regex:
        return self.regex(name, tok, True)

    def contains(self, name: Token, value: Any) -> A.Contains:
        field = self._field(name)
        return A.trusted(A.Contains, field=field, value=value, span=_span(field, value if value.span else field))

    def is_null(self, name: Token, negated: bool = False) -> A.IsNull:
        field = self._field(name)
        return A.trusted(A.IsNull, field=field, negated=negated, span=field.span)

    def is_not_null(self, name: Token) -> A.IsNull:
        return self.is_null(name, True)

    def truthy(self, name: Token) -> A.Compare:
        field = self._field(name)
        return A.trusted(A.Compare, field=field, op="==", value=A.trusted(A.BoolValue, value=True), span=field.span)

    # boolean structure --------------------------------------------------------------------------
    def not_(self, operand: Any) -> A.Not:
        return A.trusted(A.Not, operand=operand, span=operand.span)

    def and_expr(self, *operands: Any) -> Any:
        return A.trusted(A.And, operands=A.flatten_operands(operands, A.And), span=_span(operands[0], operands[-1]))

    def or_expr(self, *operands: Any) -> Any:
        return A.trusted(A.Or, operands=A.flatten_operands(operands, A.Or), span=_span(operands[0], operands[-1]))


# ------------------------------------------------------------------------------------------ errors


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "the end of the query"
    return f"{tok.value!r}" if tok.value else _TOKEN_NAMES.get(tok.type, tok.type)


@functools.cache
def _terminal_labels() -> dict[str, str]:
    """Readable names of the grammar's terminals; anonymous ones (``__ANON_0``) are labelled by their text."""
    labels = {t.name: f"'{t.pattern.value}'" for t in _parser().terminals if t.pattern.type == "str"}
    labels.update(_TOKEN_NAMES)
    return labels


def _expected(names: set[str] | frozenset[str]) -> str:
    labels = _terminal_labels()
    # Descriptions ("a comparison (...)", "a number") before literal tokens ('and', ')'), each group sorted.
    pretty = sorted({labels.get(n, n.lower()) for n in names}, key=lambda label: (label.startswith("'"), label))
    if not pretty:
        return ""
    if len(pretty) > 10:
        return "expected " + ", ".join(pretty[:10]) + ", ..."
    return "expected " + ", ".join(pretty)


_DATE_LIKE = re.compile(r"\d{4}-\d{1,2}(?:-\d{1,2})?(?:T[\d:.]*)?$")


_SWAPPED_OPERATOR = {">": ">=", "<": "<="}
"""``=>`` and ``=<`` (the order of other languages' arrows): the ``=`` reads as ``==``, then ``>`` is unexpected."""
_RANGE_WITH_HYPHEN = re.compile(r"(?:^|\s)in\s+(-?\d+)\s*$")
_LIST_IN_PARENTHESES = re.compile(r"(?:^|\s)in\s*$")


def _familiar_mistake_hint(text: str, tok_value: str, offset: int) -> str:
    """Hints for notations of other languages: ``=>`` for ``>=``, ``in (1, 2)`` for a list, ``in 1-5`` for a range."""
    before = text[:offset]
    if tok_value[:1] in _SWAPPED_OPERATOR and before.endswith("="):
        right = _SWAPPED_OPERATOR[tok_value[0]]
        return f"did you mean '{right}'? comparison operators are ==, !=, <, <=, >, >="
    if tok_value == "(" and _LIST_IN_PARENTHESES.search(before):
        close = text.find(")", offset)
        words = before.split()
        if close > offset and "(" not in text[offset + 1 : close] and len(words) >= 2:
            return f"lists use [ ]: write `{words[-2]} in [{text[offset + 1 : close]}]`"
        return "lists use [ ]: write `field in [1, 2]`"
    low = _RANGE_WITH_HYPHEN.search(before)
    high = re.match(r"-\s*(\d+)", text[offset:])
    if low and high:
        return f"ranges use '..': write `{low.group(1)}..{high.group(1)}`"
    return ""


def _syntax_hint(text: str, tok_value: str, expected: set[str] | frozenset[str], offset: int = 0) -> str:
    words = text[: offset + len(tok_value)].split()  # the last one is the malformed date, when it is one
    if tok_value.startswith("-") and words and _DATE_LIKE.search(words[-1]):
        return "write dates as YYYY-MM-DD (2018-05-01) and datetimes as YYYY-MM-DDTHH:MM:SSZ, with two-digit months and days"
    familiar = _familiar_mistake_hint(text, tok_value, offset)
    if familiar:
        return familiar
    low = tok_value.lower()
    if tok_value != low and low in KEYWORDS:
        return f"keywords are lower-case: write '{low}'"
    if tok_value in KEYWORDS and "NAME" in expected:
        return f"'{tok_value}' is a reserved word and cannot be a field name"
    if expected and expected <= {"RPAR", "_AND", "_OR", "$END"} | {"RSQB", "COMMA"}:
        if "RSQB" in expected:
            return "a list is not closed: separate its values with ',' and end it with ']'"
        if "RPAR" in expected:
            return "a ')' is missing, or 'and'/'or' is needed between two conditions"
        return "join conditions with 'and' or 'or'"
    if "COMPARE_OP" in expected:
        return "a condition looks like `field == value`, `field in 1..10`, `field like \"%x%\"` or a bare boolean field"
    return ""


def _translate(text: str, err: UnexpectedInput) -> QueryError:
    if isinstance(err, UnexpectedToken):
        tok = err.token
        expected = set(err.accepts or err.expected or ())
        if tok.type == "$END":
            offset = len(text)
            msg = "unexpected end of the query"
            end = None
        else:
            offset = tok.start_pos or 0
            end = tok.end_pos
            msg = f"unexpected {_describe_token(tok)}"
        exp = _expected(expected)
        if exp:
            msg += f"; {exp}"
        return QueryError("syntax", msg, query=text, offset=offset, end=end, hint=_syntax_hint(text, str(tok.value), expected, offset))
    if isinstance(err, UnexpectedCharacters):
        offset = err.pos_in_stream
        ch = text[offset] if offset < len(text) else ""
        hint = ""
        if ch in "\"'":
            hint = "a string is not closed (strings end on the same line with the same quote)"
        elif ch == "&" or ch == "|":
            hint = "write 'and' / 'or' instead of '&&' / '||'"
        elif ch == "!":
            hint = "write 'not x' or use '!=' / '!~'"
        elif ch == "-":
            hint = _familiar_mistake_hint(text, ch, offset)
        return QueryError("syntax", f"unexpected character {ch!r}", query=text, offset=offset, end=offset + 1, hint=hint)
    if isinstance(err, UnexpectedEOF):
        return QueryError("syntax", "unexpected end of the query", query=text, offset=len(text))
    return QueryError("syntax", "cannot parse the query", query=text, offset=0)  # pragma: no cover - defensive


def parse_syntax(text: str) -> Any:
    """Parse ``text`` into an unchecked tree (fields not yet resolved). Raises only QueryError."""
    if not isinstance(text, str):
        raise QueryError("syntax", f"a query must be a string, not {type(text).__name__}")
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(
            "syntax",
            f"the query is {len(text):,} characters long; the limit is {MAX_QUERY_CHARS:,}",
            query=text[:200],
            offset=0,
            hint="select long lists of runs with ranges (run_number in 315000..316000) or a golden JSON",
        )
    if not text.strip():
        raise QueryError("syntax", "the query is empty", query=text, offset=len(text), hint="write a condition such as `tracker-strip == GOOD`")
    try:
        result = _fast().parse(text)
        if result is not _FAILED:
            return result
        # The fast path found a problem: let Lark's own parser produce the located error.
        return _parser().parse(text)
    except UnexpectedInput as err:
        raise _translate(text, err) from None
    except VisitError as err:
        inner = err.orig_exc
        if isinstance(inner, QueryError):
            raise inner.with_query(text) from None
        raise QueryError("syntax", f"cannot build the query: {inner}", query=text, offset=0) from None
    except QueryError as err:
        raise err.with_query(text) from None
    except RecursionError:
        raise QueryError("syntax", "the query is nested too deeply", query=text, offset=0) from None


# ------------------------------------------------------------------------------------------ fast driver

_FAILED = object()
# Tokens after which "not" is part of a predicate (x not in .., x not like .., x is not null), not a prefix.
_PREDICATE_NOT_AFTER = frozenset({"NAME", "_IS"})


class _Tok(str):
    """A light token: the text plus ``type``, ``start_pos`` and ``end_pos`` (what the transformer reads)."""

    __slots__ = ("end_pos", "start_pos", "type")


# Terminal order for the single master regex: ignored text first, then the terminals in Lark's priority
# order (dates before numbers), NAME before the keywords it excludes, longer operators before shorter ones.
_MASTER_ORDER = (
    "__IGNORE_0", "__IGNORE_1", "COMMENT", "DATETIME", "DATE", "FLOAT", "INT", "STRING", "NAME",
    "_CONTAINS", "FALSE", "TRUE", "_NULL", "_LIKE", "_AND", "_NOT", "_OR", "_IN", "_IS",
    "__ANON_0", "__ANON_1", "COMPARE_OP", "TILDE", "LPAR", "RPAR", "LSQB", "RSQB", "COMMA",
)
_KEYWORD_END = r"(?![A-Za-z0-9_.-])"
_KEYWORDS = {"_AND", "_OR", "_NOT", "_IN", "_LIKE", "_CONTAINS", "_IS", "_NULL", "TRUE", "FALSE"}


class _FastLALR:
    """Runs Lark's own strict LALR(1) tables with a tight loop, a one-regex lexer and direct reductions.

    Decision: Lark's generic driver costs several microseconds per token and per reduction, more than the
    whole budget for a 10-clause query. This driver uses exactly the tables Lark built from
    ``grammar/dqquery.lark`` (so the grammar stays the only definition of the language), applies Lark's
    tree-shaping rules (filtered tokens, ``?rule`` inlining, alias names, spliced ``_helper`` rules) from the
    rule objects Lark produced, and calls the same transformer methods. On any lexing or parsing problem it
    returns ``_FAILED`` and the caller re-parses with Lark's own parser, so error messages are Lark's.
    A differential test checks that both drivers build identical trees.
    """

    def __init__(self, lark: Lark) -> None:
        inner = lark.parser.parser.parser  # type: ignore[attr-defined]  # ParsingFrontend -> LALR_Parser -> _Parser
        table = inner.parse_table
        self.states = table.states
        self.start = table.start_states["start"]
        self.end = table.end_states["start"]
        transformer = _ToAst()
        self.reductions: dict[Any, tuple[int, str, Any]] = {}
        # Terminals whose value some rule keeps; the others (keywords, punctuation) are filtered out by every
        # reduction, so the lexer does not build token objects for them.
        self.valued = frozenset(
            sym.name for rule in inner.callbacks for sym in rule.expansion if sym.is_term and not sym.filter_out
        )
        for rule in inner.callbacks:
            # Levels of nesting a reduction closes: its "(" and, for the prefix-not rule, its "not".
            closes = sum(1 for sym in rule.expansion if sym.name == "LPAR") + (rule.alias == "not_")
            self.reductions[rule] = (len(rule.expansion), str(rule.origin.name), self._reducer(rule, transformer), closes)
        terminals = {t.name: t for t in lark.terminals}
        ignore = set(lark.ignore_tokens)
        missing = set(terminals) - set(_MASTER_ORDER)
        if missing:  # pragma: no cover - guards grammar edits
            raise AssertionError(f"fast lexer does not know terminals {sorted(missing)}")
        # Ignored text (spaces, a comment) is one more token kind of the master regex, skipped by the driver:
        # each match consumes one whole run or comment, so nothing can backtrack into it (an earlier form
        # matched ``(?:[ \t\r\n]+)*`` before the end of the text, which took exponential time on a typo).
        self.ignored = frozenset(name for name in _MASTER_ORDER if name in ignore)
        parts = [f"(?P<{name}>{terminals[name].pattern.to_regexp()})" for name in _MASTER_ORDER if name in terminals]
        self.master = re.compile("|".join(parts))
        self._flatten()

    @staticmethod
    def _reducer(rule: Any, transformer: Any) -> Any:
        include = tuple(
            (i, (not sym.is_term) and sym.name.startswith("_"))
            for i, sym in enumerate(rule.expansion)
            if not (sym.is_term and sym.filter_out)
        )
        origin = str(rule.origin.name)
        if origin.startswith("_"):  # helper rule of a repetition: its children are spliced into the parent
            kind, func = "splice", None
        else:
            name = rule.alias or origin
            func = getattr(transformer, name, None)
            func = getattr(func, "base_func", func)  # call the method itself, not Lark's v_args wrapper
            kind = "inline" if (rule.options.expand1 and not rule.alias) else "call"
            if func is None and kind == "call":  # pragma: no cover - guards grammar edits
                raise AssertionError(f"no transformer method for rule {name!r}")

        positions = tuple(i for i, _ in include)
        plain = not any(expand for _, expand in include)
        # Specialised reducers for the common shapes (most reductions pass one child through, or hand every
        # child to a method); the general one splices helper rules and filters tokens.
        if plain and kind == "inline" and len(positions) == 1:
            (only,) = positions
            return lambda children: children[only]
        if plain and kind == "call" and positions == tuple(range(len(rule.expansion))):
            return lambda children: func(*children)  # type: ignore[misc]
        if plain and kind == "call":
            return lambda children: func(*[children[i] for i in positions])  # type: ignore[misc]

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
            return func(*kept)  # type: ignore[misc]

        return reduce

    def _flatten(self) -> None:
        """Lark's tables in a flatter form: per state and terminal, either ``(next_state,)`` for a shift or
        ``(size, origin, reduce)`` for a reduction; gotos in their own table."""
        from lark.parsers.lalr_analysis import Shift

        actions: dict[Any, dict[str, tuple[Any, ...]]] = {}
        gotos: dict[Any, dict[str, Any]] = {}
        for state, row in self.states.items():
            acts: dict[str, tuple[Any, ...]] = {}
            for symbol, (action, arg) in row.items():
                if action is Shift:
                    acts[symbol] = (arg,)
                    gotos.setdefault(state, {})[symbol] = arg
                else:
                    acts[symbol] = self.reductions[arg]
            actions[state] = acts
        self.actions, self.gotos = actions, gotos

    def parse(self, text: str) -> Any:
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
                start = pos
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
                    return _FAILED
                kind = "$END"
                tok = None
            while True:
                act = actions[state].get(kind)
                if act is None:
                    return _FAILED
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


