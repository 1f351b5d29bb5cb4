"""The package is laid out as the pipeline: every folder packaged, imports only run down.

Each subpackage's docstring ends with ``May import: a, b, c.``; this test holds the code to it,
so the docstring and the import graph cannot drift apart. Function-level (lazy) imports count
too: a cycle hidden inside a function is still a cycle.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"generator": "llmplan", "providers": "llmplan.providers", "templates": "llmplan.templates"}
# Top-level modules of llmplan and what each may import (they sit below every subpackage, except
# the entry points).
TOP_LEVEL = {
    "vocabulary": set(),
    "errors": set(),
    "settings": set(),
    "tables": set(),
    "workload": {"vocabulary"},
    "gpus": {"errors", "vocabulary"},
    "cli": {"errors", "settings", "commands"},
    "__main__": {"cli"},
    "__init__": set(),
}


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for folder, package in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            parts = tuple(p for p in parts if p != "__init__")
            out[".".join((package, *parts))] = path
    return out


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "llmplan":
                # ``from llmplan import __version__`` reads the package root, which imports nothing.
                found.update(f"llmplan.{a.name}" for a in node.names if not a.name.startswith("__"))
            elif node.module.startswith("llmplan."):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("llmplan."))
    return found


def _unit(module: str) -> str:
    """The layering unit of a module: its first-level subpackage, or the top-level module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _allowed() -> dict[str, set[str]]:
    allowed = {name: set(deps) for name, deps in TOP_LEVEL.items()}
    for init in sorted((ROOT / "generator").glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        match = re.search(r"May import:\s*(.+?)\.\s*$", doc, re.S)
        assert match, f"{init.relative_to(ROOT)}: docstring lacks 'May import: ....'"
        text = " ".join(match.group(1).split())
        if text == "anything in llmplan below cli":
            allowed[init.parent.name] = {"*"}
        else:
            allowed[init.parent.name] = {p.strip() for p in text.split(",")}
    allowed["providers"] = {"errors", "vocabulary", "gpus"}
    allowed["templates"] = set()
    return allowed


def test_every_package_folder_is_packaged() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = set(config["tool"]["setuptools"]["packages"])
    on_disk = set()
    for folder, package in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            on_disk.add(".".join((package, *parts)))
    assert declared == on_disk


def test_every_folder_with_code_is_a_package() -> None:
    for folder in FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            assert (path.parent / "__init__.py").exists(), f"{path.parent} has no __init__.py"


def test_imports_only_run_down_the_pipeline() -> None:
    allowed = _allowed()
    wrong = []
    for module, path in _modules().items():
        unit = _unit(module)
        rules = allowed.get(unit)
        assert rules is not None, f"{module}: no layering rule for '{unit}'"
        for target in _imports(path):
            other = _unit(target)
            if other == unit or "*" in rules and other != "cli":
                continue
            if other not in rules:
                wrong.append(f"{module} imports {target} ({unit} may import: {sorted(rules)})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles_between_modules() -> None:
    modules = _modules()
    graph = {m: {t for t in _imports(p) if t in modules and t != m} for m, p in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("package", sorted(p.parent.name for p in (ROOT / "generator").glob(
    "*/__init__.py")))
def test_subpackage_docstring_says_what_it_holds(package: str) -> None:
    doc = ast.get_docstring(ast.parse(
        (ROOT / "generator" / package / "__init__.py").read_text(encoding="utf-8"))) or ""
    assert len(doc.split("May import:")[0].strip()) > 40
