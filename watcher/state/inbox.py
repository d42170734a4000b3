"""The push inbox: verified vendor pushes, durably stored before they are acknowledged.

Any replica's listener stores a push under ``(source, delivery id)``: a delivery
stored before is acknowledged and ignored, so a platform's retry adds nothing.
The replica holding the source's lease reads the pending pushes, applies them
through the poll's diff and marks them applied in the same fenced commit
(:attr:`~watcher.state.store.Commit.applied`), so each is applied exactly once
whichever replica received it.  Applied deliveries are kept :data:`KEEP` so a late
redelivery is still recognised, then pruned by the commit that names ``inbox_before``.
"""

from __future__ import annotations

from typing import NamedTuple

#: applied deliveries are remembered this long (platforms retry for hours, not days)
KEEP = 3 * 86400.0
#: pending pushes applied per commit
BATCH = 500
#: the notification payload's prefix saying a source has a new push (PostgreSQL)
NOTIFY = "push:"


class Push(NamedTuple):
    source: str
    #: the platform's delivery id (a retry carries the same)
    delivery: str
    #: when this watcher stored it, and when the platform signed it (None: unsigned time)
    received: float
    sent: float | None
    #: the body exactly as received
    body: bytes
