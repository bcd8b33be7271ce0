"""Tests for dqquery.lumiranges.GoldenJSON (golden JSON / lumi mask).

Real certification files live in tests/data/golden (copied byte for byte from shared/data/golden).
Property tests compare every operation against a plain Python set of (run, ls) pairs.
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import pickle
import re
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dqquery import lumiranges
from dqquery.lumiranges import GoldenDiff, GoldenJSON, GoldenJSONError

np = pytest.importorskip("numpy")

DATA = Path(__file__).parent / "data" / "golden"
F2016 = DATA / "Cert_271036-284044_13TeV_Legacy2016_Collisions16_JSON.txt"
F2018 = DATA / "Cert_314472-325175_13TeV_Legacy2018_Collisions18_JSON.txt"
F2022 = DATA / "Cert_Collisions2022_355100_362760_Golden.txt"

# file -> (runs, ranges, lumisections) from shared/data/golden/SOURCES.md, and the line width its layout uses
REAL = {
    F2016: ((393, 523, 234231), 44),
    F2018: ((478, 762, 234529), 80),
    F2022: ((360, 460, 123097), 44),
}
REAL_FILES = list(REAL)
IDS = ["2016", "2018", "2022"]


def naive_pairs(mapping: dict) -> set[tuple[int, int]]:
    """Independent expansion of a {run: [[a, b], ...]} mapping to a set of pairs."""
    return {(int(run), ls) for run, ranges in mapping.items() for a, b in ranges for ls in range(a, b + 1)}


def maximal_ranges(pairs: set[tuple[int, int]]) -> dict[int, list[list[int]]]:
    """Independent normal form: per run, maximal blocks of consecutive lumisections."""
    out: dict[int, list[list[int]]] = {}
    for run, ls in sorted(pairs):
        blocks = out.setdefault(run, [])
        if blocks and blocks[-1][1] + 1 == ls:
            blocks[-1][1] = ls
        else:
            blocks.append([ls, ls])
    return out


@pytest.fixture(scope="module")
def g2016() -> GoldenJSON:
    return GoldenJSON.load(F2016)


@pytest.fixture(scope="module")
def g2018() -> GoldenJSON:
    return GoldenJSON.load(F2018)


@pytest.fixture(scope="module")
def g2022() -> GoldenJSON:
    return GoldenJSON.load(F2022)


# ------------------------------------------------------------------------------------------------
# real files
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", REAL_FILES, ids=IDS)
def test_real_file_counts_agree_with_naive_expansion(path: Path) -> None:
    (n_runs, n_ranges, n_ls), _ = REAL[path]
    raw = json.loads(path.read_text())
    pairs = naive_pairs(raw)
    g = GoldenJSON.load(path)
    assert len(pairs) == n_ls
    assert len(g) == g.n_lumisections == n_ls
    assert g.n_runs == n_runs == len(g.runs)
    assert g.n_ranges == n_ranges
    assert g.runs == tuple(sorted(int(r) for r in raw))
    assert set(g) == pairs
    # the files are already normalised, so the ranges come back unchanged
    assert g.to_dict() == raw


@pytest.mark.parametrize("path", REAL_FILES, ids=IDS)
def test_real_file_written_back_byte_for_byte_with_its_width(path: Path, tmp_path: Path) -> None:
    _, width = REAL[path]
    g = GoldenJSON.load(path)
    out = tmp_path / path.name
    g.write(out, width=width)
    assert out.read_bytes() == path.read_bytes()


def test_default_layout_reproduces_2018_exactly(g2018: GoldenJSON, tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    g2018.write(out)
    assert out.read_bytes() == F2018.read_bytes()
    assert g2018.to_json() == F2018.read_text()


@pytest.mark.parametrize("path", [F2016, F2022], ids=["2016", "2022"])
def test_default_layout_is_semantically_equal_for_narrow_files(path: Path, tmp_path: Path) -> None:
    g = GoldenJSON.load(path)
    out = tmp_path / "out.txt"
    g.write(out)
    text = out.read_text()
    assert text != path.read_text()  # these two files wrap at a narrower width
    assert json.loads(text) == json.loads(path.read_text())
    assert GoldenJSON.load(out) == g


@pytest.mark.parametrize("path", REAL_FILES, ids=IDS)
def test_real_file_cmssw_round_trip(path: Path) -> None:
    g = GoldenJSON.load(path)
    text = g.to_cmssw()
    assert text.count(",") + 1 == g.n_ranges
    assert GoldenJSON.from_cmssw(text) == g


def test_cmssw_string_format(g2018: GoldenJSON) -> None:
    assert g2018.to_cmssw().startswith("315257:1-315257:88,315257:91-315257:92,315259:1-315259:172,")
    assert GoldenJSON({1: [[5, 5], [7, 9]], 10: [[2, 2]]}).to_cmssw() == "1:5,1:7-1:9,10:2"
    assert GoldenJSON().to_cmssw() == ""
    assert GoldenJSON.from_cmssw(" 1:5 , 1:6-1:9,2:3 ") == GoldenJSON({1: [[5, 9]], 2: [[3, 3]]})
    assert GoldenJSON.from_cmssw("") == GoldenJSON()


def test_gzip_load_and_write(g2018: GoldenJSON, tmp_path: Path) -> None:
    gz = tmp_path / "golden.json.gz"
    gz.write_bytes(gzip.compress(F2018.read_bytes()))
    assert GoldenJSON.load(gz) == g2018
    out = tmp_path / "out.json.gz"
    g2018.write(out)
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    assert gzip.decompress(out.read_bytes()) == F2018.read_bytes()
    assert GoldenJSON.load(out) == g2018


def test_load_accepts_any_whitespace(g2018: GoldenJSON, tmp_path: Path) -> None:
    one_line = tmp_path / "one_line.json"
    one_line.write_text(json.dumps(json.loads(F2018.read_text())))
    indented = tmp_path / "indented.json"
    indented.write_text(json.dumps(json.loads(F2018.read_text()), indent=4))
    assert GoldenJSON.load(one_line) == g2018
    assert GoldenJSON.load(indented) == g2018


def test_real_set_algebra(g2016: GoldenJSON, g2018: GoldenJSON, g2022: GoldenJSON) -> None:
    assert g2018 & g2018 == g2018
    assert g2018 | g2018 == g2018
    assert not (g2018 - g2018)
    assert len(g2018 - g2018) == 0
    assert not (g2018 ^ g2018)
    both = g2016 | g2018
    assert set(both.runs) == set(g2016.runs) | set(g2018.runs)
    assert len(both) == len(g2016) + len(g2018)
    assert both.n_ranges == g2016.n_ranges + g2018.n_ranges
    assert not (g2016 & g2018)
    assert g2016.isdisjoint(g2022)
    assert (both - g2016) == g2018
    assert both & g2018 == g2018
    assert g2018 <= both and both >= g2016 and g2018 < both and not (both < both)
    assert (g2016 | g2018 | g2022).runs == tuple(sorted(g2016.runs + g2018.runs + g2022.runs))
    assert g2018 ^ g2022 == g2018 | g2022


def test_real_set_algebra_against_python_sets(g2018: GoldenJSON) -> None:
    full = set(g2018)
    messy = {(r, ls) for r, ls in full if ls % 7 and (r % 5 or ls < 300)}
    other = GoldenJSON.from_pairs(messy) | GoldenJSON({"330000": [[1, 10]], "315257": [[200, 210]]})
    other_set = set(other)
    assert set(g2018 & other) == full & other_set
    assert set(g2018 | other) == full | other_set
    assert set(g2018 - other) == full - other_set
    assert set(other - g2018) == other_set - full
    assert set(g2018 ^ other) == full ^ other_set
    d = g2018.diff(other)
    assert set(d.only_left) == full - other_set
    assert set(d.only_right) == other_set - full


def test_contains_many_on_a_million_entries_agrees_with_membership(g2018: GoldenJSON) -> None:
    # Speed is measured in tests/benchmarks/bench_lumiranges.py, not asserted here.
    rng = np.random.default_rng(1)
    runs = rng.choice(np.array(g2018.runs + (1, 400000), dtype=np.uint32), size=1_000_000)
    lumis = rng.integers(1, 2500, size=1_000_000, dtype=np.uint32)
    mask = g2018.contains_many(runs, lumis)
    assert mask.dtype == np.bool_ and mask.shape == (1_000_000,)
    sample = rng.integers(0, 1_000_000, size=3000)
    assert [bool(mask[i]) for i in sample] == [(int(runs[i]), int(lumis[i])) in g2018 for i in sample]
    assert 0 < mask.sum() < mask.size


# ------------------------------------------------------------------------------------------------
# normalisation examples (CMSSW LumiList semantics, with the documented differences)
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ranges", "expected"),
    [
        ([[1, 5], [6, 9]], [[1, 9]]),  # adjacent
        ([[1, 5], [3, 9]], [[1, 9]]),  # overlapping
        ([[1, 10], [2, 3]], [[1, 10]]),  # contained
        ([[6, 9], [1, 5]], [[1, 9]]),  # unsorted
        ([[1, 5], [7, 9]], [[1, 5], [7, 9]]),  # gap kept
        ([[329, 329], [325, 328], [1, 324]], [[1, 329]]),  # 2012 DCS-only, run 190411
        ([[542, 549], [1, 541], [550, 557]], [[1, 557]]),  # 2012 DCS-only, run 191062
        ([[3, 3], [3, 3], [1, 1]], [[1, 1], [3, 3]]),  # duplicates
        ([(4, 8)], [[4, 8]]),  # tuples accepted
    ],
)
def test_normalisation_examples(ranges: list, expected: list) -> None:
    g = GoldenJSON({"190411": ranges})
    assert g.ranges(190411) == expected
    assert g.to_dict() == {"190411": expected}


def test_empty_runs_dropped_and_keys_merged() -> None:
    g = GoldenJSON({"1": [], 2: [[1, 3]], "2": [[4, 6]], "3": ()})
    assert g.runs == (2,)
    assert g.ranges(2) == [[1, 6]]
    assert g.n_runs == 1 and len(g) == 6
    assert GoldenJSON({"1": []}) == GoldenJSON() and not GoldenJSON({"1": []})


def test_lumilist_algebra_examples() -> None:
    a = GoldenJSON({1: [[1, 10]]})
    assert (a - GoldenJSON({1: [[5, 5], [8, 12]]})).to_dict() == {"1": [[1, 4], [6, 7]]}
    assert (GoldenJSON({1: [[5, 10]]}) & GoldenJSON({1: [[10, 12]]})).to_dict() == {"1": [[10, 10]]}
    assert (GoldenJSON({1: [[1, 5]]}) | GoldenJSON({1: [[6, 9]], 2: [[1, 1]]})).to_dict() == {
        "1": [[1, 9]],
        "2": [[1, 1]],
    }
    assert (a & GoldenJSON({2: [[1, 10]]})).runs == ()


def test_run_keys_sorted_numerically_not_as_strings() -> None:
    g = GoldenJSON({"100000": [[1, 1]], "9": [[1, 1]], 10: [[1, 1]]})
    assert g.runs == (9, 10, 100000)
    assert list(g.to_dict()) == ["9", "10", "100000"]
    assert g.to_json() == '{\n  "9": [[1, 1]],\n  "10": [[1, 1]],\n  "100000": [[1, 1]]\n}'
    assert list(g) == [(9, 1), (10, 1), (100000, 1)]


def test_to_json_layout_and_compact() -> None:
    g = GoldenJSON({"315257": [[91, 92], [1, 88]], "315259": [[1, 172]]})
    assert g.to_json() == '{\n  "315257": [[1, 88], [91, 92]],\n  "315259": [[1, 172]]\n}'
    assert g.to_json(compact=True) == '{"315257":[[1,88],[91,92]],"315259":[[1,172]]}'
    assert g.to_json(width=30) == (
        '{\n  "315257": [\n    [1, 88],\n    [91, 92]\n  ],\n  "315259": [[1, 172]]\n}'
    )
    assert GoldenJSON().to_json() == "{}"
    assert GoldenJSON().to_json(compact=True) == "{}"


def test_constructor_does_not_mutate_input() -> None:
    inner = [[1, 5], [3, 9]]
    mapping = {"1": inner, 2: [[9, 12], [1, 2], [3, 4], [3, 4]], "3": []}
    before = copy.deepcopy(mapping)
    g = GoldenJSON(mapping)
    assert mapping == before
    assert mapping["1"] is inner and inner == [[1, 5], [3, 9]]
    assert g.to_dict() == {"1": [[1, 9]], "2": [[1, 4], [9, 12]]}
    # and the object does not share state with the caller or with its outputs
    inner.append([100, 200])
    out = g.to_dict()
    out["1"][0][1] = 99
    g.ranges(1)[0][1] = 99
    assert g.to_dict() == {"1": [[1, 9]], "2": [[1, 4], [9, 12]]}


def test_from_pairs_does_not_consume_lists_twice_or_mutate() -> None:
    pairs = [(3, 2), (3, 1), (1, 7), (3, 2)]
    before = list(pairs)
    g = GoldenJSON.from_pairs(pairs)
    assert pairs == before
    assert g.to_dict() == {"1": [[7, 7]], "3": [[1, 2]]}
    assert GoldenJSON.from_pairs(iter(pairs)) == g


# ------------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapping", "needles"),
    [
        ({"315257": [[9, 5]]}, ["315257", "[9, 5]", "inverted"]),
        ({"315257": [[1, 4], [0, 5]]}, ["315257", "[0, 5]"]),
        ({"315258": [[-3, 5]]}, ["315258", "[-3, 5]"]),
        ({"315259": [[1, -5]]}, ["315259", "[1, -5]"]),
        ({"0": [[1, 5]]}, ["run 0", "[1, 5]"]),
        ({-4: [[1, 5]]}, ["-4", "[1, 5]"]),
        ({"315260": [[1, 3.0]]}, ["315260", "[1, 3.0]", "float"]),
        ({"315261": [[True, 3]]}, ["315261", "[True, 3]", "bool"]),
        ({"315262": [["1", 3]]}, ["315262", "['1', 3]", "str"]),
        ({"315263": [[1, None]]}, ["315263", "[1, None]"]),
        ({"315264": [[1, 2, 3]]}, ["315264", "[1, 2, 3]"]),
        ({"315265": [[1]]}, ["315265", "[1]"]),
        ({"315266": [5, 7]}, ["315266", "5"]),  # LumiList's bare-int form
        ({"315267": [{"a": 1, "b": 2}]}, ["315267", "{'a': 1, 'b': 2}"]),
        ({"315268": 5}, ["315268", "5"]),
        ({"315269": "1-5"}, ["315269", "'1-5'"]),
        ({"315270": [[1, 2**32]]}, ["315270", str(2**32)]),
        ({"abc": [[1, 2]]}, ["'abc'", "[1, 2]"]),
        ({" 315271": [[1, 2]]}, ["' 315271'", "[1, 2]"]),
        ({"315272.0": [[1, 2]]}, ["'315272.0'", "[1, 2]"]),
        ({315273.0: [[1, 2]]}, ["315273.0", "[1, 2]"]),
        ({True: [[1, 2]]}, ["True", "[1, 2]"]),
        ({None: [[1, 2]]}, ["None", "[1, 2]"]),
        ({2**32: [[1, 2]]}, [str(2**32), "[1, 2]"]),
    ],
)
def test_constructor_errors_name_run_and_range(mapping: dict, needles: list[str]) -> None:
    before = copy.deepcopy(mapping)
    with pytest.raises(GoldenJSONError) as info:
        GoldenJSON(mapping)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    for needle in needles:
        assert needle in message, (needle, message)
    assert mapping == before


def test_non_mapping_input_rejected() -> None:
    for bad in ([[1, 2]], "{}", 5, {(1, 2)}):
        with pytest.raises(GoldenJSONError):
            GoldenJSON(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pairs", "needle"),
    [
        ([(0, 5)], "run 0, lumisection 5"),
        ([(1, 0)], "run 1, lumisection 0"),
        ([(1, -2)], "lumisection -2"),
        ([(1, 2.0)], "float"),
        ([(True, 1)], "bool"),
        ([(1, "2")], "str"),
        ([(1,)], "(1,)"),
        ([(1, 2, 3)], "(1, 2, 3)"),
        (["ab"], "'ab'"),
    ],
)
def test_from_pairs_errors(pairs: list, needle: str) -> None:
    with pytest.raises(GoldenJSONError) as info:
        GoldenJSON.from_pairs(pairs)
    assert needle in str(info.value)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("1:5-2:10", "spans runs"),
        ("1:5-", "'1:5-'"),
        ("abc", "'abc'"),
        ("1:5,,1:7", "empty item"),
        ("1:10-1:5", "[10, 5]"),
        ("0:1", "run 0"),
        ("1:0", "[0, 0]"),
        ("1:5,", "empty item"),
    ],
)
def test_from_cmssw_errors(text: str, needle: str) -> None:
    with pytest.raises(GoldenJSONError) as info:
        GoldenJSON.from_cmssw(text)
    assert needle in str(info.value)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"1": [[1, 2]]', "not valid JSON"),
        ("[[1, 2]]", "JSON object"),
        ('{"1": [[1, 2]], "1": [[5, 6]]}', "appears twice"),
        ('{"1": [[1, 2.5]]}', "[1, 2.5]"),
        ('{"1": [[1, 2]], "x": [[5, 6]]}', "'x'"),
    ],
)
def test_load_errors_name_the_file(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(GoldenJSONError) as info:
        GoldenJSON.load(path)
    assert needle in str(info.value)
    assert "bad.json" in str(info.value)


def test_from_runs_and_lumis_errors() -> None:
    with pytest.raises(GoldenJSONError, match="same length"):
        GoldenJSON.from_runs_and_lumis([1, 2], [1])
    with pytest.raises(GoldenJSONError, match="integers"):
        GoldenJSON.from_runs_and_lumis([1.0, 2.0], [1, 2])
    with pytest.raises(GoldenJSONError, match="integers"):
        GoldenJSON.from_runs_and_lumis([1, 2], [True, False])
    with pytest.raises(GoldenJSONError, match="run 7, lumisection 0"):
        GoldenJSON.from_runs_and_lumis([5, 7], [3, 0])
    with pytest.raises(GoldenJSONError, match="run -7"):
        GoldenJSON.from_runs_and_lumis(np.array([5, -7]), np.array([3, 1]))


# ------------------------------------------------------------------------------------------------
# protocol, accessors, immutability, display
# ------------------------------------------------------------------------------------------------


def test_membership_only_accepts_pairs(g2018: GoldenJSON) -> None:
    assert (315257, 1) in g2018
    assert (315257, 88) in g2018
    assert (315257, 89) not in g2018
    assert (315257, 91) in g2018
    assert (315257, 93) not in g2018
    assert (315258, 1) not in g2018
    assert (315257, 0) not in g2018 and (-1, 1) not in g2018
    assert (np.int64(315257), np.uint32(92)) in g2018
    assert [315257, 92] in g2018
    for bad in (315257, "315257", (315257,), (315257, 1, 2), (315257, 1.0), (True, 1), (315257, "1"), None):
        with pytest.raises(TypeError):
            bad in g2018  # noqa: B015


def test_accessors(g2018: GoldenJSON) -> None:
    assert g2018.ranges(315257) == [[1, 88], [91, 92]]
    assert g2018.ranges("315257") == [[1, 88], [91, 92]]
    assert g2018.ranges(1) == []
    with pytest.raises(TypeError):
        g2018.ranges(3.5)  # type: ignore[arg-type]
    assert g2018.runs[:3] == (315257, 315259, 315264)
    assert isinstance(g2018.runs, tuple)
    first = next(iter(g2018))
    assert first == (315257, 1)
    assert list(g2018.items())[0] == (315257, ((1, 88), (91, 92)))
    assert bool(g2018) and not GoldenJSON()
    assert len(GoldenJSON()) == 0 and GoldenJSON().runs == ()


def test_filter_runs_and_restrict(g2018: GoldenJSON) -> None:
    even = g2018.filter_runs(lambda run: run % 2 == 0)
    assert even.runs == tuple(r for r in g2018.runs if r % 2 == 0)
    picked = g2018.filter_runs([315259, "315257", 1])
    assert picked.to_dict() == {"315257": [[1, 88], [91, 92]], "315259": [[1, 172]]}
    assert g2018.filter_runs([]) == GoldenJSON()
    with pytest.raises(TypeError):
        g2018.filter_runs([1.5])  # type: ignore[list-item]
    window = g2018.restrict(315259, 315265)
    assert window.runs == (315259, 315264, 315265)
    assert g2018.restrict(run_min=325170).runs == (325170, 325172)
    assert g2018.restrict(run_max=315259).runs == (315257, 315259)
    assert g2018.restrict() == g2018


def test_immutable_hashable_picklable(g2018: GoldenJSON) -> None:
    g = GoldenJSON({1: [[1, 5]]})
    with pytest.raises(AttributeError):
        g._data = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        g.foo = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        del g._data
    assert not hasattr(g, "__dict__")
    same = GoldenJSON({"1": [[1, 3], [4, 5]]})
    assert g == same and hash(g) == hash(same)
    assert len({g, same, GoldenJSON({1: [[1, 6]]})}) == 2
    assert g != GoldenJSON({1: [[1, 6]]})
    assert g != {"1": [[1, 5]]}
    restored = pickle.loads(pickle.dumps(g2018))
    assert restored == g2018 and (315257, 91) in restored and len(restored) == len(g2018)
    assert copy.deepcopy(g2018) == g2018
    assert GoldenJSON(g2018) == g2018


def test_repr_and_html(g2018: GoldenJSON) -> None:
    assert repr(g2018) == "GoldenJSON(478 runs, 762 ranges, 234,529 lumisections)"
    assert repr(GoldenJSON()) == "GoldenJSON(0 runs, 0 ranges, 0 lumisections)"
    assert repr(GoldenJSON({1: [[5, 5]]})) == "GoldenJSON(1 run, 1 range, 1 lumisection)"
    page = g2018._repr_html_()
    assert page.count("<tr><td>") == 20
    assert "<td>315257</td><td>1-88,91-92</td>" in page
    assert "458 more runs" in page
    small = GoldenJSON({1: [[5, 9]]})._repr_html_()
    assert small.count("<tr><td>") == 1 and "more runs" not in small


def test_diff(g2018: GoldenJSON) -> None:
    d = g2018.diff(g2018)
    assert isinstance(d, GoldenDiff) and d.identical
    assert d.summary() == "identical"
    other = (g2018 - GoldenJSON({315257: [[10, 20]], 315259: [[1, 172]]})) | GoldenJSON({400000: [[1, 3]]})
    d = g2018.diff(other)
    assert not d.identical
    assert d.only_left.to_dict() == {"315257": [[10, 20]], "315259": [[1, 172]]}
    assert d.only_right.to_dict() == {"400000": [[1, 3]]}
    text = d.summary(left="2018", right="edited")
    assert "only in 2018: 2 runs, 183 lumisections" in text
    assert "only in edited: 1 run, 3 lumisections" in text
    assert "run 315257: only 2018 10-20" in text
    assert "run 400000: only edited 1-3" in text
    assert "more differing runs" not in text
    assert "1 more differing runs" in d.summary(max_runs=2)
    with pytest.raises(dataclass_error()):
        d.only_left = GoldenJSON()  # type: ignore[misc]


def dataclass_error() -> type[Exception]:
    import dataclasses

    return dataclasses.FrozenInstanceError


def test_from_runs_and_lumis_numpy_and_pure_python_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    runs = [5, 5, 5, 5, 9, 9, 1, 5]
    lumis = [3, 1, 2, 7, 4, 4, 1, 8]
    expected = GoldenJSON({1: [[1, 1]], 5: [[1, 3], [7, 8]], 9: [[4, 4]]})
    assert GoldenJSON.from_runs_and_lumis(runs, lumis) == expected
    assert GoldenJSON.from_runs_and_lumis(np.array(runs, dtype=np.uint32), np.array(lumis, dtype=np.int16)) == expected
    assert GoldenJSON.from_runs_and_lumis([], []) == GoldenJSON()
    monkeypatch.setattr(lumiranges, "_numpy", lambda: None)
    assert GoldenJSON.from_runs_and_lumis(runs, lumis) == expected
    with pytest.raises(GoldenJSONError, match="same length"):
        GoldenJSON.from_runs_and_lumis([1, 2], [1])


def test_contains_many_behaviour(g2018: GoldenJSON, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = [315257, 315257, 315257, 315258, 0, -315257, 315257, 2**40]
    lumis = [1, 89, 92, 1, 1, 1, -1, 1]
    expected = [True, False, True, False, False, False, False, False]
    result = g2018.contains_many(runs, lumis)
    assert isinstance(result, np.ndarray) and result.dtype == np.bool_
    assert result.tolist() == expected
    # broadcasting a single run against many lumisections
    assert g2018.contains_many(315257, np.arange(86, 95)).tolist() == [
        True, True, True, False, False, True, True, False, False
    ]
    assert GoldenJSON().contains_many([1], [1]).tolist() == [False]
    assert g2018.contains_many([], []).tolist() == []
    with pytest.raises(TypeError):
        g2018.contains_many(np.array([315257.0]), np.array([1]))
    with pytest.raises(TypeError):
        g2018.contains_many([315257], [True])
    monkeypatch.setattr(lumiranges, "_numpy", lambda: None)
    assert g2018.contains_many(runs, lumis) == expected


def test_numpy_is_imported_lazily() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import dqquery.lumiranges as m; "
        "g = m.GoldenJSON({1: [[1, 5]]}) | m.GoldenJSON.from_pairs([(2, 3)]); "
        "assert (1, 3) in g and len(g) == 6; "
        "print('numpy' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent
    )
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------------------------
# atomic write
# ------------------------------------------------------------------------------------------------


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize("failing", ["os.replace", "os.fsync", "to_json"])
def test_write_failure_leaves_destination_untouched(
    g2018: GoldenJSON, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    dest = tmp_path / "golden.json"
    dest.write_text('{"1": [[1, 2]]}')
    before_listing = _listing(tmp_path)

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("simulated failure")

    if failing == "to_json":
        monkeypatch.setattr(GoldenJSON, "to_json", boom)
    else:
        monkeypatch.setattr(os, failing.split(".")[1], boom)
    with pytest.raises(OSError, match="simulated failure"):
        g2018.write(dest)
    monkeypatch.undo()
    assert dest.read_text() == '{"1": [[1, 2]]}'
    assert _listing(tmp_path) == before_listing


def test_write_failure_on_new_file_leaves_nothing(
    g2018: GoldenJSON, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(KeyboardInterrupt):
        g2018.write(tmp_path / "new.json")
    monkeypatch.undo()
    assert _listing(tmp_path) == []


def test_write_replaces_and_keeps_mode(g2018: GoldenJSON, tmp_path: Path) -> None:
    dest = tmp_path / "golden.json"
    dest.write_text("old")
    os.chmod(dest, 0o640)
    g2018.write(dest)
    assert dest.read_bytes() == F2018.read_bytes()
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640
    assert _listing(tmp_path) == ["golden.json"]
    fresh = tmp_path / "fresh.json"
    GoldenJSON({1: [[1, 1]]}).write(fresh, compact=True)
    assert fresh.read_text() == '{"1":[[1,1]]}'
    reference = tmp_path / "reference.json"
    reference.write_text("")  # created the ordinary way: 0o666 minus the umask
    assert stat.S_IMODE(fresh.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)
    assert _listing(tmp_path) == ["fresh.json", "golden.json", "reference.json"]


# ------------------------------------------------------------------------------------------------
# hypothesis properties against plain Python sets
# ------------------------------------------------------------------------------------------------

RUN_POOL = [1, 2, 3, 9, 10, 11, 99, 100, 315257, 315258]
MAX_LS = 60

ls_values = st.integers(min_value=1, max_value=MAX_LS)
a_range = st.tuples(ls_values, ls_values).map(lambda t: (min(t), max(t)))


@st.composite
def messy_ranges(draw: st.DrawFn) -> list:
    """Unsorted, overlapping, adjacent, duplicated, possibly reverse-ordered ranges (lists or tuples)."""
    base = draw(st.lists(a_range, max_size=6))
    if base:
        base = base + draw(st.lists(st.sampled_from(base), max_size=3))  # duplicates
        # adjacent continuations, as in unmerged DCS-only JSONs
        extra = draw(st.lists(st.sampled_from(base), max_size=2))
        base += [(b + 1, min(b + 1 + draw(st.integers(0, 5)), MAX_LS + 6)) for _, b in extra]
    order = draw(st.sampled_from(["as-is", "sorted", "reversed", "shuffled"]))
    if order == "sorted":
        base = sorted(base)
    elif order == "reversed":
        base = sorted(base, reverse=True)
    elif order == "shuffled":
        base = draw(st.permutations(base))
    as_tuples = draw(st.booleans())
    return [tuple(r) if as_tuples else list(r) for r in base]


@st.composite
def messy_mappings(draw: st.DrawFn) -> dict:
    runs = draw(st.lists(st.sampled_from(RUN_POOL), unique=True, max_size=5))
    out: dict = {}
    for run in runs:
        key = str(run) if draw(st.booleans()) else run
        out[key] = draw(messy_ranges())
    return out


PROPS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(messy_mappings())
def test_construction_matches_set_and_is_normalised(mapping: dict) -> None:
    before = copy.deepcopy(mapping)
    expected = naive_pairs(mapping)
    g = GoldenJSON(mapping)
    assert mapping == before
    assert set(g) == expected
    assert list(g) == sorted(expected)
    assert len(g) == g.n_lumisections == len(expected)
    assert g.runs == tuple(sorted({r for r, _ in expected}))
    assert bool(g) == bool(expected)
    normal = maximal_ranges(expected)
    assert g.to_dict() == {str(r): v for r, v in normal.items()}
    assert g.n_ranges == sum(len(v) for v in normal.values())
    for run in g.runs:
        ranges = g.ranges(run)
        assert ranges
        assert all(a <= b for a, b in ranges)
        assert all(nxt[0] > prev[1] + 1 for prev, nxt in zip(ranges, ranges[1:]))


@PROPS
@given(messy_mappings())
def test_serialisation_round_trips(mapping: dict) -> None:
    g = GoldenJSON(mapping)
    assert GoldenJSON(g.to_dict()) == g
    assert GoldenJSON.from_json(g.to_json()) == g
    assert GoldenJSON.from_json(g.to_json(compact=True)) == g
    assert GoldenJSON.from_json(g.to_json(width=20)) == g
    assert json.loads(g.to_json()) == json.loads(g.to_json(compact=True)) == g.to_dict()
    assert GoldenJSON.from_cmssw(g.to_cmssw()) == g
    assert GoldenJSON.from_pairs(naive_pairs(mapping)) == g
    pairs = sorted(naive_pairs(mapping), reverse=True)
    assert GoldenJSON.from_runs_and_lumis([r for r, _ in pairs], [ls for _, ls in pairs]) == g


@PROPS
@given(messy_mappings(), messy_mappings())
def test_set_algebra_matches_python_sets(left: dict, right: dict) -> None:
    a, b = GoldenJSON(left), GoldenJSON(right)
    sa, sb = naive_pairs(left), naive_pairs(right)
    cases = {"&": (a & b, sa & sb), "|": (a | b, sa | sb), "-": (a - b, sa - sb), "^": (a ^ b, sa ^ sb)}
    for op, (got, want) in cases.items():
        assert set(got) == want, op
        assert len(got) == len(want), op
        # results are in canonical form: equal to a fresh build from the expected pairs
        assert got == GoldenJSON.from_pairs(want), op
        assert got.to_dict() == {str(r): v for r, v in maximal_ranges(want).items()}, op
    assert (a == b) == (sa == sb)
    assert (a != b) == (sa != sb)
    if sa == sb:
        assert hash(a) == hash(b)
    assert (a <= b) == (sa <= sb)
    assert (a < b) == (sa < sb)
    assert a.isdisjoint(b) == sa.isdisjoint(sb)
    d = a.diff(b)
    assert set(d.only_left) == sa - sb and set(d.only_right) == sb - sa
    assert d.identical == (sa == sb)


@PROPS
@given(messy_mappings(), st.lists(st.tuples(st.sampled_from(RUN_POOL + [4, 0, -1]), st.integers(-2, MAX_LS + 8))))
def test_membership_and_contains_many_match_set(mapping: dict, probes: list) -> None:
    g = GoldenJSON(mapping)
    expected = naive_pairs(mapping)
    grid = [(r, ls) for r in RUN_POOL for ls in range(0, MAX_LS + 8)] + probes
    assert [p in g for p in grid] == [p in expected for p in grid]
    runs = np.array([r for r, _ in grid], dtype=np.int64)
    lumis = np.array([ls for _, ls in grid], dtype=np.int64)
    assert g.contains_many(runs, lumis).tolist() == [p in expected for p in grid]


@settings(max_examples=100, deadline=None)
@given(messy_mappings(), st.lists(st.tuples(st.sampled_from(RUN_POOL), st.integers(0, MAX_LS + 2)), max_size=40))
def test_pure_python_fallbacks_match(mapping: dict, probes: list) -> None:
    g = GoldenJSON(mapping)
    expected = naive_pairs(mapping)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lumiranges, "_numpy", lambda: None)
        assert g.contains_many([r for r, _ in probes], [ls for _, ls in probes]) == [p in expected for p in probes]
        ordered = sorted(expected)
        assert GoldenJSON.from_runs_and_lumis([r for r, _ in ordered], [ls for _, ls in ordered]) == g


@PROPS
@given(messy_mappings(), st.sampled_from(RUN_POOL), st.sampled_from(RUN_POOL))
def test_filter_and_restrict_match_set(mapping: dict, lo: int, hi: int) -> None:
    g = GoldenJSON(mapping)
    expected = naive_pairs(mapping)
    assert set(g.restrict(lo, hi)) == {p for p in expected if lo <= p[0] <= hi}
    assert set(g.restrict(run_min=lo)) == {p for p in expected if p[0] >= lo}
    assert set(g.filter_runs(lambda r: r % 2 == 1)) == {p for p in expected if p[0] % 2}
    assert set(g.filter_runs([lo, str(hi)])) == {p for p in expected if p[0] in (lo, hi)}


# ------------------------------------------------------------------------------------------------
# issue 13: the whole-array paths (load, lazily built tuples, dense membership) against the reference paths
# ------------------------------------------------------------------------------------------------

BIG = lumiranges.MAX_NUMBER
HUGE_RUNS = [1, 2, 315257, 315258, 2**31, BIG - 1, BIG]
# lumisection tokens as written in a file: valid ones, and the ones the reference refuses or reads differently
GOOD_LS_TOKENS = ["1", "2", "3", "5", "6", "9", "10", "88", "4294967294", "4294967295"]
BAD_LS_TOKENS = ["0", "-1", "4294967296", "99999999999", "007", "1.0", "1e3", "true", "null", '"5"']
GOOD_KEY_TOKENS = [f'"{r}"' for r in HUGE_RUNS]
BAD_KEY_TOKENS = ['"0"', '"0315257"', '" 315257"', '"315257 "', '"+1"', '"4294967296"', '"abc"', '""', "315257"]
SPACES = ["", " ", "\n", "\n    ", "\t", "\r\n"]


@st.composite
def golden_texts(draw: st.DrawFn) -> tuple[str, bool]:
    """Golden-JSON text in any layout, with single-lumisection, unsorted, overlapping, adjacent and duplicated
    ranges, empty run lists, repeated run keys, huge numbers and (when ``bad``) inverted ranges and tokens the
    reference refuses; returns the text and whether it was drawn without bad tokens."""
    bad = draw(st.booleans())
    ls_tokens = GOOD_LS_TOKENS + (BAD_LS_TOKENS if bad else [])
    key_tokens = GOOD_KEY_TOKENS + (BAD_KEY_TOKENS if bad else [])

    def ws() -> str:
        return draw(st.sampled_from(SPACES))

    entries = []
    for key in draw(st.lists(st.sampled_from(key_tokens), max_size=5)):  # a key may repeat: duplicate run keys
        pairs = []
        for _ in range(draw(st.integers(0, 5))):
            first = draw(st.sampled_from(ls_tokens))
            last = first if draw(st.booleans()) else draw(st.sampled_from(ls_tokens))  # single-LS ranges often
            if not bad and int(first) > int(last):
                first, last = last, first  # inverted ranges only among the bad cases
            pairs.append(f"[{ws()}{first}{ws()},{ws()}{last}{ws()}]")
        entries.append(f"{key}{ws()}:{ws()}[{ws()}{(ws() + ',' + ws()).join(pairs)}{ws()}]")
    text = ws() + "{" + ws() + (ws() + "," + ws()).join(entries) + ws() + "}" + ws()
    return text, not bad


def outcome(build: object, text: object) -> object:
    try:
        return build(text)  # type: ignore[operator]
    except GoldenJSONError as exc:
        return f"error: {exc}"


def assert_same_object(fast: GoldenJSON, reference: GoldenJSON) -> None:
    """Every public view of a (possibly array-backed) object equals the reference one's."""
    assert fast == reference and reference == fast
    assert (fast != reference) is False  # __ne__ too
    assert hash(fast) == hash(reference)
    assert (repr(fast), len(fast), bool(fast)) == (repr(reference), len(reference), bool(reference))
    assert (fast.runs, fast.n_runs, fast.n_ranges) == (reference.runs, reference.n_runs, reference.n_ranges)
    assert list(fast.items()) == list(reference.items())
    assert fast.to_json() == reference.to_json() and fast.to_cmssw() == reference.to_cmssw()
    assert pickle.loads(pickle.dumps(fast)) == reference


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(golden_texts(), st.booleans())
def test_fast_load_equals_the_strict_reference_path(case: tuple[str, bool], as_bytes: bool) -> None:
    text, only_good_tokens = case
    data: str | bytes = text.encode() if as_bytes else text
    fast, reference = outcome(GoldenJSON.from_json, data), outcome(GoldenJSON._from_json_strict, data)
    # the array path decodes exactly the texts the reference accepts (so this test does compare the two paths)
    assert (lumiranges._fast_range_keys(data) is not None) == (not isinstance(reference, str))
    if only_good_tokens:
        assert not isinstance(reference, str) or "appears twice" in reference  # only repeated keys are refused
    if isinstance(reference, str):
        assert fast == reference  # refused with the same located message
    else:
        assert fast._data_cache is None  # type: ignore[union-attr]  # array-backed until tuples are needed
        assert_same_object(fast, reference)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(golden_texts())
