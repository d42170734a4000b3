"""``/readyz``: is this daemon doing its job? One meaning of "failing" everywhere.

Ready means every source has polled successfully and none is failing, where
failing means what ``watcher.source.failing`` and ``watcher_source_failing``
mean (``failure_threshold`` failed polls in a row); a source with fewer is
retrying and stays ready, with its failures and last error shown.  The state
store must take writes too: a daemon that cannot journal is not doing its
job, whatever its polls say.
"""

from __future__ import annotations

from typing import Any

from watcher.core.status import DaemonStatus, SourceStatus
from watcher.server.logs import redactor


def readiness(status: DaemonStatus) -> tuple[bool, dict[str, Any]]:
    """Whether the daemon is ready, and the body ``/readyz`` answers with."""
    store = status.store_failing
    store_reason = f"state store writes failing: {redactor.redact(store)}" if store else None
    ready = not status.stopping and not store
    sources: dict[str, Any] = {}
    for src in status.sources:
        info = _source(src, status.now, store_reason)
        ready = ready and info["ready"]
        sources[src.name] = info
    body: dict[str, Any] = {"ready": ready, "sources": sources}
    if status.stopping:
        body["reason"] = "stopping"
    else:
        if store_reason:
            body["reason"] = store_reason
        body["not_ready"] = sorted(n for n, i in sources.items() if not i["ready"])
    return ready, body


def _source(src: SourceStatus, now: float, store_reason: str | None) -> dict[str, Any]:
    last = src.stats.last_success
    info: dict[str, Any] = {"ready": True, "last_success_age_s": None}
    if last is not None:
        info["last_success_age_s"] = round(now - last, 3)
    if src.store_failing and store_reason:  # it polls fine: do not blame the vendor
        info["reason"] = store_reason
    elif src.failing:
        info["reason"] = (f"failing: {src.failures} polls in a row failed "
                          f"(failure_threshold {src.failure_threshold})")
    elif last is None:
        info["reason"] = "no successful poll yet"
    elif src.failures:
        info["retrying"] = True
    if src.failures:
        info["consecutive_failures"] = src.failures
    if "reason" in info:
        info["ready"] = False
    if src.stats.last_error and (src.failures or not info["ready"]):
        info["last_error"] = redactor.redact(src.stats.last_error)
    return info
