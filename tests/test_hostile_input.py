"""The reproductions of issue 10 (hostile input), one test each: no hang, no traceback, nothing lost silently.

Time is never asserted here (tests/test_complexity.py compares growth); inputs that used to take seconds or
minutes are simply run, so a regression shows as a hang caught by pytest-timeout.
"""

from __future__ import annotations

import copy
import gzip
import json
import tracemalloc

import pytest

import dqquery
from dqquery import cli
from dqquery.errors import QueryError
from dqquery.evaluator import golden
from dqquery.limits import MAX_NESTING, MAX_QUERY_CHARS
from dqquery.lumiranges import GoldenJSON, GoldenJSONError
from dqquery.patterns import PatternError, regex_problem, regex_search, similar_to_regex
from dqquery.snapshot import Snapshot, SnapshotError
from dqquery.targets.jsonlogic import from_jsonlogic, to_jsonlogic

pytestmark = pytest.mark.timeout(60)

NAME = "/PromptReco/Collisions2018A/DQM"


def snapshot_dict(hlt_key: str = "/cdaq/physics", n_ls: int = 19) -> dict:
    return {
        "runs": [{"run_number": 315257, "oms_attributes": {"hlt_key": hlt_key}}],
        "datasets": [{"run_number": 315257, "name": NAME}],
        "lumisections": {
            "315257": {NAME: {"rr": [{"start": 1, "end": n_ls}], "oms": [{"start": 1, "end": n_ls, "bpix_ready": True, "recorded": 1.0}]}}
        },
    }


# ------------------------------------------------------------------------------------------ 1. parser


@pytest.mark.parametrize("spaces", [28, 10_000, 500_000])
def test_a_typo_after_spaces_is_a_located_error(spaces: int) -> None:
    text = "bpix_ready" + " " * spaces + "@"
    with pytest.raises(QueryError) as info:
        dqquery.parse(text)
    assert (info.value.line, info.value.column) == (1, 11 + spaces)


