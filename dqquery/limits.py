"""The documented size limits on user input: queries, json-logic rules, regular expressions and data files.

Every entry point that takes text or a document from a user answers in time linear in its size and in
bounded memory; these limits bound the size, so that hostile input gets a located error long before it
costs noticeable time or memory. ``docs/errors.md`` lists them.

Decisions:
* Limits are generous for real use (the longest query in the compliance corpus is a few hundred characters;
  a list of every 2018 run has about 1,500 items; the snapshot of a whole year is a few hundred MB) and
  small enough that the worst input under them costs at most a few hundred MB and a few seconds.
* Nesting is limited because the later passes (checking, normal forms, compilers) walk the tree recursively:
  the limit keeps every walk well inside Python's recursion limit, whatever the entry point.
* Numbers in data files and json-logic rules are limited to 64-bit integers and finite floats, as in queries;
  a digit string longer than :data:`MAX_NUMBER_DIGITS` is refused before it is converted.
"""

from __future__ import annotations

MAX_QUERY_CHARS = 1_000_000
"""Longest query text (characters)."""

MAX_LIST_ITEMS = 100_000
"""Most values in one ``[...]`` list of a query or one json-logic ``in`` list."""

MAX_NESTING = 100
"""Deepest nesting of parentheses and ``not`` in a query, and of operators in a json-logic rule."""

MAX_JSON_DEPTH = 200
"""Deepest nesting of arrays and objects in a JSON document (snapshot, golden JSON, json-logic rule)."""

MAX_PATTERN_CHARS = 10_000
"""Longest regular expression, LIKE pattern or dataset name pattern (characters)."""

MAX_NUMBER_DIGITS = 400
"""Longest number written in a JSON document (characters); longer ones are refused before conversion."""

MAX_FILE_BYTES = 2**30
"""Largest snapshot or golden JSON file once decompressed (1 GiB)."""

MAX_OPENAPI_BYTES = 16 * 2**20
"""Largest OpenAPI document read by ``dqquery.targets.from_openapi`` (16 MiB; DIALS' is 95 kB)."""

MAX_OPENAPI_PATHS = 2_000
"""Most paths in one OpenAPI document."""

MAX_OPENAPI_PARAMETERS = 500
"""Most parameters of one operation of an OpenAPI document."""
