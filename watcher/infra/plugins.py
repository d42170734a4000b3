"""Plugins found by name: the built-ins, then the packages that declare an entry point.

Providers and sinks are both looked up this way, each in its own group
(``watcher.providers``, ``watcher.sinks``); a built-in is imported only when
a config names it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any


class Plugins:
    def __init__(self, group: str, builtin: Mapping[str, str]) -> None:
        self.group = group
        #: name -> "module:attribute"
        self.builtin = dict(builtin)

    def get(self, name: str) -> Any | None:
        """The class registered as ``name``, or ``None``."""
        ref = self.builtin.get(name)
        if ref is not None:
            module, _, attr = ref.partition(":")
            return getattr(importlib.import_module(module), attr)
        for ep in entry_points(group=self.group):
            if ep.name == name:
                return ep.load()
        return None

    def names(self) -> list[str]:
        return sorted({*self.builtin, *(ep.name for ep in entry_points(group=self.group))})
