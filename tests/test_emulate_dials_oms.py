"""The DIALS and OMS emulators, and the properties "the compiled filter means what the query means".

For generated conjunctions of predicates an endpoint accepts and generated rows,
``apply_dials_filters(endpoint, to_dials(q, endpoint), rows)`` must return exactly the rows on which
``dqquery.semantics.selects(q, row)`` holds (and the same for OMS with ``to_oms``/``apply_oms_filters``).
"""

from __future__ import annotations

import datetime as _dt

import pytest
from hypothesis import HealthCheck, Phase, assume, find, given, settings
from hypothesis import strategies as st

import dqquery.ast as A
from dqquery.catalog import lookup
from dqquery.emulate import dials as ED
from dqquery.emulate import oms as EO
from dqquery.errors import QueryError
from dqquery.query import as_node
from dqquery.semantics import selects
from dqquery.targets import dials as D
from dqquery.targets import oms as O

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])

# ============================================================================ DIALS emulator: examples

RUNS = [
    {"dataset_id": d, "run_number": r, "ls_count": 10, "dataset": name}
    for d, name in ((1, "/ZeroBias/Run2023C-PromptReco-v1/DQMIO"), (2, "/Muon0/Run2024D-PromptReco-v1/DQMIO"))
    for r in (100, 101, 102)
]


def runs_of(params):
    return [(r["dataset_id"], r["run_number"]) for r in ED.apply_dials_filters("run", params, RUNS)]


def test_undeclared_parameters_are_ignored():
    everything = runs_of({})
    for params in ({"run_number__gt": "101"}, {"run_number__lt": "101"}, {"order_by": "-run_number"}, {"ls_number": "3"}, {"dataset__contains": "Zero"}):
        assert runs_of(params) == everything
    histo = [{"ls_number": ls, "run_number": 1, "dataset_id": 1, "me_id": 1} for ls in range(1, 6)]
    assert len(ED.apply_dials_filters("th1", {"ls_numbet__lte": "2"}, histo)) == 5  # the client's typo
    assert len(ED.apply_dials_filters("th1", {"ls_number__lte": "2"}, histo)) == 2
    assert len(ED.apply_dials_filters("th1", {"entries__lte": "2"}, [{"entries": 9}])) == 1


def test_empty_value_is_no_filter_and_repeated_key_keeps_last():
    assert runs_of({"run_number": ""}) == runs_of({})
    assert runs_of({"dataset": "   "}) == runs_of({})
    assert runs_of({"dataset_id__in": ["1", "2,3"]}) == [(2, 100), (2, 101), (2, 102)]
    assert runs_of({"run_number": ["100", "102"]}) == [(1, 102), (2, 102)]


def test_csv_in_numbers_and_bad_numbers():
    assert runs_of({"dataset_id__in": "2, 5"}) == [(2, 100), (2, 101), (2, 102)]
    assert runs_of({"run_number": " 101.0 "}) == [(1, 101), (2, 101)]
    with pytest.raises(ED.DialsBadRequest) as info:
        runs_of({"run_number": "abc", "dataset_id__in": "1,abc"})
    assert info.value.errors == {"run_number": ["Enter a number."], "dataset_id__in": ["Enter a number."]}
    with pytest.raises(ED.DialsBadRequest):
        runs_of({"run_number__gte": "nan"})


def test_boolean_widget():
    models = [{"model_id": 1, "filename": "a", "active": True}, {"model_id": 2, "filename": "b", "active": False}]
    ids = lambda p: [m["model_id"] for m in ED.apply_dials_filters("ml-models-index", p, models)]
    assert ids({"active": "True"}) == ids({"active": "1"}) == ids({"active": True}) == [1]
    assert ids({"active": "false"}) == ids({"active": "0"}) == [2]
    assert ids({"active": "yes"}) == [1, 2]  # not a boolean: silently no filter


