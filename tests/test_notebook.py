"""Notebook display: short reprs, escaped HTML and pandas frames that hold exactly the data."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dqquery
from dqquery.explanation import explain
from dqquery.lumiranges import GoldenJSON
from dqquery.notebook import golden_to_pandas, node_html, node_repr, snapshot_html, snapshot_repr
from dqquery.snapshot import Snapshot
from dqquery.strategies import queries, snapshots

QUERY = 'class like "Collisions%" and hlt_key ~ "<V[0-9]+>" and tracker-strip == GOOD and bpix_ready'


def _tags_balanced(markup: str) -> bool:
    stack: list[str] = []
    for closing, name in re.findall(r"<(/?)([a-z]+)[^>]*>", markup):
        if not closing:
            stack.append(name)
        elif not stack or stack.pop() != name:
            return False
    return not stack


def _snapshot() -> Snapshot:
    rr = [{"tracker-strip": {"status": "GOOD"}, "start": 1, "end": 10}, {"tracker-strip": {"status": "BAD"}, "start": 11, "end": 12}]
    oms = [{"bpix_ready": True, "recorded": 0.5, "start": 3, "end": 20}]
    return Snapshot.from_dict(
        {
            "runs": [{"run_number": 315257, "rr_attributes": {"class": "Collisions18"}}, {"run_number": 315300}],
            "lumisections": {"315257": {"online": {"rr": rr, "oms": oms}, "/PromptReco/Collisions2018A/DQM": {"rr": rr, "oms": []}}},
        }
    )


# ------------------------------------------------------------------------------------------------ queries


@settings(max_examples=150, deadline=None)
@given(queries())
def test_query_repr_rebuilds_the_query(q: Any) -> None:
    text = node_repr(q)
    assert text.startswith("dqquery.parse(") and "\n" not in text
    assert eval(text, {"dqquery": dqquery}) == q


@settings(max_examples=100, deadline=None)
@given(queries())
def test_query_html_is_escaped_and_well_formed(q: Any) -> None:
    markup = node_html(q)
    assert _tags_balanced(markup)
    assert html.escape(dqquery.unparse(q)) in markup
    for ref in dqquery.ast.fields_of(q):
        assert f"<code>{html.escape(ref.path)}</code>" in markup


def test_query_html_lists_each_field_once_with_its_level() -> None:
    q = dqquery.parse(QUERY + " and (bpix_ready or tracker-strip is null)")
    markup = node_html(q)
    assert "&lt;V[0-9]+&gt;" in markup and "<V[0-9]+>" not in markup
    assert markup.count("<code>lumisection.oms.bpix_ready</code>") == 1
    assert re.search(r"<code>run\.rr\.class</code></td><td>string</td><td>run</td>", markup)


def test_values_and_fields_keep_a_plain_repr() -> None:
    ref = dqquery.parse("energy > 1").field
    assert node_repr(ref) == "FieldRef(name='energy', path='run.oms.energy')"
    assert node_html(ref).startswith("<code>FieldRef(")


def test_nodes_use_the_notebook_repr_once_hooked_in() -> None:
    q = dqquery.parse(QUERY)
    if not hasattr(q, "_repr_html_"):
        pytest.skip("dqquery.ast._Node does not call dqquery.notebook yet (see the notebook module docstring)")
    assert repr(q) == node_repr(q)
    assert q._repr_html_() == node_html(q)


# ------------------------------------------------------------------------------------------------ snapshots


def test_snapshot_repr_and_html_summarise_without_the_data() -> None:
    snap = _snapshot()
    assert snapshot_repr(snap) == "Snapshot(2 runs 315257-315300, 2 datasets)"
    assert snapshot_repr(Snapshot()) == "Snapshot(0 runs, 0 datasets)"
    markup = snapshot_html(snap)
    assert _tags_balanced(markup)
    # online: RR 1-12 and OMS 3-20 overlap on 3-12 (10 LS); 1-2 and 13-20 have one side only (10 LS).
    assert re.search(r"<code>online</code></td><td[^>]*>1</td><td[^>]*>10</td><td[^>]*>10</td>", markup)
    # The PromptReco entry has no OMS data at all: nothing evaluated, 12 LS with RR only.
    assert re.search(r"Collisions2018A/DQM</code></td><td[^>]*>1</td><td[^>]*>0</td><td[^>]*>12</td>", markup)


@settings(max_examples=60, deadline=None)
@given(snapshots())
def test_snapshot_html_counts_match_the_snapshot(snap: Snapshot) -> None:
    counts = [int(n.replace(",", "")) for n in re.findall(r"<td style='text-align:right'>([\d,]+)</td>", snapshot_html(snap))]
    evaluated = counts[1::3]
    assert sum(evaluated) == snap.n_lumisections()


# ------------------------------------------------------------------------------------------------ golden JSONs


def test_golden_html_and_repr_exist() -> None:
    g = GoldenJSON({315257: [[1, 88], [91, 92]]})
    assert repr(g) == "GoldenJSON(1 run, 2 ranges, 90 lumisections)"
    assert "315257" in g._repr_html_() and _tags_balanced(g._repr_html_())


golden_jsons = st.dictionaries(
    st.integers(1, 400000),
    st.lists(st.tuples(st.integers(1, 60), st.integers(0, 5)).map(lambda t: [t[0], t[0] + t[1]]), min_size=1, max_size=4),
    max_size=5,
).map(GoldenJSON)


@settings(max_examples=100, deadline=None)
@given(golden_jsons)
def test_golden_to_pandas_holds_exactly_the_golden_json(g: GoldenJSON) -> None:
    pytest.importorskip("pandas")
    ranges = golden_to_pandas(g)
    assert list(ranges.columns) == ["run", "first", "last", "lumisections"]
    assert GoldenJSON({}) | GoldenJSON.from_pairs((r, ls) for r, a, b in zip(ranges["run"], ranges["first"], ranges["last"]) for ls in range(a, b + 1)) == g
    assert int(ranges["lumisections"].sum()) == len(g) and len(ranges) == g.n_ranges
    pairs = golden_to_pandas(g, per="lumisection")
    assert list(pairs.columns) == ["run", "lumisection"] and len(pairs) == len(g)
    assert GoldenJSON.from_runs_and_lumis(pairs["run"].to_numpy(), pairs["lumisection"].to_numpy()) == g


def test_golden_to_pandas_rejects_an_unknown_layout() -> None:
    pytest.importorskip("pandas")
    with pytest.raises(ValueError, match="per must be"):
        golden_to_pandas(GoldenJSON({1: [[1, 2]]}), per="run")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ reports, plans


def test_explain_report_displays() -> None:
    report = explain("tracker-strip == GOOD and bpix_ready", _snapshot())
    markup = report._repr_html_()
    assert _tags_balanced(markup) and "<code>tracker-strip == GOOD</code>" in markup
    assert "tracker-strip == GOOD" in str(report)


def test_explain_report_to_pandas_has_one_row_per_clause() -> None:
    pytest.importorskip("pandas")
    report = explain("tracker-strip == GOOD and bpix_ready", _snapshot())
    frame = report.to_pandas()
    assert list(frame["text"]) == ["tracker-strip == GOOD", "bpix_ready"]
    # LS 11-12 are BAD (and have OMS data): 2 LS of 0.5 recorded each, removed by the strip clause alone.
    assert frame.loc[0, "inclusive_ls"] == 2 and frame.loc[0, "exclusive_recorded"] == pytest.approx(1.0)


def test_snapshot_to_pandas_has_one_row_per_evaluated_piece() -> None:
    pytest.importorskip("pandas")
    frame = _snapshot().to_pandas()
    assert int((frame["end"] - frame["start"] + 1).sum()) == _snapshot().n_lumisections()


def test_plan_displays_as_preformatted_text() -> None:
    markup = dqquery.plan(QUERY, "rr")._repr_html_()
    assert markup.startswith("<pre>") and markup.endswith("</pre>")
    assert "&lt;V[0-9]+&gt;" in markup and "<V[" not in markup
