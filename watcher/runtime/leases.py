"""The lease keeper: which sources this replica polls and which network sinks it delivers.

With several replicas on one PostgreSQL state, every source (``source:<name>``), every
sink that is not local (``sink:<name>``), each journal reader that writes back
(``reader:rules``, ``reader:reminders``) and each heartbeat (``heartbeat:<name>``) has a
lease (see :mod:`watcher.state.cluster`).  :class:`Keeper` runs one round every
``lease_ttl / 3``:

1. **Renew** every lease held, with the heartbeat, in one statement.  A lease the
   database no longer gives this replica is dropped at once (its worker stopped, its
   memory forgotten).  A replica that cannot renew keeps working until its own
   deadline (:func:`~watcher.runtime.claim.deadline`), before the database would let
   anyone else in.
2. **Give back** and **take** what :func:`watcher.core.sharing.plan` says: a fair share
   each, placed by rendezvous hashing.  A source taken loads its committed state (runs,
   cursor) and polls from there: what changed meanwhile is caught up as after a
   restart.  One taken over from a replica that stopped renewing is polled at once.

Between rounds the keeper wakes when another replica's lease is due to expire (so a
dead replica's work moves within ``lease_ttl`` + the first poll), when a worker finds
its lease gone (a fenced commit), and on reload.  SIGTERM gives every lease back
(:meth:`Keeper.release`), so a rolling restart hands over at once.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Collection, Mapping
from typing import Any

import anyio
import orjson
import structlog

from watcher.config.heartbeats import HeartbeatConfig
from watcher.config.settings import SinkConfig, SourceConfig
from watcher.core.sharing import plan
from watcher.core.status import LeaseStats
from watcher.errors import StoreError
from watcher.infra.clock import Clock, fail_after, move_on_after
from watcher.runtime.claim import Claim, deadline
from watcher.runtime.worker import Worker, stop_worker
from watcher.runtime.workers import READERS, Workers
from watcher.state.cluster import Cluster, Upkeep
from watcher.state.store import SourceRow

log = structlog.get_logger("watcher.leases")

#: renewals per ttl: a lease survives two missed rounds
ROUNDS = 3
#: after a lease of another replica expires, wait this much longer before taking it
SETTLE = 0.05
LIGHT = ("reader:", "heartbeat:")  # leases shared out apart from the sources and sinks
#: what a lease is for: a source, a sink, a heartbeat, or None (a journal reader)
Wanted = SourceConfig | SinkConfig | HeartbeatConfig | None


class Keeper:
    def __init__(self, cluster: Cluster, workers: Workers, *, ttl: float, clock: Clock) -> None:
        self.cluster = cluster
        self.workers = workers
        self.claims = workers.claims
        self.ttl = ttl
        self.period = ttl / ROUNDS
        self.clock = clock
        self.stats = LeaseStats()
        #: no more taking, and not counted live: the daemon is stopping
        self.stopping = False
        #: give back and take a fair share each round (``watcher once`` holds all it took)
        self.sharing = True
        #: when (monotonic) a heartbeat last reached the database, and why the rounds
        #: since failed; the store was just opened, so it answered a moment ago
        self.heartbeat = clock.monotonic()
        self.heartbeat_error: str | None = None
        self._wake = anyio.Event()
        #: one round or release at a time (SIGTERM's release runs beside the rounds)
        self._busy = anyio.Lock()

    def held(self) -> dict[str, int]:
        """Leases held now, by kind (for ``watcher_leases_held``)."""
        held = Counter(claim.kind for claim in self.claims.values())
        return {"source": 0, "sink": 0, "reader": 0, "heartbeat": 0, **held}

    def wake(self) -> None:
        """Run a round now (a lease was lost, the config changed)."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            async with self._busy:
                wait = await self._round()
            with move_on_after(self.clock, wait):
                await self._wake.wait()
            self._wake = anyio.Event()

    async def _round(self) -> float:
        """One round: renew, drop what was lost, give back and take; seconds to the next."""
        await self._drop_lost()
        sent = self.clock.monotonic()
        try:
            with fail_after(self.clock, self.period):  # a hung server must not hold the round up
                up = await self.cluster.upkeep({n: c.epoch for n, c in self.claims.items()},
                                               self.ttl, self._info(), leaving=self.stopping)
        except (StoreError, TimeoutError) as e:
            self.stats.renew_failures += 1
            self.heartbeat_error = str(e) or "timed out"
            log.warning("could not renew leases; each stops at its own deadline unless "
                        "renewed before", error=str(e) or "timed out", held=len(self.claims))
            return min([self.period, *(c.remaining() for c in self.claims.values())])
        self.heartbeat, self.heartbeat_error = sent, None
        await self._renewed(up, sent)
        if self.sharing and not self.stopping:
            give, take = self._plan(up)
            await self._give(give)
            await self._take(take, up)
        soon = self.period if up.expiring is None else up.expiring + SETTLE
        return max(SETTLE, min(self.period, soon))

    def _plan(self, up: Upkeep) -> tuple[list[str], list[str]]:
        """What to give back and take: the sources and sinks are shared fairly, and the
        journal readers and heartbeats fairly apart from them (they are light, and counted
        with the sources they would leave a replica with fewer sources than the others)."""
        give: list[str] = []
        take: list[str] = []
        wanted = leases_of(self.workers)
        for readers in (False, True):
            todo = plan(self.cluster.replica,
                        [n for n in wanted if n.startswith(LIGHT) == readers],
                        [n for n in self.claims if n.startswith(LIGHT) == readers],
                        up.holders, up.live)
            give += todo.give
            take += todo.take
        return give, take

    async def release(self, kind: str | None = None) -> None:
        """Give back every lease (of ``kind``), workers stopped first: another replica may
        take them at once."""
        async with self._busy:
            await self._give([n for n, c in self.claims.items() if kind in (None, c.kind)])

    # -- what a round does -----------------------------------------------------------

    async def _renewed(self, up: Upkeep, sent: float) -> None:
        for name, claim in list(self.claims.items()):
            if name in up.renewed:
                claim.valid_until = deadline(sent, self.ttl)
                worker = self._worker(name)
                if worker is not None:
                    worker.bound(claim)
            else:
                claim.lose("lost")
        await self._drop_lost()

    async def _drop_lost(self) -> None:
        """Stop the workers of claims that ended (lost, fenced, out of time, or whose
        worker ended with its deadline); their memory is forgotten."""
        for name, claim in list(self.claims.items()):
            worker = self._worker(name)
            if claim.valid() and (worker is None or not worker.done.is_set()):
                continue  # held (one whose source left the config is given back by plan)
            claim.lose("expired")
            log.warning("lease lost: stopped working on it", lease=name, why=claim.lost)
            await self._stop(name)

    async def _give(self, names: Collection[str]) -> None:
        given = {n: self.claims[n].epoch for n in names if n in self.claims}
        for name in given:
            await self._stop(name)
        if not given:
            return
        try:
            await self.cluster.release(given)
        except StoreError as e:  # they expire on their own
            log.warning("could not give leases back", error=str(e), leases=len(given))
        log.info("leases given back", leases=sorted(given))

    async def _take(self, names: Collection[str], up: Upkeep) -> None:
        if not names:
            return
        sent = self.clock.monotonic()
        try:
            got = await self.cluster.acquire(names, self.ttl)
        except StoreError as e:
            log.warning("could not take leases", error=str(e))
            return
        if got:  # logged before any of them starts work: nothing done on them precedes it
            log.info("leases taken", leases=sorted(got), takeovers=sorted(
                n for n in got if n in up.abandoned))
        wanted = leases_of(self.workers)
        for name, epoch in sorted(got.items()):
            claim = Claim(name, epoch, deadline(sent, self.ttl), clock=self.clock,
                          on_lost=self._on_lost)
            self.claims[name] = claim
            takeover = name in up.abandoned
            if takeover:
                self.stats.takeovers[claim.kind] += 1
            if not await self._start(wanted[name], claim, takeover=takeover):
                self.claims.pop(name, None)
                with contextlib.suppress(StoreError):  # else it expires on its own
                    await self.cluster.release({name: epoch})

    async def _start(self, cfg: Wanted, claim: Claim, *, takeover: bool) -> bool:
        """Start the lease's worker from the state as committed; False if it cannot be
        read (the lease is given back)."""
        if isinstance(cfg, SourceConfig):
            try:
                rows = await self.workers.store.load([cfg.name])
            except StoreError as e:
                log.warning("could not load a source's state; giving its lease back",
                            source=cfg.name, error=str(e))
                return False
            self.workers.start_source(cfg, claim=claim, row=rows.get(cfg.name) or SourceRow(),
                                      phase=0.0 if takeover else None)
        elif isinstance(cfg, SinkConfig):
            await self.workers.start_sink(cfg, claim=claim)
        elif isinstance(cfg, HeartbeatConfig):
            self.workers.heartbeats.start(cfg, claim=claim)
        else:
            await self.workers.start_reader(claim.lease, claim=claim)
        return True

    async def _stop(self, name: str) -> None:
        """Stop the lease's worker, then forget its claim."""
        kind, _, what = name.partition(":")
        if kind == "source":
            await self.workers.stop_source(what, forget=True)
        elif kind == "sink":
            await self.workers.stop_sink(what)
        elif kind == "heartbeat":
            await stop_worker(self.workers.heartbeats.pingers, what)
        else:
            await self.workers.stop_reader(name)
        self.claims.pop(name, None)

    def _worker(self, name: str) -> Worker[Any] | None:
        kind, _, what = name.partition(":")
        w = self.workers
        running: dict[str, Mapping[str, Worker[Any]]] = {
            "source": w.pollers, "sink": w.runners, "heartbeat": w.heartbeats.pingers}
        return running[kind].get(what) if kind in running else w.readers.get(name)

    def _on_lost(self, claim: Claim) -> None:
        if claim.lost == "fenced":
            self.stats.fenced[claim.kind] += 1
        self.wake()

    def _info(self) -> dict[str, bytes]:
        """What ``watcher status`` shows of each held lease, sent with the renewal."""
        out: dict[str, bytes] = {}
        for name, worker in self.workers.pollers.items():
            st = worker.obj.state
            out[f"source:{name}"] = orjson.dumps({
                "last_success": worker.obj.stats.last_success, "runs": len(st.runs),
                "live": len(st.live), "failing": worker.obj.failing})
        for name, runner in self.workers.runners.items():
            if f"sink:{name}" in self.claims:
                out[f"sink:{name}"] = orjson.dumps({
                    "delivered": runner.obj.stats.delivered, "failing": runner.obj.failing})
        return out


def leases_of(workers: Workers) -> dict[str, Wanted]:
    """Every lease of ``workers``' config: its sources, its sinks that are not local,
    its heartbeats and the journal readers (None: no config of their own)."""
    config = workers.config
    out: dict[str, Wanted] = {f"source:{s.name}": s for s in config.sources}
    out.update({f"sink:{k.name}": k for k in config.sinks if not workers.local(k)})
    out.update({f"heartbeat:{h.name}": h for h in config.heartbeats})
    out.update(dict.fromkeys(READERS))
    return out