def test_strings_are_stripped_and_regex_is_a_case_sensitive_search():
    assert runs_of({"dataset": " /Muon0/Run2024D-PromptReco-v1/DQMIO "}) == [(2, 100), (2, 101), (2, 102)]
    assert runs_of({"dataset": "/muon0/Run2024D-PromptReco-v1/DQMIO"}) == []
    assert runs_of({"dataset__regex": "Zero"}) == [(1, 100), (1, 101), (1, 102)]
    assert runs_of({"dataset__regex": "zero"}) == []
    assert runs_of({"dataset": "unknown"}) == []
    with pytest.raises(ED.DialsBadRequest):
        runs_of({"dataset": "a\x00"})
    with pytest.raises(ED.DialsServerError):
        runs_of({"dataset__regex": "("})


def test_method_filter_on_missing_column_matches_nothing():
    histo = [{"dataset_id": 1, "run_number": 1, "ls_number": 1, "me_id": 1}]  # no logical_file_name column
    assert ED.apply_dials_filters("th1", {"logical_file_name__regex": "."}, histo) == []


def test_file_index_min_size_and_ordering_and_page_size():
    files = [{"dataset_id": 1, "file_id": i, "file_size": i * 100} for i in (3, 1, 2)]
    assert [f["file_id"] for f in ED.apply_dials_filters("file-index", {"min_size": "200"}, files)] == [3, 2]
    assert [f["file_id"] for f in ED.sort_rows("file-index", files)] == [1, 2, 3]
    assert "mes" not in ED.PAGINATED and "run" in ED.PAGINATED
    assert [ED.effective_page_size(v) for v in (None, "0", "-3", "x", "20", "501", "10000")] == [10, 10, 10, 10, 20, 500, 500]


# ============================================================================ OMS emulator: examples

OMS_RUNS = [
    {"run_number": 297050 + i, "era": "2017B" if i % 2 else None, "stable_beam": i % 3 == 0, "energy": 6500.0 + i, "start_time": f"2017-06-1{i}T20:50:33Z"}
    for i in range(8)
]


def oms_runs(params):
    return [r["run_number"] - 297050 for r in EO.apply_oms_filters("runs", params, OMS_RUNS)]


def test_oms_operators_null_and_and():
    assert oms_runs({"filter[run_number][GE]": "297052", "filter[run_number][LE]": "297054"}) == [2, 3, 4]
    assert oms_runs({"filter[run_number]": "297051"}) == [1]
    assert oms_runs({"filter[era][NEQ]": "null"}) == [1, 3, 5, 7]
    assert oms_runs({"filter[era][EQ]": "null"}) == [0, 2, 4, 6]
    assert oms_runs({"filter[era][NEQ]": "2017B"}) == []  # SQL: null is not != anything
    assert oms_runs({"filter[stable_beam][EQ]": "true"}) == [0, 3, 6]
    assert oms_runs({"filter[energy][GT]": "6505"}) == [6, 7]
    assert oms_runs({"filter[start_time][LT]": "2017-06-12T00:00:00Z"}) == [0, 1]
    assert oms_runs({"filter[era][LIKE]": "2017%"}) == [1, 3, 5, 7]
    assert oms_runs({"filter[era][LIKE]": "2017b"}) == []  # assumed case-sensitive
    with pytest.raises(ValueError):
        oms_runs({"filter[era][REGEX]": "x"})


def test_oms_sort_page_and_body_shape():
    ordered = EO.sort_rows(OMS_RUNS, "-era,run_number")
    assert [r["run_number"] - 297050 for r in ordered] == [0, 2, 4, 6, 1, 3, 5, 7]  # nulls first when descending
    body = EO.jsonapi_body("runs", {"fields": "run_number", "page[offset]": "2", "page[limit]": "3", "sort": "run_number"}, OMS_RUNS)
    assert body["meta"]["totalResourceCount"] == 8
    assert [d["id"] for d in body["data"]] == ["297052", "297053", "297054"]
    assert body["data"][0] == {"id": "297052", "type": "runs", "attributes": {"run_number": 297052}, "links": {"self": "http://127.0.0.1/agg/api/v1/runs/297052"}}
    assert body["links"]["next"] and body["links"]["prev"]
    assert EO.row_id("lumisections", {"run_number": 297050, "lumisection_number": 1}) == "297050_1"
    with pytest.raises(EO.OmsBadRequest):
        EO.page_rows(OMS_RUNS, "0", "0")


