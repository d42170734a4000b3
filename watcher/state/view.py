"""The state as ``watcher status`` and ``GET /status`` show it, read from any store.

With several replicas (a store with a cluster): the replicas and their
heartbeats, and every lease with its holder, epoch, expiry and what its
holder last reported of it (last successful poll, runs tracked and live).
Without (SQLite): no leases, and each source's runs as stored.  Either way the
journal's head, every reader's cursor and the dead letters per sink.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from watcher.model import TERMINAL
from watcher.state.cluster import LeaseRow, ReplicaRow
from watcher.state.store import Store


@dataclass(frozen=True)
class StoredSource:
    """A source as stored (SQLite: read from its runs)."""

    runs: int
    live: int


@dataclass(frozen=True)
class ClusterView:
    head: int
    #: every journal reader's cursor (``<sink>`` or ``<sink>@<replica>``)
    cursors: Mapping[str, int]
    #: dead letters per journal reader
    dead: Mapping[str, int]
    replicas: list[ReplicaRow] = field(default_factory=list)
    #: lease name -> its row (empty without a cluster)
    leases: Mapping[str, LeaseRow] = field(default_factory=dict)
    #: source -> what is stored of it (only without a cluster: with one, its holder says)
    sources: Mapping[str, StoredSource] = field(default_factory=dict)
    #: the store is shared by replicas (leases); False: one process writes it
    clustered: bool = False

    def backlog(self, consumer: str) -> int | None:
        cursor = self.cursors.get(consumer)
        return None if cursor is None else max(0, self.head - cursor)


async def read_view(store: Store, ttl: float, *, runs: bool = False) -> ClusterView:
    """Read the view; ``runs``: count each source's stored runs (without a cluster only:
    it loads every run)."""
    dead = Counter(d.sink for d in await store.dead_letters())
    head, cursors = await store.head(), await store.cursors()
    cluster = store.cluster
    if cluster is not None:
        leases = {r.name: r for r in await cluster.leases()}
        return ClusterView(head, cursors, dead, await cluster.replicas(ttl), leases,
                           clustered=True)
    sources: dict[str, StoredSource] = {}
    if runs:
        for name, row in (await store.load()).items():
            live = sum(1 for st in row.runs.values() if st.status not in TERMINAL)
            sources[name] = StoredSource(len(row.runs), live)
    return ClusterView(head, cursors, dead, sources=sources)
