"""Provider registry: built-ins by name, third parties via the ``watcher.providers``
entry-point group (``my-vendor = "my_pkg.module:MyProvider"``)."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

BUILTIN = {
    "extend": "watcher.providers.extend:ExtendProvider",
    "noxus": "watcher.providers.noxus:NoxusProvider",
    "cortex": "watcher.providers.cortex:CortexProvider",
    "knock": "watcher.providers.knock:KnockProvider",
}

GROUP = "watcher.providers"


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def provider_class(name: str) -> Any | None:
    """The provider class registered as ``name``, or ``None``."""
    if name in BUILTIN:
        return _load(BUILTIN[name])
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            return ep.load()
    return None


def provider_names() -> list[str]:
    return sorted({*BUILTIN, *(ep.name for ep in entry_points(group=GROUP))})
