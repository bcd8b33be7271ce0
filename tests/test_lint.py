"""``dqquery lint`` and ``dqquery.lint``: filters found in Python files (never executed) and JSON filters, each finding
located with a fix; exit 0 clean, 1 findings, 2 unreadable input.

The files under tests/data/lint/ are built from the ``verbatim`` snippets of tests/data/real-filters (public CMS code).
Tests that need the service importers (``dqquery.importers.rr``, ``dials``, ``oms``) are skipped where they are not
installed; the scanning and locating logic is also tested with a stand-in importer that records what it is given.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dqquery
from dqquery import linter
from dqquery.cli import main
from dqquery.importers.findings import Imported, finding
from dqquery.linter import LintInputError, lint, lint_filter, lint_python
from dqquery.strategies import queries

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "lint"


def _have_importers(*services: str) -> bool:
    import importlib.util

    return all(importlib.util.find_spec(f"dqquery.importers.{m}") is not None for m in services)


needs_importers = pytest.mark.skipif(not _have_importers("rr", "dials", "oms"),
                                     reason="the service importers (from_rr, from_dials, from_oms) are not here")
needs_rr_importer = pytest.mark.skipif(not _have_importers("rr"), reason="dqquery.from_rr is not here")


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


class Recorder:
    """A stand-in importer: records (service, kind, raw, value) and reports one finding per top-level key."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bool, Any]] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> Recorder:
        for service in ("rr", "dials", "oms"):
            monkeypatch.setitem(linter._IMPORTERS, service, self._importer(service))
        return self

    def _importer(self, service: str):
        def imported(value: Any, kind: str, raw: bool) -> Imported:
            self.calls.append((service, kind, raw, value))
            keys = list(value["kwargs"] if "kwargs" in value else value) if isinstance(value, dict) else []
            return Imported(dqquery.parse("run_number > 1"), service, kind,
                            tuple(finding("redundant-condition", where=str(k)) for k in keys))
        return imported