def test_an_indented_query_file_with_a_typo(tmp_path, capsys) -> None:
    query = tmp_path / "q.dq"
    query.write_text("bpix_ready\n" + "    # the pixels\n" * 200 + "    && fpix_ready\n" + " " * 5000 + "\n")
    assert cli.main(["check", f"@{query}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error[syntax]: 202:5: unexpected character '&'")
    assert "Traceback" not in err


# ------------------------------------------------------------------------------------------ 2-3. patterns


def test_a_catastrophic_regex_runs_in_linear_time_in_golden() -> None:
    snap = Snapshot.from_dict(snapshot_dict(hlt_key="a" * 100_000 + "!"))
    assert golden('hlt_key ~ "(a+)+$"', snap, dataset="%").n_lumisections == 0
    assert golden('hlt_key ~ "(a+)+!$"', snap, dataset="%").n_lumisections == 19
    assert dqquery.explain('hlt_key ~ "(a+)+$"', snap, dataset="%") is not None


@pytest.mark.parametrize(
    "pattern,problem",
    [
        (r"(\w+)-\1", "backreferences"),
        ("(?P<x>a)(?P=x)", "backreference"),
        ("(?<=a)b", "lookbehind"),
        ("(?<!a)b", "lookbehind"),
        ("(?>a+)b", "atomic group"),
        ("a++", "possessive"),
        ("x(?=a)", "only at the start"),
        ("^(?=a)*b", "cannot be repeated"),
        ("[[:alpha:]]", "POSIX"),
        ("a{,3}", "{0,5}"),
        ("a{1001}", "RE2"),
        ("(", "invalid regular expression"),
        ("a" * 10_001, "limit is 10,000"),
        ("^(?=a)|b", "top-level |"),
    ],
)
def test_regexes_re2_cannot_run_are_refused_with_a_located_error(pattern: str, problem: str) -> None:
    assert problem in str(regex_problem(pattern))
    text = f"hlt_key ~ {json.dumps(pattern)}"
    with pytest.raises(QueryError, match="error\\[syntax\\]: 1:1: ") as info:
        dqquery.parse(text)
    assert problem in info.value.message


@pytest.mark.parametrize(
    "pattern,value,expected",
    [
        (r"^/cdaq/physics", "/cdaq/physics/Run2018", True),
        (r"v\d+\.\d+\Z", "HLT/V5 v3.5", True),
        (r"\Z", "", True),
        (r"^(?=.*2018)(?!.*Cosmics).*HLT", "2018 HLT", True),
        (r"^(?=.*2018)(?!.*Cosmics).*HLT", "2018 Cosmics HLT", False),
        (r"^(?=.*2018)(?!.*Cosmics)", "2017", False),
        (r"(?i)physics", "PHYSICS", True),
        (r"a$", "a\n", False),  # $ is the end of the value (RE2, PostgreSQL), not "before a final newline"
        (r"\d", "\u0663", False),  # ASCII classes, as RE2 and PostgreSQL
        (r".", "\ud800", True),  # a lone surrogate in data is matched as U+FFFD
    ],
)
def test_regex_meaning(pattern: str, value: str, expected: bool) -> None:
    assert regex_search(pattern, value) is expected


@pytest.mark.parametrize("pattern", ["(_|_)*X", "(%)*X", "((%)*)*X", "(_%|%_)*X"])
def test_dataset_patterns_cannot_hang(pattern: str) -> None:
    snap = Snapshot.from_dict(snapshot_dict())
    with pytest.raises(dqquery.evaluator.UnknownDataset):
        golden("bpix_ready", snap, dataset=pattern)
    assert similar_to_regex(pattern).fullmatch("a" * 100_000 + "X")
    assert not similar_to_regex(pattern).fullmatch("a" * 100_000)


def test_an_invalid_dataset_pattern_is_a_pattern_error() -> None:
    with pytest.raises(PatternError, match="invalid dataset name pattern"):
        similar_to_regex("(ab")


# ------------------------------------------------------------------------------------------ 4. keys


@pytest.mark.parametrize("key", ["01", " 1", "+1", "315_257", "0315257", "315257 ", "３１５２５７", "1e3", ""])
def test_lumisection_run_keys_must_be_canonical(key: str) -> None:
    data = snapshot_dict()
    data["lumisections"] = {key: data["lumisections"]["315257"]}
    with pytest.raises(SnapshotError, match="canonical decimal"):
        Snapshot.from_dict(data)


def test_two_keys_naming_one_run_are_an_error_naming_both() -> None:
    data = snapshot_dict()
    data["lumisections"][315257] = data["lumisections"]["315257"]
    with pytest.raises(SnapshotError, match="keys '315257' and 315257 both name run 315257"):
        Snapshot.from_dict(data)


def test_a_key_twice_in_the_file_is_an_error(tmp_path, capsys) -> None:
    full = snapshot_dict(n_ls=19)
    partial = json.dumps(snapshot_dict(n_ls=10)["lumisections"]["315257"])
    text = json.dumps(full)[:-2] + ', "315257": ' + partial + "}}"
    assert json.loads(text)["lumisections"]["315257"][NAME]["rr"][0]["end"] == 10  # json alone drops the first
    path = tmp_path / "snap.json"
    path.write_text(text)
    with pytest.raises(SnapshotError, match="'315257' appears twice"):
        Snapshot.load(path)
    assert cli.main(["golden", "bpix_ready", "--snapshot", str(path), "--dataset", "%"]) == 2
    assert "appears twice" in capsys.readouterr().err


def test_golden_json_files_refuse_non_canonical_and_repeated_runs(tmp_path) -> None:
    for text, message in [
        ('{"0315000": [[1, 2]], "315000": [[3, 4]]}', "'0315000'"),
        ('{"315000": [[1, 2]], "315000": [[3, 4]]}', "'315000' appears twice"),
        ('{"+315000": [[1, 2]]}', "'\\+315000'"),
    ]:
        path = tmp_path / "g.json"
        path.write_text(text)
        with pytest.raises(GoldenJSONError, match=message):
            GoldenJSON.load(path)


# ------------------------------------------------------------------------------------------ 5. exceptions


def test_leading_zeros_and_the_int64_minimum() -> None:
    assert dqquery.parse("run_number == " + "0" * 4300 + "1").value.value == 1
    node = dqquery.parse("run_number == -9223372036854775808")
    assert node.value.value == -(2**63)
    assert dqquery.ast.node_from_json(dqquery.ast.node_to_json(node)) == node  # validated nodes accept it too
    for text in ("run_number == -9223372036854775809", "run_number == 9223372036854775808", "run_number == " + "9" * 5000):
        with pytest.raises(QueryError, match="too large"):
            dqquery.parse(text)


@pytest.mark.parametrize(
    "rule,message",
    [
        ("[" * 1000 + "]" * 1000, "nested"),
        ({"==": [{"var": "run.run_number"}, 2**63]}, "64 bits"),
        ({"==": [{"var": "run.run_number"}, -(2**63) - 1]}, "64 bits"),
        ({"==": [{"var": "run.oms.energy"}, float("nan")]}, "not a JSON number"),
        ('{"==": [{"var": "run.run_number"}, ' + "1" * 5000 + "]}", "5,000 digits"),
        ('{"==": [{"var": "run.run_number"}, 1], "==": [{"var": "run.run_number"}, 2]}', "appears twice"),
        ({"in": [{"var": "run.run_number"}, list(range(100_001))]}, "limit is 100,000"),
        ("x" * (4 * MAX_QUERY_CHARS + 1), "characters long"),
    ],
)
def test_from_jsonlogic_raises_only_query_errors(rule, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        from_jsonlogic(rule)


def test_from_jsonlogic_accepts_the_int64_minimum() -> None:
    assert from_jsonlogic({"==": [{"var": "run.run_number"}, -(2**63)]}).value.value == -(2**63)


@pytest.mark.parametrize(
    "text,message",
    [
        ('{"runs": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ('{"runs": [{"run_number": ' + "1" * 5000 + "}]}", "5,000 digits"),
        ('{"runs": [{"run_number": 1, "x": ' + "[" * 300 + "]" * 300 + "}]}", "more than 200 levels"),
    ],
)
def test_hostile_files_are_one_line_cli_errors(tmp_path, capsys, text: str, message: str) -> None:
    path = tmp_path / "hostile.json.gz"
    path.write_bytes(gzip.compress(text.encode()))
    with pytest.raises(SnapshotError, match=message):
        Snapshot.load(path)
    assert cli.main(["golden", "bpix_ready", "--snapshot", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message.split()[0] in err and "Traceback" not in err
    golden_path = tmp_path / "g.json"
    golden_path.write_text(text.replace('"runs"', '"1"'))
    with pytest.raises(GoldenJSONError):
        GoldenJSON.load(golden_path)
    rule = tmp_path / "rule.json"
    rule.write_text(text)
    assert cli.main(["compile", "--from-jsonlogic", str(rule), "--to", "rr"]) == 2
    assert "Traceback" not in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ 6. memory and limits


def test_a_long_string_literal_costs_no_memory_per_character_while_lexing() -> None:
    n = 500_000
    text = 'hlt_key == "' + "a" * n + '"'
    tracemalloc.start()
    try:
        dqquery.parse(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The value itself is kept a few times (token, decoded string); lexing used to cost ~290 bytes per character.
    assert peak < 12 * n


def test_limits_give_located_errors() -> None:
    with pytest.raises(QueryError, match="the limit is 1,000,000"):
        dqquery.parse("bpix_ready or " * (MAX_QUERY_CHARS // 14 + 1) + "bpix_ready")
    with pytest.raises(QueryError, match="more than 100,000 values") as info:
        dqquery.parse("run_number in [" + "1," * 100_000 + "1]")
    assert info.value.column > 1
    deep = "(" * (MAX_NESTING + 1) + "bpix_ready" + ")" * (MAX_NESTING + 1)
    with pytest.raises(QueryError, match="nested too deeply") as info:
        dqquery.parse(deep)
    assert info.value.column == MAX_NESTING + 1
    one_too_deep = "(" * MAX_NESTING + "not " + "bpix_ready" + ")" * MAX_NESTING
    with pytest.raises(QueryError, match="nested too deeply"):
        dqquery.parse(one_too_deep)  # the not is level 101
    at_limit = "(" * (MAX_NESTING - 1) + "not run_number not in [1] and bpix_ready is not null" + ")" * (MAX_NESTING - 1)
    node = dqquery.parse(at_limit)
    # Every later pass walks the deepest accepted tree without a RecursionError.
    assert dqquery.parse(dqquery.unparse(node)) == node
    from_jsonlogic(to_jsonlogic(node))


# ------------------------------------------------------------------------------------------ 7. bad numbers


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf"), "abc", "NaN", "Infinity", "1e999", 10**400, [1.0], {"v": 1}, True])
def test_bad_luminosity_values_are_refused(bad) -> None:
    data = snapshot_dict()
    data["lumisections"]["315257"][NAME]["oms"][0]["recorded"] = bad
    with pytest.raises(SnapshotError, match="oms range #0 .*recorded is"):
        Snapshot.from_dict(data)
    block = copy.deepcopy(snapshot_dict())
    block["lumisections"]["315257"][NAME]["luminosity"] = {"start": 1, "delivered": [1.0, bad]}
    with pytest.raises(SnapshotError, match=r"delivered\[1\] \(lumisection 2\)"):
        Snapshot.from_dict(block)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_literals_in_files_are_refused(tmp_path, literal: str) -> None:
    text = json.dumps(snapshot_dict()).replace('"recorded": 1.0', f'"recorded": {literal}')
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(SnapshotError, match=f"{literal} is not a number"):
        Snapshot.load(path)


def test_numeric_strings_and_null_stay_accepted() -> None:
    data = snapshot_dict()
    data["lumisections"]["315257"][NAME]["oms"][0]["recorded"] = "0.25"
    data["lumisections"]["315257"][NAME]["luminosity"] = {"start": 1, "recorded": [None, 2, "1.5"]}
    assert Snapshot.from_dict(data).n_lumisections() >= 0


def test_uncased_characters_are_their_own_case_insensitive_class() -> None:
    # case_insensitive_class answers a character without a case mapping at once (a LIKE pattern of 10,000
    # distinct characters used to cost 10,000 scans of every cased character): check that no such character
    # is equated with any other by Python's IGNORECASE, over every code point.
    import re

    from dqquery.patterns import _cased_set, case_insensitive_class

    cased = _cased_set()
    any_cased = re.compile("[" + "".join(re.escape(c) for c in sorted(cased)) + "]", re.IGNORECASE)
    assert [u for u in map(chr, range(0x110000)) if u not in cased and any_cased.fullmatch(u)] == []
    assert case_insensitive_class("k") == "Kk\u212a" and case_insensitive_class("\u4e2d") == "\u4e2d"


# ------------------------------------------------------------------------------------------ RE2 agrees with re


def _regex_texts():
    from hypothesis import strategies as st

    atom = st.sampled_from(["a", "b", ".", "[ab]", "[^a]", r"\d", r"\w", "x", "ab"])
    quantified = st.builds(lambda a, q: a + q, atom, st.sampled_from(["", "*", "+", "?", "{1,2}", "*?", "+?"]))
    sequence = st.lists(quantified, min_size=1, max_size=4).map("".join)
    grouped = st.one_of(sequence, st.builds(lambda a, b, q: f"(?:{a}|{b}){q}", sequence, sequence, st.sampled_from(["", "*", "+", "?"])))
    body = st.lists(grouped, min_size=1, max_size=3).map("".join)
    return st.builds(lambda pre, b, post: pre + b + post, st.sampled_from(["", "^"]), body, st.sampled_from(["", "$", r"\Z"]))


def _subjects():
    from hypothesis import strategies as st

    return st.text(alphabet="abx1_ ", max_size=12)


def test_re2_agrees_with_python_re_on_the_shared_language() -> None:
    import re

    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=400, deadline=None, derandomize=True)
    @given(_regex_texts(), st.lists(_subjects(), min_size=1, max_size=5))
    def check(pattern: str, values: list[str]) -> None:
        for value in values:  # ASCII, no newline: where Python's and RE2's meanings coincide
            assert regex_search(pattern, value) is (re.search(pattern, value) is not None), (pattern, value)

    check()


def test_the_lookahead_conjunction_agrees_with_python_re() -> None:
    import re

    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.lists(st.tuples(st.sampled_from(["=", "!"]), _regex_texts()), min_size=1, max_size=3), _regex_texts(), st.lists(_subjects(), min_size=1, max_size=5))
    def check(heads, rest, values) -> None:
        pattern = "^" + "".join(f"(?{kind}{body.lstrip('^')})" for kind, body in heads) + rest.lstrip("^")
        for value in values:
            assert regex_search(pattern, value) is (re.search(pattern, value) is not None), (pattern, value)

    check()


def test_like_and_similar_to_agree_with_a_backtracking_translation() -> None:
    import re

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from dqquery.patterns import like_match

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(st.text(alphabet="aAk%_\\.*\nK", max_size=8), st.lists(st.text(alphabet="aAkK.*\nK", max_size=8), min_size=1, max_size=5))
    def check(pattern: str, values: list[str]) -> None:
        # the translation dqquery used before RE2 (Python re: exponential on some patterns, correct on these)
        out, i = [], 0
        while i < len(pattern):
            if pattern[i] == "\\" and i + 1 < len(pattern):
                out.append(re.escape(pattern[i + 1]))
                i += 2
                continue
            out.append(".*" if pattern[i] == "%" else "." if pattern[i] == "_" else re.escape(pattern[i]))
            i += 1
        reference = re.compile("".join(out), re.IGNORECASE | re.DOTALL)
        for value in values:
            assert like_match(pattern, value) is (reference.fullmatch(value) is not None), (pattern, value)

    check()
    assert similar_to_regex("/Zero[a-c]%/(DQM|AOD)").fullmatch("/Zerob/x/AOD")
    assert not similar_to_regex("/Zero[a-c]%/(DQM|AOD)").fullmatch("/Zerod/x/AOD")
    assert similar_to_regex("a[]x]b").fullmatch("a]b") and similar_to_regex("a[^]x]b").fullmatch("ayb")
    assert similar_to_regex("a.b").fullmatch("a.b") and not similar_to_regex("a.b").fullmatch("axb")
    assert similar_to_regex("a[a-c-]b").fullmatch("a-b") and similar_to_regex("a\\%b").fullmatch("a%b")