def test_fast_load_of_files_equals_reference(tmp_path_factory: pytest.TempPathFactory, case: tuple[str, bool]) -> None:
    text, _ = case
    path = tmp_path_factory.mktemp("g") / "golden.json.gz"
    path.write_bytes(gzip.compress(b"\xef\xbb\xbf" + text.encode()))  # gzip and a byte-order mark, as real files may have
    reference = outcome(GoldenJSON._from_json_strict, text)
    loaded = outcome(GoldenJSON.load, path)
    if isinstance(reference, str):
        assert loaded == f"error: {path}: {reference.removeprefix('error: ')}"
    else:
        assert_same_object(loaded, reference)  # type: ignore[arg-type]


def test_fast_load_of_the_real_files_takes_the_array_path() -> None:
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "golden"  # the DCS-only files, when present
    for path in REAL_FILES + sorted(shared.glob("*.json")) + sorted(shared.glob("json_DCSONLY*")):
        raw = path.read_bytes()
        assert lumiranges._fast_range_keys(raw) is not None, path
        assert_same_object(GoldenJSON.load(path), GoldenJSON._from_json_strict(raw))


@pytest.mark.parametrize(
    ("text", "located"),
    [
        ('{"315257": [[5, 1]]}', "run 315257: range [5, 1] is inverted"),
        ('{"315257": [[-1, 3]]}', "run 315257: range [-1, 3]: lumisection numbers must be >= 1"),
        ('{"315257": [[0, 3]]}', "run 315257: range [0, 3]: lumisection numbers must be >= 1"),
        ('{"315257": [[1, 4294967296]]}', "run 315257: range [1, 4294967296]: lumisection numbers must be <="),
        ('{"315257": [[1, 2]], "315257": [[4, 5]]}', "315257"),
        ('{"0315257": [[1, 2]]}', "canonical"),
    ],
)
def test_refusals_keep_their_located_messages(text: str, located: str) -> None:
    with pytest.raises(GoldenJSONError, match=re.escape(located)):
        GoldenJSON.from_json(text)


