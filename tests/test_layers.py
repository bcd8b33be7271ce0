"""The layer contract: every import inside ``dqquery/`` points down (or sideways), and the core has no import cycle.

The layers, from the bottom, are the table :data:`LAYERS`; ``docs/dev/architecture.md`` shows the same table.
A module may import modules of its own layer and of the layers below it, never above. Every import counts:
top-level, function-local and ``if TYPE_CHECKING:``, absolute and relative (``from . import x``, ``from .. import y``).
Importing a package for one of its submodules (``from dqquery import ast``) is an edge to that submodule;
importing a name from a package (``from dqquery import __version__``) is an edge to the package's ``__init__``.
The implicit import of parent packages (``import dqquery.sources.http`` runs ``dqquery/__init__.py``) is not an edge.

Decisions:
* A test over ``ast`` instead of import-linter: no new dependency, and it sees function-local imports, which are
  where cycles hide.
* Every module of ``dqquery/`` must be placed in exactly one layer: a new module fails the test until it is placed.
* The core (layers 0-4) has no import cycle, function-local and type-checking imports included: a cycle that
  only works because one side imports late is still a cycle in the design.
* The emulators (``dqquery.emulate``) are independent models of the services: they never import the compilers
  (``dqquery.targets``), so a test comparing the two can fail.
* :data:`KNOWN_EXCEPTIONS` lists edges not yet removed; an exception that no longer occurs fails the test, so the
  list only shrinks.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Set
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "dqquery"

# (layer name, module patterns): "dqquery.x" is that module, "dqquery.x.*" the package and all its submodules.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("foundation", ("dqquery.about", "dqquery.errors", "dqquery.limits", "dqquery.ast", "dqquery.catalog",
                    "dqquery.patterns", "dqquery.patterns_postgres", "dqquery.dials_api", "dqquery.files",
                    "dqquery.lumiranges")),
    ("language", ("dqquery.parser", "dqquery.lalr", "dqquery.check", "dqquery.unparse", "dqquery.query", "dqquery.normal",
                  "dqquery.display", "dqquery.pygments_lexer")),
    ("semantics", ("dqquery.semantics",)),
    ("targets and emulators", ("dqquery.targets.*", "dqquery.importers.*", "dqquery.emulate.*", "dqquery.jsonlogic_engine")),
    ("planning and evaluation", ("dqquery.planning", "dqquery.support", "dqquery.evaluator", "dqquery.explanation",
                                 "dqquery.luminosity", "dqquery.vectorized", "dqquery.snapshot", "dqquery.columnar",
                                 "dqquery.runlists", "dqquery.plots", "dqquery.notebook", "dqquery.tables",
                                 "dqquery.engines")),
    ("sources and fetch", ("dqquery.sources.*", "dqquery.fetch")),
    ("CLI and testing", ("dqquery", "dqquery.__main__", "dqquery.cli", "dqquery.demo", "dqquery.testing.*",
                         "dqquery.strategies", "dqquery.strategies_snapshot")),
]
CORE_LAYERS = 5
"""Layers 0-4 (foundation to planning and evaluation) are the core: no import cycle among their modules."""

INDEPENDENT: list[tuple[str, str]] = [("dqquery.emulate.*", "dqquery.targets.*")]
"""(importer, imported): modules matching the first pattern never import modules matching the second."""

KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()
"""(importer, imported) edges tolerated for now; each must still occur (the list only shrinks). Empty since the
target framework (issue 12) removed the last three."""


@dataclass(frozen=True)
class Edge:
    """One import: ``importer`` imports ``imported`` at ``path:line``."""

    importer: str
    imported: str
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer} -> {self.imported} ({self.path}:{self.line})"


# ------------------------------------------------------------------------------------------------ collecting


def module_names(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file of the package (``pkg/__init__.py`` is ``pkg``)."""
    root = package_dir.parent
    out: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def collect_edges(package_dir: Path) -> list[Edge]:
    """Every import of a module of the package by a module of the package, wherever it is written."""
    modules = module_names(package_dir)
    package = package_dir.name
    edges: list[Edge] = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        here = name if is_package else name.rpartition(".")[0]
        shown = str(path.relative_to(package_dir.parent))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    submodule = f"{source}.{alias.name}"
                    targets.append(submodule if submodule in modules else source)
            for target in targets:
                if target == package or target.startswith(package + "."):
                    if target not in modules:  # "import dqquery.x.y" of a name that is not a module: its package
                        target = target.rpartition(".")[0]
                    edges.append(Edge(name, target, shown, node.lineno))
    return edges


# ------------------------------------------------------------------------------------------------ checking


def matches(module: str, pattern: str) -> bool:
    if pattern.endswith(".*"):
        stem = pattern[:-2]
        return module == stem or module.startswith(stem + ".")
    return module == pattern


def layer_of(module: str, layers: list[tuple[str, tuple[str, ...]]] = LAYERS) -> int | None:
    """The index of the layer that holds ``module`` (the most specific pattern wins), ``None`` when unplaced."""
    best: tuple[int, int] | None = None  # (pattern length, layer)
    for index, (_name, patterns) in enumerate(layers):
        for pattern in patterns:
            if matches(module, pattern) and (best is None or len(pattern) > best[0]):
                best = (len(pattern), index)
    return None if best is None else best[1]


