"""The one check of a matcher's keys and values, for a sink's ``match``, a rule's,
a maintenance window's, ``watcher silence add --match`` and the ``/events`` filter.

A typo'd key or value is an error, never ignored: it would silently disable an
alert (or a silence).  Type names may be short (``run.stuck``) or full; a value
with ``*`` is a glob, not checked against the known names.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from watcher.config.hints import hint
from watcher.config.schema import Problems
from watcher.core.events import EVENT_TYPES
from watcher.core.matching import ALIASES, ALL, KEYS, Match, canonical_key
from watcher.core.silences import stored_form
from watcher.model import Status

#: ``(key as written, what is wrong with it)``
Problem = tuple[str, str]
#: how a problem with a key itself begins (a config names the key in its path)
UNKNOWN = "unknown key"

_TYPE_NAMES = [t.removeprefix("watcher.") for t in EVENT_TYPES]
_STATUSES = [s.value for s in Status]


def _type(value: str) -> tuple[str, str | None]:
    """A type value as a full name (a glob keeps its ``*``), and what is wrong with it."""
    full = value if value.startswith("watcher.") or value == "*" else f"watcher.{value}"
    if "*" not in full and full not in EVENT_TYPES:
        short = value.removeprefix("watcher.")
        return full, f'"{value}" is not an event type{hint(short, _TYPE_NAMES)}'
    return full, None


def _problem(key: str, value: str, sources: Collection[str] | None) -> str | None:
    if "*" in value:
        return None
    if key == "statuses" and value not in _STATUSES:
        return f'"{value}" is not a canonical status{hint(value, _STATUSES)}'
    if key == "sources" and sources is not None and value not in sources:
        return f'"{value}" is not a configured source{hint(value, sources)}'
    return None


def check_match(raw: Mapping[str, object], *, sources: Collection[str] | None = None
                ) -> tuple[Match, list[Problem]]:
    """The matcher of ``raw`` (key -> a string or a list of strings) and every problem
    found; with ``sources`` (the configured names), a source without ``*`` must be one."""
    values: dict[str, list[str]] = {}
    found: list[Problem] = []
    for key, val in raw.items():
        canon = canonical_key(key)
        if canon is None:
            found.append((key, f"{UNKNOWN}{hint(key, [*ALIASES, *KEYS])} (expected one of "
                               f"{', '.join(KEYS)}, or {', '.join(ALIASES)})"))
            continue
        items = [val] if isinstance(val, str) else val
        if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
            found.append((key, "must be a string or a list of strings"))
            continue
        if not items:
            found.append((key, "is empty: it would match nothing (remove the key to match all)"))
            continue
        if any(not v for v in items):
            found.append((key, "an empty value matches nothing"))
            continue
        out = values.setdefault(canon, [])
        for v in items:
            if canon == "types":
                v, what = _type(v)
            else:
                what = _problem(canon, v, sources)
            if what is not None:
                found.append((key, what))
            out.append(v)
    return Match(values), found


def parse_match(raw: object, path: str, problems: Problems, *,
                sources: Collection[str] | None = None) -> Match:
    """A ``match`` table of the config (absent: everything); each problem at its key path."""
    if raw is None:
        return ALL
    if not isinstance(raw, dict):
        problems.add(path, "must be a table")
        return ALL
    match, found = check_match(raw, sources=sources)
    for key, what in found:
        problems.add(f"{path}.{key}", what)
    return match


def parse_pairs(items: Iterable[str], *, sources: Collection[str] | None = None
                ) -> dict[str, tuple[str, ...]]:
    """``KEY=VALUE`` arguments as a silence's match (:func:`stored_form`); a key given
    twice matches either value.  ValueError saying every problem."""
    values: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f'"{item}" is not KEY=VALUE (keys: {", ".join(ALIASES)})')
        values.setdefault(key.strip(), []).append(value.strip())
    if not values:
        raise ValueError("a silence needs at least one --match KEY=VALUE")
    match, found = check_match(values, sources=sources)
    if found:
        raise ValueError("; ".join(_said(key, what) for key, what in found))
    return stored_form(match)


def _said(key: str, what: str) -> str:
    """A problem on the command line, where no key path names the key."""
    if what.startswith(UNKNOWN):
        return f'"{key}" is not a match key{what.removeprefix(UNKNOWN)}'
    return f"{key}: {what}"
