"""The layers of docs/architecture.md hold: pages and app/ never touch the database directly, core/ never imports
Streamlit, and no two modules of core/ import each other, directly or through others, at import time or lazily."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATABASE_LIBRARIES = ("sqlalchemy", "sqlmodel")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def python_files(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts)


def imported_modules(path: Path) -> set[str]:
    """Every module the file imports, anywhere in it (inside functions too), as absolute dotted names."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def core_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in python_files("core")}
    return {name: {m for m in imported_modules(path) if m in modules and m != name} for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            component.append(node)
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("folder", ["pages", "app"])
def test_pages_and_app_never_import_the_database_libraries(folder):
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in imported_modules(path) if m.split(".")[0] in DATABASE_LIBRARIES)
        for path in python_files(folder)
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}


@pytest.mark.parametrize("folder", ["pages", "app"])
def test_pages_and_app_open_no_transaction_of_their_own(folder):
    opened = [
        str(path.relative_to(ROOT))
        for path in python_files(folder)
        if {"core.store.db.session_scope", "core.store.db.write_scope", "core.store.db.get_engine"}
        & imported_modules(path)
    ]
    assert opened == []


def test_core_never_imports_streamlit():
    assert [
        module_name(p) for p in python_files("core") if "streamlit" in {m.split(".")[0] for m in imported_modules(p)}
    ] == []


def test_core_has_no_import_cycle():
    assert cycles(core_graph()) == []


def test_the_cycle_finder_finds_a_cycle_through_three_modules():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_only_the_four_top_level_modules_stay_at_the_top_of_core():
    top = sorted(p.name for p in (ROOT / "core").glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "audit.py", "auth.py", "config.py", "text.py"]
