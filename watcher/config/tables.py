"""The arrays of tables a config holds (``[[sources]]``, ``[[rules]]``, ...), walked once."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from watcher.config.schema import Problems


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