def _expectations(path: Path) -> list[tuple[int, int, set[str]]]:
    """(first line, last line, expected codes) of each statement after a ``# expect: ...`` comment (up to the next one)."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    marks = [(i + 1, {c.strip() for c in m.group(1).split(",")}) for i, line in enumerate(lines)
             if (m := re.match(r"# expect: (.*)", line))]
    out = []
    for n, (line, codes) in enumerate(marks):
        end = marks[n + 1][0] - 1 if n + 1 < len(marks) else len(lines)
        out.append((line + 1, end, codes))
    return out


# ------------------------------------------------------------------------------------------------ acceptance


@needs_importers
def test_every_finding_kind_is_reported_at_its_call_with_a_fix(capsys):
    path = DATA / "every_finding.py"
    report = lint(path)
    for first, last, codes in _expectations(path):
        here = [f for f in report.findings if first <= f.line <= last]
        assert codes <= {f.code for f in here}, (first, codes, [f.headline() for f in here])
    for f in report.findings:
        if f.severity != "note":
            # the selected query alone repeats the filter: a fix is the finding's advice or the intended query
            assert f.intended is not None or f.finding.fix, f"no fix for {f.headline()}"
            if f.query is not None:
                assert f.fixed is not None or f.refusal, f.headline()
    code, out, _ = cli(capsys, "lint", str(path))
    assert code == 1
    for f in report.findings:
        assert f"{path}:{f.line}:{f.col}: {f.severity}[{f.code}]" in out


@needs_importers
def test_clean_filters_exit_zero(capsys):
    path = DATA / "clean_filters.py"
    report = lint(path)
    assert report.clean, report.render()
    assert report.filters == len(re.findall(r"^# [a-z0-9-]+", path.read_text(encoding="utf-8"), re.M))
    assert cli(capsys, "lint", str(path))[0] == 0


def test_a_snippet_that_is_not_python_is_a_located_finding(capsys):
    path = DATA / "invalid_snippet.py"
    text = path.read_text(encoding="utf-8")
    with pytest.raises(SyntaxError) as raised:
        ast.parse(text)
    report = lint(path)
    assert [(f.code, f.line, f.col) for f in report.findings] == [
        ("readme-snippet-invalid-python", raised.value.lineno, raised.value.offset)]
    assert "'significant'" in text.splitlines()[raised.value.lineno + 2]  # the missing comma is before 'significant'
    code, out, err = cli(capsys, "lint", str(path))
    assert code == 1 and f"{path}:{raised.value.lineno}:{raised.value.offset}: error[readme-snippet-invalid-python]" in out


def test_json_comments_and_invalid_json_are_located(capsys):
    path = DATA / "rule_with_comments.json"
    lines = path.read_text(encoding="utf-8").splitlines()
    comment = next((i + 1, line.index("//") + 1) for i, line in enumerate(lines) if "//" in line)
    report = lint(path)
    assert ("jsonlogic-comments", *comment) in [(f.code, f.line, f.col) for f in report.findings]
    assert "jsonlogic-file-not-json" in {f.code for f in report.findings}
    broken = '{"and": [\n  {"==": [{"var": "run.oms.energy"}, 6500]},\n]}'
    with pytest.raises(json.JSONDecodeError) as raised:
        json.loads(broken)
    report = lint_filter(broken, name="r.json")
    assert [(f.code, f.line, f.col) for f in report.findings] == [("jsonlogic-file-not-json", raised.value.lineno, raised.value.colno)]
    assert report.exit_status == 1


# ------------------------------------------------------------------------------------------------ never executed


def test_the_python_file_is_never_executed(tmp_path, monkeypatch):
    sentinel = tmp_path / "ran.txt"
    script = tmp_path / "hostile.py"
    script.write_text(
        f"open({str(sentinel)!r}, 'w').write('executed')\n"
        "import sys; sys.exit(3)\n"
        "raise RuntimeError('executed')\n"
        "runs = runregistry.get_runs(filter={'run_number': {'>': 5}})\n", encoding="utf-8")
    recorder = Recorder().install(monkeypatch)
    report = lint(script)
    assert not sentinel.exists()
    assert recorder.calls == [("rr", "runs", False, {"run_number": {">": 5}})]
    assert report.filters == 1


@needs_rr_importer
def test_the_command_never_executes_the_file(tmp_path):
    sentinel = tmp_path / "ran.txt"
    script = tmp_path / "hostile.py"
    script.write_text(f"open({str(sentinel)!r}, 'w').write('executed')\nruns = runregistry.get_runs(filter={{'run_number': 5}})\n",
                      encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "dqquery", "lint", str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert not sentinel.exists() and "Traceback" not in done.stderr and done.returncode in (0, 1), done.stderr
    assert done.stdout.splitlines()[-1].startswith(f"{script}: 1 filter checked")


# ------------------------------------------------------------------------------------------------ scanning and locating


def test_each_finding_is_located_at_the_key_it_names(monkeypatch):
    Recorder().install(monkeypatch)
    text = "import runregistry\nruns = runregistry.get_runs(filter={\n    'run_number': {'>': 5},\n        'class': 'Collisions18'})\n"
    report = lint_python(text, name="s.py")
    assert [(f.finding.where, f.line, f.col) for f in report.findings] == [("run_number", 3, 5), ("class", 4, 9)]
    assert all(f.query == "run_number > 1" and f.fixed == {"run_number": {">": 1}} and f.target == "rr:runs" for f in report.findings)


def test_what_each_call_passes_to_the_importers(monkeypatch):
    recorder = Recorder().install(monkeypatch)
    text = """
