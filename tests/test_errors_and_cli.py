"""User-facing errors and the command line (exit codes, messages on stderr, no tracebacks)."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import pytest

import dqquery
from dqquery.cli import main


def test_query_error_is_a_value_error_with_structured_fields() -> None:
    with pytest.raises(ValueError) as info:
        dqquery.parse("tracker-strip == GOD")
    err = info.value
    assert isinstance(err, dqquery.QueryError)
    assert (err.category, err.line, err.column) == ("unknown-value", 1, 18)
    assert "GOOD" in err.hint
    assert str(err).splitlines()[1:3] == ["  | tracker-strip == GOD", "  |                  ^^^"]


def test_query_error_survives_pickling() -> None:
    with pytest.raises(dqquery.QueryError) as info:
        dqquery.parse("energy like 'x'")
    again = pickle.loads(pickle.dumps(info.value))
    assert (again.category, again.column, str(again)) == (info.value.category, info.value.column, str(info.value))


def test_unknown_qualifier_suggests_the_known_prefixes() -> None:
    with pytest.raises(dqquery.QueryError) as info:
        dqquery.parse("runs.oms.energy > 6000")
    assert info.value.category == "unknown-field"
    assert "run.oms." in info.value.hint


def test_as_node_rejects_other_types() -> None:
    with pytest.raises(TypeError):
        dqquery.as_node(42)


def test_parse_rejects_non_strings_with_a_query_error() -> None:
    with pytest.raises(dqquery.QueryError):
        dqquery.parse(None)  # type: ignore[arg-type]


def test_cli_check_prints_canonical_form(capsys) -> None:
    assert main(["check", "tracker-strip==good and bpix_ready == true"]) == 0
    assert capsys.readouterr().out.strip() == "tracker-strip == GOOD and bpix_ready"


def test_cli_check_error_exit_2_on_stderr(capsys) -> None:
    assert main(["check", "tracker-strp == GOOD"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "unknown field 'tracker-strp'" in captured.err and "did you mean 'tracker-strip'" in captured.err
    assert "Traceback" not in captured.err


def test_cli_parse_prints_the_tree_as_json(capsys) -> None:
    assert main(["parse", "energy in 6000..7000"]) == 0
    tree = json.loads(capsys.readouterr().out)
    assert tree["kind"] == "in_range" and tree["field"]["path"] == "run.oms.energy"
    assert (tree["low"]["value"], tree["high"]["value"]) == (6000, 7000)


def test_cli_reads_query_from_file(tmp_path, capsys) -> None:
    f = tmp_path / "q.dq"
    f.write_text("# my selection\nbpix_ready\n  and fpix_ready\n")
    assert main(["check", f"@{f}"]) == 0
    assert capsys.readouterr().out.strip() == "bpix_ready and fpix_ready"
    assert main(["check", f"@{tmp_path / 'missing.dq'}"]) == 2
    assert "cannot read the query file" in capsys.readouterr().err


def test_cli_fields_lists_the_catalog(capsys) -> None:
    assert main(["fields", "--grep", "tracker-strip"]) == 0
    out = capsys.readouterr().out
    assert "lumisection.rr.tracker-strip" in out and "status" in out


def test_console_script_runs_as_a_module() -> None:
    proc = subprocess.run([sys.executable, "-m", "dqquery.cli", "check", "bpix_ready and"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "unexpected end of the query" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_texts_exist_for_every_command() -> None:
    from dqquery.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, sp in sub.choices.items():
        assert sp.description, name
        for action in sp._actions:
            if action.dest != "help":
                assert action.help, f"{name}: {action.dest} has no help text"


def test_a_malformed_date_gets_a_date_hint() -> None:
    import dqquery

    for text in ("start_time > 2018-5-1", "start_time > 2018-05-01T12Z", "start_time > 2018-05-1"):
        try:
            dqquery.parse(text)
        except dqquery.QueryError as err:
            assert err.category == "syntax" and "YYYY-MM-DD" in err.hint, str(err)
        else:
            raise AssertionError(f"{text!r} parsed")


def test_a_near_miss_of_a_known_qualified_name_warns() -> None:
    import warnings

    import dqquery

    for text, near in (("run.oms.enrgy > 1", "run.oms.energy"), ("lumisection.rr.tracker-strp == GOOD", "lumisection.rr.tracker-strip")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            dqquery.parse(text)
        assert [str(w.message).endswith(f"did you mean '{near}'?") for w in caught] == [True]
        assert caught[0].category is dqquery.QueryWarning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dqquery.parse("lumisection.oms.in_time_ready and run.oms.new_attribute_2027 > 1")  # new names: no warning
