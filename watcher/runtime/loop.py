"""Running a coroutine as a process: the event loop and the garbage collector's tuning."""

from __future__ import annotations

import gc
import importlib.util
from collections.abc import Awaitable, Callable

import anyio


def tune_gc() -> None:
    """Fewer cyclic-GC passes: tracked state is acyclic (run states, parsed JSON).

    Default thresholds make the collector walk the whole heap again and again
    while a first sync grows it by a hundred thousand runs, about a third of
    that poll's CPU; objects are still freed by reference counting as usual.
    """
    gc.set_threshold(50_000, 20, 100)


def run_sync(coro_fn: Callable[[], Awaitable[int]]) -> int:
    """Run on uvloop when it is installed (faster loop, same behaviour)."""
    uvloop = importlib.util.find_spec("uvloop") is not None
    return anyio.run(coro_fn, backend_options={"use_uvloop": uvloop})
