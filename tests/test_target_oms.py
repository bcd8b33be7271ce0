"""OMS compiler: filter mapping, merging of colliding filters, LIKE policy and the full query builder."""

from __future__ import annotations

import pytest

import dqquery.ast as A
from dqquery.errors import QueryError
from dqquery.query import parse
from dqquery.targets import oms as O
from dqquery.targets.oms import oms_exact, oms_params, to_oms


def unsupported(query, resource="runs") -> QueryError:
    with pytest.raises(QueryError) as info:
        to_oms(query, resource)
    assert info.value.category == "unsupported" and info.value.target == f"oms:{resource}"
    # The way out: a plan, when OMS rows carry every field of the clause; else the note that they do not.
    fields = [ref.path for ref in A.fields_of(parse(query))]
    if all(O.attribute_of(path, resource) is not None for path in fields):
        assert f'dqquery.plan(query, "oms:{resource}")' in info.value.hint
    else:
        assert f"oms:{resource} rows do not carry" in info.value.hint and "dqquery golden" in info.value.hint
    return info.value


@pytest.mark.parametrize(
    "query, expected",
    [
        ("run == 297050", {"filter[run_number][EQ]": "297050"}),
        ("run != 297050", {"filter[run_number][NEQ]": "297050"}),
        ("run in 297050..297056", {"filter[run_number][GE]": "297050", "filter[run_number][LE]": "297056"}),
        ("energy > 6499.5", {"filter[energy][GT]": "6499.5"}),
        ("energy < 1e-05", {"filter[energy][LT]": "1e-05"}),
        ("stable_beam", {"filter[stable_beam][EQ]": "true"}),
        ("not stable_beam", {"filter[stable_beam][NEQ]": "true"}),
        ("stable_beam == false", {"filter[stable_beam][EQ]": "false"}),
        ('era == "2017B"', {"filter[era][EQ]": "2017B"}),
        ("start_time >= 2018-05-01", {"filter[start_time][GE]": "2018-05-01T00:00:00Z"}),
        ("end_time < 2018-05-01T12:30:00+02:00", {"filter[end_time][LT]": "2018-05-01T10:30:00Z"}),
        ("hlt_key is not null", {"filter[hlt_key][NEQ]": "null"}),
        ("not run < 5", {"filter[run_number][GE]": "5"}),
        ("not (run < 5 or run > 9)", {"filter[run_number][GE]": "5", "filter[run_number][LE]": "9"}),
        ("run in [7]", {"filter[run_number][EQ]": "7"}),
        ("run not in [7]", {"filter[run_number][NEQ]": "7"}),
        ("run in [9, 7, 8]", {"filter[run_number][GE]": "7", "filter[run_number][LE]": "9"}),
        ("run.oms.notes == \"x\"", {"filter[notes][EQ]": "x"}),
    ],
)
def test_runs_mapping(query, expected):
    assert to_oms(query, "runs") == expected
    assert oms_exact(query, "runs")


def test_lumisection_mapping_and_renames():
    assert to_oms("ls_number in 1..10 and run == 5 and beams_stable and recorded > 0.1 and delivered >= 0", "lumisections") == {
        "filter[lumisection_number][GE]": "1",
        "filter[lumisection_number][LE]": "10",
        "filter[run_number][EQ]": "5",
        "filter[beams_stable][EQ]": "true",
        "filter[recorded_lumi_per_lumisection][GT]": "0.1",
        "filter[delivered_lumi_per_lumisection][GE]": "0",
    }
    assert O.row_paths("lumisections", {"recorded_lumi_per_lumisection": 1.0, "bpix_ready": None, "lumisection_number": 3}) == {
        "lumisection.oms.recorded": 1.0,
        "lumisection.oms.bpix_ready": None,
        "lumisection.lumisection_number": 3,
    }


@pytest.mark.parametrize(
    "query, resource",
    [
        ("bpix_ready", "runs"),  # a lumisection bit on runs
        ("energy > 10", "lumisections"),  # a run attribute on lumisections
        ("ls_number == 3", "runs"),
        ("tracker-strip == GOOD", "lumisections"),
        ("dataset_id == 3", "runs"),
        ("run == 1 or run == 2", "runs"),
        ("run in [1, 3]", "runs"),
        ("run not in [1, 2]", "runs"),
        ("run not in 1..5", "runs"),
        ('era ~ "2017"', "runs"),
        ('era not like "2017%"', "runs"),
        ('components contains "DT"', "runs"),
        ("not components contains \"DT\"", "runs"),
        ("hlt_key is null", "runs"),
        ('era == "null"', "runs"),
        ('era == ""', "runs"),
        ("start_time >= 2018-05-01T00:00:00.5Z", "runs"),
    ],
)
def test_unsupported(query, resource):
    err = unsupported(query, resource)
    assert err.category == "unsupported" and err.message


def test_like_only_without_cased_letters_and_marked_inexact():
    assert to_oms('era like "2017%"') == {"filter[era][LIKE]": "2017%"}
    assert not oms_exact('era like "2017%"') and not oms_exact('run == 1 and era like "2017%"')
    unsupported('era like "2017B%"')  # a case-sensitive LIKE could lose rows
    unsupported('era like "20\\%"')  # no escapes in OMS LIKE
    unsupported('era like "\u017f%"')  # long s: case-insensitively equal to s/S


