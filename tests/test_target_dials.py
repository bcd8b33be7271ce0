"""DIALS compiler: parameter mapping, the DIALS traps, and the real cmsdials 2.4.1 filter classes."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dqquery.ast as A
from dqquery import dials_api
from dqquery.catalog import lookup as catalog_lookup
from dqquery.emulate.dials import FILTERSETS, FILTERSETS_BY_GENERATION
from dqquery.errors import QueryError
from dqquery.query import parse
from dqquery.semantics import like_match
from dqquery.targets import dials as D
from dqquery.targets.dials import PARAMS, SUPPORT, to_dials


def unsupported(query: str, endpoint: str = "run", **kw) -> QueryError:
    with pytest.raises(QueryError) as info:
        to_dials(query, endpoint, **kw)
    assert info.value.category == "unsupported"
    assert info.value.target == f"dials:{D.canonical_endpoint(endpoint)}"
    return info.value


# ---------------------------------------------------------------------------- allow-lists


def test_compiler_allow_lists_are_declared_by_the_server_model():
    # Two tables written independently from the reference must agree: everything the compiler may emit
    # is declared by the emulated FilterSet (else DIALS would silently ignore it).
    # Per server generation (they differ on ml-models-index only).
    for generation, filtersets in FILTERSETS_BY_GENERATION.items():
        for endpoint in PARAMS:
            assert set(D.params_of(endpoint, generation)) <= set(filtersets[endpoint]), (generation, endpoint)
    # ...and the compiler uses every v1.12.0-declared filter (2.4.1 ml-models-index: only the modelled subset).
    for endpoint in PARAMS:
        assert set(D.params_of(endpoint, "v1.12.0")) == set(FILTERSETS[endpoint]), endpoint


def test_endpoint_aliases_and_unknown_endpoint():
    assert to_dials("run == 5", "h1d") == to_dials("run == 5", "th1")
    assert to_dials("run == 5", "h2d") == to_dials("run == 5", "th2")
    with pytest.raises(ValueError, match="did you mean 'lumisection'"):
        to_dials("run == 5", "lumisections")


# ---------------------------------------------------------------------------- integers


@pytest.mark.parametrize(
    "query, expected",
    [
        ("run == 5", {"run_number": 5}),
        ("run >= 5", {"run_number__gte": 5}),
        ("run <= 5", {"run_number__lte": 5}),
        ("run > 5", {"run_number__gte": 6}),
        ("run < 5", {"run_number__lte": 4}),
        ("run > 5.5", {"run_number__gte": 6}),
        ("run < 5.5", {"run_number__lte": 5}),
        ("run >= 5.5", {"run_number__gte": 6}),
        ("run == 5.0", {"run_number": 5}),
        ("run in 3..9", {"run_number__gte": 3, "run_number__lte": 9}),
        ("run in 4..4", {"run_number": 4}),
        ("run >= 3 and run >= 7 and run <= 20 and run < 12", {"run_number__gte": 7, "run_number__lte": 11}),
        ("run in [7, 5, 6]", {"run_number__gte": 5, "run_number__lte": 7}),
        ("run in [5, 9] and run in 1..6", {"run_number": 5}),
        ("run == 5 and run in 1..9", {"run_number": 5}),
        ("not run < 4", {"run_number__gte": 4}),
        ("not (run < 4 or run > 8)", {"run_number__gte": 4, "run_number__lte": 8}),
        ("dataset_id in [3, 1, 2, 10]", {"dataset_id__in": "1,2,3,10"}),
        ("dataset_id == 3", {"dataset_id": 3}),
    ],
)
def test_run_endpoint_integer_mapping(query, expected):
    assert to_dials(query, "run") == expected


def test_strict_bounds_never_use_undeclared_gt_lt():
    for query in ("run > 5", "run < 5", "ls_number > 2 and ls_number < 9"):
        for key in to_dials(query, "lumisection"):
            assert not re.search(r"__(gt|lt)$", key), key


@pytest.mark.parametrize("query", ["run == 5 and run == 6", "run > 5 and run < 6", "run == 5.5", "run in [1, 2] and run in [3, 4]"])
def test_contradictions_select_nothing_with_an_empty_range(query):
    assert to_dials(query, "run") == {"run_number__gte": 1, "run_number__lte": 0}


def test_contradiction_on_exact_only_field_is_unsupported():
    err = unsupported("dataset_id == 1 and dataset_id == 2", "lumisection")
    assert "selects nothing" in err.message


def test_entries_only_has_gte():
    assert to_dials("entries >= 10", "th1") == {"entries__gte": 10}
    assert to_dials("entries > 10", "th2") == {"entries__gte": 11}
    for q in ("entries <= 10", "entries == 10", "entries in 1..5"):
        unsupported(q, "th1")


def test_in_only_where_declared():
    assert to_dials("run in [1, 5]", "ml-bad-lumisection") == {"run_number__in": "1,5"}
    assert to_dials("model_id in [20, 19]", "ml-bad-lumisection") == {"model_id__in": "19,20"}
    assert to_dials("model_id in [20, 19]", "ml-models-index") == {"model_id__in": "19,20", "id__in": "19,20"}
    assert to_dials("model_id in [20, 19]", "ml-models-index", generation="2.4.1") == {"id__in": "19,20"}
    assert to_dials("model_id in [20, 19]", "ml-models-index", generation="v1.12.0") == {"model_id__in": "19,20"}
    unsupported("run in [1, 5]", "run")  # not consecutive and no run_number__in on run/
    unsupported("dataset_id in [1, 2]", "lumisection")
    unsupported("me_id in [1, 2]", "th1")


def test_small_range_on_in_only_field_is_enumerated_and_large_one_refused():
    assert to_dials("run in 5..8", "ml-bad-lumisection") == {"run_number__in": "5,6,7,8"}
    unsupported(f"run in 1..{D.MAX_IN_VALUES + 1}", "ml-bad-lumisection")
    unsupported("run >= 5", "ml-bad-lumisection")


def test_ls_bounds_on_histograms_use_the_servers_correct_name():
    assert to_dials("ls_number in 2..9", "th1") == {"ls_number__lte": 9, "ls_number__gte": 2}
    assert "ls_numbet__lte" not in to_dials("ls_number <= 9", "th2")


def test_field_not_on_endpoint_is_unsupported_with_the_list():
    err = unsupported("ls_number == 3", "run")
    assert "run_number" in err.hint and "dials:run rows do not carry 'ls_number'" in err.hint  # no plan can help
    err = unsupported("run_number != 3", "run")
    assert 'dqquery.plan(query, "dials:run")' in err.hint  # run rows carry run_number: a plan re-checks it
    unsupported("tracker-strip == GOOD", "lumisection")
    err = unsupported("target_me == \"x\"", "ml-models-index")  # a 2.4.1 server would ignore it
    assert "v1.12.0" in err.message and 'generation="v1.12.0"' in err.hint
    assert to_dials('target_me ~ "PXLayer"', "ml-models-index", generation="v1.12.0") == {"target_me__regex": "PXLayer"}
    unsupported("target_me == \"x\"", "ml-models-index", generation="2.4.1")


@pytest.mark.parametrize(
    "query",
    [
        "run != 5",
        "run == 1 or run == 2",
        "run not in 1..5",
        "run not in [1, 2]",
        "dataset not like \"%a%\"",
        "dataset !~ \"a\"",
        "dataset != \"a\"",
        "dataset is null",
        "dataset is not null",
        "not dataset contains \"a\"",
    ],
)
def test_unsupported_constructs_point_at_the_clause(query):
    text = f"run >= 1 and ({query})"
    err = unsupported(text)
    assert err.column >= len("run >= 1 and (") + 1
    assert 'dqquery.plan(query, "dials:run")' in err.hint


def test_query_given_as_node_has_no_offsets():
    node = parse("run >= 1 and run != 3")
    err = unsupported(node)  # type: ignore[arg-type]
    assert err.line == 0 and err.query == "run_number >= 1 and run_number != 3"


# ---------------------------------------------------------------------------- strings


def test_string_equality_and_sets():
    assert to_dials('dataset == "/ZeroBias/Run2023C-PromptReco-v1/DQMIO"') == {"dataset": "/ZeroBias/Run2023C-PromptReco-v1/DQMIO"}
    assert to_dials('dataset in ["/b", "/a+"]') == {"dataset__regex": r"^(?:\/a\+|\/b)\Z"}
    assert to_dials('dataset == "/a" and dataset like "/A%"') == {"dataset": "/a"}  # checked locally
    with pytest.raises(QueryError, match="selects nothing"):
        to_dials('dataset == "/a" and dataset like "/b%"')


@pytest.mark.parametrize("value", ["", " x", "x ", "  "])
def test_values_django_would_strip_or_skip_become_anchored_regexes(value):
    params = to_dials(A.Compare(field=A.FieldRef(name="dataset", path="dataset.name"), op="==", value=A.StringValue(value=value)))
    (regex,) = params.values()
    assert list(params) == ["dataset__regex"] and regex == regex.strip() and regex
    assert re.fullmatch(regex.replace(r"\Z", "$"), value) if value else regex == r"^\Z"


def test_exact_only_string_field_cannot_take_stripped_values_or_patterns():
    assert to_dials('file_status == "PROCESSED"', "file-index") == {"status": "PROCESSED"}
    unsupported('file_status == " PROCESSED"', "file-index")
    unsupported('file_status like "PROC%"', "file-index")


def test_like_is_anchored_escaped_and_case_insensitive():
    (regex,) = to_dials('dataset like "%Zero_ias%(v1)"').values()
    assert regex.startswith("^") and regex.endswith(r"\Z")
    for candidate, expected in [("/zerobias/x(v1)", True), ("ZEROXIAS(V1)", True), ("ZeroBias(v1)x", False), ("ZeroBas(v1)", False)]:
        assert (re.search(regex, candidate, re.DOTALL) is not None) == expected == like_match("%Zero_ias%(v1)", candidate)
    assert D.case_insensitive_class("k") == "Kk\u212a"  # Kelvin sign: Python's case-insensitive matching equates them


def test_regex_and_contains():
    assert to_dials(r'me ~ "^PixelPhase1/.*charge"', "th1") == {"me__regex": r"^PixelPhase1/.*charge"}
    assert to_dials('me contains "a.b"', "mes") == {"me__regex": r"a\.b"}
    assert to_dials('me ~ " a"', "mes") == {"me__regex": "(?: a)"}  # Django would strip the space
    combined = to_dials('dataset like "%2023%" and dataset ~ "Zero" and dataset contains "/"')["dataset__regex"]
    assert combined == r"^(?=.*2023.*\Z)(?=.*?\/).*?(?:Zero)"
    unsupported('dataset ~ "a" and dataset ~ "b"')


@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.parametrize("pattern", [r"\bPixel", "(?P<x>a)", "(?i)pixel", "a{,3}", "[[:alpha:]]", "a++", "x{1,300}", r"[\b]", "a{"])
def test_non_portable_regexes_are_refused(pattern):
    node = A.Regex(field=A.FieldRef(name="me", path="dials.me"), pattern=pattern)
    # Some are refused earlier, by the regex language itself (the part of Python's syntax RE2 runs).
    with pytest.raises(QueryError, match="not portable|not supported|RE2|mean different"):
        to_dials(node, "mes")


@given(st.text(min_size=1, max_size=12))
@settings(max_examples=200, deadline=None)
def test_literal_regex_matches_exactly_its_text(text):
    regex = D.literal_regex(text)
    assert re.fullmatch(regex, text, re.DOTALL)
    assert D.regex_portability_problem(regex) is None


# ---------------------------------------------------------------------------- booleans and ml-models-index


def test_booleans_are_strings_and_negation_flips_them():
    assert to_dials("model_active", "ml-models-index") == {"active": "true"}
    assert to_dials("not model_active", "ml-models-index") == {"active": "false"}
    assert to_dials("model_active != false", "ml-models-index") == {"active": "true"}
    unsupported("model_active in [true, false]", "ml-models-index")
    unsupported("model_active and not model_active", "ml-models-index")


def test_ml_models_index_uses_client_names():
    assert to_dials('model_id == 3 and model_name like "ae_%"', "ml-models-index") == {
        "model_id": 3, "filename__regex": r"^[Aa][Ee]..*\Z", "id": 3, "name__regex": r"^[Aa][Ee]..*\Z"}


# ---------------------------------------------------------------------------- support table


def test_support_table_covers_every_node_kind_and_endpoint():
    kinds = {cls.model_fields["kind"].default for cls in A.NODE_CLASSES}
    assert set(SUPPORT) == set(PARAMS)
    for endpoint, table in SUPPORT.items():
        assert set(table) == kinds, endpoint
    assert SUPPORT["dataset-index"]["in_range"].level != "exact" and SUPPORT["run"]["in_range"].level == "exact"


def test_support_table_agrees_with_the_compiler():
    # 'exact' for like must mean a like compiles on some field of that endpoint, and vice versa.
    for endpoint in PARAMS:
        string_paths = [p for p in D.filterable_paths(endpoint) if p in ("dataset.name", "dials.me", "dials.logical_file_name", "dials.model_name")]
        compiles = False
        for path in string_paths:
            try:
                to_dials(A.Like(field=A.FieldRef(name="x", path=path), pattern="a%"), endpoint)
                compiles = True
            except QueryError:
                pass
        assert compiles == (SUPPORT[endpoint]["like"].level == "exact"), endpoint


# ---------------------------------------------------------------------------- real cmsdials 2.4.1 classes

cmsdials_filters = pytest.importorskip("cmsdials.filters")

SAMPLES = {
    "run": 'dataset like "%ZeroBias%" and run in 367000..367100 and dataset_id == 14677060',
    "lumisection": "dataset_id == 1 and run == 367112 and ls_number >= 5",
    "th1": 'me ~ "charge" and entries > 100 and ls_number >= 3 and file_id == 2 and logical_file_name like "%.root"',
    "th2": 'dataset == "/a/b/DQMIO" and me_id == 7 and run > 1',
    "file-index": 'file_size >= 1000 and file_status == "PROCESSED" and logical_file_name ~ "Run2023"',
    "dataset-index": 'dataset like "/ZeroBias/%"',
    "mes": 'me like "PixelPhase1/%" and dim == 1',
    "ml-bad-lumisection": "model_id in [19, 20] and dataset_id in [1, 2] and run in [5, 7] and ls_number == 3 and me_id == 4",
    "ml-models-index": 'model_id in [1, 2] and model_active and model_name like "x%"',
}


def _wire(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@pytest.mark.parametrize("endpoint", list(SAMPLES))
def test_cmsdials_filter_class_keeps_every_parameter(endpoint):
    params = to_dials(SAMPLES[endpoint], endpoint, generation="2.4.1")  # the names the cmsdials 2.4.1 client knows
    filters = to_dials(SAMPLES[endpoint], endpoint, as_filters=True)
    assert type(filters).__name__ == D.CMSDIALS_FILTER_CLASSES[endpoint]
    assert type(filters) is getattr(cmsdials_filters, D.CMSDIALS_FILTER_CLASSES[endpoint])
    assert {k: _wire(v) for k, v in filters.cleandict().items()} == {k: _wire(v) for k, v in params.items()}


@pytest.mark.parametrize("endpoint", ["th1", "h2d"])
def test_cmsdials_histogram_typo_refused_with_hint(endpoint):
    err = unsupported("ls_number in 1..5", endpoint, as_filters=True)
    assert "ls_numbet__lte" in err.message and "as_filters=False" in err.hint
    # the real model indeed drops the correctly spelled parameter
    cls = getattr(cmsdials_filters, D.CMSDIALS_FILTER_CLASSES[D.canonical_endpoint(endpoint)])
    assert "ls_number__lte" not in cls(ls_number__lte=5).cleandict()
    assert to_dials("ls_number >= 2", endpoint, as_filters=True).cleandict() == {"ls_number__gte": 2}


def test_cmsdials_run_filters_lack_dataset_id_in():
    assert cmsdials_filters.RunFilters(dataset_id__in=[1, 2]).cleandict() == {}
    err = unsupported("dataset_id in [1, 2]", "run", as_filters=True)
    assert "dataset_id__in" in err.message


def test_mes_filters_are_unpaginated_in_cmsdials():
    filters = to_dials('me == "a"', "mes", as_filters=True)
    assert "page_size" not in type(filters).model_fields and filters.cleandict() == {"me": "a"}


# One query per (node kind, negated) whose only predicate, after negation normal form, has that kind and polarity;
# {i} is an integer field, {s} a string field the endpoint filters on.
REPRESENTATIVE: dict[tuple[str, bool], str] = {
    ("compare", False): "{i} == 5",
    ("in_range", False): "{i} in 1..5",
    ("in_range", True): "{i} not in 1..5",
    ("in_set", False): "{i} in [1, 3]",
    ("in_set", True): '{s} not in ["a", "b"]',
    ("like", False): '{s} like "x%"',
    ("like", True): '{s} not like "x%"',
    ("regex", False): '{s} ~ "x"',
    ("regex", True): '{s} !~ "x"',
    ("contains", False): '{s} contains "x"',
    ("contains", True): 'not ({s} contains "x")',
    ("is_null", False): "{s} is null",
    ("is_null", True): "{s} is not null",
    ("or", False): '{s} == "a" or {s} == "b"',
}


@pytest.mark.parametrize("endpoint", D.ENDPOINTS)
def test_what_the_support_table_calls_unsupported_is_refused_with_its_reason(endpoint):
    """The table is consulted before dispatch: every (kind, polarity) it calls unsupported is refused with exactly
    the table's reason (the text docs/targets.md shows), so the docs and the compiler cannot disagree. (A field the
    endpoint cannot filter on is refused first, for that reason: dataset-index has no integer field at all.)"""
    table = D.DialsTarget().support(endpoint)
    fields = {t: [catalog_lookup(p).name for p in D.filterable_paths(endpoint) if catalog_lookup(p).type == t] for t in ("int", "string")}
    kinds = [cls.model_fields["kind"].default for cls in A.NODE_CLASSES]
    # the kinds with a negated form in negation normal form: those with a negated flag, and contains (not contains)
    negatable = {cls.model_fields["kind"].default for cls in A.NODE_CLASSES if "negated" in cls.model_fields} | {"contains"}
    polarities = [(k, False) for k in kinds] + [(k, True) for k in kinds if k in negatable]
    refused = [(k, n) for k, n in polarities if table[k].of(n).level == "unsupported"]
    assert refused, endpoint
    untested = []
    for kind, negated in refused:
        template = REPRESENTATIVE[(kind, negated)]  # a KeyError: add a representative for the new unsupported case
        needs = [t for t, slot in (("int", "{i}"), ("string", "{s}")) if slot in template]
        if not all(fields[t] for t in needs):
            unsupported(template.format(i="run_number", s="dataset"), endpoint)  # refused all the same
            untested.append(kind)
            continue
        query = template.format(i=(fields["int"] or [""])[0], s=(fields["string"] or [""])[0])
        assert unsupported(query, endpoint).message == table[kind].of(negated).reason, (kind, negated, query)
    assert set(untested) <= {"in_range"}, (endpoint, untested)  # only dataset-index has no integer field for a range


# ---------------------------------------------------------------------------- endpoint records (dqquery.dials_api)

RECORDED_ROWS = json.loads((Path(__file__).parent / "data" / "conformance" / "dials" / "rows.json").read_text(encoding="utf-8"))


def test_endpoint_records_agree_with_the_recorded_rows():
    """The records' row facts, checked against what the real v1.12.0 server served (conformance dials/rows.json):
    every declared column the compiler reads from rows is in them, every filter-only column is not, and every
    primary-key column is."""
    assert set(RECORDED_ROWS) == set(dials_api.ENDPOINTS)
    for name, record in dials_api.ENDPOINTS.items():
        rows = RECORDED_ROWS[name]
        assert rows, name
        served = set().union(*rows)
        assert set(record.key("v1.12.0")) <= served, name
        assert not (record.filter_only & served), name
        for param in record.declared("v1.12.0").values():
            assert (param.column in served) == (param.column not in record.filter_only), (name, param.name)


def test_endpoint_names_and_aliases_are_unambiguous():
    names = list(dials_api.ENDPOINTS)
    aliases = [a for record in dials_api.ENDPOINTS.values() for a in record.aliases]
    assert len(set(names + aliases)) == len(names) + len(aliases)
    for alias, name in dials_api.ENDPOINT_ALIASES.items():
        assert dials_api.endpoint(alias) is dials_api.ENDPOINTS[name] and D.canonical_endpoint(alias) == name
    for record in dials_api.ENDPOINTS.values():
        assert record.path == f"/api/v1/{record.name}/"
        assert set(record.primary_key) == set(dials_api.GENERATIONS), record.name
        assert len({p.name for p in record.params}) == len(record.params), record.name


def test_dials_api_is_pure_data_and_the_emulator_does_not_import_the_compiler():
    """dials_api imports nothing of dqquery (foundation layer); the emulator reads it but never the compiler, so a
    test comparing the emulator with the compiler can fail."""
    tree = ast.parse(Path(dials_api.__file__).read_text(encoding="utf-8"))
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert all(m in ("__future__", "collections.abc", "dataclasses") for m in imported), imported
    code = "import sys, dqquery.emulate.dials; print(sorted(m for m in sys.modules if m.startswith('dqquery.targets')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", out