from cmsdials.filters import LumisectionHistogram1DFilters
f = LumisectionHistogram1DFilters(me="A", run_number__gte=-3)
dials.h2d.list_all(f)
dials.run.list(RunFilters(run_number=5))
LumisectionFilters(ls_number=7)
raw = runregistry.get_datasets(filter={"and": [{"name": {"=": "x"}}]}, ignore_filter_transformation=True)
q = omsapi.query("lumisections")
q.filter("run_number", 5)
q.filter("cms_active", True, operator="EQ")
omsapi.query("runs").filter("fill_number", 7, "GT")
dials.oms.query(endpoint="datasetrates", filters=[OMSFilter(attribute_name="run_number", value=1, operator="EQ")])
df.query("a > 1").filter(items=["a"])
"""
    lint_python(text)
    assert sorted(recorder.calls, key=repr) == sorted([
        ("dials", "th2", False, {"class": "LumisectionHistogram1DFilters", "kwargs": {"me": "A", "run_number__gte": -3}}),
        ("dials", "run", False, {"class": "RunFilters", "kwargs": {"run_number": 5}}),
        ("dials", "lumisection", False, {"class": "LumisectionFilters", "kwargs": {"ls_number": 7}}),
        ("rr", "datasets", True, {"and": [{"name": {"=": "x"}}]}),
        ("oms", "lumisections", False, [["run_number", 5, "EQ"], ["cms_active", True, "EQ"]]),
        ("oms", "runs", False, [["fill_number", 7, "GT"]]),
        ("oms", "datasetrates", False, {"endpoint": "datasetrates", "filters": [
            {"class": "OMSFilter", "kwargs": {"attribute_name": "run_number", "value": 1, "operator": "EQ"}}]}),
    ], key=repr)


@pytest.mark.parametrize("source,why", [
    ("lo = 5\nlo = 6\nget_runs(filter={'run_number': {'>': lo}})", "the name 'lo'"),  # bound twice: which one is unknown
    ("def f(lo):\n    get_runs(filter={'run_number': {'>': lo}})", "the name 'lo'"),  # a parameter
    ("get_runs(filter={'run_number': {'>': lo}})\nlo = 5", "the name 'lo'"),  # bound below the call
    ("get_runs(filter={**base, 'run_number': 5})", "a ** expansion"),
    ("get_runs(filter={'run_number': {'>': f'{x}'}})", "an f-string"),
    ("get_runs(filter=make_filter())", "a call"),
])
def test_a_filter_that_is_not_a_literal_is_not_checked(source, why, monkeypatch):
    recorder = Recorder().install(monkeypatch)
    report = lint_python(source)
    assert recorder.calls == [] and report.clean
    assert [f.code for f in report.findings] == ["lint-not-checked"] and why in report.findings[0].finding.message


def test_a_name_bound_once_to_a_literal_above_is_its_value(monkeypatch):
    recorder = Recorder().install(monkeypatch)
    lint_python("lo = 5\nrange_ = {'>': lo}\nget_runs(filter={'run_number': range_})")
    assert recorder.calls == [("rr", "runs", False, {"run_number": {">": 5}})]


def test_dataset_name_filter_with_underscores_is_similar_to_wildcards():
    report = lint_python("create_json(json_logic={'==': [{'var': 'run.oms.energy'}, 6500]},\n  dataset_name_filter='/ReReco/Run2018__UL/DQM')")
    found = [(f.code, f.line, f.col) for f in report.findings]
    assert ("dataset-filter-similar-to-wildcard", 2, 23) in found
    assert lint_python("create_json({'==': [{'var': 'run.oms.energy'}, 6500]}, '/Express/Cosmics23/DQM')").clean


# ------------------------------------------------------------------------------------------------ hostile input


def test_hostile_python_input_gives_located_findings_not_tracebacks(monkeypatch):
    recorder = Recorder().install(monkeypatch)
    deep = "get_runs(filter=" + "[" * 5000 + "]" * 5000 + ")"
    report = lint_python(deep)
    assert [f.code for f in report.findings] == ["readme-snippet-invalid-python"] and report.exit_status == 1
    nested = "get_runs(filter=" + "{'a': " * 90 + "1" + "}" * 90 + ")"  # parses; deeper than a filter may be? (90 < 200)
    lint_python(nested)
    assert len(recorder.calls) == 1
    huge = "get_runs(filter={'run_number': {'or': [" + ",".join(map(str, range(200_000))) + "]}})"
    report = lint_python(huge)
    assert recorder.calls[-1][3]["run_number"]["or"][-1] == 199_999
    nul = lint_python("x = 1\ny = '\0'\n")
    assert [(f.code, f.line) for f in nul.findings] == [("readme-snippet-invalid-python", 2)]


def test_binary_and_unreadable_input_are_located_errors_exit_2(tmp_path, capsys):
    binary = tmp_path / "blob.py"
    binary.write_bytes(b"x = 1\n\xff\xfe\x00garbage")
    with pytest.raises(LintInputError, match=r"blob.py:2:1: not UTF-8"):
        lint(binary)
    code, out, err = cli(capsys, "lint", str(binary))
    assert code == 2 and "blob.py:2:1: not UTF-8" in err and "Traceback" not in err
    code, out, err = cli(capsys, "lint", str(tmp_path / "missing.py"))
    assert code == 2 and err.startswith("error: cannot read")


def test_hostile_json_input(capsys):
    deep = "[" * 100_000 + "]" * 100_000
    report = lint_filter(deep, jsonlogic=True)
    assert report.exit_status == 1 and all(f.severity == "error" for f in report.findings)
    with pytest.raises(LintInputError, match="say which service"):
        lint_filter('{"run_number": 5}')
    with pytest.raises(LintInputError, match="unknown DIALS endpoint"):
        lint_filter('{"run_number": 5}', dials="th3")


# ------------------------------------------------------------------------------------------------ the command


def test_cli_formats_and_standard_input(tmp_path, monkeypatch):
    rule = '{"and": [{">=": [{"var": "run.oms.energy"}, 6000]}, {"==": [{"var": "lumisection.rr.dt-dt"}, "GOOD"]}]}'
    done = subprocess.run([sys.executable, "-m", "dqquery", "lint", "-", "--format", "json"], input=rule, capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["file"] == "<stdin>" and report["filters"] == 1 and report["clean"] is True
    done = subprocess.run([sys.executable, "-m", "dqquery", "lint", "-", "--format", "json"], input="// a comment\n" + rule,
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    found = json.loads(done.stdout)["findings"]
    assert done.returncode == 1 and {"code": "jsonlogic-comments", "line": 1, "col": 1} in [
        {k: f[k] for k in ("code", "line", "col")} for f in found]
    done = subprocess.run([sys.executable, "-m", "dqquery", "lint", "-", "--raw"], input=rule, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 2 and "--raw goes with --rr" in done.stderr


def test_the_python_option_reads_any_name_as_python(tmp_path, monkeypatch, capsys):
    recorder = Recorder().install(monkeypatch)
    script = tmp_path / "script.txt"
    script.write_text("get_runs(filter={'run_number': 5})\n", encoding="utf-8")
    code, out, _ = cli(capsys, "lint", "--python", str(script))
    assert recorder.calls == [("rr", "runs", False, {"run_number": 5})] and code == 0  # the stand-in reports notes only
    assert out.splitlines()[-1].startswith(f"{script}: 1 filter checked")


# ------------------------------------------------------------------------------------------------ properties


RR_FORMATS = [("rr:runs", "runs", False), ("rr:raw", "runs", True), ("rr:datasets", "datasets", False),
              ("rr:datasets-raw", "datasets", True)]


@needs_rr_importer
@settings(max_examples=120, deadline=None, derandomize=True)
@given(queries(fields=["run.run_number", "run.oms.energy", "run.oms.b_field", "run.rr.class", "run.oms.hlt_key",
                       "lumisection.rr.tracker-strip", "dataset.name"], max_leaves=4), st.sampled_from(RR_FORMATS))
def test_a_filter_dqquery_compiled_lints_without_errors(query, rr_format):
    """What dqquery's RR compiler writes, the linter (through from_rr) finds nothing wrong with."""
    target, kind, raw = rr_format
    try:
        request = dqquery.compile(query, target).request
    except dqquery.QueryError:
        return  # not expressible in this format: nothing to lint
    report = lint_filter(json.dumps(dict(request)), rr=kind, raw=raw)
    assert report.filters == 1
    assert not [f for f in report.findings if f.severity == "error"], (dqquery.unparse(query), request, report.render())


