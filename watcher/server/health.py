"""``/readyz``: can this process serve and take part?  Never "is a vendor up".

Ready means the config is loaded (the daemon would not run otherwise), the
process is not stopping, and the state store is reachable: its writes do not
fail, and with replicas this replica's heartbeat reached the database within
``lease_ttl``.  A vendor outage, a failing source or a sink in trouble are
shown by ``/status``, ``/metrics`` and the status page, never here: under
Kubernetes a vendor down would take every pod out of its Service (the status
page and ``/events`` with them) just when operators need them.  Holding no
lease is not a reason either: a new pod of a rolling update gets its leases
only once an old one gives them back, which waits on the new pod being ready.
"""

from __future__ import annotations

from typing import Any

from watcher.core.status import DaemonStatus
from watcher.server.logs import redactor


def readiness(status: DaemonStatus) -> tuple[bool, dict[str, Any]]:
    """Whether the daemon is ready, and the body ``/readyz`` answers with."""
    store = _store_trouble(status)
    reason = "stopping" if status.stopping else store
    body: dict[str, Any] = {"ready": reason is None, "config": "loaded",
                            "store": store or "reachable"}
    if reason is not None:
        body["reason"] = reason
    return reason is None, body


def _store_trouble(status: DaemonStatus) -> str | None:
    if status.store_unreachable:
        return f"state store unreachable: {redactor.redact(status.store_unreachable)}"
    if status.store_failing:
        return f"state store writes failing: {redactor.redact(status.store_failing)}"
    return None
