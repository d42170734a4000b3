"""A lease as the worker that uses it sees it: its fence, and until when this replica may
still act on it by its own monotonic clock.

The database decides who holds a lease, but a replica cut off from it (a partition, a
pause) cannot ask, so it also keeps its own deadline: the time it sent the last
successful renewal plus the ttl, less a margin.  Past that it stops polling and
delivering for the lease even before it learns that another replica took it, and a
commit it still attempts is refused by the fence.
"""

from __future__ import annotations

from collections.abc import Callable

from watcher.infra.clock import Clock
from watcher.state.store import Fence

#: the share of the ttl a replica keeps back from its own deadline (clocks drift)
MARGIN = 0.1


class Claim(Fence):
    """A lease this replica holds; as a :class:`Fence` it goes with each write under it."""

    __slots__ = ("_clock", "_on_lost", "lost", "valid_until")

    def __init__(self, lease: str, epoch: int, valid_until: float, *, clock: Clock,
                 on_lost: Callable[[Claim], None] | None = None) -> None:
        super().__init__(lease, epoch)
        #: monotonic time after which this replica no longer acts on the lease
        self.valid_until = valid_until
        #: why the claim ended (``fenced``, ``expired``, ``lost``), None while it holds
        self.lost: str | None = None
        self._clock = clock
        self._on_lost = on_lost

    @property
    def kind(self) -> str:
        """``source``, ``sink``, ``reader``: what the lease is for."""
        return self.lease.partition(":")[0]

    def valid(self) -> bool:
        return self.lost is None and self._clock.monotonic() < self.valid_until

    def remaining(self) -> float:
        """Seconds this replica may still act on the lease (0 once it may not)."""
        return max(0.0, self.valid_until - self._clock.monotonic()) if self.lost is None else 0.0

    def lose(self, why: str) -> None:
        """The worker found the lease gone (``fenced``) or out of time (``expired``)."""
        if self.lost is None:
            self.lost = why
            if self._on_lost is not None:
                self._on_lost(self)


def deadline(sent_at: float, ttl: float) -> float:
    """Until when a lease renewed (or taken) by a statement sent at ``sent_at`` holds
    for this replica: the database set its expiry after that, so never later."""
    return sent_at + ttl * (1 - MARGIN)