# ------------------------------------------------------------------------------------------------ every real filter

REAL_FILTERS = [json.loads(line) for line in (ROOT / "tests" / "data" / "real-filters" / "filters.jsonl").read_text(
    encoding="utf-8").splitlines() if line.strip()]
DIALS_ATTRIBUTE = {endpoint: attribute for attribute, endpoint in linter.DIALS_CLIENT_ATTRIBUTES.items()}
FILE_LEVEL = {"jsonlogic-file-not-json", "jsonlogic-comments", "readme-snippet-invalid-python"}  # found in the text, not the filter


def _as_python(record: dict[str, Any]) -> str | None:
    """The record's filter written as the call its context names (the literal the record quotes), or ``None`` when
    the filter is not given to a Python call (raw OMS parameters, an RR component classifier)."""
    fmt, kind, value, kwargs = record["format"], record["endpoint_or_kind"], record["filter"], record["context"].get("kwargs", {})
    if fmt in ("rr-user", "rr-raw", "rr-datasets-user", "rr-datasets-raw"):
        call = "get_datasets" if "datasets" in fmt else "get_runs"
        raw = ", ignore_filter_transformation=True" if fmt.endswith("raw") else ""
        return f"import runregistry\nresult = runregistry.{call}(filter={value!r}{raw})\n"
    if fmt == "jsonlogic" and kind == "json_portal":
        dataset = kwargs.get("dataset_name_filter", "/PromptReco/Collisions2018A/DQM")
        return f"import runregistry\nresult = runregistry.create_json(json_logic={value!r}, dataset_name_filter={dataset!r})\n"
    if fmt == "cmsdials-object":
        arguments = ", ".join(f"{k}={v!r}" for k, v in value["kwargs"].items())
        return f"f = {value['class']}({arguments})\nresult = dials.{DIALS_ATTRIBUTE[kind]}.list_all(f)\n"
    if fmt == "cmsdials-oms-query":
        filters = ", ".join("OMSFilter(" + ", ".join(f"{k}={v!r}" for k, v in f["kwargs"].items()) + ")" for f in value["filters"])
        return f"result = dials.oms.query(endpoint={value['endpoint']!r}, filters=[{filters}])\n"
    if fmt == "omsapi-chain":
        chain = "".join(f"q.filter({a!r}, {v!r}, operator={op!r})\n" for a, v, op in value)
        return f"q = omsapi.query({kind!r})\n{chain}"
    return None


