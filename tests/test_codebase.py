"""The codebase keeps the shape ARCHITECTURE.md promises: small modules, functions that fit
on a screen, and tests that each say what behaviour they hold."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import ROOT

MODULE_LINES = 300
FUNCTION_LINES = 50
#: the simulator's scripted world reads as a story; it may run long
LONG_ALLOWED = {"watcher/simulator/scenario.py"}


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_no_module_is_over_300_lines() -> None:
    """Every module of the package stays under ~300 lines (one reason to change each)."""
    long = {str(p.relative_to(ROOT)): n for p in _modules("watcher")
            if (n := len(p.read_text().splitlines())) > MODULE_LINES}
    assert long == {}


def test_no_function_is_over_50_lines() -> None:
    """Every function of the package fits on a screen, outside the simulator's script."""
    long = {}
    for p in _modules("watcher"):
        rel = str(p.relative_to(ROOT))
        if rel in LONG_ALLOWED:
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > FUNCTION_LINES:
                    long[f"{rel}:{node.lineno} {node.name}"] = n
    assert long == {}


def test_every_test_says_what_behaviour_it_holds() -> None:
    """Every test function has a docstring."""
    bare = [f"{p.relative_to(ROOT)}:{node.lineno} {node.name}" for p in _modules("tests")
            for node in ast.walk(ast.parse(p.read_text()))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test") and ast.get_docstring(node) is None]
    assert bare == []


def test_only_state_reaches_the_store_behind_a_journal() -> None:
    """Outside state/ nothing calls ``journal.store``: readers use the Journal's own methods
    (import-linter cannot see an attribute access, so this reads the source)."""
    reach = [f"{p.relative_to(ROOT)}:{node.lineno}" for p in _modules("watcher")
             if "state" not in p.relative_to(ROOT / "watcher").parts[:1]
             for node in ast.walk(ast.parse(p.read_text()))
             if isinstance(node, ast.Attribute) and node.attr == "store"
             and "journal" in ast.unparse(node.value).lower()]
    assert reach == []


def _private(node: ast.AST, own: set[str]) -> bool:
    """``x._name`` of something not ours, or ``getattr(x, "_name")``."""
    if isinstance(node, ast.Attribute):
        return (node.attr.startswith("_") and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in own))
    return (isinstance(node, ast.Call) and ast.unparse(node.func) == "getattr"
            and isinstance(node.args[1], ast.Constant) and str(node.args[1].value).startswith("_"))


def test_the_test_clocks_read_no_private_attribute_of_asyncio_or_anyio() -> None:
    """``watcher.testing`` uses only public asyncio and anyio: no ``_private`` module, and
    no ``_private`` attribute of anything but its own objects and classes."""
    private = []
    for p in _modules("watcher/testing"):
        tree = ast.parse(p.read_text())
        own = {"self", "cls"} | {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [
                    a.name for a in node.names]
                private += [n for n in names if any(part.startswith("_") and part != "__future__"
                                                    for part in n.split("."))]
            elif _private(node, own):
                private.append(f"{p.name}:{node.lineno} {ast.unparse(node)}")
    assert private == []
