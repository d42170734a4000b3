"""``watcher once``: one poll cycle of every source, then deliver what it journaled.

With several replicas (PostgreSQL) ``once`` is one more replica for a moment.
It takes the lease of every source, network sink and journal reader first, waiting a little
for leases being handed over, and refuses (:class:`LeasesHeld`, exit 75) when
a live replica holds any: two pollers of one source would journal the same
changes twice.  It renews them while it works and gives them back at the end.
Its stdout and file sinks print what it journaled, from a cursor of its own
that it drops again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from functools import partial

import aiohttp
import anyio
import structlog

from watcher.errors import LeasesHeld, StoreError
from watcher.infra import permit
from watcher.infra.clock import Clock, move_on_after
from watcher.model import Status
from watcher.runtime import leases
from watcher.runtime.claim import Claim, deadline
from watcher.runtime.delivery import SinkRunner
from watcher.runtime.leases import ROUNDS
from watcher.runtime.poller import Poller, SourceState
from watcher.runtime.replicas import user_agent
from watcher.runtime.rules import READER as RULES
from watcher.runtime.rules import RuleEngine
from watcher.runtime.worker import close_sink
from watcher.runtime.workers import READERS, Workers
from watcher.server.logs import redactor
from watcher.state.cluster import Cluster

log = structlog.get_logger("watcher.daemon")

#: how long ``once`` lets the sinks deliver before it gives up (events stay journaled)
DELIVER_DEADLINE = 60.0
#: how long ``once`` lets the health rules catch up (what they miss, a later run decides)
RULES_DEADLINE = 10.0
#: how long ``once`` waits for leases another replica is handing over
LEASE_WAIT = 2.0


async def once(workers: Workers, *, ttl: float, clock: Clock,
               lines: list[dict[str, object]] | None = None) -> int:
    """Poll every source once and deliver to every sink: 0, or 75 if a source failed."""
    cluster = workers.store.cluster
    if cluster is not None:
        workers.claims.update(await take_all(cluster, workers, ttl=ttl, clock=clock))
    try:
        async with anyio.create_task_group() as tg:
            if cluster is not None:
                tg.start_soon(partial(renew, cluster, workers.claims, ttl=ttl, clock=clock))
            failed = await poll_and_deliver(workers, lines)
            tg.cancel_scope.cancel()
    finally:
        if cluster is not None:
            await _give_back(cluster, workers)
    if failed:
        log.error("some sources failed to poll", sources=failed)
        return 75
    return 0


def summary(p: Poller, *, before: int, events: int, failed_runs: int) -> dict[str, object]:
    """What the cycle of this source did, for ``once`` to tell."""
    st = p.stats
    errors = sum(st.errors.values())
    return {"source": p.config.name, "polls": st.polls, "failed_polls": errors,
            "new_runs": len(p.state.runs) - before, "events": events,
            "failed_runs": failed_runs,
            "error": redactor.redact(st.last_error) if errors and st.last_error else None}


async def poll_and_deliver(workers: Workers, lines: list[dict[str, object]] | None = None
                           ) -> list[str]:
    """Poll every source once, deliver to every sink; the names of sources that failed.
    ``lines`` gets a summary per source."""
    head = workers.journal.head
    async with aiohttp.ClientSession(headers=user_agent(workers.replica)) as workers.session:
        runners = await _runners(workers)
        pollers = await _pollers(workers)
        before = {p.config.name: len(p.state.runs) for p in pollers}
        results = await _poll(pollers)
        await _read_back(workers)
        with move_on_after(workers.clock, DELIVER_DEADLINE):
            async with anyio.create_task_group() as tg:
                for r in runners:
                    tg.start_soon(_deliver, r)
        for r in runners:
            await close_sink(r)
        entries = await workers.journal.read(head, 10**9)
    events = Counter(e.source for e in entries)
    failed = Counter(e.source for e in entries if e.status == Status.FAILED)
    if lines is not None:
        lines += [summary(p, before=before[p.config.name], events=events[p.config.name],
                          failed_runs=failed[p.config.name]) for p in pollers]
    return [name for name, ok in results.items() if not ok]


async def _runners(workers: Workers) -> list[SinkRunner]:
    """A runner per sink, each attached to its cursor (as stored, under a lease)."""
    runners = [workers.make_runner(s, workers.claims.get(f"sink:{s.name}"))
               for s in workers.config.sinks]
    for r in runners:
        if r.claim is not None:
            await r.journal.refresh(r.consumer)
        await r.journal.attach(r.consumer)
    return runners


async def _pollers(workers: Workers) -> list[Poller]:
    claims = workers.claims
    if claims:  # with replicas, state is read when its lease is taken: now
        rows = await workers.store.load([s.name for s in workers.config.sources])
        for s in workers.config.sources:
            workers.states[s.name] = SourceState(rows.get(s.name))
    return [workers.make_poller(s, claims.get(f"source:{s.name}"))
            for s in workers.config.sources]


async def _poll(pollers: list[Poller]) -> dict[str, bool]:
    results: dict[str, bool] = {}

    async def poll(p: Poller) -> None:
        permit.enter(p.claim)
        results[p.config.name] = await p.poll_once()
    async with anyio.create_task_group() as tg:
        for p in pollers:
            tg.start_soon(poll, p)
    return results


async def _read_back(workers: Workers) -> None:
    """The health rules, then the reminders, on what was journaled: their events are
    journaled before the sinks read."""
    rules, reminders = workers.claims.get(READERS[0]), workers.claims.get(READERS[1])
    if workers.config.rules:
        engine = RuleEngine(workers.config.rules, workers.journal, clock=workers.clock,
                            claim=rules, inhibit=workers.config.inhibit)
        await workers.journal.attach(RULES)
        with move_on_after(workers.clock, RULES_DEADLINE):  # what it misses, a later run decides
            await engine.run(until_idle=True)
    await workers.silencer.refresh()
    workers.reminders.claim = reminders
    await workers.reminders.load()
    await workers.reminders.step(save=True)  # what came due since the last run


async def _deliver(r: SinkRunner) -> None:
    permit.enter(r.claim)
    await r.run(until_idle=True)


async def take_all(cluster: Cluster, workers: Workers, *, ttl: float,
                   clock: Clock) -> dict[str, Claim]:
    """Every lease (sources, network sinks, journal readers), or LeasesHeld (none kept)."""
    wanted = set(leases.wanted(workers))
    claims: dict[str, Claim] = {}
    waited = 0.0
    while True:
        sent = clock.monotonic()
        got = await cluster.acquire(wanted - claims.keys(), ttl)
        claims.update({n: Claim(n, e, deadline(sent, ttl), clock=clock) for n, e in got.items()})
        if claims.keys() >= wanted or waited >= LEASE_WAIT:
            break
        await clock.sleep(ttl / ROUNDS / 4)
        waited += ttl / ROUNDS / 4
    missing = wanted - claims.keys()
    if missing:
        await cluster.release({n: c.epoch for n, c in claims.items()})
        up = await cluster.upkeep({}, ttl)
        raise LeasesHeld({n: up.holders.get(n) for n in missing})
    return claims


async def _give_back(cluster: Cluster, workers: Workers) -> None:
    """The leases, this process's own local cursors, and its place among replicas."""
    try:
        await cluster.release({n: c.epoch for n, c in workers.claims.items()})
        for s in workers.config.sinks:
            if workers.local(s) and workers.consumer(s) != s.name:
                await workers.journal.detach(workers.consumer(s))
        await cluster.leave()
    except StoreError as e:  # the leases expire on their own
        log.warning("could not give leases back", error=str(e))


async def renew(cluster: Cluster, claims: Mapping[str, Claim], *, ttl: float,
                clock: Clock) -> None:
    """Keep ``claims`` renewed, and nothing else, until cancelled (``watcher once``)."""
    while True:
        await clock.sleep(ttl / ROUNDS)
        sent = clock.monotonic()
        try:
            up = await cluster.upkeep({n: c.epoch for n, c in claims.items()}, ttl)
        except StoreError as e:
            log.warning("could not renew leases", error=str(e))
            continue
        for name, claim in claims.items():
            if name in up.renewed:
                claim.valid_until = deadline(sent, ttl)
            else:
                claim.lose("lost")
