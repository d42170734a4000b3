"""``watcher once``: poll every source once, let the journal readers catch up, deliver
until idle, hand back.

With several replicas ``once`` is one more replica for a moment: it takes every lease
first (:meth:`Replication.take_all`; :class:`LeasesHeld`, exit 75, when a live replica
holds any: two pollers of one source would journal the same changes twice), renews them
while it works and gives them back at the end.  Its stdout and file sinks print what it
journaled, from a cursor of its own that it drops again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TypeVar

import aiohttp
import anyio
import structlog

from watcher.infra import permit
from watcher.infra.clock import move_on_after
from watcher.model import Status
from watcher.runtime.delivery import SinkRunner
from watcher.runtime.poller import Poller, SourceState
from watcher.runtime.reader import JournalReader
from watcher.runtime.replicas import Replication, user_agent
from watcher.runtime.workers import READERS, Workers
from watcher.server.logs import redactor

log = structlog.get_logger("watcher.daemon")

#: how long ``once`` lets the sinks deliver before it gives up (events stay journaled)
DELIVER_DEADLINE = 60.0
#: how long ``once`` lets the journal readers catch up (what they miss, a later run decides)
READ_DEADLINE = 10.0
W = TypeVar("W", Poller, SinkRunner)


async def once(workers: Workers, replication: Replication | None, *,
               lines: list[dict[str, object]]) -> int:
    """Poll every source once and deliver to every sink: 0, or 75 if a source failed."""
    if replication is not None:
        await replication.take_all()
    try:
        async with anyio.create_task_group() as tg:
            if replication is not None:
                tg.start_soon(replication.keeper.run)
            failed = await cycle(workers, lines)
            tg.cancel_scope.cancel()
    finally:
        if replication is not None:
            await replication.stop_delivering(forget_local=True)
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


async def cycle(workers: Workers, lines: list[dict[str, object]]) -> list[str]:
    """Poll every source once, then the journal readers (health rules, reminders, sinks)
    until idle; the names of sources that failed.  ``lines`` gets a summary per source."""
    head, claims = workers.journal.head, workers.claims
    async with aiohttp.ClientSession(headers=user_agent(workers.replica)) as workers.session:
        runners = [workers.make_runner(s, claims.get(f"sink:{s.name}"))
                   for s in workers.config.sinks]
        for r in runners:
            await r.take_up()
        if claims:  # with replicas, state is read when its lease is taken: now
            rows = await workers.store.load([s.name for s in workers.config.sources])
            workers.states.update({s.name: SourceState(rows.get(s.name))
                                   for s in workers.config.sources})
        pollers = [workers.make_poller(s, claims.get(f"source:{s.name}"))
                   for s in workers.config.sources]
        before = {p.config.name: len(p.state.runs) for p in pollers}
        ok: dict[str, bool] = {}

        async def poll(p: Poller) -> None:
            ok[p.config.name] = await p.poll_once()
        await _each(pollers, poll)
        readers: list[JournalReader] = []
        if workers.config.rules:
            readers.append(workers.make_engine(claims.get(READERS[0])))
        await workers.silencer.refresh()
        workers.reminders.claim = claims.get(READERS[1])
        workers.reminders.unload()
        for reader in [*readers, workers.reminders]:  # their events before the sinks read
            with move_on_after(workers.clock, READ_DEADLINE):
                await reader.run(until_idle=True)
        with move_on_after(workers.clock, DELIVER_DEADLINE):
            await _each(runners, partial(SinkRunner.run, until_idle=True))
        for r in runners:
            await r.close()
        entries = await workers.journal.read(head, 10**9)
    events = Counter(e.source for e in entries)
    failed = Counter(e.source for e in entries if e.status == Status.FAILED)
    lines += [summary(p, before=before[p.config.name], events=events[p.config.name],
                      failed_runs=failed[p.config.name]) for p in pollers]
    return [name for name, good in ok.items() if not good]


async def _each(these: Sequence[W], fn: Callable[[W], Awaitable[None]]) -> None:
    """``fn`` of each of ``these`` at once, each under its lease's permit."""
    async def one(w: W) -> None:
        permit.enter(w.claim)
        await fn(w)
    async with anyio.create_task_group() as tg:
        for w in these:
            tg.start_soon(one, w)
