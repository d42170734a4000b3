"""The plugin API a package imports from ``watcher``: named in ``__all__``, loaded on first
use so that ``import watcher`` (every CLI start) loads nothing else, and typed (py.typed)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib

import pytest

import watcher
from tests.support import ROOT


def test_import_watcher_loads_no_module_but_the_version() -> None:
    """A fresh ``import watcher`` imports watcher.version and nothing else of the package,
    nor the typing module."""
    code = ("import sys, watcher; print(sorted(m for m in sys.modules if m.startswith"
            "('watcher')), 'typing' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         check=True, env={"PYTHONPATH": str(ROOT)}).stdout.decode()
    assert out.strip() == "['watcher', 'watcher.version'] False"


@pytest.mark.parametrize("name", watcher.__all__)
def test_every_public_name_is_the_object_its_module_defines(name: str) -> None:
    """Each name of __all__ resolves to the very object of the module that defines it."""
    value = getattr(watcher, name)
    home = getattr(value, "__module__", None)
    if isinstance(home, str) and home.startswith("watcher.") and hasattr(value, "__name__"):
        assert getattr(importlib.import_module(home), value.__name__) is value
    assert name in dir(watcher)


def test_an_unknown_name_is_an_attribute_error() -> None:
    """A name the API does not have fails as any missing module attribute does."""
    with pytest.raises(AttributeError, match="no attribute 'Poller'"):
        watcher.Poller  # noqa: B018


def test_the_type_hints_ship_with_the_package() -> None:
    """watcher/py.typed exists and the build includes it as package data (PEP 561)."""
    assert (ROOT / "watcher" / "py.typed").is_file()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["watcher"]
