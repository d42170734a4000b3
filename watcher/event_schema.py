"""The JSON Schema (draft 2020-12) every event holds to, shipped as package data.

``events.schema.json`` beside this module describes the CloudEvents envelope
and the ``data`` of each event type; ``watcher schema`` prints it, and the
test suite validates every event it sees against it.  The providers coerce
each vendor value to its field's type (or null) so that it holds whatever a
vendor sends (:mod:`watcher.providers.items`).
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any, cast

__all__ = ["event_types", "schema", "type_schema"]

PREFIX = "watcher."


@cache
def _loaded() -> str:
    return files("watcher").joinpath("events.schema.json").read_text(encoding="utf-8")


def schema() -> dict[str, Any]:
    """The whole schema (a fresh copy: callers may change it)."""
    return cast(dict[str, Any], json.loads(_loaded()))


def event_types() -> list[str]:
    """Every event type's full name (``watcher.run.created`` ...), as the schema lists them."""
    return cast(list[str], schema()["$defs"]["envelope"]["properties"]["type"]["enum"])


def type_schema(name: str) -> dict[str, Any] | None:
    """The schema of one event type, standalone, by its short or full name; ``None`` for a
    type there is not."""
    short = name.removeprefix(PREFIX)
    if PREFIX + short not in event_types():
        return None
    whole = schema()
    defs = whole["$defs"]
    one: dict[str, Any] = {
        "$schema": whole["$schema"],
        "$id": f"{whole['$id']}:{short}",
        "title": PREFIX + short,
        "description": defs[f"data.{short}"]["description"],
        "$ref": "#/$defs/envelope",
        "properties": {"type": {"const": PREFIX + short},
                       "data": {"$ref": f"#/$defs/data.{short}"}},
    }
    one["$defs"] = {d: defs[d] for d in sorted(_reached(one, defs))}
    return one


def _reached(node: Any, defs: dict[str, Any]) -> set[str]:
    """The names of the ``$defs`` that ``node`` refers to, directly or through others."""
    seen: set[str] = set()
    todo = [node]
    while todo:
        n = todo.pop()
        if isinstance(n, dict):
            ref = n.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name not in seen:
                    seen.add(name)
                    todo.append(defs[name])
            todo.extend(n.values())
        elif isinstance(n, list):
            todo.extend(n)
    return seen