def _lint_record(record: dict[str, Any]) -> Any:
    python = _as_python(record)
    if python is not None:
        return lint_python(python, name=record["id"])
    options = {"oms": record["endpoint_or_kind"]} if record["service"] == "oms" else {"jsonlogic": True}
    return lint_filter(json.dumps(record["filter"]), name=record["id"], **options)


@pytest.mark.parametrize("record", REAL_FILTERS, ids=lambda r: r["id"])
def test_each_real_filter_gets_the_findings_its_record_names(record):
    """Lint the filter as the script passes it: the errors and warnings are the record's tags (its file-level
    tags aside: the literal here is valid), and every note tag is reported too."""
    service = "jsonlogic" if record["service"] == "jsonlogic" else record["service"]
    if service != "jsonlogic" and not _have_importers(service):
        pytest.skip(f"dqquery.importers.{service} is not here")
    from dqquery.importers.findings import FINDINGS

    report = _lint_record(record)
    tags = {f["tag"] for f in record["findings"]} - {"none"} - FILE_LEVEL
    found = {f.code for f in report.findings}
    serious = {code for code in found if FINDINGS[code][0] != "note"}
    assert serious == {t for t in tags if FINDINGS[t][0] != "note"} and tags <= found, report.render()
    assert report.filters == 1


@pytest.mark.parametrize("record", [r for r in REAL_FILTERS if r["format"] == "jsonlogic" and not r["verbatim"].startswith("json_logic =")],
                         ids=lambda r: r["id"])
def test_json_logic_files_as_written(record):
    """The rule files as their authors wrote them: // comments and text that is not JSON are located findings."""
    report = lint_filter(record["verbatim"], name=record["id"], jsonlogic=True)
    tags = {f["tag"] for f in record["findings"]}
    found = {f.code for f in report.findings}
    assert {"jsonlogic-file-not-json", "jsonlogic-comments"} & tags == {"jsonlogic-file-not-json", "jsonlogic-comments"} & found
    lines = record["verbatim"].splitlines()
    for f in report.findings:
        if f.code == "jsonlogic-comments":
            assert lines[f.line - 1][f.col - 1 :].startswith("//")


@pytest.mark.parametrize("record", [r for r in REAL_FILTERS if r["intended_query"]], ids=lambda r: r["id"])
def test_an_intended_query_is_the_one_the_record_names(record):
    """Where the linter names what the author meant, it is the record's ``intended_query`` (compared as parsed
    trees); for a dropped ``true`` flag it always names it."""
    service = record["service"]
    if service != "jsonlogic" and not _have_importers(service):
        pytest.skip(f"dqquery.importers.{service} is not here")
    intended = {f.intended for f in _lint_record(record).findings} - {None}
    assert len(intended) <= 1
    if intended:
        assert dqquery.parse(intended.pop()) == dqquery.parse(record["intended_query"])
    else:
        assert "client-drops-boolean-flag-value" not in {f["tag"] for f in record["findings"]}


