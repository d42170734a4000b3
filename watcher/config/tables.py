"""The arrays of tables a config holds (``[[sources]]``, ``[[rules]]``, ...), walked once."""

from __future__ import annotations

from collections.abc import Iterator

from watcher.config.schema import Problems


def array_tables(raw_list: object, key: str, problems: Problems) -> Iterator[tuple[str, object]]:
    """Each table of the array ``[[key]]`` (none if absent) with its key path; anything
    but an array is a problem."""
    if isinstance(raw_list, list):
        yield from ((f"{key}[{i}]", raw) for i, raw in enumerate(raw_list))
    elif raw_list is not None:
        problems.add(key, f"must be an array of tables ([[{key}]])")
