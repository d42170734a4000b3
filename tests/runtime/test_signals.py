"""Signals in the process itself: a SIGHUP or a SIGTERM that comes while the daemon starts."""

from __future__ import annotations

import os
import signal
from functools import partial

import anyio
import pytest

from watcher.infra.clock import wall
from watcher.runtime import signals

pytestmark = pytest.mark.anyio


async def test_a_sighup_before_the_signals_are_followed_reloads_once_they_are() -> None:
    """A SIGHUP that arrives while the daemon starts is held, not fatal, and the follower
    reloads once when it takes the signals over (and for a later SIGHUP again)."""
    previous = signal.getsignal(signal.SIGHUP)
    reloaded = [anyio.Event(), anyio.Event()]
    count = 0

    async def reload() -> None:
        nonlocal count
        reloaded[count].set()
        count += 1
    try:
        signals.hold()
        os.kill(os.getpid(), signal.SIGHUP)  # before anything follows the signals
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(signals.follow, signals.Stop(clock=wall), reload, on_error=print))
            with anyio.fail_after(5):
                await reloaded[0].wait()
                os.kill(os.getpid(), signal.SIGHUP)
                await reloaded[1].wait()
            tg.cancel_scope.cancel()
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert count == 2


async def test_a_sigterm_before_the_signals_are_followed_is_a_clean_stop_once_they_are() -> None:
    """A SIGTERM that arrives after the daemon started its tasks but before the follower took
    the signals over is held (the process lives) and asks for a stop, not a reload."""
    previous = signal.getsignal(signal.SIGTERM)
    stop = signals.Stop(clock=wall)
    reloads: list[int] = []

    async def reload() -> None:
        reloads.append(1)
    try:
        signals.hold(signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)  # a supervisor stopping a daemon just started
        async with anyio.create_task_group() as tg:
            tg.start_soon(partial(signals.follow, stop, reload, on_error=print))
            with anyio.fail_after(5):
                await stop.asked.wait()
            tg.cancel_scope.cancel()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert reloads == [] and not stop.hurry
