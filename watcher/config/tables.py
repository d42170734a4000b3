"""The arrays of tables a config holds (``[[sources]]``, ``[[rules]]``, ...), walked once."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from watcher.config.schema import Problems

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def array_tables(data: Mapping[str, Any], key: str, problems: Problems
                 ) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each table of the array ``[[key]]`` (none if absent) with its key path; anything
    but an array of tables is a problem."""
    found = data.get(key)
    if found is not None and not isinstance(found, list):
        problems.add(key, f"must be an array of tables ([[{key}]])")
        return
    for i, raw in enumerate(found or ()):
        if isinstance(raw, dict):
            yield f"{key}[{i}]", raw
        else:
            problems.add(f"{key}[{i}]", "must be a table")


def check_name(name: object, path: str, seen: set[str], problems: Problems) -> bool:
    """Whether ``name`` is a well-formed name not in ``seen`` (else the problem said); it
    joins ``seen``."""
    if not isinstance(name, str):
        return False
    ok = False
    if not _NAME.match(name):
        problems.add(path, f'"{name}" must be 1-64 letters, digits, ".", "_" or "-"')
    elif name in seen:
        problems.add(path, f'"{name}" is already used by another entry')
    else:
        ok = True
    seen.add(name)
    return ok
