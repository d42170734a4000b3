"""Error boundaries: a bug in one task is that task's failed cycle, never the daemon's end.

Every long-lived task owns a :class:`Boundary`.  What the task expects to go wrong has
a policy of its own (a ``ProviderError`` fails a poll, a ``DeliveryError`` retries a
batch); anything else is *internal*: a bug of ours or a plugin's.  The boundary counts
it (``watcher_internal_errors_total{task}``) and logs it with its traceback once per
episode and place (the same bug failing every cycle is one error line, then debug
lines); the task treats it as a failed cycle.  An episode ends at the task's next good
cycle.  :func:`supervise` is the outermost layer: a task body that dies anyway (outside
a cycle) is restarted with backoff.  Cancellation is never caught.
"""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable

import structlog

from watcher.core.backoff import Backoff
from watcher.infra.clock import Clock
from watcher.server.logs import redactor

log = structlog.get_logger("watcher.runtime.supervisor")

#: a task body that ran at least this long before dying starts its backoff afresh
HEALTHY_RUN = 60.0


def describe(exc: BaseException) -> str:
    """``internal error: KeyError: 'workflow'``, secrets masked (it leaves the process)."""
    text = str(exc)
    detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return redactor.redact(f"internal error: {detail}"[:500])


def _where(exc: BaseException) -> tuple[str, str, int]:
    """The exception's type and the innermost frame that raised it: one bug, one place."""
    frames = traceback.extract_tb(exc.__traceback__)
    last = frames[-1] if frames else None
    return type(exc).__name__, last.filename if last else "", (last.lineno or 0) if last else 0


class Boundary:
    """One task's count of internal errors, and which of them were logged this episode."""

    __slots__ = ("_seen", "errors", "log", "task")

    def __init__(self, task: str) -> None:
        #: the ``task`` label: ``source:<name>``, ``sink:<name>``, ``http``, ...
        self.task = task
        #: internal errors caught so far (a counter for /metrics)
        self.errors = 0
        self.log = log.bind(task=task)
        self._seen: set[tuple[str, str, int]] = set()

    def caught(self, exc: Exception, **context: object) -> str:
        """Count ``exc``, log it (with the traceback the first time this episode); its
        description for the failed cycle."""
        self.errors += 1
        place = _where(exc)
        what = describe(exc)
        if place in self._seen:
            self.log.debug("internal error again", error=what, errors=self.errors, **context)
        else:
            self._seen.add(place)
            self.log.error("internal error, contained: the task carries on with backoff",
                           error=what, exc_info=exc, **context)
        return what

    def cleared(self) -> None:
        """The task had a good cycle: the episode is over, a new error is logged again."""
        self._seen.clear()


async def supervise(boundary: Boundary, body: Callable[[], Awaitable[None]], *,
                    clock: Clock) -> None:
    """Run ``body`` until it returns; restart it with backoff whenever it raises."""
    backoff = Backoff(1.0, 60.0, rng=clock.random)
    while True:
        started = clock.monotonic()
        try:
            await body()
            return
        except Exception as e:  # cancellation is a BaseException: it passes through
            boundary.caught(e)
        if clock.monotonic() - started >= HEALTHY_RUN:
            backoff.reset()
        delay = backoff.next()
        # caught() said it once already; a task dying every minute must not say it every minute
        boundary.log.debug("task restarting after an internal error", retry_in=round(delay, 3))
        await clock.sleep(delay)