def test_colliding_filters_are_merged_exactly_or_refused():
    assert to_oms("run >= 5 and run >= 9 and run in 7..20 and run <= 15") == {"filter[run_number][GE]": "9", "filter[run_number][LE]": "15"}
    assert to_oms("run > 5 and run > 2") == {"filter[run_number][GT]": "5"}
    assert to_oms("run < 5 and run < 2") == {"filter[run_number][LT]": "2"}
    assert to_oms("start_time >= 2018-05-01 and start_time >= 2018-01-01T10:00:00Z") == {"filter[start_time][GE]": "2018-05-01T00:00:00Z"}
    assert to_oms("run == 5 and run == 5.0") == {"filter[run_number][EQ]": "5"}
    assert to_oms("run == 5 and run >= 3") == {"filter[run_number][EQ]": "5", "filter[run_number][GE]": "3"}
    err = unsupported("run == 5 and run == 6")
    assert err.column == len("run == 5 and ") + 1
    unsupported("run != 5 and run != 6")
    unsupported("hlt_key is not null and hlt_key != \"x\"")


def test_node_input_and_unknown_resource():
    node = parse("run != 1 or run != 2")
    with pytest.raises(QueryError) as info:
        to_oms(node)
    assert info.value.line == 0
    with pytest.raises(ValueError, match="unknown OMS resource"):
        to_oms("run == 1", "fills")


def test_oms_params_builds_the_full_query_in_order():
    assert oms_params(to_oms("run == 5"), fields=["run_number", "era"], sort=["-run_number", "era"], offset=10, limit=5) == [
        ("filter[run_number][EQ]", "5"),
        ("fields", "run_number,era"),
        ("sort", "-run_number,era"),
        ("page[offset]", "10"),
        ("page[limit]", "5"),
    ]
    assert oms_params({}) == [("page[offset]", "0"), ("page[limit]", "100")]
    with pytest.raises(ValueError):
        oms_params({}, limit=0)


def test_support_table_covers_every_node_kind():
    kinds = {cls.model_fields["kind"].default for cls in A.NODE_CLASSES}
    for resource in O.RESOURCES:
        assert set(O.SUPPORT[resource]) == kinds
        assert O.SUPPORT[resource]["like"].level == "superset"


# One query per (node kind, negated) whose only predicate, after negation normal form, has that kind and polarity;
# {i} is an integer attribute, {s} a string attribute of the resource.
FIELDS = {"runs": {"i": "fill_number", "s": "hlt_key"}, "lumisections": {"i": "prescale_index", "s": "prescale_name"}}
REPRESENTATIVE: dict[tuple[str, bool], str] = {
    ("compare", False): "{i} == 5",
    ("in_range", False): "{i} in 1..5",
    ("in_range", True): "{i} not in 1..5",
    ("in_set", False): "{i} in [1, 3]",
    ("in_set", True): "{i} not in [1, 3]",
    ("like", False): '{s} like "%1%"',
    ("like", True): '{s} not like "%1%"',
    ("regex", False): '{s} ~ "x"',
    ("regex", True): '{s} !~ "x"',
    ("contains", False): '{s} contains "x"',
    ("contains", True): 'not ({s} contains "x")',
    ("is_null", False): "{i} is null",
    ("is_null", True): "{i} is not null",
    ("or", False): "{i} == 1 or {i} == 2",
}


@pytest.mark.parametrize("resource", O.RESOURCES)
def test_what_the_support_table_calls_unsupported_is_refused_with_its_reason(resource):
    """The table is consulted before dispatch: every (kind, polarity) it calls unsupported is refused with exactly
    the table's reason (the text docs/targets.md shows)."""
    table = O.OmsTarget().support(resource)
    kinds = [cls.model_fields["kind"].default for cls in A.NODE_CLASSES]
    # the kinds with a negated form in negation normal form: those with a negated flag, and contains (not contains)
    negatable = {cls.model_fields["kind"].default for cls in A.NODE_CLASSES if "negated" in cls.model_fields} | {"contains"}
    polarities = [(k, False) for k in kinds] + [(k, True) for k in kinds if k in negatable]
    refused = [(k, n) for k, n in polarities if table[k].of(n).level == "unsupported"]
    assert refused, resource
    for kind, negated in refused:
        query = REPRESENTATIVE[(kind, negated)].format(**FIELDS[resource])  # a KeyError: add a representative
        with pytest.raises(QueryError) as info:
            to_oms(query, resource)
        assert info.value.category == "unsupported", query
        assert info.value.message == table[kind].of(negated).reason, (kind, negated, query)


def test_support_table_levels_hold_for_their_representatives():
    """What the table calls exact or superset compiles (and says so through ``exact``) on the runs resource."""
    import dqquery

    table = O.OmsTarget().support("runs")
    for (kind, negated), template in REPRESENTATIVE.items():
        query = template.format(**FIELDS["runs"])
        level = table[kind].of(negated).level
        if level in ("exact", "superset"):
            compiled = dqquery.compile(query, "oms:runs")
            assert compiled.exact == (level == "exact"), (kind, negated, query)
