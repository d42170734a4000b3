"""The codebase keeps the shape ARCHITECTURE.md promises: functions that fit on a screen,
and tests that each say what behaviour they hold (a feature that spans files gets a
folder, rather than a line cap per module)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import ROOT

FUNCTION_LINES = 50
#: the simulator's scripted world reads as a story; it may run long
LONG_ALLOWED = {"watcher/simulator/scenario.py"}


def _modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


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
