"""The documentation site: it builds with ``mkdocs build --strict``, its navigation lists every page, the
property-testing page shows the tested example word for word, and pages in sub-folders (docs/workflows/) are
executed like the others.

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
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("golden", "GoldenJSON", "to_rr", "plot_loss", "queries"):
        assert 'id="dqquery.' in api and name in api, f"the API page does not document {name}"


def test_workflow_pages_are_checked_by_the_docs_tests() -> None:
    workflows = sorted(DOCS.glob("workflows/*.md"))
    assert workflows and all(p in docs_checks.FILES for p in workflows)
