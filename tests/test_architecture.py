"""The package's architecture: layers, one-way imports, no cycles, no root imports."""

from pathlib import Path

import grimp
import pytest
from importlinter import cli as importlinter_cli

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("symgeo", include_external_packages=True)


def test_import_linter_contracts_are_kept():
    """The layers contract in pyproject.toml (what CI's `lint-imports` runs)."""
    code = importlinter_cli.lint_imports(config_filename=str(REPO / "pyproject.toml"),
                                         no_cache=True, no_logo=True)
    assert code == 0


def _strongly_connected(graph, modules):
    """Tarjan's algorithm over the direct imports between ``modules``."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.find_modules_directly_imported_by(v) & modules:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            out.append(comp)
    for m in sorted(modules):
        if m not in index:
            visit(m)
    return out


def test_no_import_cycle(graph):
    modules = {m for m in graph.modules if m == "symgeo" or m.startswith("symgeo.")}
    cycles = [sorted(c) for c in _strongly_connected(graph, modules) if len(c) > 1]
    self_loops = [m for m in modules if m in graph.find_modules_directly_imported_by(m)]
    assert not cycles and not self_loops, cycles or self_loops


def test_nothing_imports_the_package_root(graph):
    importers = graph.find_modules_that_directly_import("symgeo")
    assert {m for m in importers if m.startswith("symgeo")} == set()


def test_only_the_cli_and_the_entry_point_import_the_cli(graph):
    importers = {m for m in graph.find_modules_that_directly_import("symgeo.cli")
                 if not m.startswith("symgeo.cli")}
    assert importers <= {"symgeo.__main__"}


def test_function_local_imports_only_for_optional_dependencies(graph):
    """An import inside a function is allowed for the optional extras only (matplotlib, jax)."""
    import ast
    allowed = {"matplotlib", "jax"}
    offenders = []
    for path in sorted((REPO / "symgeo").rglob("*.py")):
        if "templates" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import):
                        names = [a.name for a in inner.names]
                    elif isinstance(inner, ast.ImportFrom):
                        names = ["." * inner.level + (inner.module or "")]
                    else:
                        continue
                    if not all(n.split(".")[0] in allowed for n in names):
                        offenders.append(f"{path.relative_to(REPO)}:{inner.lineno} {names}")
    assert offenders == []


def test_importing_symgeo_does_not_import_matplotlib():
    import subprocess
    import sys
    code = "import sys, symgeo; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
