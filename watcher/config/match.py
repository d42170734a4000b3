"""A sink's ``match`` table, validated into a :class:`~watcher.core.routing.Match`.

A typo'd key or value is an error, never ignored: it would silently disable
an alert.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection

from watcher.config.schema import Problems
from watcher.core.events import EVENT_TYPES, full_type
from watcher.core.routing import ALL, MATCH_KEYS, Match
from watcher.model import Status


def parse_match(raw: object, path: str, problems: Problems, *,
                sources: Collection[str] | None = None) -> Match:
    """Validate a ``match`` table; a typo'd key or value is an error, never ignored (it
    would silently disable an alert).  With ``sources`` (the configured source names),
    ``sources = [...]`` must name configured ones."""
    if raw is None:
        return ALL
    if not isinstance(raw, dict):
        problems.add(path, "must be a table")
        return ALL
    values: dict[str, frozenset[str]] = {}
    for key, val in raw.items():
        kpath = f"{path}.{key}"
        if key not in MATCH_KEYS:
            problems.add(kpath, f"unknown key{_hint(key, MATCH_KEYS)} "
                                f"(expected one of {', '.join(MATCH_KEYS)})")
            continue
        items = [val] if isinstance(val, str) else val
        if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
            problems.add(kpath, "must be a string or a list of strings")
            continue
        if not items:
            problems.add(kpath, "is empty: it would match nothing (remove the key to match all)")
            continue
        if key == "types":
            full = []
            for t in items:
                ft = full_type(t)
                if ft is None:
                    names = [n.removeprefix("watcher.") for n in EVENT_TYPES]
                    problems.add(kpath, f'"{t}" is not an event type'
                                        f"{_hint(t.removeprefix('watcher.'), names)}")
                else:
                    full.append(ft)
            items = full
        elif key == "status":
            for s in items:
                if s not in Status.__members__.values():
                    problems.add(kpath, f'"{s}" is not a canonical status'
                                        f"{_hint(s, [st.value for st in Status])}")
        elif key == "sources" and sources is not None:
            for name in items:
                if name not in sources:
                    problems.add(kpath, f'"{name}" is not a configured source'
                                        f"{_hint(name, sources)}")
        values[key] = frozenset(items)
    return Match(types=values.get("types"), statuses=values.get("status"),
                 sources=values.get("sources"), workflows=values.get("workflows"))


def _hint(value: str, choices: Collection[str]) -> str:
    m = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.7)
    return f" (did you mean {m[0]!r}?)" if m else ""