def unplaced(modules: list[str], layers: list[tuple[str, tuple[str, ...]]] = LAYERS) -> list[str]:
    return [m for m in modules if layer_of(m, layers) is None]


def upward_imports(edges: list[Edge], layers: list[tuple[str, tuple[str, ...]]] = LAYERS,
                   exceptions: Set[tuple[str, str]] = frozenset()) -> list[str]:
    """Every edge that imports a module of a higher layer, as ``importer (layer) -> imported (layer), file:line``."""
    out = []
    for edge in edges:
        low, high = layer_of(edge.importer, layers), layer_of(edge.imported, layers)
        if low is None or high is None or high <= low or (edge.importer, edge.imported) in exceptions:
            continue
        out.append(f"{edge} imports upward: layer {low} '{layers[low][0]}' -> layer {high} '{layers[high][0]}'")
    return out


def forbidden_imports(edges: list[Edge], rules: list[tuple[str, str]] = INDEPENDENT,
                      exceptions: Set[tuple[str, str]] = frozenset()) -> list[str]:
    return [f"{edge} breaks the independence rule {a} -/-> {b}"
            for edge in edges for a, b in rules
            if matches(edge.importer, a) and matches(edge.imported, b) and (edge.importer, edge.imported) not in exceptions]


def cycles(edges: list[Edge], modules: set[str]) -> list[list[Edge]]:
    """The import cycles among ``modules``: for every strongly connected component with more than one module
    (or a module importing itself), one cycle through it, as its edges."""
    graph: dict[str, dict[str, Edge]] = {m: {} for m in modules}
    for edge in edges:
        if edge.importer in modules and edge.imported in modules:
            graph[edge.importer].setdefault(edge.imported, edge)
    # Tarjan's strongly connected components (iterative: no recursion limit on a long chain).
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph[node]:
                    components.append(sorted(component))
    out = []
    for component in components:
        members = set(component)
        # A shortest path back to the first module, by breadth-first search inside the component.
        first = component[0]
        previous: dict[str, str] = {}
        frontier = [first]
        found = first in graph[first]
        while frontier and not found:
            following = []
            for node in frontier:
                for child in sorted(graph[node]):
                    if child == first:
                        previous[first] = node
                        found = True
                        break
                    if child in members and child not in previous:
                        previous[child] = node
                        following.append(child)
                if found:
                    break
            frontier = following
        if first in graph[first]:
            out.append([graph[first][first]])
            continue
        path = [first]
        node = previous[first]
        while node != first:
            path.append(node)
            node = previous[node]
        path.append(first)
        path.reverse()
        out.append([graph[a][b] for a, b in zip(path, path[1:])])
    return out


def core_modules(modules: list[str], layers: list[tuple[str, tuple[str, ...]]] = LAYERS) -> set[str]:
    return {m for m in modules if (layer_of(m, layers) or 0) < CORE_LAYERS and layer_of(m, layers) is not None}


def describe_cycle(cycle: list[Edge]) -> str:
    return "import cycle: " + "; ".join(str(edge) for edge in cycle)


def describe_cycles(found: list[list[Edge]], edges: list[Edge]) -> str:
    """Each cycle, then every edge among the modules of its component (all of them must go for the cycle to go)."""
    out = []
    for cycle in found:
        members = {e.importer for e in cycle}
        inside = sorted({str(e) for e in edges if e.importer in members and e.imported in members})
        out.append(describe_cycle(cycle) + "\n  edges among its modules:\n    " + "\n    ".join(inside))
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------ the contract


EDGES = collect_edges(PACKAGE_DIR)
MODULES = sorted(module_names(PACKAGE_DIR))


def test_every_module_is_placed_in_one_layer() -> None:
    missing = unplaced(MODULES)
    assert not missing, f"modules in no layer (add them to LAYERS here and in docs/dev/architecture.md): {missing}"


def test_no_upward_import() -> None:
    problems = upward_imports(EDGES, exceptions=KNOWN_EXCEPTIONS)
    assert not problems, "\n".join(problems)


def test_emulators_do_not_import_the_compilers() -> None:
    problems = forbidden_imports(EDGES, exceptions=KNOWN_EXCEPTIONS)
    assert not problems, "\n".join(problems)


def test_no_import_cycle_in_the_core() -> None:
    kept = [e for e in EDGES if (e.importer, e.imported) not in KNOWN_EXCEPTIONS]
    found = cycles(kept, core_modules(MODULES))
    assert not found, describe_cycles(found, kept)


def test_known_exceptions_still_occur() -> None:
    present = {(e.importer, e.imported) for e in EDGES}
    stale = sorted(KNOWN_EXCEPTIONS - present)
    assert not stale, f"these imports are gone: remove them from KNOWN_EXCEPTIONS: {stale}"


