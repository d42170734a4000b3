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

#: what is wrong with a state store, the worse first
UNREACHABLE, WRITES_FAILING = "state store unreachable", "state store writes failing"


def readiness(status: DaemonStatus) -> tuple[bool, dict[str, Any]]:
    """Whether the daemon is ready, and the body ``/readyz`` answers with."""
    trouble = store_trouble(status.store_unreachable, status.store_failing)
    store = None if trouble is None else f"{trouble[0]}: {redactor.redact(trouble[1])}"
    reason = "stopping" if status.stopping else store
    body: dict[str, Any] = {"ready": reason is None, "config": "loaded",
                            "store": store or "reachable"}
    if reason is not None:
        body["reason"] = reason
    return reason is None, body


def store_trouble(unreachable: str | None, failing: str | None) -> tuple[str, str] | None:
    """What is wrong with the state store and why (None: nothing), from why it is
    unreachable and why its writes fail."""
    if unreachable:
        return UNREACHABLE, unreachable
    if failing:
        return WRITES_FAILING, failing
    return None