@given(st.lists(st.integers(0, 5) | st.none(), max_size=20), st.integers(1, 6))
@settings(max_examples=100, deadline=None)
def test_oms_pages_partition_the_sorted_result(values, limit):
    rows = [{"run_number": i, "x": v} for i, v in enumerate(values)]
    whole = EO.jsonapi_body("runs", {"sort": "-x,run_number"}, rows)
    total = whole["meta"]["totalResourceCount"]
    assert total == len(rows)
    pages, offset = [], 0
    while True:
        body = EO.jsonapi_body("runs", {"sort": "-x,run_number", "page[offset]": str(offset), "page[limit]": str(limit)}, rows)
        pages += body["data"]
        if body["links"]["next"] is None:
            break
        offset += limit
    assert pages == whole["data"]
    xs = [d["attributes"]["x"] for d in pages]
    nulls = xs.count(None)
    assert xs[:nulls] == [None] * nulls and xs[nulls:] == sorted(xs[nulls:], reverse=True)


# ============================================================================ DIALS: compiled filter == query

TEXT = st.text(alphabet="aAkK\u212asS\u017f/_.%( ", min_size=0, max_size=5)
PATTERN = st.text(alphabet="aAkK/_.%(\\", min_size=0, max_size=4) | st.builds(lambda c: f"%{c}%", st.sampled_from("aAkKs_%.\u212a"))
PORTABLE_REGEX = st.sampled_from(["a", "^a", "A$", "k.", "(a|/)", "[a-k]+", "\\.", "^$", "^/[A-Z]", "s?a", "a{2}", " a"])
INTS = st.integers(0, 4)
NUMBERS = INTS | st.sampled_from([1.5, 3.0])
#: Values DIALS can always carry: integers for integer columns, text without surrounding whitespace.
SENDABLE_TEXT = st.text(alphabet="aAkK\u212asS\u017f/_.%(", min_size=1, max_size=5)


def _ref(path: str) -> A.FieldRef:
    return A.FieldRef(name=lookup(path).name, path=path)  # type: ignore[union-attr]


def _num(v):
    return A.IntValue(value=v) if isinstance(v, int) else A.FloatValue(value=v)


@st.composite
def dials_atom(draw, endpoint: str, paths: list[str], numbers=NUMBERS, text=TEXT):
    path = draw(st.sampled_from(paths))
    lookups = {p.lookup for p in D.PARAMS[endpoint].values() if p.path == path}
    field, kind = _ref(path), lookup(path).type  # type: ignore[union-attr]
    if kind == "bool":
        return A.Compare(field=field, op=draw(st.sampled_from(["==", "!="])), value=A.BoolValue(value=draw(st.booleans())))
    if kind == "int":
        options = []
        if "exact" in lookups:
            options.append(st.builds(lambda v: A.Compare(field=field, op="==", value=_num(v)), numbers))
        if "gte" in lookups:
            options.append(st.builds(lambda op, v: A.Compare(field=field, op=op, value=_num(v)), st.sampled_from([">=", ">"]), numbers))
        if "lte" in lookups:
            options.append(st.builds(lambda op, v: A.Compare(field=field, op=op, value=_num(v)), st.sampled_from(["<=", "<"]), numbers))
            options.append(st.builds(lambda op, v: A.Not(operand=A.Compare(field=field, op=op, value=_num(v))), st.sampled_from([">=", ">"]), numbers))
        if {"gte", "lte"} <= lookups or "in" in lookups:
            options.append(st.builds(lambda a, b: A.InRange(field=field, low=_num(min(a, b)), high=_num(max(a, b))), INTS, INTS))
        if "in" in lookups or {"gte", "lte"} <= lookups:
            options.append(st.builds(lambda vs: A.InSet(field=field, values=tuple(_num(v) for v in vs)), st.lists(INTS, min_size=1, max_size=3)))
        return draw(st.one_of(options))
    options = [st.builds(lambda v: A.Compare(field=field, op="==", value=A.StringValue(value=v)), text)]
    if "regex" in lookups:
        options += [
            st.builds(lambda vs: A.InSet(field=field, values=tuple(A.StringValue(value=v) for v in vs)), st.lists(text, min_size=1, max_size=3)),
            st.builds(lambda p: A.Like(field=field, pattern=p), PATTERN),
            st.builds(lambda p: A.Regex(field=field, pattern=p), PORTABLE_REGEX),
            st.builds(lambda v: A.Contains(field=field, value=A.StringValue(value=v)), text),
        ]
    return draw(st.one_of(options))


