"""A Pygments lexer for dqquery's query language, so that ```` ```dq ```` blocks are highlighted on the docs site.

Registered as the Pygments plugin ``dq`` (entry point ``pygments.lexers`` in pyproject.toml): mkdocs'
highlighter, Sphinx or ``pygmentize -l dq`` find it once dqquery is installed.

Decisions:
* The token rules mirror grammar/dqquery.lark (reserved words, operators, names with ``-`` and ``.``, the
  number, date and string forms); ``tests/test_docs_site.py`` lexes every ``dq`` block of the docs and
  requires that no text is an error token, so the two cannot drift apart unnoticed.
* Statuses (``GOOD``, ``BAD``...) are constants, other bare words field names: the same split as the checker.
* Only this module imports Pygments, and only Pygments imports this module: ``import dqquery`` never does.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Whitespace

from .catalog import STATUSES
from .parser import KEYWORDS

__all__ = ["DQLexer"]

_END_OF_WORD = r"(?![A-Za-z0-9_.-])"


class DQLexer(RegexLexer):
    """dqquery queries: ``run_number in 315000..316000 and tracker-strip == GOOD and bpix_ready``."""

    name = "dqquery"
    aliases = ["dq", "dqquery"]
    filenames = ["*.dq"]

    tokens = {
        "root": [
            (r"[ \t\r\n]+", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (words(sorted(KEYWORDS - {"true", "false", "null"}), suffix=_END_OF_WORD), Keyword),
            (words(("true", "false", "null"), suffix=_END_OF_WORD), Keyword.Constant),
            (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?", Number.Other),
            (r"\d{4}-\d{2}-\d{2}(?![T\d])", Number.Other),
            (r"-?(?:\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)", Number.Float),
            (r"-?\d+", Number.Integer),
            (r'"(?:[^"\\\n]|\\.)*"', String.Double),
            (r"'(?:[^'\\\n]|\\.)*'", String.Single),
            (words(STATUSES, suffix=_END_OF_WORD), Name.Constant),
            (r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*(?:\.[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*)*", Name.Variable),
            (r"==|!=|<=|>=|<>|!~|\.\.|[<>=~]", Operator),
            (r"[()\[\],]", Punctuation),
        ]
    }
