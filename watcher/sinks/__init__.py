"""Sink registry: built-ins by name, third parties via the ``watcher.sinks`` entry-point
group (``my-sink = "my_pkg.module:MySink"``)."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

BUILTIN = {
    "stdout": "watcher.sinks.stdout:StdoutSink",
    "file": "watcher.sinks.file:FileSink",
    "webhook": "watcher.sinks.webhook:WebhookSink",
    "slack": "watcher.sinks.slack:SlackSink",
}

GROUP = "watcher.sinks"


def sink_class(name: str) -> Any | None:
    if name in BUILTIN:
        module, _, attr = BUILTIN[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            return ep.load()
    return None


def sink_names() -> list[str]:
    return sorted({*BUILTIN, *(ep.name for ep in entry_points(group=GROUP))})
