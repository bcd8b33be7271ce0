"""The one user-facing error type.

Decisions:
* Every mistake a user can make in a query (syntax, unknown field, bad value, wrong operator for a type,
  a clause a target cannot express) is a :class:`QueryError`, a ``ValueError`` subclass, so that scripts can
  catch one thing. ``category`` says which kind, for programs; ``str(err)`` is written for people.
* Positions are 1-based ``line``/``column`` pointing at the offending token (at the end of the text for an
  unexpected end). The rendered message repeats the query line with a caret under that column.
* Messages never show parser internals (terminal names, class names).
* A compile target's refusal is built by one function, :func:`unsupported`, and names the target in the
  rendered header (``error[unsupported] (target dials:run): 1:5: ...``), never inside the message.
"""

from __future__ import annotations

from typing import Any, Literal

Category = Literal["syntax", "unknown-field", "unknown-value", "type-mismatch", "unsupported"]
CATEGORIES: tuple[str, ...] = ("syntax", "unknown-field", "unknown-value", "type-mismatch", "unsupported")


def line_and_column(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a 0-based character offset; an offset past the end points just after it."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    last_newline = text.rfind("\n", 0, offset)
    return line, offset - last_newline


_SHOWN = 100  # longest query line shown; a longer one is cut around the caret with "..." marks


def _window(line: str, column: int, width: int) -> tuple[str, int, int]:
    """The part of ``line`` to show, and the caret's 0-based column and width in it."""
    if len(line) <= _SHOWN:
        return line, column, width
    width = min(width, _SHOWN // 2)
    start = max(0, min(column - _SHOWN // 3, len(line) - _SHOWN))
    end = start + _SHOWN
    shown = line[start:end]
    if start > 0:
        shown = "..." + shown
        column += 3
    if end < len(line):
        shown += "..."
    return shown, column - start, width


class QueryError(ValueError):
    """A problem with a query, located in its text.

    Attributes: ``category`` (one of :data:`CATEGORIES`), ``message``, ``query`` (the text, may be empty
    when the error concerns a node built in Python), ``line`` and ``column`` (1-based, 0 when unknown),
    ``hint`` (what to do instead, may be empty), ``target`` (for ``unsupported``: the compile target).
    """

    def __init__(
        self,
        category: Category,
        message: str,
        *,
        query: str = "",
        offset: int | None = None,
        end: int | None = None,
        hint: str = "",
        target: str = "",
    ) -> None:
        if category not in CATEGORIES:
            raise AssertionError(f"unknown error category {category!r}")
        self.category: str = category
        self.message = message
        self.query = query
        self.hint = hint
        self.target = target
        self.offset = offset
        self.end = end
        if offset is not None and query:
            self.line, self.column = line_and_column(query, offset)
        elif offset is not None:
            self.line, self.column = 1, offset + 1
        else:
            self.line, self.column = 0, 0
        super().__init__(self.render())

    def with_query(self, query: str) -> QueryError:
        """The same error re-anchored in ``query`` (used when a node carries spans from that text)."""
        return QueryError(
            self.category,  # type: ignore[arg-type]
            self.message,
            query=query,
            offset=self.offset,
            end=self.end,
            hint=self.hint,
            target=self.target,
        )

    def render(self) -> str:
        """Message, the query line, a caret under the column, then the hint."""
        where = f"{self.line}:{self.column}: " if self.line else ""
        target = f" (target {self.target})" if self.target and self.category == "unsupported" else ""
        out = [f"error[{self.category}]{target}: {where}{self.message}"]
        if self.query and self.line:
            src_line = self.query.split("\n")[self.line - 1]
            width = 1
            if self.end is not None and self.offset is not None and self.end > self.offset:
                width = max(1, min(self.end - self.offset, len(src_line) - self.column + 1))
            shown, column, width = _window(src_line, self.column - 1, width)
            out.append(f"  | {shown}")
            # Tabs are copied into the caret line so that the caret stays under the column in a terminal.
            pad = "".join(ch if ch == "\t" else " " for ch in shown[:column])
            out.append("  | " + pad + "^" * width)
        if self.hint:
            out.append(f"hint: {self.hint}")
        return "\n".join(out)

    def __str__(self) -> str:
        return self.render()

    def __reduce__(self):  # keep the error picklable (multiprocessing, pytest-xdist)
        return (
            _rebuild,
            (self.category, self.message, self.query, self.offset, self.end, self.hint, self.target),
        )


def unsupported(target: str, message: str, node: Any = None, *, query: str = "", located: bool = True, hint: str = "") -> QueryError:
    """The one way a compile target refuses a clause: an ``unsupported`` :class:`QueryError` naming ``target``,
    pointing at ``node``'s span in ``query`` when the node was parsed from that text (``located``).

    ``hint`` says what to do instead on this target; whether ``dqquery.plan`` can help is added by the strict
    entry point (:func:`dqquery.targets.base.compile_bound`), not here."""
    span = getattr(node, "span", None) if located else None
    return QueryError(
        "unsupported",
        message,
        query=query,
        offset=span.start if span is not None else None,
        end=span.end if span is not None and span.end > span.start else None,  # some parser spans are empty
        hint=hint,
        target=target,
    )


class QueryWarning(UserWarning):
    """A query that is valid but probably not what was meant (a near-miss of a known field name)."""


def _rebuild(category, message, query, offset, end, hint, target) -> QueryError:
    return QueryError(category, message, query=query, offset=offset, end=end, hint=hint, target=target)
