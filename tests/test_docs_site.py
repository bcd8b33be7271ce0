"""The documentation site: it builds with ``mkdocs build --strict``, its navigation lists every page, the
property-testing page shows the tested example word for word, and pages in sub-folders (docs/workflows/) are
executed like the others. The command line's help points to the site's pages (never to repository paths), and
``dq`` blocks are highlighted by dqquery's Pygments lexer.

The execution rules are those of tests/test_docs.py (its helpers are reused); that file covers README.md and
docs/*.md, this one every other page under docs/ (except docs/dev/, contributor notes outside the site).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import test_docs as docs_checks

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
MKDOCS_YML = ROOT / "mkdocs.yml"

#: Build warnings caused by pages this test does not own, each waiting for a named fix. The build test is an
#: expected failure while one of these is the ONLY kind of warning; any other warning fails it.


def _site_pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "dev" not in p.relative_to(DOCS).parts[:1])


def _nav_pages(nav: Any) -> list[str]:
    out: list[str] = []
    if isinstance(nav, str):
        out.append(nav)
    elif isinstance(nav, list):
        for item in nav:
            out.extend(_nav_pages(item))
    elif isinstance(nav, dict):
        for value in nav.values():
            out.extend(_nav_pages(value))
    return out


def _load_config() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")

    class Loader(yaml.SafeLoader):
        pass

    # mkdocs.yml may use python tags (none today); ignore them so the nav can be read with plain YAML.
    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
    return yaml.load(MKDOCS_YML.read_text(encoding="utf-8"), Loader=Loader)


def test_navigation_lists_every_page_once_and_only_existing_pages() -> None:
    nav = _nav_pages(_load_config()["nav"])
    assert len(nav) == len(set(nav)), "a page appears twice in the navigation"
    missing = [p for p in nav if not (DOCS / p).is_file()]
    assert not missing, f"mkdocs.yml names pages that do not exist: {missing}"
    unlisted = [str(p.relative_to(DOCS)) for p in _site_pages() if str(p.relative_to(DOCS)) not in nav]
    assert not unlisted, f"pages missing from the navigation in mkdocs.yml: {unlisted}"


def test_api_reference_documents_every_lazy_export() -> None:
    """Every name ``dqquery`` exports lazily is documented under its module on the API page."""
    import dqquery

    api = (DOCS / "api.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^::: (\S+)\n    options:\n      members: \[([^\]]*)\]", api, re.M))
    for name, module in dqquery._LAZY.items():
        assert module in sections, f"docs/api.md has no section for {module}"
        assert name in [m.strip() for m in sections[module].split(",")], f"docs/api.md does not list {module}.{name}"


def test_property_testing_page_shows_the_tested_example_verbatim() -> None:
    source = (ROOT / "tests" / "test_property_testing_example.py").read_text(encoding="utf-8")
    example = source.split("# --- example start ---\n", 1)[1].split("# --- example end ---\n", 1)[0]
    page = (DOCS / "property-testing.md").read_text(encoding="utf-8")
    python_blocks = [m.group(2) for m in docs_checks.BLOCK.finditer(page) if m.group(1) == "python"]
    assert example in python_blocks, "docs/property-testing.md and tests/test_property_testing_example.py differ"


# ------------------------------------------------------------------------------------ build


def _have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@pytest.mark.skipif(
    not all(_have(m) for m in ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")),
    reason='needs pip install mkdocs mkdocs-material "mkdocstrings[python]"',
)
def test_site_builds_strictly(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(MKDOCS_YML), "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    log = result.stdout + result.stderr
    warnings = [line for line in log.splitlines() if line.startswith(("WARNING", "ERROR"))]
    assert result.returncode == 0, "mkdocs build --strict failed:\n" + "\n".join(warnings or [log])
    assert (tmp_path / "site" / "index.html").is_file()
    for page in _site_pages():
        rel = page.relative_to(DOCS).with_suffix("")
        built = tmp_path / "site" / ("index.html" if rel.name == "index" else rel / "index.html")
        assert built.is_file(), f"{page} was not built"
    start = (tmp_path / "site" / "getting-started" / "index.html").read_text(encoding="utf-8")
    assert 'id="what-the-demo-shows"' in start  # `dqquery demo` prints a link to this anchor
    home = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert '<span class="k">and</span>' in home and '<span class="nv">tracker-strip</span>' in home, "dq blocks are not highlighted"
    assert "stylesheets/extra.css" in home  # long lines wrap (pre-wrap) instead of scrolling sideways
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("golden", "GoldenJSON", "to_rr", "plot_loss", "queries"):
        assert 'id="dqquery.' in api and name in api, f"the API page does not document {name}"


def test_workflow_pages_are_checked_by_the_docs_tests() -> None:
    workflows = sorted(DOCS.glob("workflows/*.md"))
    assert workflows and all(p in docs_checks.FILES for p in workflows)


# ------------------------------------------------------------------------------------ links and highlighting


def test_the_docs_address_is_written_once() -> None:
    import dqquery

    assert _load_config()["site_url"] == dqquery.DOCS_URL


def _help_texts() -> dict[str, str]:
    from dqquery.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.choices and isinstance(a.choices, dict)]
    return {"dqquery": parser.format_help(), **{name: command.format_help() for name, command in sub.choices.items()}}


def test_every_help_text_links_to_a_page_of_the_site_and_names_no_repository_path() -> None:
    import dqquery

    pages = {str(p.relative_to(DOCS).with_suffix("")) + "/" for p in _site_pages()}
    for name, text in _help_texts().items():
        links = re.findall(re.escape(dqquery.DOCS_URL) + r"([\w/.-]*)", text)
        assert links, f"`{name} --help` has no link to the docs site"
        for link in links:
            assert link == "" or link.split("#")[0] in pages, f"`{name} --help` links to {link!r}, which is no page of the site"
        assert not re.search(r"(?<![\w/])(docs|tests)/\S*\.(md|py)", text), f"`{name} --help` names a repository path"


def test_every_dq_block_is_highlighted_without_error_tokens() -> None:
    pytest.importorskip("pygments")
    from pygments.token import Error

    from dqquery.pygments_lexer import DQLexer

    lexer = DQLexer()
    assert [v for k, v in lexer.get_tokens("run_number == $") if k in Error] == ["$"]  # the check can fail
    for where, line, block in docs_checks.blocks("dq"):
        bad = [value for kind, value in lexer.get_tokens(block) if kind in Error]
        assert not bad, f"{where}:{line}: the dq lexer cannot read {bad}"


def test_the_lexer_is_registered_for_pygments_under_dq() -> None:
    pytest.importorskip("pygments")
    from pygments.lexers import get_lexer_by_name

    from dqquery.pygments_lexer import DQLexer

    assert isinstance(get_lexer_by_name("dq"), DQLexer)
