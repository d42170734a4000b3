"""Whether this process may still act for the work at hand: a checkpoint before each
request to a vendor and each delivery.

With several replicas, a worker polls a source or delivers to a sink only while
its replica holds that lease (:mod:`watcher.runtime.claim`).  A replica that
was paused past its lease wakes up with work in flight: a poll between two
pages, a batch between two events.  Cancelling its tasks does not stop a task
that is already runnable from reaching its next request, so the HTTP edges
(:mod:`watcher.providers.http`, :mod:`watcher.sinks.http`) call
:func:`checkpoint` right before each request: a worker whose permit lapsed
waits there, sending nothing, until it is stopped.  The permit travels with
the worker's task (a context variable): none is set when one process holds
every lease.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol

import anyio


class Permit(Protocol):
    def valid(self) -> bool:
        """This process may still act for the work."""
        ...

    def lose(self, why: str) -> None:
        """Say the permit lapsed (``expired``)."""
        ...


_current: ContextVar[Permit | None] = ContextVar("watcher_permit", default=None)


def enter(permit: Permit | None) -> None:
    """The current task (and the tasks it starts) work under ``permit``."""
    _current.set(permit)


async def checkpoint() -> None:
    """Return at once while the task's permit holds (or it has none); once it lapsed,
    never: the worker is being stopped, and must send nothing more."""
    permit = _current.get()
    if permit is not None and not permit.valid():
        permit.lose("expired")
        await anyio.sleep_forever()