def _dials_rows(draw, endpoint: str, generation: str) -> list[dict]:
    """Rows in the shape ``generation`` serves (``ml-models-index``: ``model_id``/``filename``/``target_me`` on
    v1.12.0, ``id``/``name`` on 2.4.1), also holding the names the server looks up in its dimension tables."""
    columns = D.response_columns(endpoint, generation)
    kinds = {col: lookup(path).type for path, col in columns.items()}  # type: ignore[union-attr]
    value = {"int": INTS, "string": TEXT, "bool": st.booleans()}
    return draw(st.lists(st.fixed_dictionaries({col: value[kind] for col, kind in kinds.items()}), min_size=1, max_size=12))


def _server_generation(endpoint: str, rows: list[dict]) -> str:
    return "2.4.1" if endpoint == "ml-models-index" and "id" in rows[0] else "v1.12.0"


@st.composite
def dials_case(draw):
    endpoint = draw(st.sampled_from(D.ENDPOINTS))
    # Few fields per query, so that constraints on one field often interact.
    paths = draw(st.lists(st.sampled_from(D.filterable_paths(endpoint)), min_size=1, max_size=2, unique=True))
    atoms = draw(st.lists(dials_atom(endpoint, paths), min_size=1, max_size=3))
    query = as_node(A.make_and(atoms))
    # The server generation shows in the row shape (only ml-models-index differs): both are drawn.
    generation = draw(st.sampled_from(D.GENERATIONS)) if endpoint == "ml-models-index" else "v1.12.0"
    return endpoint, query, _dials_rows(draw, endpoint, generation)


@given(dials_case())
@PROPERTY
def test_dials_compiled_filter_selects_exactly_the_query_rows(case):
    """Compiled for every generation (the default), the parameters select exactly the query's rows on a server of
    either generation, whose rows are read back with ``row_paths`` (either ml-models-index row shape)."""
    endpoint, query, rows = case
    generation = _server_generation(endpoint, rows)
    try:
        params = D.to_dials(query, endpoint)
    except QueryError as err:
        assert err.category == "unsupported"
        assume(False)
    assert set(params) <= set(D.PARAMS[endpoint])
    got = ED.apply_dials_filters(endpoint, params, rows, generation=generation)
    # The generated rows also hold the names the server looks up in its dimension tables (logical_file_name
    # for th1/th2, ...): the emulator filters on them, so the expectation reads them too.
    columns = D.response_columns(endpoint, generation)
    expected = [r for r in rows if selects(query, {path: r[col] for path, col in columns.items() if col in r})]
    assert got == expected, params
    carried = [r for r in rows if selects(query, D.row_paths(endpoint, r))]
    if all(path in D.row_fields(endpoint) for path in {ref.path for ref in A.fields_of(query)}):
        assert got == carried  # what a plan's residual reads from the served rows gives the same answer


@pytest.mark.parametrize("shape", ["model_id", "id"])
def test_the_dials_generator_draws_both_models_index_row_shapes(shape):
    """The property above meets ml-models-index rows of v1.12.0 (``model_id``) and of cmsdials 2.4.1 (``id``)."""
    found = find(dials_case(), lambda case: case[0] == "ml-models-index" and shape in case[2][0],
                 settings=settings(max_examples=3000, database=None, phases=[Phase.generate], derandomize=True,
                                   suppress_health_check=list(HealthCheck)))
    assert shape in found[2][0]