def test_unsorted_overlapping_adjacent_ranges_are_merged_on_the_arrays() -> None:
    text = '{"7": [[6, 9], [1, 5], [3, 4], [20, 20], [11, 12]], "2": [[4294967295, 4294967295], [1, 1]]}'
    fast = lumiranges._fast_range_keys(text)
    assert fast is not None  # merged by the array path, not left to the reference
    assert GoldenJSON.from_json(text).to_dict() == {"2": [[1, 1], [4294967295, 4294967295]], "7": [[1, 9], [11, 12], [20, 20]]}


def test_array_backed_objects_compare_by_content() -> None:
    a = GoldenJSON.from_json('{"1": [[1, 2]], "2": [[5, 5]]}')
    b = GoldenJSON.from_json('{"1": [[1, 2]], "3": [[5, 5]]}')  # same counts, other content
    assert a != b and a == GoldenJSON.from_json('{"2": [[5, 5]], "1": [[1, 2]]}') and GoldenJSON(a) == a
    assert a._data_cache is None and b._data_cache is None  # compared on the arrays
    assert a == GoldenJSON({1: [[1, 2]], 2: [[5, 5]]}) and b != GoldenJSON({1: [[1, 2]], 2: [[5, 5]]})


pair_values = st.sampled_from([0, 1, 2, 3, 5, 9, 10, 88, 127, 128, 315257, 2**31, BIG - 1, BIG, BIG + 1, -1, -128, 2**40])


