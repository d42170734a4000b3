"""Whether a sink is failing, from every delivery attempt as it happens.

The runner makes every attempt (:mod:`watcher.runtime.delivery`) and reports
each one here, so ``/metrics``, ``/status`` and the logs know from the first
refused attempt: one with an entry to retry (or a raise) failed; one whose
entries were all delivered, or refused for good (a 4xx: the event's dead
letter, not the sink's failure), succeeded.

A sink is failing from a failed attempt until one succeeds.  Logged once when
it starts (an error, so ``select(.level == "error")`` finds it), once for each
new cause (a few at most, as warnings), and once when it recovers.  Reasons are
what the sink says: never a URL, secrets already scrubbed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from watcher.core.status import DeliveryStats
from watcher.infra.clock import Clock

#: causes logged during one failure, beyond the first (more are logged at debug level)
CAUSES = 5


class SinkHealth:
    """One sink's health, shared by the sink (its context's) and its runner."""

    def __init__(self, name: str, backlog: Callable[[], int], *, clock: Clock) -> None:
        self.clock = clock
        #: the sink's counters: retries and failed attempts are counted here
        self.stats = DeliveryStats()
        #: journaled events waiting for the sink, said when it starts failing
        self.backlog = backlog
        self.last_error: str | None = None
        #: wall time of the first failed attempt of this failure (None: not failing)
        self.since: float | None = None
        self._causes: set[str] = set()
        self.log = structlog.get_logger("watcher.sink").bind(sink=name)

    @property
    def failing(self) -> bool:
        return self.since is not None

    def failed(self, reason: str, *, retry: bool = True, **context: Any) -> None:
        """An attempt failed for ``reason``; ``retry``: it will be tried again (counted
        in ``watcher_sink_retries_total``)."""
        self.stats.failures += 1
        if retry:
            self.stats.retries += 1
        self.last_error = reason
        if self.since is None:
            self.since = self.clock()
            self._causes = {reason}
            self.log.error("sink delivery failing, will retry" if retry
                           else "sink delivery failing", error=reason, backlog=self.backlog(),
                           **context)
        elif reason not in self._causes and len(self._causes) <= CAUSES:
            self._causes.add(reason)
            self.log.warning("sink delivery still failing, for another reason", error=reason,
                             **context)
        else:
            self.log.debug("sink delivery failed again", error=reason, **context)

    def succeeded(self, what: str = "sink delivery recovered") -> None:
        """An attempt succeeded: the sink is no longer failing."""
        if self.since is None:
            return
        down = round(self.clock() - self.since, 3)
        self.since = None
        self.last_error = None
        self._causes = set()
        self.log.info(what, failed_for_s=down)
