"""``watcher once``: one poll cycle of every source, then deliver what it journaled."""

from __future__ import annotations

from collections import Counter
from functools import partial

import aiohttp
import anyio

from watcher.model import Status
from watcher.runtime.poller import Poller
from watcher.runtime.rules import READER, RuleEngine
from watcher.runtime.workers import Workers, close_sink
from watcher.server.logs import redactor

#: how long ``once`` lets the sinks deliver before it gives up (events stay journaled)
DELIVER_DEADLINE = 60.0
#: how long ``once`` lets the health rules catch up (what they miss, a later run decides)
RULES_DEADLINE = 10.0


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
    results: dict[str, bool] = {}
    head = workers.journal.head
    async with aiohttp.ClientSession() as workers.session:
        runners = [workers.make_runner(s) for s in workers.config.sinks]
        for r in runners:
            await r.journal.attach(r.name)
        engine = RuleEngine(workers.config.rules, workers.journal, clock=workers.clock) \
            if workers.config.rules else None
        if engine is not None:
            await workers.journal.attach(READER)
        pollers = [workers.make_poller(s) for s in workers.config.sources]
        before = {p.config.name: len(p.state.runs) for p in pollers}

        async def poll(p: Poller) -> None:
            results[p.config.name] = await p.poll_once()
        async with anyio.create_task_group() as tg:
            for p in pollers:
                tg.start_soon(poll, p)
        if engine is not None:  # its episodes are journaled before the sinks read
            with anyio.move_on_after(RULES_DEADLINE):
                await engine.run(until_idle=True)
        await workers.silencer.refresh()
        await workers.reminders.load()
        await workers.reminders.step(save=True)  # what came due since the last run
        with anyio.move_on_after(DELIVER_DEADLINE):
            async with anyio.create_task_group() as tg:
                for r in runners:
                    tg.start_soon(partial(r.run, until_idle=True))
        for r in runners:
            await close_sink(r)
        entries = await workers.journal.read(head, 10**9)
    events = Counter(e.source for e in entries)
    failed = Counter(e.source for e in entries if e.status == Status.FAILED)
    for p in pollers:
        name = p.config.name
        if lines is not None:
            lines.append(summary(p, before=before[name], events=events[name],
                                 failed_runs=failed[name]))
    return [name for name, ok in results.items() if not ok]
