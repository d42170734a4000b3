"""The progress of a first sync, logged every ~10 s and shown on the status page.

A first sync of a big source is minutes of paging; without this it would be
minutes of silence.  Progress is read from counters the provider keeps anyway
(requests sent, items observed, both bumped once a page), so the hot loop
does no extra work per run.
"""

from __future__ import annotations

from typing import Any

import anyio

from watcher.core.status import PollStats, SyncProgress
from watcher.infra.clock import Clock
from watcher.providers.base import PollResult, PollView, Provider

#: how often a first sync in progress is logged
SYNC_PROGRESS_EVERY = 10.0


def sync_progress(provider: Provider, sync: SyncProgress | None, clock: Clock) -> None:
    """Bring a first sync's progress (if one runs) up to date from the provider's counters."""
    if sync is not None:
        sync.update(provider.requests, provider.observed, clock.monotonic())


async def poll(provider: Provider, view: PollView, stats: PollStats, log: Any, *,
               clock: Clock) -> PollResult:
    """One poll of ``provider``; a first sync (the baseline) with its progress in
    ``stats.sync``, logged every :data:`SYNC_PROGRESS_EVERY` seconds."""
    if not view.baseline:
        return await provider.poll(view)
    sync = stats.sync = SyncProgress(clock(), clock.monotonic(),
                                     (provider.requests, provider.observed))
    outcome: list[PollResult] = []
    failure: list[Exception] = []

    async def report() -> None:
        while True:
            await clock.sleep(SYNC_PROGRESS_EVERY)
            sync_progress(provider, sync, clock)
            log.info("first sync in progress", pages=sync.pages, runs=sync.runs,
                     runs_per_s=round(sync.per_s, 1),
                     elapsed_s=round(clock.monotonic() - sync.started))

    async def run() -> None:
        try:
            outcome.append(await provider.poll(view))
        except Exception as e:  # raised below, outside the task group (not as a group)
            failure.append(e)
        finally:
            tg.cancel_scope.cancel()

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(report)
            tg.start_soon(run)
    finally:
        stats.sync = None
    if failure:
        # popped, not indexed: raised from here, the error's traceback holds this frame, so
        # a list still holding the error would make a cycle that keeps the error, and every
        # frame it passed through (the page or refused body read so far), until the cyclic GC
        raise failure.pop()
    return outcome[0]
