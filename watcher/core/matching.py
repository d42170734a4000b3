"""The one matcher: which events a sink's ``match``, a silence, a maintenance
window or a health rule selects.

Four keys, ANDed; the values of one key ORed; an absent key matches all:
``types`` (full type names), ``statuses``, ``sources`` and ``workflows`` (a
run's workflow id or name).  The singular ``type``, ``status``, ``source`` and
``workflow`` are the same keys.  ``*`` in a value matches any run of
characters; nothing else is special, so a name with ``[`` or ``?`` means
itself.  A reminder is matched as the event it reminds of too:
``types = ["watcher.source.failing"]`` lets ``watcher.source.reminder`` through.

Values arrive checked (:mod:`watcher.config.match` turns short type names into
full ones); this module compiles and applies them.  Routing runs per event per
sink, so a key's exact values are one set lookup and its globs one compiled
expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from watcher.core.events import REMINDS

#: the keys, in the order they are shown
KEYS = ("types", "statuses", "sources", "workflows")
#: the singular spelling of each key (the command line's ``--match type=...``)
ALIASES = {"type": "types", "status": "statuses", "source": "sources", "workflow": "workflows"}

#: a key's globs as one expression: its ``fullmatch``
Glob = Callable[[str], object]


class Routable(Protocol):
    @property
    def type(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def status(self) -> str | None: ...
    @property
    def workflow_id(self) -> str | None: ...
    @property
    def workflow_name(self) -> str | None: ...


def canonical_key(key: str) -> str | None:
    """``status`` and ``statuses`` to ``statuses``; ``None`` for no key."""
    key = ALIASES.get(key, key)
    return key if key in KEYS else None


def _globs(patterns: Iterable[str]) -> Glob | None:
    globs = [".*".join(re.escape(part) for part in p.split("*")) for p in patterns if "*" in p]
    if not globs:
        return None
    return re.compile("|".join(f"(?:{g})" for g in globs), re.DOTALL).fullmatch


def _hit(glob: Glob, value: str | None, other: str | None = None) -> bool:
    """Whether ``value`` or ``other`` (a reminder's type, a workflow's name) matches."""
    return ((value is not None and glob(value) is not None)
            or (other is not None and glob(other) is not None))


class Match:
    """A matcher over the four keys, compiled once; call it with an event."""

    # per key its exact values (None: the key is absent) and its globs (None: none)
    __slots__ = ("_source_globs", "_sources", "_status_globs", "_statuses", "_type_globs",
                 "_types", "_workflow_globs", "_workflows", "values")

    def __init__(self, values: Mapping[str, Iterable[str]] | None = None) -> None:
        """``values``: key (either spelling) -> patterns; ValueError for an unknown key."""
        vals: dict[str, tuple[str, ...]] = {}
        for key, patterns in (values or {}).items():
            k = canonical_key(key)
            if k is None:
                raise ValueError(f'"{key}" is not a match key')
            vals[k] = tuple(dict.fromkeys([*vals.get(k, ()), *patterns]))
        #: canonical key -> its patterns, in the order given (as the config shows them)
        self.values: Mapping[str, tuple[str, ...]] = {k: vals[k] for k in KEYS if k in vals}
        exact = {k: frozenset(p for p in v if "*" not in p) for k, v in self.values.items()}
        globs = {k: _globs(v) for k, v in self.values.items()}
        self._types, self._type_globs = exact.get("types"), globs.get("types")
        self._statuses, self._status_globs = exact.get("statuses"), globs.get("statuses")
        self._sources, self._source_globs = exact.get("sources"), globs.get("sources")
        self._workflows, self._workflow_globs = exact.get("workflows"), globs.get("workflows")

    @property
    def everything(self) -> bool:
        # no key at all; an empty list (which config refuses) would match nothing
        return not self.values

    def __call__(self, e: Routable) -> bool:
        # routing runs per event per sink: a set lookup per key as the attribute is read,
        # the globs only after a miss and only where the key has some
        if (self._types is not None and e.type not in self._types
                and REMINDS.get(e.type) not in self._types
                and (self._type_globs is None
                     or not _hit(self._type_globs, e.type, REMINDS.get(e.type)))):
            return False
        if (self._statuses is not None and e.status not in self._statuses
                and (self._status_globs is None or not _hit(self._status_globs, e.status))):
            return False
        if (self._sources is not None and e.source not in self._sources
                and (self._source_globs is None or not _hit(self._source_globs, e.source))):
            return False
        return (self._workflows is None or e.workflow_id in self._workflows
                or e.workflow_name in self._workflows
                or (self._workflow_globs is not None
                    and _hit(self._workflow_globs, e.workflow_id, e.workflow_name)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Match) and self.values == other.values

    def __hash__(self) -> int:
        return hash(tuple(self.values.items()))

    def __repr__(self) -> str:
        return f"Match({dict(self.values)!r})"

    def as_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.values.items()}


ALL = Match()
