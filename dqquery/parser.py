"""Text -> syntax tree. The only module that sees Lark objects.

Decisions:
* One LALR(1) parser in strict mode, built once per process (``functools.cache``) from the grammar file.
  The grammar is looked up inside the installed package first (the wheel carries a copy) and then in the
  top-level ``grammar/`` folder of a source checkout (editable installs).
* The tree is built by a Transformer passed to Lark (no intermediate parse tree). Spans come from the
  tokens, so ``propagate_positions`` is not needed.
* Every Lark exception is translated into :class:`~dqquery.errors.QueryError` with a readable message;
  nothing else escapes :func:`parse_syntax` for any input string.
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
from .errors import QueryError

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
    "_TRUE": "'true'",
    "_FALSE": "'false'",
    "NAME": "a field name",
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
    "__ANON_0": "'..'",
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


def build_parser(parser: str = "lalr", with_transformer: bool = True) -> Lark:
    """A fresh parser (for benchmarks and tests; :func:`parse_syntax` uses the cached one)."""
    kwargs: dict[str, Any] = {"parser": parser}
    if parser == "lalr":
        kwargs["strict"] = True
        if with_transformer:
            kwargs["transformer"] = _ToAst()
    return Lark(grammar_text(), **kwargs)


# ------------------------------------------------------------------------------------------ strings

_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "/": "/", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.S)


def decode_string(token_text: str) -> str:
    """The value of a quoted string token. Unknown escapes such as ``\\d`` are kept as written."""
    body = token_text[1:-1]

    def repl(m: re.Match[str]) -> str:
        esc = m.group(1)
        if esc[0] == "u" and len(esc) == 5:
            return chr(int(esc[1:], 16))
        return _ESCAPES.get(esc, "\\" + esc)

    return _ESCAPE_RE.sub(repl, body)


# ------------------------------------------------------------------------------------------ transformer


def _span(start_tok: Any, end_tok: Any) -> A.Span:
    return A.Span(start=_start(start_tok), end=_end(end_tok))


def _start(x: Any) -> int:
    if isinstance(x, Token):
        return x.start_pos or 0
    return x.span.start if getattr(x, "span", None) else 0


def _end(x: Any) -> int:
    if isinstance(x, Token):
        return x.end_pos or 0
    return x.span.end if getattr(x, "span", None) else 0


class _Raw:
    """A raw value on its way into the tree (kept with its token for error positions)."""

    __slots__ = ("value", "token")

    def __init__(self, value: Any, token: Token) -> None:
        self.value = value
        self.token = token


_OP_ALIASES = {"=": "==", "<>": "!="}


@v_args(inline=True)
class _ToAst(Transformer):
    """Builds :mod:`dqquery.ast` nodes straight from the LALR parser's reductions."""

    # values ---------------------------------------------------------------------------------------
    def int(self, tok: Token) -> A.IntValue:
        return A.IntValue(value=int(tok), span=_span(tok, tok))

    def float(self, tok: Token) -> A.FloatValue:
        value = float(tok)
        if value != value or value in (float("inf"), float("-inf")):
            raise QueryError("syntax", f"number {tok} is too large", offset=tok.start_pos, end=tok.end_pos)
        return A.FloatValue(value=value, span=_span(tok, tok))

    def string(self, tok: Token) -> A.StringValue:
        return A.StringValue(value=decode_string(str(tok)), span=_span(tok, tok))

    def true(self, *toks: Token) -> A.BoolValue:
        return A.BoolValue(value=True)

    def false(self, *toks: Token) -> A.BoolValue:
        return A.BoolValue(value=False)

    def null(self, *toks: Token) -> A.StatusValue:
        # Placeholder the checker turns into a helpful error ("use `is null`").
        return A.StatusValue(value="\x00null")

    def word(self, tok: Token) -> A.StatusValue:
        return A.StatusValue(value=str(tok), span=_span(tok, tok))

    def date(self, tok: Token) -> A.DateValue:
        try:
            value = _dt.date.fromisoformat(str(tok))
        except ValueError:
            raise QueryError(
                "syntax", f"{tok} is not a valid date", offset=tok.start_pos, end=tok.end_pos, hint="write dates as YYYY-MM-DD"
            ) from None
        return A.DateValue(value=value, span=_span(tok, tok))

    def datetime(self, tok: Token) -> A.DateTimeValue:
        text = str(tok)
        try:
            value = _dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
        except ValueError:
            raise QueryError(
                "syntax",
                f"{tok} is not a valid datetime",
                offset=tok.start_pos,
                end=tok.end_pos,
                hint="write datetimes as YYYY-MM-DDTHH:MM:SSZ",
            ) from None
        return A.DateTimeValue(value=value, span=_span(tok, tok))

    # fields and predicates ----------------------------------------------------------------------
    def field(self, tok: Token) -> A.FieldRef:
        # Resolution happens in the checker; here name and path are both what was written.
        return A.FieldRef(name=str(tok), path=str(tok), span=_span(tok, tok))

    def compare(self, field: A.FieldRef, op: Token, value: Any) -> A.Compare:
        op_text = _OP_ALIASES.get(str(op), str(op))
        return A.Compare(field=field, op=op_text, value=value, span=_span(field, value if value.span else op))

    def range(self, low: Any, high: Any) -> tuple[Any, Any]:
        return (low, high)

    def list(self, *values: Any) -> tuple[Any, ...]:
        return values

    def in_range(self, field: A.FieldRef, bounds: tuple[Any, Any], negated: bool = False) -> A.InRange:
        low, high = bounds
        return A.InRange(field=field, low=low, high=high, negated=negated, span=_span(field, high))

    def not_in_range(self, field: A.FieldRef, bounds: tuple[Any, Any]) -> A.InRange:
        return self.in_range(field, bounds, True)

    def in_list(self, field: A.FieldRef, values: tuple[Any, ...], negated: bool = False) -> A.InSet:
        return A.InSet(field=field, values=values, negated=negated, span=_span(field, values[-1]))

    def not_in_list(self, field: A.FieldRef, values: tuple[Any, ...]) -> A.InSet:
        return self.in_list(field, values, True)

    def like(self, field: A.FieldRef, tok: Token, negated: bool = False) -> A.Like:
        return A.Like(field=field, pattern=decode_string(str(tok)), negated=negated, span=_span(field, tok))

    def not_like(self, field: A.FieldRef, tok: Token) -> A.Like:
        return self.like(field, tok, True)

    def regex(self, field: A.FieldRef, tok: Token, negated: bool = False) -> A.Regex:
        return A.Regex(field=field, pattern=decode_string(str(tok)), negated=negated, span=_span(field, tok))

    def not_regex(self, field: A.FieldRef, tok: Token) -> A.Regex:
        return self.regex(field, tok, True)

    def contains(self, field: A.FieldRef, value: Any) -> A.Contains:
        return A.Contains(field=field, value=value, span=_span(field, value if value.span else field))

    def is_null(self, field: A.FieldRef) -> A.IsNull:
        return A.IsNull(field=field, span=field.span)

    def is_not_null(self, field: A.FieldRef) -> A.IsNull:
        return A.IsNull(field=field, negated=True, span=field.span)

    def truthy(self, field: A.FieldRef) -> A.Compare:
        return A.Compare(field=field, op="==", value=A.BoolValue(value=True), span=field.span)

    # boolean structure --------------------------------------------------------------------------
    def not_(self, operand: Any) -> A.Not:
        return A.Not(operand=operand, span=operand.span)

    def and_expr(self, *operands: Any) -> Any:
        node = A.make_and(list(operands))
        return node.model_copy(update={"span": _span(operands[0], operands[-1])})

    def or_expr(self, *operands: Any) -> Any:
        node = A.make_or(list(operands))
        return node.model_copy(update={"span": _span(operands[0], operands[-1])})