def test_a_notebook_is_linted_cell_by_cell_and_located_in_its_json(tmp_path, monkeypatch):
    recorder = Recorder().install(monkeypatch)
    cells = [
        {"cell_type": "markdown", "source": ["get_runs(filter={'run_number': 1})"]},  # not code: not read
        {"cell_type": "code", "source": ["%matplotlib inline\n", "runnb = 380238\n"]},
        {"cell_type": "code", "source": ["data = dials.h1d.list_all(\n", "    LumisectionHistogram1DFilters(run_number = runnb, me=\"é/x\"))\n"]},
        {"cell_type": "code", "source": ["def broken(:\n"]},
    ]
    path = tmp_path / "explore.ipynb"
    text = json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    report = lint(path)
    assert recorder.calls == [("dials", "th1", False, {"class": "LumisectionHistogram1DFilters", "kwargs": {"run_number": 380238, "me": "é/x"}})]
    lines = text.splitlines()
    located = {f.code if f.code != "redundant-condition" else f.finding.where: lines[f.line - 1][f.col - 1 :] for f in report.findings}
    assert located["run_number"].startswith("runnb, me=")  # the value's place in the .ipynb text
    assert located["me"].startswith('\\"é/x\\"')
    assert located["readme-snippet-invalid-python"].startswith(':\\n"')
    assert report.filters == 1


def test_every_error_and_warning_code_has_a_fix():
    """A finding whose importer gives no fix, and that has no query to suggest, still says what to do."""
    from dqquery.importers.findings import FINDINGS

    assert {code for code, (severity, _) in FINDINGS.items() if severity != "note"} <= set(linter.GENERIC_FIXES)
    assert set(linter.GENERIC_FIXES) <= set(FINDINGS)


TARGET_FIELDS = {  # fields each target can filter on, so that generated queries often compile
    "dials:lumisection": (["run.run_number", "lumisection.lumisection_number", "dataset.name"], {"dials": "lumisection"}),
    "dials:th1": (["run.run_number", "lumisection.lumisection_number", "dataset.name", "dials.me", "dials.entries"], {"dials": "th1"}),
    "oms:runs": (["run.run_number", "run.oms.energy", "run.oms.fill_number", "run.oms.b_field"], {"oms": "runs"}),
    "oms:lumisections": (["run.run_number", "lumisection.lumisection_number", "lumisection.oms.cms_active"], {"oms": "lumisections"}),
    "jsonlogic": (["run.oms.energy", "lumisection.rr.tracker-strip", "run.oms.hlt_key", "lumisection.oms.cms_active"], {"jsonlogic": True}),
}


@needs_importers
@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.sampled_from(sorted(TARGET_FIELDS)).flatmap(lambda t: st.tuples(st.just(t), queries(fields=TARGET_FIELDS[t][0], max_leaves=4))))
def test_dials_oms_and_jsonlogic_filters_dqquery_compiled_lint_without_errors(target_and_query):
    target, query = target_and_query
    try:
        request = dqquery.compile(query, target).request
    except dqquery.QueryError:
        return  # not expressible for this target: nothing to lint
    report = lint_filter(json.dumps(dict(request)), **TARGET_FIELDS[target][1])
    assert report.filters == 1
    assert not [f for f in report.findings if f.severity == "error"], (target, dqquery.unparse(query), request, report.render())


@pytest.mark.parametrize("option", [{"rr": "runs"}, {"rr": "datasets", "raw": True}, {"dials": "th1"}, {"oms": "runs"}])
@pytest.mark.parametrize("text", ["", "  \n", "{'run_number': 1}", '{"run_number": 1,}', "[" * 5000 + "]" * 5000, '{"a": 1, "a": 2}'])
def test_text_that_is_not_a_json_filter_of_a_service_is_one_located_error_with_a_fix(option, text):
    """Not a json-logic matter when the service is RR, DIALS or OMS; the message is not doubled; an empty input says so."""
    report = lint_filter(text, name="f.json", **option)
    (f,) = report.findings
    assert f.code == "lint-filter-not-read" and f.severity == "error" and f.finding.fix and report.exit_status == 1
    assert f.finding.message.count("not valid JSON") <= 1
    assert ("empty" in f.finding.message) == (not text.strip())
    try:
        json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        if isinstance(exc, json.JSONDecodeError):
            assert (f.line, f.col) == (exc.lineno, exc.colno)


