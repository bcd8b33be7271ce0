"""The target framework (issue 12): one registry, one compile entry point, one refusal path, one answer to "exact?".

A toy target is added through the registry in a few lines and must show up everywhere targets are listed:
``dqquery.compile``, ``dqquery.plan``, the CLI and the support matrix.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from typing import Any

import pytest

import dqquery
from dqquery import ast as A
from dqquery import targets
from dqquery.cli import main
from dqquery.errors import QueryError, unsupported
from dqquery.support import TARGETS, support_matrix, targets_markdown
from dqquery.targets import Compiled, Support, Target


class ToyTarget(Target):
    """A service that filters rows on ``run_number ==`` only."""

    name = "toy"
    title = "a toy service"
    options = ("rows",)

    def compile(self, query: Any, option: str | None, **settings: Any) -> Compiled:
        node = dqquery.as_node(query)
        if not (isinstance(node, A.Compare) and node.op == "==" and node.field.path == "run.run_number"):
            raise unsupported(self.spec(option), "toy filters only on run_number ==", node, query=query if isinstance(query, str) else "")
        return Compiled(self.spec(option), {"run": node.value.value}, True)

    def support(self, option: str | None) -> dict[str, Support]:
        kinds = [cls.model_fields["kind"].default for cls in A.NODE_CLASSES]
        return {k: Support("partial", "run_number == only") if k == "compare" else Support("unsupported", "toy has only one filter")
                for k in kinds}

    def carries(self, option: str | None) -> Any:
        return {"run.run_number"}.__contains__


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exit_:  # --help
            code = int(exit_.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_a_toy_target_added_through_the_registry_shows_up_everywhere() -> None:
    with targets.registered(ToyTarget()):
        assert "toy" in targets.names() and "toy:rows" in targets.specs()
        compiled = dqquery.compile("run_number == 5", "toy")
        assert compiled == Compiled("toy:rows", {"run": 5}, True)
        p = dqquery.plan("run_number == 5 or run_number == 7", "toy:rows")
        assert p.requests == ({"run": 5}, {"run": 7}) and p.residual is None
        p = dqquery.plan("run_number == 5 and run_number > 2", "toy")
        assert p.requests == ({"run": 5},) and p.residual is not None
        code, out, _ = _cli("compile", "--to", "toy", "run_number == 9")
        assert code == 0 and json.loads(out) == {"run": 9}
        code, out, _ = _cli("plan", "--to", "toy:rows", "--json", "run_number in [1, 2]")
        assert code == 0 and json.loads(out)["requests"] == [{"run": 1}, {"run": 2}]
        code, out, _ = _cli("compile", "--help")
        assert "toy[:rows]: a toy service" in out
        assert "toy:rows" in TARGETS and support_matrix()["toy:rows"]["compare"] == "partial: run_number == only"
        assert "### `toy:rows`" in targets_markdown()
        code, _, err = _cli("compile", "--to", "toy", "fill_number == 3")
        assert code == 2 and "error[unsupported] (target toy:rows)" in err
        assert "rows do not carry 'fill_number'" in err  # plan could not re-check it either
    assert "toy" not in targets.names()
    with pytest.raises(QueryError, match="unknown target 'toy'"):
        dqquery.compile("run_number == 5", "toy")


@pytest.mark.parametrize(
    "spec, suggestion",
    [("dial:run", "'dials'"), ("dials:th", "'th2'"), ("oms:lumisection", "'lumisections'"), ("jsonlogik", "'jsonlogic'"),
     ("rr-raww", "'rr-raw'")],
)
def test_unknown_targets_and_options_get_a_did_you_mean_everywhere(spec: str, suggestion: str) -> None:
    for call in (lambda: dqquery.compile("run_number == 1", spec), lambda: dqquery.plan("run_number == 1", spec),
                 lambda: targets.resolve(spec)):
        with pytest.raises(QueryError) as info:
            call()
        assert info.value.category == "unsupported" and f"did you mean {suggestion}" in info.value.hint.replace(" or ", "?")


def test_the_old_wrappers_keep_their_signatures_and_suggest_too() -> None:
    with pytest.raises(QueryError, match="did you mean 'th2'"):
        dqquery.to_dials("run_number == 1", "th")
    assert dqquery.to_dials("run_number == 1", endpoint="h2d") == dqquery.compile("run_number == 1", "dials:th2").request
    assert dqquery.to_oms("run_number == 1", resource="lumisections") == dqquery.compile("run_number == 1", "oms:lumisections").request
    assert dqquery.to_rr("energy > 1", kind="datasets", raw=True) == dqquery.compile("energy > 1", "rr-datasets-raw").request
    assert dqquery.to_jsonlogic("energy > 1") == dqquery.compile("energy > 1", "jsonlogic").request


@pytest.mark.parametrize(
    "query, spec, exact",
    [
        ("tracker-strip == GOOD", "rr", True),
        ("tracker-strip == GOOD and dt-dt == GOOD", "rr", False),  # each flag may hold on a different lumisection
        ("energy > 6000", "rr", False),  # attribute-only: RR also returns runs without lumisections
        ('injection_scheme like "%2556%"', "oms:runs", False),  # OMS LIKE semantics assumed
        ("energy > 6000", "oms:runs", True),
        ("run_number > 3", "dials:run", True),
        ("tracker-strip == GOOD", "jsonlogic", True),
    ],
)
def test_one_answer_to_is_it_exact_for_every_target(query: str, spec: str, exact: bool) -> None:
    compiled = dqquery.compile(query, spec)
    assert compiled.exact is exact and compiled.target == spec
    assert bool(compiled.notes) is not exact  # a superset always says why
    p = dqquery.plan(query, spec)
    assert (p.residual is None) is exact


def test_refusals_name_the_target_in_the_header_and_say_once_whether_plan_helps() -> None:
    with pytest.raises(QueryError) as info:
        dqquery.compile("run_number == 1 or run_number == 3", "oms:runs")
    rendered = str(info.value)
    assert rendered.startswith("error[unsupported] (target oms:runs): 1:")
    assert info.value.hint.count("dqquery.plan") == 1 and 'dqquery.plan(query, "oms:runs")' in info.value.hint
    with pytest.raises(QueryError) as info:
        dqquery.compile("run_number == 1 and tracker-strip == GOOD", "dials:run")
    assert "rows do not carry 'tracker-strip'" in info.value.hint and info.value.hint.count("dqquery.plan") == 1
    with pytest.raises(QueryError) as info:
        dqquery.compile("run_number ~ \"1\"", "rr-portal:/A/%")  # not plannable: no plan hint
    assert "dqquery.plan" not in info.value.hint


def test_compile_only_targets_are_refused_by_plan_with_the_list_of_plan_targets() -> None:
    with pytest.raises(QueryError) as info:
        dqquery.plan("run_number == 1", "rr-portal:/A/%")
    assert info.value.category == "unsupported" and "dials:run" in info.value.hint and "rr-portal" not in info.value.hint


def test_registering_a_second_target_under_a_taken_name_is_refused() -> None:
    class Other(ToyTarget):
        name = "dials"

    with pytest.raises(ValueError, match="already registered"):
        targets.register(Other())
    with pytest.raises(ValueError, match="needs a reason"):
        Support("unsupported")


def test_the_how_to_page_example_target_works_as_written() -> None:
    """docs/dev/adding-a-target.md's example registers a complete target; run it as written, then remove it."""
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[1] / "docs" / "dev" / "adding-a-target.md").read_text(encoding="utf-8")
    (code,) = [m.group(1) for m in re.finditer(r"^```python\n(.*?)^```", page, re.M | re.S)]
    printed = io.StringIO()
    try:
        with redirect_stdout(printed):
            exec(compile(code, "adding-a-target.md", "exec"), {"__name__": "how_to"})
        expected = [line.split("#", 1)[1].strip() for line in code.splitlines() if line.startswith("print(")]
        assert printed.getvalue().splitlines() == expected
        assert "runlist:runs" in TARGETS and support_matrix()["runlist:runs"]["in_range"] == "exact"
        with pytest.raises(QueryError) as info:
            dqquery.compile("run_number == 5 or fill_number == 3", "runlist")
        assert info.value.message == "the service combines its filters with 'and' only"
    finally:
        targets.unregister("runlist")