# ------------------------------------------------------------------------------------------ errors


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "the end of the query"
    return f"{tok.value!r}" if tok.value else _TOKEN_NAMES.get(tok.type, tok.type)


def _expected(names: set[str] | frozenset[str]) -> str:
    pretty = sorted({_TOKEN_NAMES.get(n, n.lower()) for n in names})
    if not pretty:
        return ""
    if len(pretty) > 6:
        return "expected " + ", ".join(pretty[:6]) + ", ..."
    return "expected " + ", ".join(pretty)


def _syntax_hint(text: str, tok_value: str, expected: set[str] | frozenset[str]) -> str:
    low = tok_value.lower()
    if tok_value != low and low in KEYWORDS:
        return f"keywords are lower-case: write '{low}'"
    if tok_value in KEYWORDS and "NAME" in expected:
        return f"'{tok_value}' is a reserved word and cannot be a field name"
    if expected and expected <= {"RPAR", "_AND", "_OR", "$END"} | {"RSQB", "COMMA"}:
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
        return QueryError("syntax", msg, query=text, offset=offset, end=end, hint=_syntax_hint(text, str(tok.value), expected))
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
        return QueryError("syntax", f"unexpected character {ch!r}", query=text, offset=offset, end=offset + 1, hint=hint)
    if isinstance(err, UnexpectedEOF):
        return QueryError("syntax", "unexpected end of the query", query=text, offset=len(text))
    return QueryError("syntax", "cannot parse the query", query=text, offset=0)  # pragma: no cover - defensive


def parse_syntax(text: str) -> Any:
    """Parse ``text`` into an unchecked tree (fields not yet resolved). Raises only QueryError."""
    if not isinstance(text, str):
        raise QueryError("syntax", f"a query must be a string, not {type(text).__name__}")
    if not text.strip():
        raise QueryError("syntax", "the query is empty", query=text, offset=len(text), hint="write a condition such as `tracker-strip == GOOD`")
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
