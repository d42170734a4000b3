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

#: one key's test of one value of an event (``None``: the event has no such value)
Test = Callable[[str | None], bool]


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


def _compile(patterns: Iterable[str]) -> Test:
    exact = frozenset(p for p in patterns if "*" not in p)
    globs = [".*".join(re.escape(part) for part in p.split("*")) for p in patterns if "*" in p]
    if not globs:
        return exact.__contains__
    glob = re.compile("|".join(f"(?:{g})" for g in globs), re.DOTALL).fullmatch
    return lambda v: v is not None and (v in exact or glob(v) is not None)


class Match:
    """A matcher over the four keys, compiled once; call it with an event."""

    __slots__ = ("_sources", "_statuses", "_types", "_workflows", "values")

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
        tests = {k: _compile(v) for k, v in self.values.items()}
        self._types = tests.get("types")
        self._statuses = tests.get("statuses")
        self._sources = tests.get("sources")
        self._workflows = tests.get("workflows")

    @property
    def everything(self) -> bool:
        # no key at all; an empty list (which config refuses) would match nothing
        return not self.values

    def __call__(self, e: Routable) -> bool:
        test = self._types
        if test is not None and not (test(e.type) or test(REMINDS.get(e.type))):
            return False
        test = self._statuses
        if test is not None and not test(e.status):
            return False
        test = self._sources
        if test is not None and not test(e.source):
            return False
        test = self._workflows
        return test is None or test(e.workflow_id) or test(e.workflow_name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Match) and self.values == other.values

    def __hash__(self) -> int:
        return hash(tuple(self.values.items()))

    def __repr__(self) -> str:
        return f"Match({dict(self.values)!r})"

    def as_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.values.items()}


ALL = Match()