def test_the_architecture_page_shows_the_same_layers() -> None:
    page = (PACKAGE_DIR.parent / "docs" / "dev" / "architecture.md").read_text(encoding="utf-8")
    for index, (name, patterns) in enumerate(LAYERS):
        row = next((line for line in page.splitlines() if line.startswith(f"| {index} | {name} |")), None)
        assert row is not None, f"docs/dev/architecture.md has no row '| {index} | {name} |'"
        shown = set(row.split("|")[3].replace("`", "").replace(",", " ").split())
        assert shown == set(patterns), f"layer {index} '{name}' differs: page {sorted(shown)}, test {sorted(patterns)}"


# ------------------------------------------------------------------------------------------------ the checker can fail


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "dqquery"
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_collector_sees_every_kind_of_import(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "__init__.py": "from .ast import Node\n",
        "ast.py": "def f():\n    from .evaluator import golden\n",
        "evaluator.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from dqquery.snapshot import Snapshot\n",
        "snapshot.py": "import dqquery.targets.rr\nfrom dqquery import ast\nfrom . import version\n",
        "targets/__init__.py": "",
        "targets/rr.py": "def g():\n    from .. import __version__\n    from ..sources import http\n",
        "sources/__init__.py": "",
        "sources/http.py": "import json\nimport dqqueryx\n",
    })
    found = {(e.importer, e.imported, e.line) for e in collect_edges(root)}
    assert found == {
        ("dqquery", "dqquery.ast", 1),
        ("dqquery.ast", "dqquery.evaluator", 2),  # function-local, relative
        ("dqquery.evaluator", "dqquery.snapshot", 3),  # type-checking only
        ("dqquery.snapshot", "dqquery.targets.rr", 1),  # absolute "import a.b.c"
        ("dqquery.snapshot", "dqquery.ast", 2),  # "from package import submodule"
        ("dqquery.snapshot", "dqquery", 3),  # "from . import name": a name of the package's __init__
        ("dqquery.targets.rr", "dqquery", 2),  # two dots, from a subpackage
        ("dqquery.targets.rr", "dqquery.sources.http", 3),
    }


LAYERS_ABC = [("bottom", ("p.a",)), ("middle", ("p.b", "p.sub.*")), ("top", ("p.c",))]


def test_an_upward_edge_is_refused_with_its_location() -> None:
    edges = [Edge("p.a", "p.b", "p/a.py", 7), Edge("p.c", "p.a", "p/c.py", 1), Edge("p.b", "p.sub.x", "p/b.py", 2)]
    problems = upward_imports(edges, LAYERS_ABC)
    assert problems == ["p.a -> p.b (p/a.py:7) imports upward: layer 0 'bottom' -> layer 1 'middle'"]
    assert upward_imports(edges, LAYERS_ABC, exceptions={("p.a", "p.b")}) == []


def test_an_unplaced_module_is_reported() -> None:
    assert unplaced(["p.a", "p.sub", "p.sub.y", "p.d"], LAYERS_ABC) == ["p.d"]


def test_a_cycle_of_function_local_imports_is_found() -> None:
    edges = [Edge("p.a", "p.b", "p/a.py", 3), Edge("p.b", "p.c", "p/b.py", 40), Edge("p.c", "p.a", "p/c.py", 12),
             Edge("p.c", "p.d", "p/c.py", 1)]
    found = cycles(edges, {"p.a", "p.b", "p.c", "p.d"})
    assert [describe_cycle(c) for c in found] == [
        "import cycle: p.a -> p.b (p/a.py:3); p.b -> p.c (p/b.py:40); p.c -> p.a (p/c.py:12)"]
    assert cycles(edges[:2] + edges[3:], {"p.a", "p.b", "p.c", "p.d"}) == []
    assert cycles([Edge("p.a", "p.a", "p/a.py", 1)], {"p.a"}) == [[Edge("p.a", "p.a", "p/a.py", 1)]]


def test_a_forbidden_edge_is_refused() -> None:
    edges = [Edge("dqquery.emulate.dials", "dqquery.targets.dials", "dqquery/emulate/dials.py", 47)]
    assert forbidden_imports(edges) == [
        "dqquery.emulate.dials -> dqquery.targets.dials (dqquery/emulate/dials.py:47) breaks the independence rule "
        "dqquery.emulate.* -/-> dqquery.targets.*"]


def test_the_most_specific_pattern_places_a_module() -> None:
    layers = [("low", ("p.sub.special",)), ("high", ("p.sub.*",))]
    assert [layer_of(m, layers) for m in ("p.sub", "p.sub.special", "p.sub.other", "p.subx")] == [1, 0, 1, None]


def test_nodes_print_as_queries_when_only_the_ast_module_is_imported() -> None:
    # ast installs no printer itself (it would import upward); importing it runs the package, which installs display.
    code = ("from dqquery.ast import Compare, FieldRef, IntValue\n"
            "node = Compare(field=FieldRef(name='run_number', path='run.run_number'), op='>', value=IntValue(value=5))\n"
            "print(str(node)); print(repr(node)); print(str(node.value))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["run_number > 5", "dqquery.parse('run_number > 5')", "5"]