@st.composite
def models_index_case(draw):
    generation = draw(st.sampled_from(D.GENERATIONS))
    paths = draw(st.lists(st.sampled_from(D.filterable_paths("ml-models-index", generation)), min_size=1, max_size=2, unique=True))
    atoms = draw(st.lists(dials_atom("ml-models-index", paths), min_size=1, max_size=3))
    return generation, as_node(A.make_and(atoms)), _dials_rows(draw, "ml-models-index", generation)


@given(models_index_case())
@PROPERTY
def test_models_index_compiled_for_one_generation_is_exact_on_that_generation(case):
    generation, query, rows = case
    try:
        params = D.to_dials(query, "ml-models-index", generation=generation)
    except QueryError as err:
        assert err.category == "unsupported"
        assume(False)
    assert set(params) <= set(ED.FILTERSETS_BY_GENERATION[generation]["ml-models-index"])
    got = ED.apply_dials_filters("ml-models-index", params, rows, generation=generation)
    assert got == [r for r in rows if selects(query, D.row_paths("ml-models-index", r))], params


def test_models_index_emulator_ignores_the_other_generations_names():
    v1 = [{"model_id": 19, "filename": "a.onnx", "target_me": "m", "active": True},
          {"model_id": 21, "filename": "b.onnx", "target_me": "n", "active": False}]
    v2 = [{"id": 19, "name": "a.onnx", "active": True}, {"id": 21, "name": "b.onnx", "active": False}]
    assert ED.apply_dials_filters("ml-models-index", {"id": "21"}, v1) == v1  # ignored: every model
    assert ED.apply_dials_filters("ml-models-index", {"model_id": "21"}, v2, generation="2.4.1") == v2
    both = D.to_dials("model_id == 21", "ml-models-index")
    assert ED.apply_dials_filters("ml-models-index", both, v1) == v1[1:]
    assert ED.apply_dials_filters("ml-models-index", both, v2, generation="2.4.1") == v2[1:]


@given(st.data())
@settings(max_examples=300, deadline=None)
def test_every_kind_of_generated_atom_compiles_alone_with_sendable_values(data):
    """Guards the property above against vacuity, without a ratio: every atom the generator can draw, alone and
    with values DIALS can carry (integers, text without surrounding whitespace), compiles to declared
    parameters; the one exception, a list with gaps on a column without a list lookup, is refused. Refusals in the property above therefore come only from what the generator adds on purpose:
    fractional numbers on integer columns, whitespace, and contradicting conjunctions."""
    endpoint = data.draw(st.sampled_from(D.ENDPOINTS))
    path = data.draw(st.sampled_from(D.filterable_paths(endpoint)))
    atom = data.draw(dials_atom(endpoint, [path], numbers=INTS, text=SENDABLE_TEXT))
    lookups = {p.lookup for p in D.PARAMS[endpoint].values() if p.path == path}
    if isinstance(atom, A.InSet) and lookup(path).type == "int" and "in" not in lookups:  # type: ignore[union-attr]
        values = sorted({v.value for v in atom.values})
        if values != list(range(values[0], values[-1] + 1)):  # a gap: only a list parameter could carry it
            with pytest.raises(QueryError, match="by a list of values"):
                D.to_dials(as_node(atom), endpoint)
            return
    params = D.to_dials(as_node(atom), endpoint)  # default: both server generations' spellings where they differ
    assert params
    for filtersets in ED.FILTERSETS_BY_GENERATION.values():  # each generation honours at least one of them
        assert set(params) & set(filtersets[endpoint]), (endpoint, params)
    assert set(params) <= set().union(*(f[endpoint] for f in ED.FILTERSETS_BY_GENERATION.values()))


# ============================================================================ OMS: compiled filter == query

TIMES = ["2017-06-16T20:50:33Z", "2018-01-01T00:00:00Z", "2018-05-01T00:00:00Z", "2018-05-01T12:00:00Z"]
OMS_FIELDS = {
    "runs": {
        "run.run_number": "int",
        "run.oms.fill_number": "int",
        "run.oms.energy": "float",
        "run.oms.era": "string",
        "run.oms.start_time": "datetime",
        "run.oms.stable_beam": "bool",
    },
    "lumisections": {
        "run.run_number": "int",
        "lumisection.lumisection_number": "int",
        "lumisection.oms.beams_stable": "bool",
        "lumisection.oms.bpix_ready": "bool",
        "lumisection.oms.recorded": "float",
        "lumisection.oms.prescale_name": "string",
    },
}
OMS_TEXT = st.text(alphabet="aB1_%-/", min_size=1, max_size=4)
CASELESS_LIKE = st.text(alphabet="12_%-/", min_size=1, max_size=4)
FLOATS = st.sampled_from([0.0, 0.5, 1.0, 3.0])


