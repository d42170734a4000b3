"""What a source's failed and recovered polls say: the log line and the source events.

A failure is logged by how far along it is: the first as a warning (an
internal error was already logged by the source's boundary, with its
traceback), the one that reaches ``failure_threshold`` as an error with the
``watcher.source.failing`` event, the rest at debug level.  The recovery event
says how long the source was down.
"""

from __future__ import annotations

from typing import Any

from watcher.config.settings import SourceConfig
from watcher.core.events import SOURCE_FAILING, SOURCE_RECOVERED, source_event
from watcher.core.timestamps import format_ts
from watcher.errors import InternalError, PollError
from watcher.model import Event
from watcher.server.logs import redactor
from watcher.state.store import SourceRow


def log_failure(log: Any, e: PollError, failures: int, threshold: int) -> None:
    if failures == threshold:  # first, so a threshold of 1 still says "failing"
        log.error("source failing", kind=e.kind, error=str(e), failures=failures)
    elif failures == 1 and not isinstance(e, InternalError):  # the boundary said it
        log.warning("poll failed", kind=e.kind, error=str(e))
    else:
        log.debug("poll failed again", kind=e.kind, error=str(e), failures=failures)


def failing(cfg: SourceConfig, e: PollError, failures: int, *, since: float,
            now: float) -> Event:
    """``watcher.source.failing``.  The vendor's message leaves the process in it: some
    vendors quote the key they refused, so secrets are masked as in logs."""
    return source_event(SOURCE_FAILING, source=cfg.name, provider=cfg.provider, now=now,
                        since=since, data={"error": redactor.redact(str(e)), "kind": e.kind,
                                           "consecutive_failures": failures,
                                           "failing_since": format_ts(since)})


def recovered(cfg: SourceConfig, row: SourceRow, *, now: float) -> Event:
    """``watcher.source.recovered`` after the failures ``row`` counts."""
    since = row.failing_since if row.failing_since is not None else now
    return source_event(SOURCE_RECOVERED, source=cfg.name, provider=cfg.provider, now=now,
                        since=since, data={"failing_since": format_ts(since),
                                           "consecutive_failures": row.failures,
                                           "down_for_s": int(now - since)})
