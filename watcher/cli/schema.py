"""``watcher schema``: the JSON Schema of the events, whole or of one type."""

from __future__ import annotations

import json
import os
import sys

from watcher.event_schema import PREFIX, event_types, schema, type_schema


def command(type_name: str | None) -> int:
    """Print the schema (of ``type_name`` alone when given); 64 naming the known types
    for a type there is not."""
    doc = schema() if type_name is None else type_schema(type_name)
    if doc is None:
        known = ", ".join(t.removeprefix(PREFIX) for t in event_types())
        print(f"watcher schema: no event type {type_name!r}; the types are: {known} "
              f"(short or with {PREFIX!r})", file=sys.stderr)
        return os.EX_USAGE
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return os.EX_OK
