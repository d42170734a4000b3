"""Routing: which events a sink receives (``match`` in a sink's config).

Keys are ANDed, the values of one key ORed, an absent key matches all.  A
reminder is routed as the event it reminds of too: ``types = ["source.failing"]``
lets ``watcher.source.reminder`` through.
"""

from __future__ import annotations

from typing import Protocol

from watcher.core.events import REMINDS

MATCH_KEYS = ("types", "status", "sources", "workflows")


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


class Match:
    __slots__ = ("sources", "statuses", "types", "workflows")

    def __init__(self, *, types: frozenset[str] | None = None,
                 statuses: frozenset[str] | None = None, sources: frozenset[str] | None = None,
                 workflows: frozenset[str] | None = None) -> None:
        self.types = types
        self.statuses = statuses
        self.sources = sources
        self.workflows = workflows

    @property
    def everything(self) -> bool:
        # "is None", not falsiness: an empty set matches nothing, so it is not "everything"
        return (self.types is None and self.statuses is None and self.sources is None
                and self.workflows is None)

    def __call__(self, e: Routable) -> bool:
        if (self.types is not None and e.type not in self.types
                and REMINDS.get(e.type) not in self.types):
            return False
        if self.statuses is not None and e.status not in self.statuses:
            return False
        if self.sources is not None and e.source not in self.sources:
            return False
        return self.workflows is None or (e.workflow_id in self.workflows
                                          or e.workflow_name in self.workflows)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Match) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash(tuple((k, tuple(v)) for k, v in self.as_dict().items()))

    def as_dict(self) -> dict[str, list[str]]:
        out = {}
        for key, attr in zip(MATCH_KEYS, ("types", "statuses", "sources", "workflows"),
                             strict=True):
            val = getattr(self, attr)
            if val is not None:
                out[key] = sorted(val)
        return out


ALL = Match()
