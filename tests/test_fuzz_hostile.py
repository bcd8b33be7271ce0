"""Hostile text into every entry point that reads user input: the error contract and a linear time bound.

Contract (docs/errors.md): ``parse`` raises only :class:`QueryError`, located in the text; ``from_jsonlogic``
only :class:`QueryError`; ``Snapshot.load``/``from_dict`` only :class:`SnapshotError`; ``GoldenJSON.load``/
``from_json`` only :class:`GoldenJSONError`; and each answers in time linear in the input. The time bound is
checked per input against a linear baseline measured in the same run on an input of the same length (a
ratio, never a wall-clock threshold): it catches the exponential and polynomial blow-ups this suite is about
(a 28-space typo took 15 s), with a factor generous enough for a loaded machine.

Inputs: grammar-aware mutations of the compliance corpus (tokens inserted, deleted, replaced and repeated),
random unicode, long runs of whitespace, deep nesting, and JSON documents built from the same pieces.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dqquery
from dqquery.errors import QueryError
from dqquery.lumiranges import GoldenJSON, GoldenJSONError
from dqquery.snapshot import Snapshot, SnapshotError
from dqquery.targets.jsonlogic import from_jsonlogic

HERE = Path(__file__).parent
SETTINGS = settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))

CORPUS = [c["query"] for c in yaml.safe_load((HERE / "compliance" / "valid.yaml").read_text())] + [
    c["query"] for c in yaml.safe_load((HERE / "compliance" / "invalid.yaml").read_text()) if isinstance(c.get("query"), str)
]

# Pieces of the language and of typical mistakes: what a grammar-aware mutation inserts.
TOKENS = [
    "and", "or", "not", "in", "like", "contains", "is", "null", "true", "false", "(", ")", "[", "]", ",", "..",
    "==", "!=", "<", "<=", ">", ">=", "=", "<>", "~", "!~", "&&", "||", "!", "@", "#", "#c\n", "\n", "\t", " ",
    '"', "'", '"a\\"b"', "'\\u00e9'", "\\", "\\ud83d", "1", "-1", "0" * 50 + "1", "9" * 30, "1.5e308", "1e999",
    "2018-05-01", "2018-13-40T25:61:00Z", "bpix_ready", "run_number", "hlt_key", "tracker-strip", "GOOD",
    "x" * 200, "(a+)+$", "%_%", "é", "\u212a", "\x00", "\ufeff",
]


@st.composite
def mutated_queries(draw) -> str:
    """A corpus query with a few token-level edits (insert, delete, replace, repeat a slice)."""
    parts = draw(st.sampled_from(CORPUS)).split(" ")
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["insert", "delete", "replace", "repeat", "glue"]))
        i = draw(st.integers(0, len(parts)))
        if kind == "insert" or not parts:
            parts.insert(i, draw(st.sampled_from(TOKENS)))
        elif kind == "delete":
            del parts[min(i, len(parts) - 1)]
        elif kind == "replace":
            parts[min(i, len(parts) - 1)] = draw(st.sampled_from(TOKENS))
        elif kind == "repeat":
            j = draw(st.integers(i, min(len(parts), i + 3)))
            parts[i:i] = parts[i:j] * draw(st.integers(1, 30))
        else:
            parts[i:i] = [draw(st.sampled_from(TOKENS)) + draw(st.sampled_from(TOKENS))]
    return draw(st.sampled_from([" ", "  ", "\n", ""])).join(parts)


def whitespace_runs() -> st.SearchStrategy[str]:
    return st.builds(
        lambda q, n, ws, tail: q + ws * n + tail,
        st.sampled_from(CORPUS),
        st.integers(1, 3000),
        st.sampled_from([" ", "\t", "\n", "\r\n", " #c\n"]),
        st.sampled_from(["", "@", "&&", "and", ")", '"', "x"]),
    )


def deep_nesting() -> st.SearchStrategy[str]:
    return st.builds(
        lambda opener, n, inner, close: opener * n + inner + (")" * n if close else ""),
        st.sampled_from(["(", "not ", "(not ", "[", "{"]),
        st.integers(1, 3000),
        st.sampled_from(CORPUS + ["bpix_ready", ""]),
        st.booleans(),
    )


hostile_texts = st.one_of(
    mutated_queries(),
    st.text(max_size=200),
    st.lists(st.sampled_from(TOKENS), max_size=60).map(" ".join),
    st.lists(st.sampled_from(TOKENS), max_size=60).map("".join),
    whitespace_runs(),
    deep_nesting(),
)


# ------------------------------------------------------------------------------------------ time bound


def _elapsed(fn, arg) -> float:
    samples = []
    for _ in range(3):
        start = time.perf_counter()
        try:
            fn(arg)
        except Exception:
            pass
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


FACTOR = 200  # generous: a loaded shared machine; an exponential blow-up passes it within a few characters


def assert_linear_time(fn, text: str, baseline) -> None:
    """``fn(text)`` takes at most FACTOR times what ``fn`` takes on the linear ``baseline`` input of the same
    length (plus the cost of a tiny input), both measured now."""
    reference = _elapsed(fn, baseline(len(text))) + _elapsed(fn, baseline(1))
    spent = _elapsed(fn, text)
    assert spent <= FACTOR * reference, f"{spent:.4f}s against a linear baseline of {reference:.6f}s for {text[:80]!r}"


def _query_baseline(n: int) -> str:
    unit = "bpix_ready and "
    return (unit * (n // len(unit) + 1))[: max(n, 1)]


def _json_baseline(n: int) -> str:
    return "[" + ",".join(["1"] * max(1, n // 2)) + "]"


# ------------------------------------------------------------------------------------------ parse


@SETTINGS
@given(hostile_texts)
def test_parse_raises_only_located_query_errors(text: str) -> None:
    try:
        dqquery.parse(text)
    except QueryError as err:
        assert err.line >= 1 and err.column >= 1, err
        assert err.offset is None or 0 <= err.offset <= len(text)
        assert "\n" not in err.message
    assert_linear_time(dqquery.parse, text, _query_baseline)


@SETTINGS
@given(st.binary(max_size=300))
def test_parse_of_decoded_bytes(raw: bytes) -> None:
    text = raw.decode("utf-8", "surrogateescape")
    try:
        dqquery.parse(text)
    except QueryError as err:
        assert err.line >= 1


# ------------------------------------------------------------------------------------------ json-logic


def _rules() -> st.SearchStrategy[str]:
    leaf = st.sampled_from(
        [
            '{"==": [{"var": "run.run_number"}, 315257]}',
            '{"in": ["WMass", {"var": "run.oms.hlt_key"}]}',
            '{"<=": [{"var": "run.oms.energy"}, 7000]}',
            '{"var": "lumisection.oms.bpix_ready"}',
        ]
    )
    pieces = st.sampled_from(['{"and": [', '{"or": [', '{"!": [', "[", "]", "}", ",", '"', "NaN", "1" * 500, "-0", "2e400", '{"==": 1, "==": 2}', " " * 50])
    mutated = st.builds(lambda base, i, piece, n: base[:i] + piece * n + base[i:], leaf, st.integers(0, 40), pieces, st.integers(1, 400))
    nested = st.builds(lambda op, n, inner: (op * n) + inner + ("]}" * n), st.sampled_from(['{"and": [', '{"!": [', "["]), st.integers(1, 2000), leaf)
    return st.one_of(leaf, mutated, nested, st.text(max_size=100))


@SETTINGS
@given(_rules())
def test_from_jsonlogic_raises_only_query_errors(text: str) -> None:
    try:
        from_jsonlogic(text)
    except QueryError as err:
        assert err.message
    try:
        from_jsonlogic(json.loads(text))
    except QueryError:
        pass
    except (ValueError, RecursionError):  # json.loads itself (the test's decoding), not dqquery
        pass
    assert_linear_time(from_jsonlogic, text, _json_baseline)


# ------------------------------------------------------------------------------------------ data files

SNAPSHOT_BASE = {
    "runs": [{"run_number": 315257, "oms_attributes": {"energy": 6500.0}}],
    "datasets": [],
    "lumisections": {"315257": {"online": {"rr": [], "oms": [{"start": 1, "end": 5, "recorded": 0.5}]}}},
}


def _documents(base: dict) -> st.SearchStrategy[str]:
    text = json.dumps(base)
    pieces = st.sampled_from(
        ['"', "[", "]", "{", "}", ",", ":", "NaN", "Infinity", "-Infinity", "1" * 5000, '"01"', '" 1"', '"+1"', '"315_257"', "1e999", "null", "\\u0000", " " * 100]
    )
    mutated = st.builds(lambda i, piece, n: text[:i] + piece * n + text[i:], st.integers(0, len(text)), pieces, st.integers(1, 50))
    deep = st.builds(lambda n, opener: opener * n, st.integers(1, 100_000), st.sampled_from(["[", '{"a":']))
    return st.one_of(mutated, deep, st.text(max_size=100))


def _assert_load_contract(path: Path, text: str, load, error: type[Exception]) -> None:
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load(path)
    except error as err:
        assert str(err).startswith(str(path)), err  # the message names the file
        assert "\n" not in str(err)


@SETTINGS
@given(_documents(SNAPSHOT_BASE))
def test_snapshot_load_raises_only_snapshot_errors(tmp_path_factory, text: str) -> None:
    path = tmp_path_factory.mktemp("snap") / "s.json"
    _assert_load_contract(path, text, Snapshot.load, SnapshotError)
    assert_linear_time(lambda t: _assert_load_contract(path, t, Snapshot.load, SnapshotError), text, _json_baseline)


@SETTINGS
@given(_documents({"315257": [[1, 88], [91, 92]], "315258": [[1, 5]]}))
def test_golden_load_raises_only_golden_errors(tmp_path_factory, text: str) -> None:
    path = tmp_path_factory.mktemp("golden") / "g.json"
    _assert_load_contract(path, text, GoldenJSON.load, GoldenJSONError)


@SETTINGS
@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
        lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(st.text(max_size=4), children, max_size=4)),
        max_leaves=30,
    )
)
def test_snapshot_from_dict_raises_only_snapshot_errors(junk) -> None:
    variants = (
        junk,
        {**SNAPSHOT_BASE, "runs": junk},
        {**SNAPSHOT_BASE, "lumisections": junk},
        {**SNAPSHOT_BASE, "datasets": junk},
        {**SNAPSHOT_BASE, "runs": [{"run_number": 315257, "oms_attributes": junk, "rr_attributes": junk}]},
        {**SNAPSHOT_BASE, "datasets": [{"run_number": 315257, "name": junk, "dataset_attributes": junk}]},
        {**SNAPSHOT_BASE, "lumisections": {"315257": {"online": junk}}},
        {**SNAPSHOT_BASE, "lumisections": {"315257": {"online": {"rr": junk, "oms": junk, "luminosity": junk}}}},
        {**SNAPSHOT_BASE, "lumisections": {"315257": {"online": {"oms": [{"start": 1, "end": 2, "recorded": junk}], "luminosity": {"start": 1, "recorded": junk}}}}},
        {**SNAPSHOT_BASE, "lumisections": {"315257": {"online": {"rr": [{"start": 1, "end": 2, "dt-dt": junk}]}}}},
    )
    for data in variants:
        try:
            Snapshot.from_dict(data)
        except SnapshotError as err:
            assert str(err)


@pytest.mark.parametrize("depth", [10, 250, 10_000])
def test_deeply_nested_python_objects(depth: int) -> None:
    deep: list = []
    for _ in range(depth):
        deep = [deep]
    data = {**SNAPSHOT_BASE, "runs": [{"run_number": 315257, "extra": deep}]}
    if depth > 200:
        with pytest.raises(SnapshotError, match="levels deep"):
            Snapshot.from_dict(data)
    else:
        assert Snapshot.from_dict(data).to_dict()["runs"][0]["extra"] == deep
    with pytest.raises(QueryError):
        from_jsonlogic({"and": deep} if depth > 200 else {"and": [deep]})


# ------------------------------------------------------------------------------------------ columnar snapshot files

_COLUMNAR_BASE = {
    "runs": [{"run_number": 315257, "oms_attributes": {"energy": 6500.0, "fill_number": 6620}, "rr_attributes": {"class": "Collisions18"}}],
    "datasets": [{"run_number": 315257, "name": "/PromptReco/Collisions2018A/DQM", "dataset_attributes": {"global_state": "OPEN"}}],
    "lumisections": {
        "315257": {
            "online": {
                "rr": [{"dt-dt": {"status": "GOOD", "comment": "ok", "cause": ""}, "start": 1, "end": 10}],
                "oms": [{"cms_active": True, "recorded": 0.1, "start": 1, "end": 5}, {"cms_active": None, "start": 6, "end": 12}],
                "luminosity": {"start": 3, "recorded": [0.2, None, 0.4]},
            },
            "/PromptReco/Collisions2018A/DQM": {"rr": [{"dt-dt": {"status": "BAD"}, "start": 2, "end": 4}], "oms": []},
        }
    },
}


def _columnar_members() -> dict[str, bytes]:
    import io
    import zipfile

    from dqquery.columnar import ColumnarSnapshot, _to_zip

    data = _to_zip(ColumnarSnapshot.from_snapshot(Snapshot.from_dict(_COLUMNAR_BASE)))
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


@st.composite
def _mutated_members(draw) -> dict[str, bytes]:
    """A valid columnar file's members with one member's bytes overwritten, cut or grown (CRCs stay right, so the
    damage reaches meta.json, Arrow and numpy decoding rather than the ZIP check)."""
    members = dict(_COLUMNAR_MEMBERS)
    name = draw(st.sampled_from(sorted(members)))
    data = members[name]
    i = draw(st.integers(0, len(data)))
    piece = draw(st.binary(min_size=1, max_size=16))
    how = draw(st.sampled_from(["overwrite", "insert", "cut"]))
    members[name] = {"overwrite": data[:i] + piece + data[i + len(piece):], "insert": data[:i] + piece + data[i:], "cut": data[:i]}[how]
    return members


_COLUMNAR_MEMBERS = _columnar_members() if __import__("importlib").util.find_spec("pyarrow") else {}


@pytest.mark.skipif(not _COLUMNAR_MEMBERS, reason="needs dqquery[fast] (pyarrow)")
@SETTINGS
@given(_mutated_members() if _COLUMNAR_MEMBERS else st.nothing())
def test_columnar_load_raises_only_snapshot_errors(tmp_path_factory, members: dict[str, bytes]) -> None:
    import zipfile

    from dqquery.columnar import ColumnarSnapshot

    path = tmp_path_factory.mktemp("columnar") / "s.dqc"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    try:
        ColumnarSnapshot.load(path)
    except SnapshotError as err:
        assert str(err).startswith(f"{path}: "), err
        assert "\n" not in str(err)
