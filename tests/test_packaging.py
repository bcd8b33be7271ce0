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
def test_wheel_contains_grammar_and_parses_in_a_fresh_venv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(ROOT)],
        check=True,
    )
    (wheel,) = dist.glob("dqquery-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "dqquery/grammar/dqquery.lark" in names
    assert "dqquery/data/demo-2018.json.gz" in names  # the bundled demo snapshot
    assert "dqquery/data/Cert_314472-325175_13TeV_Legacy2018_Collisions18_JSON.txt" in names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    # Make this interpreter's dependencies (lark, pydantic, ...) visible without a network install. Paths
    # listed in a .pth file are added after the venv's own site-packages, and .pth files inside them are
    # not processed, so the editable dqquery of the checkout stays invisible: the wheel's copy is used.
    import site

    venv_site = next((venv / "lib").glob("python3*/site-packages"))
    (venv_site / "parent_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(py)] if _pip_has_python_option() else None
    if pip is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(venv_site), str(wheel)], check=True)
        (venv / "bin" / "dqquery").write_text(f"#!{py}\nimport sys\nfrom dqquery.cli import main\nsys.exit(main())\n")
        (venv / "bin" / "dqquery").chmod(0o755)
    else:
        subprocess.run([*pip, "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    code = (
        "import dqquery, dqquery.parser as p, importlib.resources as r;"
        "assert 'venv' in dqquery.__file__, dqquery.__file__;"
        "assert r.files('dqquery').joinpath('grammar','dqquery.lark').is_file();"
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


def _pip_has_python_option() -> bool:
    out = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True).stdout
    major, minor = (int(x) for x in out.split()[1].split(".")[:2])
    return (major, minor) >= (22, 3)


def test_the_library_and_the_cli_do_not_import_hypothesis() -> None:
    """hypothesis is an optional dependency (``dqquery[strategies]``): only dqquery.strategies may need it."""
    code = "import dqquery, dqquery.cli, sys; dqquery.cli.build_parser(); assert 'hypothesis' not in sys.modules, 'hypothesis imported'"
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
