"""The daemon as one replica among several: its lease keeper, the cluster's journal
followed into this process, and everything handed over when it stops.

Only a store with a cluster (PostgreSQL) has this part; with SQLite the
daemon is the only process and runs every worker itself.
"""

from __future__ import annotations

import os
import socket
from functools import partial
from typing import Any

import anyio
import structlog

from watcher.core.status import DaemonStatus
from watcher.errors import LeasesHeld, StoreError
from watcher.infra.clock import Clock
from watcher.infra.http import USER_AGENT
from watcher.runtime.claim import Claim, deadline
from watcher.runtime.leases import Keeper, leases_of
from watcher.runtime.workers import Workers
from watcher.server import cluster as status
from watcher.state.cluster import Cluster, ReplicaRow
from watcher.state.journal import Journal
from watcher.state.view import read_view
from watcher.version import __version__

log = structlog.get_logger("watcher.leases")

#: how long ``watcher once`` waits for leases another replica is handing over
LEASE_WAIT = 2.0


class Replication:
    def __init__(self, cluster: Cluster, workers: Workers, *, ttl: float,
                 clock: Clock) -> None:
        self.cluster = cluster
        self.workers = workers
        self.journal: Journal = workers.journal
        self.keeper = Keeper(cluster, workers, ttl=ttl, clock=clock)
        # a heartbeat stays quiet once a lease round fails: this replica may be the only
        # one cut off, and another takes the heartbeat over
        workers.heartbeats.cut_off = lambda: self.keeper.heartbeat_error
        workers.heartbeats.reached = lambda: self.keeper.heartbeat

    async def follow(self) -> None:
        """Learn the head the other replicas journaled up to, wake this process's readers,
        and read their entries into the tail once for all of them."""
        moved = anyio.Event()

        def on_head(seq: int) -> None:
            if seq > self.journal.head:
                self.journal.learn(seq)
                moved.set()
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(self.cluster.follow, on_head, self.keeper.wake,
                                  clock=self.keeper.clock, on_push=self.workers.push.ring))
            while True:
                await moved.wait()
                moved = anyio.Event()
                try:
                    while await self.journal.catch_up():
                        pass
                except StoreError as e:  # readers read from the store themselves meanwhile
                    log.debug("could not read other replicas' entries", error=str(e))

    async def stop_polling(self) -> None:
        """Leave the live replicas (the others then count without this one), stop
        polling and give the sources back at once."""
        self.keeper.stopping = True
        await self._leave()
        await self.keeper.release("source")
        await self.keeper.release("heartbeat")  # another replica pings on at once

    async def take_all(self) -> None:
        """Every lease of the config (``watcher once``), waiting up to :data:`LEASE_WAIT`
        for leases being handed over; LeasesHeld (none kept) when live replicas hold any.
        The keeper then renews them and takes or gives back nothing."""
        keeper, ttl = self.keeper, self.keeper.ttl
        keeper.sharing = False
        wanted = set(leases_of(self.workers))
        until = keeper.clock.monotonic() + LEASE_WAIT
        while True:
            sent = keeper.clock.monotonic()
            got = await self.cluster.acquire(wanted - keeper.claims.keys(), ttl)
            keeper.claims.update({n: Claim(n, e, deadline(sent, ttl), clock=keeper.clock)
                                  for n, e in got.items()})
            if keeper.claims.keys() >= wanted or keeper.clock.monotonic() >= until:
                break
            await keeper.clock.sleep(keeper.period / 4)
        missing = wanted - keeper.claims.keys()
        if missing:
            await self.cluster.release({n: c.epoch for n, c in keeper.claims.items()})
            keeper.claims.clear()
            up = await self.cluster.upkeep({}, ttl)
            raise LeasesHeld({n: up.holders.get(n) for n in missing})

    async def stop_delivering(self, *, forget_local: bool = False) -> None:
        """Give the sinks back; a replica without a name of its own (``<host>:<pid>``,
        never used again, or ``watcher once``: ``forget_local``) drops its local sinks'
        cursors too."""
        await self.keeper.release()
        await self._leave()
        workers = self.workers
        if forget_local or workers.config.watcher.replica is None:
            for sink in workers.config.sinks:
                if workers.consumer(sink) != sink.name:
                    try:
                        await self.journal.detach(workers.consumer(sink))
                    except StoreError as e:  # pruned once the replica is long gone
                        log.warning("could not drop a local sink's cursor", error=str(e))

    async def _leave(self) -> None:
        try:
            await self.cluster.leave()
        except StoreError as e:  # its heartbeat lapses within lease_ttl instead
            log.warning("could not deregister this replica", error=str(e))

    def unreachable(self) -> str | None:
        """Why this replica counts its database unreachable: no heartbeat reached it
        within ``lease_ttl``, after which the other replicas count this one gone too
        (None: one did).  ``/readyz`` says not ready then."""
        keeper = self.keeper
        silent = keeper.clock.monotonic() - keeper.heartbeat
        if silent <= keeper.ttl:
            return None
        return (f"no heartbeat reached the database for {silent:.1f}s (lease_ttl "
                f"{keeper.ttl:g}s): {keeper.heartbeat_error or 'no answer yet'}")

    def snapshot(self) -> dict[str, Any]:
        """This replica's part of the daemon's status snapshot."""
        return {"leases_held": self.keeper.held(),
                "lease_stats": self.keeper.stats,
                "store_unreachable": self.unreachable(),
                # PostgreSQL's round trips: the one store that replicas share
                "db": getattr(self.workers.store, "trips", None)}


async def status_document(workers: Workers, snapshot: DaemonStatus) -> dict[str, Any]:
    """The cluster's document ``GET /status`` completes this replica's own view with
    (other replicas, their leases, backlogs, dead letters), read from the store now."""
    config, store = workers.config, workers.store
    # the id this process goes by: the config's ``replica`` even with one SQLite writer
    replica = snapshot.replica.id
    view = await read_view(store, config.watcher.lease_ttl)
    me = ReplicaRow(replica, socket.gethostname(), os.getpid(), __version__,
                    snapshot.started_at, snapshot.now, True)
    return status.document(config, view, replica=replica, replicas=[me],
                           polling=[s.name for s in snapshot.sources])


def user_agent(replica: str | None) -> dict[str, str]:
    """The vendors see which replica polls them."""
    agent = USER_AGENT + (f" (replica {replica})" if replica else "")
    return {"User-Agent": agent}
