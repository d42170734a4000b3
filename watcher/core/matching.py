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
        # routing runs per event per sink: a set lookup per key, the globs only after a
        # miss, no call where a key has none
        exact = self._types
        if exact is not None and e.type not in exact:
            reminded = REMINDS.get(e.type)
            if reminded not in exact:
                glob = self._type_globs
                if glob is None or (glob(e.type) is None
                                    and (reminded is None or glob(reminded) is None)):
                    return False
        exact = self._statuses
        if exact is not None and e.status not in exact:
            glob = self._status_globs
            if glob is None or e.status is None or glob(e.status) is None:
                return False
        exact = self._sources
        if exact is not None and e.source not in exact:
            glob = self._source_globs
            if glob is None or glob(e.source) is None:
                return False
        exact = self._workflows
        if exact is None or e.workflow_id in exact or e.workflow_name in exact:
            return True
        glob = self._workflow_globs
        return glob is not None and any(v is not None and glob(v) is not None
                                        for v in (e.workflow_id, e.workflow_name))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Match) and self.values == other.values

    def __hash__(self) -> int:
        return hash(tuple(self.values.items()))

    def __repr__(self) -> str:
        return f"Match({dict(self.values)!r})"

    def as_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.values.items()}


ALL = Match()
