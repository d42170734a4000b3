"""One exception tree: every error watcher raises on purpose is a class of watcher/errors.py,
drawn in its docstring, and an internal error is a failed poll but not the vendor's."""

from __future__ import annotations

import ast
import inspect
import re

from tests.support import ROOT
from watcher import errors

TREE = {name for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, errors.WatcherError)}


def test_no_module_but_errors_py_defines_a_watcher_error() -> None:
    """No class outside errors.py derives from WatcherError or one of its subclasses."""
    outside = []
    for path in sorted((ROOT / "watcher").rglob("*.py")):
        if path.name == "errors.py" and path.parent.name == "watcher":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Name) and b.id in TREE for b in node.bases):
                outside.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert outside == []


def drawn() -> dict[str, str]:
    """The tree errors.py's docstring draws: each class name and the name it hangs from."""
    doc = (errors.__doc__ or "").split("::", 1)[1]
    parents: dict[str, str] = {}
    path: list[str] = []
    for line in doc.splitlines():
        name = re.search(r"(?:── |^    )(\w+)", line)
        if name is None:
            continue
        depth = (line.index("── ") - 4) // 4 + 1 if "── " in line else 0
        del path[depth:]
        if path:
            parents[name.group(1)] = path[-1]
        path.append(name.group(1))
    return parents


def test_the_docstring_draws_the_tree_as_it_is() -> None:
    """Every error class of errors.py is drawn in its docstring's tree under its own base,
    and nothing else is."""
    actual = {name: getattr(errors, name).__base__.__name__ for name in TREE - {"WatcherError"}}
    assert drawn() == actual


def test_an_internal_error_is_a_failed_poll_but_not_the_vendors() -> None:
    """InternalError and ProviderError are both a PollError; neither is the other."""
    assert issubclass(errors.InternalError, errors.PollError)
    assert issubclass(errors.ProviderError, errors.PollError)
    assert not issubclass(errors.InternalError, errors.ProviderError)