@st.composite
def golden_and_pairs(draw: st.DrawFn) -> tuple[GoldenJSON, list[tuple[int, int]]]:
    mapping = {
        draw(st.sampled_from(HUGE_RUNS)): draw(st.lists(
            st.tuples(st.sampled_from([1, 2, 3, 5, 9, 10, 88, BIG - 1, BIG]), st.sampled_from([1, 3, 9, 88, BIG]))
            .map(lambda t: [min(t), max(t)]), max_size=4))
        for _ in range(draw(st.integers(0, 4)))
    }
    golden = GoldenJSON(mapping)
    members = list(golden)[:20] if golden.n_lumisections < 10**4 else [(r, a) for r, ranges in golden.items() for a, _ in ranges]
    pairs = draw(st.lists(st.one_of(st.tuples(pair_values, pair_values), st.sampled_from(members) if members else
                                    st.tuples(pair_values, pair_values)), max_size=30))
    return golden, pairs + pairs[:3]  # duplicates


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(golden_and_pairs(), st.sampled_from(["int64", "uint64", "uint32", "int32", "uint16", "int8", "list"]), st.booleans())
def test_contains_many_equals_scalar_membership(case: tuple, dtype: str, dense: bool) -> None:
    golden, pairs = case
    if dtype != "list":
        info = np.iinfo(dtype)
        pairs = [(r, ls) for r, ls in pairs if info.min <= r <= info.max and info.min <= ls <= info.max]
    expected = [(r, ls) in golden for r, ls in pairs]
    runs: object = [r for r, _ in pairs]
    lumis: object = [ls for _, ls in pairs]
    if dtype != "list":
        runs, lumis = np.array(runs, dtype=dtype), np.array(lumis, dtype=dtype)
    with pytest.MonkeyPatch.context() as mp:
        if not dense:
            mp.setattr(lumiranges, "DENSE_TABLE_BYTES", 0)  # the searchsorted path
        copy_ = GoldenJSON.from_json(golden.to_json())  # array-backed, fresh caches
        for g in (golden, copy_):
            got = g.contains_many(runs, lumis)
            assert got.dtype == bool and got.shape == (len(pairs),)
            assert got.tolist() == expected
        if golden and pairs:  # the tables are used exactly when they fit
            limit = lumiranges.DENSE_TABLE_BYTES
            width = max(b for _, ranges in golden.items() for _, b in ranges) + 1
            fits = (golden.runs[-1] - golden.runs[0] + 1) * 4 <= limit and golden.n_runs * width <= limit
            assert (copy_._dense is not False) == fits


def test_contains_many_paths_on_a_real_year() -> None:
    golden = GoldenJSON.load(F2018)
    runs = np.repeat(np.array(golden.runs + (1, 315256, BIG), dtype=np.int64), 40)
    lumis = np.tile(np.arange(-2, 3000, 75, dtype=np.int64), runs.size // 40)[: runs.size]
    expected = [(int(r), int(ls)) in golden for r, ls in zip(runs, lumis)]
    assert golden.contains_many(runs, lumis).tolist() == expected
    assert golden._dense is not False  # a year fits the dense tables
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lumiranges, "DENSE_TABLE_BYTES", 0)
        fresh = GoldenJSON.load(F2018)
        assert fresh.contains_many(runs, lumis).tolist() == expected
        assert fresh._dense is False
