"""The grammar and data ship inside the wheel; the parser builds from an installed wheel and from the checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_strict_lalr_parser_builds_from_the_grammar_file() -> None:
    from lark import Lark

    from dqquery.parser import grammar_text

    text = grammar_text()
    assert text == (ROOT / "grammar" / "dqquery.lark").read_text(encoding="utf-8")
    Lark(text, parser="lalr", strict=True)  # raises on any conflict or terminal collision


def test_an_ambiguous_grammar_is_rejected_in_strict_mode() -> None:
    """Guards the guard: strict mode really rejects a shift/reduce conflict."""
    from lark import Lark
    from lark.exceptions import GrammarError

    with pytest.raises(GrammarError):
        Lark('?e: e "and" e | e "or" e | NAME\n%import common.CNAME -> NAME\n%ignore " "', start="e", parser="lalr", strict=True)


@pytest.mark.slow
def test_wheel_contains_grammar_and_parses_in_a_fresh_venv(dqquery_wheel: Path, tmp_path: Path) -> None:
    from wheel_venv import install_in_new_venv

    wheel = dqquery_wheel
    names = zipfile.ZipFile(wheel).namelist()
    assert "dqquery/grammar/dqquery.lark" in names
    assert "dqquery/data/parse_tables.json" in names  # the grammar's LALR tables (no table building at run time)
    assert "dqquery/data/demo-2018.json.gz" in names  # the bundled demo snapshot
    assert "dqquery/data/Cert_314472-325175_13TeV_Legacy2018_Collisions18_JSON.txt" in names
    assert "dqquery/data/rr_configs/backend_sample_json_logic.json" in names  # read by the how-to pages
    assert "dqquery/data/playground-openapi.json" in names  # the playground target's OpenAPI document
    venv = tmp_path / "venv"
    py = install_in_new_venv(wheel, venv)
    code = (
        "import dqquery, dqquery.parser as p, importlib.resources as r;"
        "assert 'venv' in dqquery.__file__, dqquery.__file__;"
        "assert r.files('dqquery').joinpath('grammar','dqquery.lark').is_file();"
        "assert p.stored_tables() is not None, p.TABLES_FILE;"
        "print(dqquery.unparse(dqquery.parse('tracker-strip == good and run_number in 1..2')))"
    )
    out = subprocess.run([str(py), "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "tracker-strip == GOOD and run_number in 1..2"
    cli = subprocess.run([str(venv / "bin" / "dqquery"), "check", "bpix_ready"], cwd=tmp_path, capture_output=True, text=True)
    assert cli.returncode == 0 and cli.stdout.strip() == "bpix_ready", cli.stderr
    demo = subprocess.run([str(venv / "bin" / "dqquery"), "demo"], cwd=tmp_path, capture_output=True, text=True)
    assert demo.returncode == 0, demo.stderr
    assert "identical to the official file" in demo.stdout
    assert demo.stdout.startswith("note: the demo data are SYNTHETIC")


def test_the_library_and_the_cli_do_not_import_hypothesis() -> None:
    """hypothesis is an optional dependency (``dqquery[strategies]``): only dqquery.strategies may need it."""
    code = (
        "import sys, dqquery, dqquery.cli, dqquery.evaluator, dqquery.explanation, dqquery.fetch, dqquery.testing;"
        "dqquery.cli.build_parser(); assert 'hypothesis' not in sys.modules, 'hypothesis imported'"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_hypothesis_is_an_extra_not_a_core_dependency() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not [d for d in project["dependencies"] if d.startswith("hypothesis")]
    for extra in ("strategies", "test"):
        assert any(d.startswith("hypothesis") for d in project["optional-dependencies"][extra]), extra


def test_without_hypothesis_the_strategies_say_how_to_get_it() -> None:
    code = "import sys; sys.modules['hypothesis'] = None\ntry:\n import dqquery.strategies\nexcept ImportError as e:\n print(e)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == 'dqquery.strategies needs hypothesis: pip install "dqquery[strategies]"', out.stderr


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_starts_with_two_commands_that_make_their_own_environment() -> None:
    install_and_demo, install_and_test = _readme_commands()
    for command in (install_and_demo, install_and_test):
        assert command.startswith("python3 -m venv .venv && .venv/bin/pip install -e "), command  # PEP 668: never the system pip
    assert install_and_demo.endswith("&& .venv/bin/dqquery demo")
    assert install_and_test.endswith("&& .venv/bin/python -m pytest")


def test_ci_runs_the_readme_test_command_exactly_as_written() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    commands = [line for line in ci if line.strip() and not line.lstrip().startswith("#")]
    assert commands[-1] == _readme_commands()[1]
