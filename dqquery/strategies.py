"""Hypothesis strategies for property-testing code that works with dqquery queries.

Use them to test your own filter code against dqquery, for example that a hand-written pandas filter
selects the same lumisections as ``dqquery.golden`` on generated snapshots (see docs/property-testing.md)::

    from hypothesis import given
    from dqquery.strategies import queries

    @given(queries())
    def test_round_trip(q):
        assert dqquery.parse(dqquery.unparse(q)) == q

Decisions:
* Strategies build checked syntax trees directly (never random text through the grammar: that produces
  mostly unparseable strings). Every tree they produce is valid: ``dqquery.parse(dqquery.unparse(t)) == t``.
* Every node kind and every value type is covered, including hyphenated names (``tracker-strip``),
  qualified names outside the catalog (``run.oms.notes``: names that *contain* reserved words) and
  awkward strings (quotes, backslashes, unicode).
* ``fields=`` restricts the fields used, so tests can match the data they generate.
* hypothesis is an optional dependency (``dqquery[strategies]``, also in ``dqquery[test]``): nothing but this
  module and :mod:`dqquery.strategies_snapshot` imports it, and without it importing them says how to get it.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from typing import Any

try:
    from hypothesis import strategies as st
except ImportError as err:  # pragma: no cover - depends on the installation
    raise ImportError('dqquery.strategies needs hypothesis: pip install "dqquery[strategies]"') from err

from . import ast as A
from .catalog import BY_PATH, STATUSES, FieldInfo, lookup

# Qualified names that are not in the catalog (accepted through open prefixes); several contain reserved
# words as parts, to exercise the lexer.
UNLISTED_FIELDS: tuple[str, ...] = (
    "run.oms.notes",
    "run.oms.index",
    "run.rr.or-flag",
    "dataset.android-x",
    "lumisection.oms.in_time_ready",
    "lumisection.rr.gem-newcolumn",
    "run.oms.isolated",
)

_SAMPLE_REGEXES = ("^Collisions", "25ns", r"\d+", "HLT/V[0-9]+$", "(A|B)", "^/PromptReco/.*/DQM$", "[a-z]+_v\\d")
_SAMPLE_STRINGS = ("Collisions18", "25ns_2556b_2544_2215_2332_144bpi_20injV2", "/PromptReco/Collisions2018A/DQM", "", "WMass")


def field_infos(fields: Iterable[str] | None = None) -> list[FieldInfo]:
    """Catalog rows for the given names/paths, or the whole catalog plus :data:`UNLISTED_FIELDS`."""
    if fields is None:
        rows = [r for r in BY_PATH.values()]
        rows += [lookup(p) for p in UNLISTED_FIELDS]  # type: ignore[misc]
        return rows
    out = []
    for f in fields:
        row = lookup(f)
        if row is None:
            raise ValueError(f"unknown field {f!r}")
        out.append(row)
    return out


def _ref(row: FieldInfo) -> A.FieldRef:
    return A.FieldRef(name=row.name, path=row.path)


# ------------------------------------------------------------------------------------------ values

def ints() -> st.SearchStrategy[A.IntValue]:
    return st.builds(A.IntValue, value=st.one_of(st.integers(-10, 400_000), st.integers(-A.MAX_INT, A.MAX_INT)))


def floats() -> st.SearchStrategy[A.FloatValue]:
    return st.builds(A.FloatValue, value=st.floats(allow_nan=False, allow_infinity=False))


def numbers() -> st.SearchStrategy[Any]:
    return st.one_of(ints(), floats())


def strings() -> st.SearchStrategy[A.StringValue]:
    # Backslashes next to escape letters and at the end exercise the printer's quoting.
    tricky = st.lists(st.sampled_from(["\\", "b", "d", "u", "0041", "n", "t", '"', "'", "\t", "\r", "%"]), max_size=6).map("".join)
    return st.builds(A.StringValue, value=st.one_of(st.sampled_from(_SAMPLE_STRINGS), st.text(max_size=12), tricky))


def statuses(include_empty: bool = False) -> st.SearchStrategy[A.StatusValue]:
    """Status words; EMPTY is excluded by default, since on a status field it means ``is null``."""
    choices = STATUSES if include_empty else tuple(s for s in STATUSES if s != "EMPTY")
    return st.builds(A.StatusValue, value=st.sampled_from(choices))


def bools() -> st.SearchStrategy[A.BoolValue]:
    return st.builds(A.BoolValue, value=st.booleans())


_UTC = _dt.UTC


def dates() -> st.SearchStrategy[A.DateValue]:
    return st.builds(A.DateValue, value=st.dates(min_value=_dt.date(1000, 1, 1)))


def datetimes() -> st.SearchStrategy[A.DateTimeValue]:
    return st.builds(
        A.DateTimeValue,
        value=st.datetimes(min_value=_dt.datetime(1000, 1, 2), max_value=_dt.datetime(9999, 12, 30), timezones=st.just(_UTC)),
    )


def _equality_values(row: FieldInfo) -> st.SearchStrategy[Any]:
    return {
        "int": numbers(),
        "float": numbers(),
        "string": strings(),
        "bool": bools(),
        "datetime": st.one_of(dates(), datetimes()),
        "status": statuses(),
        "any": st.one_of(numbers(), strings(), bools(), statuses(include_empty=True), dates(), datetimes()),
    }[row.type]


def _date_key(v: Any) -> _dt.datetime:
    d = v.value
    if isinstance(v, A.DateValue):
        return _dt.datetime(d.year, d.month, d.day, tzinfo=_UTC)
    return d


@st.composite
def _ordered_pair(draw: Any, row: FieldInfo) -> tuple[Any, Any]:
    use_dates = row.type == "datetime" or (row.type == "any" and draw(st.booleans()))
    if use_dates:
        a = draw(st.one_of(dates(), datetimes()))
        b = draw(st.one_of(dates(), datetimes()))
        return (a, b) if _date_key(a) <= _date_key(b) else (b, a)
    a = draw(numbers())
    b = draw(numbers())
    return (a, b) if a.value <= b.value else (b, a)


def _ordered_value(row: FieldInfo) -> st.SearchStrategy[Any]:
    if row.type == "datetime":
        return st.one_of(dates(), datetimes())
    if row.type == "any":
        return st.one_of(numbers(), dates(), datetimes())
    return numbers()


# ------------------------------------------------------------------------------------------ predicates

@st.composite
def predicates(draw: Any, fields: Iterable[str] | None = None) -> Any:
    """One checked predicate on a catalog field, of any kind valid for the field's type."""
    rows = field_infos(fields)
    row = draw(st.sampled_from(rows))
    ref = _ref(row)
    t = row.type
    kinds = ["is_null"]
    if t != "string-list":
        kinds += ["eq", "in_set"]
    if t in ("int", "float", "datetime", "any"):
        kinds += ["ordered", "in_range"]
    if t in ("string", "any"):
        kinds += ["like", "regex"]
    if t in ("string", "string-list", "any"):
        kinds += ["contains"]
    kind = draw(st.sampled_from(kinds))
    if kind == "is_null":
        return A.IsNull(field=ref, negated=draw(st.booleans()))
    if kind == "eq":
        return A.Compare(field=ref, op=draw(st.sampled_from(["==", "!="])), value=draw(_equality_values(row)))
    if kind == "in_set":
        values = draw(st.lists(_equality_values(row), min_size=1, max_size=4))
        return A.InSet(field=ref, values=tuple(values), negated=draw(st.booleans()))
    if kind == "ordered":
        return A.Compare(field=ref, op=draw(st.sampled_from(["<", "<=", ">", ">="])), value=draw(_ordered_value(row)))
    if kind == "in_range":
        low, high = draw(_ordered_pair(row))
        return A.InRange(field=ref, low=low, high=high, negated=draw(st.booleans()))
    if kind == "like":
        pattern = draw(st.one_of(st.sampled_from(["Collisions%", "%25ns%", "%Cosmics%", "_ollisions18", "%\\%%"]), st.text(max_size=8)))
        return A.Like(field=ref, pattern=pattern, negated=draw(st.booleans()))
    if kind == "regex":
        pattern = draw(st.one_of(st.sampled_from(_SAMPLE_REGEXES), st.text(max_size=8).map(re.escape)))
        return A.Regex(field=ref, pattern=pattern, negated=draw(st.booleans()))
    # contains
    if t == "any":
        value = draw(st.one_of(strings(), ints(), bools()))
    else:
        value = draw(strings())
    return A.Contains(field=ref, value=value)


def queries(fields: Iterable[str] | None = None, max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """Checked query trees: predicates combined with ``not``, ``and`` and ``or`` (flattened as the parser does)."""
    fields = list(fields) if fields is not None else None
    leaves = predicates(fields)

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            children.map(lambda c: A.Not(operand=c)),
            st.lists(children, min_size=2, max_size=4).map(A.make_and),
            st.lists(children, min_size=2, max_size=4).map(A.make_or),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


def query_texts(fields: Iterable[str] | None = None) -> st.SearchStrategy[str]:
    """Canonical query texts (``unparse`` of :func:`queries`)."""
    from .unparse import unparse

    return queries(fields).map(unparse)


def snapshots(*args: Any, **kwargs: Any) -> st.SearchStrategy[Any]:
    """Small generated :class:`~dqquery.snapshot.Snapshot` objects (see :mod:`dqquery.strategies_snapshot`)."""
    from .strategies_snapshot import snapshots as _snapshots

    return _snapshots(*args, **kwargs)
