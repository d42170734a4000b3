"""``watcher once``: one poll cycle of every source, then deliver what it journaled."""

from __future__ import annotations

from functools import partial

import aiohttp
import anyio

from watcher.runtime.poller import Poller
from watcher.runtime.rules import READER, RuleEngine
from watcher.runtime.workers import Workers, close_sink

#: how long ``once`` lets the sinks deliver before it gives up (events stay journaled)
DELIVER_DEADLINE = 60.0
#: how long ``once`` lets the health rules catch up (what they miss, a later run decides)
RULES_DEADLINE = 10.0


async def poll_and_deliver(workers: Workers) -> list[str]:
    """Poll every source once, deliver to every sink; the names of sources that failed."""
    results: dict[str, bool] = {}
    async with aiohttp.ClientSession() as workers.session:
        runners = [workers.make_runner(s) for s in workers.config.sinks]
        for r in runners:
            await r.journal.attach(r.name)
        engine = RuleEngine(workers.config.rules, workers.journal, clock=workers.clock) \
            if workers.config.rules else None
        if engine is not None:
            await workers.journal.attach(READER)
        pollers = [workers.make_poller(s) for s in workers.config.sources]

        async def poll(p: Poller) -> None:
            results[p.config.name] = await p.poll_once()
        async with anyio.create_task_group() as tg:
            for p in pollers:
                tg.start_soon(poll, p)
        if engine is not None:  # its episodes are journaled before the sinks read
            with anyio.move_on_after(RULES_DEADLINE):
                await engine.run(until_idle=True)
        with anyio.move_on_after(DELIVER_DEADLINE):
            async with anyio.create_task_group() as tg:
                for r in runners:
                    tg.start_soon(partial(r.run, until_idle=True))
        for r in runners:
            await close_sink(r)
    return [name for name, ok in results.items() if not ok]
