"""Several replicas on one store: their registry and the leases that share the work.

A *lease* (``source:<name>``, ``sink:<name>``) gives one replica the right to
poll that source or deliver to that sink: it has a holder, an epoch that grows
at every takeover, and an expiry judged by the database's clock, never a
replica's.  A replica renews every lease it holds, with its heartbeat, in one
statement (:meth:`Cluster.upkeep`); a lease nobody renewed past its expiry, or
one given back (:meth:`Cluster.release`), may be taken by any replica
(:meth:`Cluster.acquire`), which bumps its epoch.  Writes under a lease carry
a :class:`~watcher.state.store.Fence` and the store refuses them once the
lease moved on (fencing).  Which replica takes what is decided above, in
:mod:`watcher.runtime.leases`.  A store with one writer (SQLite) has no
cluster: it holds every lease.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from watcher.infra.clock import Clock


@dataclass(frozen=True)
class Upkeep:
    """What one renewal round found."""

    #: the leases renewed (still held at their epoch, expiry pushed out)
    renewed: frozenset[str]
    #: every lease on record -> its live holder (None: free, expired or given back)
    holders: Mapping[str, str | None]
    #: replicas with a heartbeat within the ttl (this one included)
    live: tuple[str, ...]
    #: leases whose holder stopped renewing them (expired, not given back)
    abandoned: frozenset[str] = frozenset()
    #: seconds until the next lease held by another replica expires (None: none held)
    expiring: float | None = None


@dataclass(frozen=True)
class LeaseRow:
    """One lease as ``watcher status`` shows it."""

    name: str
    #: None once it expired or was given back
    holder: str | None
    epoch: int
    #: unix time it expires (the database's clock)
    expires: float
    #: not yet expired (by the database's clock)
    live: bool
    #: what its holder last reported (``last_success``, ``runs``, ``live``)
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReplicaRow:
    """One replica as ``watcher status`` shows it."""

    id: str
    host: str
    pid: int
    version: str
    started: float
    heartbeat: float
    alive: bool


class Cluster(Protocol):
    """The registry of replicas and their leases, in the shared store."""

    #: this replica's id
    replica: str

    async def upkeep(self, held: Mapping[str, int], ttl: float,
                     info: Mapping[str, bytes] | None = None, *,
                     leaving: bool = False) -> Upkeep:
        """Heartbeat, and renew for ``ttl`` every lease of ``held`` (name -> epoch) still
        held at that epoch, storing its ``info`` (JSON) if given; one round trip.
        ``leaving``: the replica is stopping (not counted live, its leases still renewed
        while it hands over)."""

    async def acquire(self, names: Collection[str], ttl: float) -> dict[str, int]:
        """Take those of ``names`` that are free, expired or given back, for ``ttl``;
        the ones taken -> their new epoch."""

    async def release(self, held: Mapping[str, int]) -> None:
        """Give back leases still held at these epochs: free at once for another replica."""

    async def follow(self, on_head: Callable[[int], None], on_leases: Callable[[], None], *,
                     clock: Clock, on_push: Callable[[str], None]) -> None:
        """Call ``on_head(seq)`` whenever another replica may have journaled (the
        journal's head, as far as known), ``on_leases()`` when one gave leases back, and
        ``on_push(source)`` when one stored a push for ``source``; never returns."""

    async def leave(self) -> None:
        """This replica stops: it is no longer counted as live (until its next upkeep
        that is not ``leaving``)."""

    async def replicas(self, ttl: float) -> list[ReplicaRow]:
        """Every replica on record; alive: a heartbeat within ``ttl`` and not stopped."""

    async def leases(self) -> list[LeaseRow]:
        """Every lease on record."""
