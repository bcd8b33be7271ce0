"""Text -> syntax tree: the grammar, the transformer that builds the AST, and Lark's errors translated.

Decisions:
* One LALR(1) grammar, built by Lark in strict mode. The grammar is looked up inside the installed package first
  (the wheel carries a copy) and then in the top-level ``grammar/`` folder of a source checkout (editable installs).
* Queries are parsed by the fast driver of :mod:`dqquery.lalr`, from the tables stored in the package
  (``dqquery/data/parse_tables.json``, with the sha256 of the grammar they were built from). Building them costs
  Lark 100-500 ms (most of it the strict mode's terminal-collision check), more than everything else a
  ``dqquery check`` does. Stored in the package, not in a user cache: written once by the developer who edits the
  grammar (:func:`write_tables`), so the first run is fast too, nothing is written at run time, and the file
  is JSON, never pickle, so no file can run code. A test builds the grammar in strict mode and checks the stored
  tables equal the fresh ones; a table file that does not match the grammar's hash is ignored (the tables are built
  then, slowly but correctly).
* Lark is imported, and its own parser built, only on the first syntax error: its error analysis (the expected
  terminals, the contextual lexer) words the message, translated here. A valid query never imports Lark.
* The tree is built by a Transformer (no intermediate parse tree), called by the fast driver and by Lark alike.
  Spans come from the tokens, so ``propagate_positions`` is not needed.
* Every Lark exception is translated into :class:`~dqquery.errors.QueryError` with a readable message;
  nothing else escapes :func:`parse_syntax` for any input string.
* Hostile text is bounded before it costs anything (:mod:`dqquery.limits`): the query length is checked
  first; the fast driver refuses too deep nesting and too long lists as it meets them.
* No regular expression of the lexer can backtrack more than once per character: strings are an "unrolled loop"
  (``tests/test_regex_audit.py`` checks every pattern of the package).
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
import json
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import ast as A
from .catalog import lookup
from .errors import QueryError
from .lalr import FastLALR, Tables, Unparsed, tables_from_lark
from .limits import MAX_QUERY_CHARS

if TYPE_CHECKING:
    from lark import Lark, Token
    from lark.exceptions import UnexpectedInput

GRAMMAR_FILE = "dqquery.lark"
TABLES_FILE = Path(__file__).resolve().parent / "data" / "parse_tables.json"
"""The grammar's LALR tables, built by Lark in strict mode and stored with the grammar's hash (:func:`write_tables`)."""

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
    """Lark's own strict LALR parser: built on the first syntax error only (its error analysis words the message)."""
    from lark import Lark

    return Lark(grammar_text(), parser="lalr", strict=True, transformer=_lark_transformer(), maybe_placeholders=False)


def _lark_transformer() -> Any:
    """:class:`_ToAst` as a Lark ``Transformer`` (its methods take the children as arguments: ``v_args(inline=True)``)."""
    from lark import Transformer, v_args

    methods = {name: value for name, value in vars(_ToAst).items() if callable(value) and not name.startswith("__")}
    return v_args(inline=True)(type("_LarkToAst", (Transformer,), {"__doc__": _ToAst.__doc__, **methods}))()


def grammar_sha256(text: str | None = None) -> str:
    return hashlib.sha256((grammar_text() if text is None else text).encode("utf-8")).hexdigest()


def fresh_tables() -> Tables:
    """The parse tables built now by Lark in strict mode (any conflict or terminal collision is an error)."""
    from lark import Lark

    return tables_from_lark(Lark(grammar_text(), parser="lalr", strict=True, maybe_placeholders=False))


def stored_tables() -> Tables | None:
    """The tables stored in the package (:data:`TABLES_FILE`), or None when absent or not built from this grammar."""
    try:
        data = json.loads(TABLES_FILE.read_text(encoding="utf-8"))
        if data.get("grammar_sha256") != grammar_sha256():
            return None
        return Tables.from_json(data["tables"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_tables(path: Path = TABLES_FILE) -> None:
    """Store :func:`fresh_tables` for this grammar (after a grammar edit: ``python -c "from dqquery.parser import write_tables; write_tables()"``)."""
    import lark

    data = {"grammar_sha256": grammar_sha256(), "built_with": f"lark {lark.__version__}", "tables": fresh_tables().to_json()}
    text = json.dumps(data, indent=None, separators=(",", ":"), sort_keys=True) + "\n"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


@functools.cache
def _fast() -> FastLALR:
    return FastLALR(stored_tables() or fresh_tables(), _ToAst())


def build_parser(parser: str = "lalr", with_transformer: bool = True) -> Lark:
    """A fresh Lark parser (for benchmarks and tests)."""
    from lark import Lark

    kwargs: dict[str, Any] = {"parser": parser}
    if parser == "lalr":
        kwargs["strict"] = True
        if with_transformer:
            kwargs["transformer"] = _lark_transformer()
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


class _ToAst:
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
    labels = {name: f"'{literal}'" for name, _, literal in _fast().tables.terminals if literal}
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
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

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
    except QueryError as err:
        raise err.with_query(text) from None
    except RecursionError:
        raise QueryError("syntax", "the query is nested too deeply", query=text, offset=0) from None
    if not isinstance(result, Unparsed):
        return result
    return _parse_with_lark(text)


def _parse_with_lark(text: str) -> Any:
    """The fast driver found a problem: Lark's own parser (imported and built now, once) words the located error."""
    from lark.exceptions import UnexpectedInput, VisitError

    try:
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