def _documented_keys(table_header: str) -> list[str]:
    """The keys of the docs/cli.md table that starts with ``table_header`` (first column, backquoted, comma-split)."""
    text = (Path(__file__).parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    rows = text.split(table_header, 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    return [key.strip().strip("`") for row in rows for key in row.split("|")[1].split(",")]


def test_the_json_format_is_the_documented_one(capsys):
    """Every key docs/cli.md lists is printed and nothing else, for a clean file and one with every finding."""
    for path in (DATA / "every_finding.py", DATA / "clean_filters.py"):
        code, out, _ = cli(capsys, "lint", str(path), "--format", "json")
        printed = json.loads(out)
        assert list(printed) == _documented_keys("| key | value |")
        assert printed["clean"] == (code == 0) == (printed["counts"]["error"] + printed["counts"]["warning"] == 0)
        for f in printed["findings"]:
            assert list(f) == _documented_keys("| finding key | value |")
            assert f["severity"] in ("error", "warning", "note") and f["code"] in linter.FINDINGS


@pytest.mark.parametrize("option", [["--rr", "runs"], ["--rr", "datasets", "--raw"], ["--dials", "th1"], ["--oms", "runs"], ["--jsonlogic"]])
def test_a_service_option_with_a_python_file_is_refused_not_ignored(capsys, option):
    code, out, err = cli(capsys, "lint", *option, str(DATA / "clean_filters.py"))
    assert code == 2 and out == "" and option[0] in err and "drop the option" in err and "Traceback" not in err
    with pytest.raises(LintInputError):
        lint(b"x = 1\n", name="s.py", **{option[0].lstrip("-"): option[1] if len(option) > 1 else True})


def test_every_error_and_warning_of_a_json_rule_with_comments_says_what_to_write():
    report = lint(DATA / "rule_with_comments.json")
    assert report.findings
    for f in report.findings:
        if f.severity != "note":
            assert f.finding.fix or f.intended is not None, f.headline()


@pytest.mark.parametrize(("variable", "meant"), [("run.name", "dataset.name"), ("lumisection.energy", "run.oms.energy")])
def test_an_unknown_portal_variable_is_given_the_variable_of_the_same_name(variable, meant):
    """The suggestion is itself a variable the portal provides: linting the rule rewritten with it finds nothing."""
    rule = json.dumps({"==": [{"var": variable}, "x"]})
    (f,) = lint_filter(rule, jsonlogic=True).findings
    assert f.code == "jsonlogic-unknown-var" and f.finding.fix.startswith(f"did you mean {meant}?")
    assert lint_filter(rule.replace(variable, meant), jsonlogic=True).clean


NOT_IN_EVERY_FINDING = {
    "readme-snippet-invalid-python": "a file that does not parse holds nothing else: tests/data/lint/invalid_snippet.py",
    "oms-filter-without-operator": "neither omsapi nor cmsdials writes filter[attr]=value; only raw parameters (lint --oms)",
    "jsonlogic-classifier-context": "RR's component-classifier rules live in the RR backend, not in create_json calls (lint --jsonlogic)",
}


def test_every_finding_py_has_an_example_of_each_finding_a_python_file_can_show():
    """The acceptance file covers the findings table: each code is expected in it or named above with the reason."""
    text = (DATA / "every_finding.py").read_text(encoding="utf-8")
    expected = {c.strip() for line in re.findall(r"^# expect: (.*)", text, flags=re.MULTILINE) for c in line.split(",")}
    assert expected <= set(linter.FINDINGS)
    assert set(linter.FINDINGS) - expected == set(NOT_IN_EVERY_FINDING)


@pytest.mark.parametrize("path", sorted(p.name for p in DATA.iterdir()))
def test_every_error_and_warning_in_every_lint_sample_says_what_to_write(path):
    """Whatever part of the linter made it (a file that does not parse, a comment, an import's finding)."""
    report = lint(DATA / path)
    for f in report.findings:
        if f.severity != "note":
            assert f.finding.fix or f.intended is not None, f.headline()
