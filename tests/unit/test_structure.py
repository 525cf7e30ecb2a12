"""The shape of the code base: packages named for their concern, imports that only point down the
layers, no import cycle, small modules, and a README layout table that matches the tree."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
COMMON = FUNCTIONS / "common"
MAX_LINES = 400

# What each package of the shared core may import (besides itself): the architecture's layers.
# Functions (functions/<name>/) may import any of them, never another function.
ALLOWED = {
    "platform": set(),
    "accounts": {"platform"},
    "security": {"platform", "accounts"},
    "http": {"platform", "security"},
    "dicom": {"platform", "security"},
    "ai_models": {"platform"},
    "access": {"platform", "security", "accounts", "ai_models", "dicom", "http"},
    "schema": {"platform", "security", "accounts", "ai_models", "dicom", "access"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    """Every importable module of functions/ (Alembic's scripts are run, not imported)."""
    paths = [p for p in FUNCTIONS.rglob("*.py") if "migrations" not in p.parts and p.parent != FUNCTIONS]
    return {_module_name(p): p for p in paths}


MODULES = _modules()


def _imports(path: Path) -> set[str]:
    """The modules of functions/ that a module imports, at any depth of its code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("functions."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("functions."):
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
    return {m for m in found if m in MODULES}


GRAPH = {name: _imports(path) - {name} for name, path in MODULES.items()}


def _unit(module: str) -> str:
    """The package a module belongs to: a shared-core package (`dicom`) or a function (`fn:auth`)."""
    parts = module.split(".")
    if parts[1] == "common":
        return parts[2] if len(parts) > 2 else "common"
    return "fn:" + parts[1]


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_shared_core_is_a_few_packages_named_for_their_concern():
    packages = {p.name for p in COMMON.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(ALLOWED) - {"schema"}
    loose = sorted(p.name for p in COMMON.glob("*.py") if p.name not in ("__init__.py", "schema.py"))
    assert not loose, f"modules outside a package of the shared core: {loose}"


def test_no_module_imports_in_a_cycle():
    assert _cycle(GRAPH) is None, " -> ".join(_cycle(GRAPH))


def test_packages_import_only_down_the_layers():
    wrong = defaultdict(set)
    for module, imported in GRAPH.items():
        unit = _unit(module)
        for other in imported:
            dep = _unit(other)
            if dep == unit:
                continue
            if unit.startswith("fn:"):
                ok = not dep.startswith("fn:")
            else:
                ok = dep in ALLOWED.get(unit, set())
            if not ok:
                wrong[module].add(other)
    assert not wrong, dict(wrong)
    units = defaultdict(set)
    for module, imported in GRAPH.items():
        units[_unit(module)].update(_unit(o) for o in imported if _unit(o) != _unit(module))
    assert _cycle(units) is None


def test_the_layer_check_sees_imports():
    """Guard against a checker that finds nothing: the gateway's views do import the permission model."""
    assert "functions.common.access.requirements" in GRAPH["functions.dicomweb.views"]
    assert "functions.common.dicom.originals" in GRAPH["functions.common.dicom.ingest"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


SKIPPED_DIRS = {".git", ".venv", ".venv-checkov", "node_modules", "var", "web", "tests", "__pycache__"}


def _project_python() -> list[Path]:
    """The project's own Python files outside the tests (not the virtualenv, the web build or state)."""
    found = []
    for path in ROOT.rglob("*.py"):
        if not SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts):
            found.append(path)
    return found


def test_no_module_outside_the_tests_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in _project_python() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these modules (over {MAX_LINES} lines): {long}"


def _layout_rows() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| `([^`]+)` \| (.+) \|$", section, re.M)}


@pytest.mark.parametrize("folder", sorted(
    [f"functions/common/{p.name}/" for p in COMMON.iterdir() if (p / "__init__.py").exists()]
    + [f"functions/{p.name}/" for p in FUNCTIONS.iterdir() if (p / "main.py").exists()]))
def test_every_package_is_in_the_readme_layout_table(folder):
    assert folder in _layout_rows(), f"README's layout table does not describe {folder}"


def test_every_folder_the_layout_table_names_exists():
    missing = [f for f in _layout_rows() if not (ROOT / f.split(",")[0].strip()).exists()]
    assert not missing, missing