def _literal(kind: str):
    return {
        "int": INTS.map(lambda v: A.IntValue(value=v)),
        "float": FLOATS.map(lambda v: A.FloatValue(value=v)) | INTS.map(lambda v: A.IntValue(value=v)),
        "string": OMS_TEXT.map(lambda v: A.StringValue(value=v)),
        "bool": st.booleans().map(lambda v: A.BoolValue(value=v)),
        "datetime": st.sampled_from(TIMES).map(lambda t: A.DateTimeValue(value=_dt.datetime.fromisoformat(t.replace("Z", "+00:00"))))
        | st.sampled_from([_dt.date(2018, 1, 1), _dt.date(2018, 5, 1)]).map(lambda d: A.DateValue(value=d)),
    }[kind]


@st.composite
def oms_atom(draw, resource: str, paths: list[str]):
    path = draw(st.sampled_from(paths))
    kind = OMS_FIELDS[resource][path]
    field = _ref(path)
    ordered = kind in ("int", "float", "datetime")
    ops = ["==", "!=", "<", "<=", ">", ">="] if ordered else ["==", "!="]
    options = [st.builds(lambda op, v: A.Compare(field=field, op=op, value=v), st.sampled_from(ops), _literal(kind))]
    options.append(st.builds(lambda v, neg: A.InSet(field=field, values=(v,), negated=neg), _literal(kind), st.booleans()))
    options.append(st.just(A.IsNull(field=field, negated=True)))
    if ordered:
        def rng(a, b):
            lo, hi = sorted([a, b], key=lambda v: _key(v))
            return A.InRange(field=field, low=lo, high=hi)

        options.append(st.builds(rng, _literal(kind), _literal(kind)))
    if kind == "int":
        options.append(st.builds(lambda lo, n: A.InSet(field=field, values=tuple(A.IntValue(value=lo + i) for i in range(n))), INTS, st.integers(1, 3)))
    if kind == "string":
        options.append(st.builds(lambda p: A.Like(field=field, pattern=p), CASELESS_LIKE))
    atom = draw(st.one_of(options))
    if isinstance(atom, A.Compare) and draw(st.booleans()):
        return A.Not(operand=atom)
    return atom


def _key(v):
    from dqquery.semantics import literal

    return literal(v)


@st.composite
def oms_case(draw):
    resource = draw(st.sampled_from(O.RESOURCES))
    paths = draw(st.lists(st.sampled_from(sorted(OMS_FIELDS[resource])), min_size=1, max_size=2, unique=True))
    atoms = draw(st.lists(oms_atom(resource, paths), min_size=1, max_size=3))
    query = as_node(A.make_and(atoms))
    value = {
        "int": INTS,
        "float": FLOATS,
        "string": OMS_TEXT | CASELESS_LIKE,
        "bool": st.booleans(),
        "datetime": st.sampled_from(TIMES),
    }
    attrs = {O.attribute_of(path, resource): value[kind] | st.none() for path, kind in OMS_FIELDS[resource].items()}
    rows = draw(st.lists(st.fixed_dictionaries(attrs), min_size=1, max_size=12))
    return resource, query, rows


@given(oms_case())
@PROPERTY
def test_oms_compiled_filter_selects_exactly_the_query_rows(case):
    resource, query, rows = case
    try:
        filters = O.to_oms(query, resource)
    except QueryError as err:
        assert err.category == "unsupported"
        assume(False)
    got = EO.apply_oms_filters(resource, filters, rows)
    expected = [r for r in rows if selects(query, O.row_paths(resource, r))]
    assert got == expected, filters
