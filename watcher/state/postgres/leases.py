"""The replicas' registry and leases in the database (:class:`~watcher.state.cluster.Cluster`).

Time is the database's: every expiry and heartbeat is ``clock_timestamp()``
on the server, so replicas whose clocks disagree still agree on who holds
what.  Each operation is ONE statement:

- **upkeep**: the heartbeat (registering the replica if new), the renewal of
  every lease it still holds at its epoch, and what the others hold, together;
  so upkeep costs one round trip per replica per period, however many leases.
- **acquire**: ``INSERT ... ON CONFLICT DO UPDATE ... WHERE expired``: a free or
  expired lease is taken and its epoch bumped, atomically; of two replicas
  racing for one, the second finds it taken.  Taking a lease waits for a
  commit in flight under it (which holds its row ``FOR SHARE``), so a new
  holder's first read sees the last commit of the old one.
- **fence** (in a commit's transaction): the lease still held by this replica,
  at that epoch, unexpired, and locked ``FOR SHARE`` until the commit ends.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Collection, Mapping

from watcher.core.events import parsed
from watcher.errors import Fenced
from watcher.infra.clock import Clock
from watcher.state.cluster import LeaseRow, ReplicaRow, Upkeep
from watcher.state.postgres.connection import Conn, Database
from watcher.state.postgres.listen import LEASES, Follower
from watcher.state.store import Fence
from watcher.version import __version__

_UPKEEP = """
    WITH beat AS (
        INSERT INTO replicas (id, host, pid, version, started, heartbeat, stopped)
        VALUES ($1, $2, $3, $4, clock_timestamp(), clock_timestamp(),
                CASE WHEN $9 THEN clock_timestamp() END)
        ON CONFLICT (id) DO UPDATE SET heartbeat = clock_timestamp(),
            stopped = CASE WHEN $9 THEN COALESCE(replicas.stopped, clock_timestamp()) END,
            host = EXCLUDED.host, pid = EXCLUDED.pid, version = EXCLUDED.version,
            started = CASE WHEN replicas.pid = EXCLUDED.pid AND replicas.host = EXCLUDED.host
                           AND replicas.stopped IS NULL THEN replicas.started
                           ELSE EXCLUDED.started END
        RETURNING id),
    renewed AS (
        UPDATE leases l SET expires = clock_timestamp() + make_interval(secs => $5),
                            info = COALESCE(h.info, l.info)
        FROM unnest($6::text[], $7::bigint[], $8::bytea[]) AS h(name, epoch, info)
        WHERE l.name = h.name AND l.holder = $1 AND l.epoch = h.epoch
          AND l.expires > clock_timestamp()
        RETURNING l.name)
    SELECT (SELECT array_agg(name) FROM renewed),
           (SELECT array_agg(name ORDER BY name) FROM leases),
           (SELECT array_agg(CASE WHEN expires > clock_timestamp() THEN holder END
                             ORDER BY name) FROM leases),
           (SELECT array_agg(id) FROM replicas WHERE stopped IS NULL
                AND heartbeat > clock_timestamp() - make_interval(secs => $5)),
           (SELECT array_agg(name) FROM leases
                WHERE holder IS NOT NULL AND expires <= clock_timestamp()),
           (SELECT EXTRACT(EPOCH FROM MIN(expires) - clock_timestamp())::float8 FROM leases
                WHERE holder <> $1 AND expires > clock_timestamp()),
           (SELECT COUNT(*) FROM beat)"""
_ACQUIRE = """
    INSERT INTO leases (name, holder, epoch, expires)
    SELECT name, $1, 1, clock_timestamp() + make_interval(secs => $3)
    FROM unnest($2::text[]) AS name
    ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, epoch = leases.epoch + 1,
        expires = EXCLUDED.expires, info = NULL
    WHERE leases.expires <= clock_timestamp()
    RETURNING name, epoch"""
_RELEASE = """
    WITH given AS (
        UPDATE leases l SET holder = NULL, expires = clock_timestamp()
        FROM unnest($2::text[], $3::bigint[]) AS h(name, epoch)
        WHERE l.name = h.name AND l.holder = $1 AND l.epoch = h.epoch RETURNING 1)
    SELECT pg_notify($4, $5) WHERE EXISTS (SELECT 1 FROM given)"""
_FENCE = """
    SELECT 1 FROM leases WHERE name = $1 AND holder = $2 AND epoch = $3
        AND expires > clock_timestamp() FOR SHARE"""
_SECONDS = "EXTRACT(EPOCH FROM {0})::float8"


async def check_fence(db: Conn, fence: Fence, replica: str) -> None:
    """Inside a commit: refuse it unless ``replica`` still holds the lease at its epoch."""
    if await db.fetchval(_FENCE, fence.lease, replica, fence.epoch) is None:
        raise Fenced(fence.lease, f"lease {fence.lease} is no longer held by {replica} at "
                                  f"epoch {fence.epoch}: another replica took it over")


class PgCluster:
    """One replica's view of the registry and the leases."""

    def __init__(self, db: Database, replica: str, channel: str,
                 listen_url: str | None) -> None:
        self._db = db
        self.replica = replica
        self._follower = Follower(db, listen_url, channel)
        self._channel = channel

    async def upkeep(self, held: Mapping[str, int], ttl: float,
                     info: Mapping[str, bytes] | None = None, *,
                     leaving: bool = False) -> Upkeep:
        names = list(held)
        infos = [(info or {}).get(n) for n in names]
        args = (self.replica, socket.gethostname(), os.getpid(), __version__, ttl, names,
                [held[n] for n in names], infos, leaving)
        (row,) = await self._db.statement(lambda db: db.fetch(_UPKEEP, *args))
        renewed, leases, holders, live = row[0] or [], row[1] or [], row[2] or [], row[3] or []
        return Upkeep(renewed=frozenset(renewed), holders=dict(zip(leases, holders, strict=True)),
                      live=tuple(sorted({*live, self.replica})),
                      abandoned=frozenset(row[4] or ()), expiring=row[5])

    async def acquire(self, names: Collection[str], ttl: float) -> dict[str, int]:
        if not names:
            return {}
        rows = await self._db.statement(
            lambda db: db.fetch(_ACQUIRE, self.replica, sorted(names), ttl))
        return {name: int(epoch) for name, epoch in rows}

    async def release(self, held: Mapping[str, int]) -> None:
        if held:
            names = list(held)
            await self._db.statement(lambda db: db.execute(
                _RELEASE, self.replica, names, [held[n] for n in names], self._channel,
                LEASES))

    async def follow(self, on_head: Callable[[int], None], on_leases: Callable[[], None], *,
                     clock: Clock, on_push: Callable[[str], None]) -> None:
        await self._follower.run(on_head, on_leases, clock=clock, on_push=on_push)

    async def leave(self) -> None:
        await self._db.statement(lambda db: db.execute(
            "UPDATE replicas SET stopped = clock_timestamp() WHERE id = $1", self.replica))

    async def replicas(self, ttl: float) -> list[ReplicaRow]:
        q = (f"SELECT id, host, pid, version, {_SECONDS.format('started')}, "
             f"{_SECONDS.format('heartbeat')}, stopped IS NULL AND heartbeat > "
             "clock_timestamp() - make_interval(secs => $1) FROM replicas ORDER BY id")
        rows = await self._db.read(lambda db: db.fetch(q, ttl))
        return [ReplicaRow(*r) for r in rows]

    async def leases(self) -> list[LeaseRow]:
        q = (f"SELECT name, holder, epoch, {_SECONDS.format('expires')}, "
             "expires > clock_timestamp(), info FROM leases ORDER BY name")
        rows = await self._db.read(lambda db: db.fetch(q))
        return [LeaseRow(name, holder, epoch, expires, live, parsed(info))
                for name, holder, epoch, expires, live, info in rows]
