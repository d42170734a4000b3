"""Whether the watcher is well enough to ping its outside monitors, and what they were sent.

Well means: the store commits (no write failing, and with replicas the
database answered the last lease round) and every sink runner with a backlog
moves (its cursor advanced within :data:`STALL_INTERVALS` heartbeat intervals).
That the event loop runs needs no test: the ping itself runs in it.  Time is a
parameter here (monotonic seconds), so the judgement is tested without waiting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: a runner whose backlog has not moved for this many heartbeat intervals is stuck
STALL_INTERVALS = 3


@dataclass(slots=True, eq=False)
class HeartbeatStats:
    """One heartbeat's counters, kept while its lease moves between replicas."""

    #: successful pings, and the wall time of the last
    pings: int = 0
    last_ping: float | None = None
    #: fail signals the monitor took (the watcher unwell)
    fail_signals: int = 0
    #: requests the monitor did not take (timed out, refused, not 2xx), and the last why
    failures: int = 0
    last_error: str | None = None
    #: the last request was not taken (the monitor unreachable, refusing, too slow)
    failing: bool = False
    #: the last judgement: well, or why not (None before the first)
    healthy: bool | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class HeartbeatStatus:
    """One heartbeat as ``/status`` and ``/metrics`` show it (never its URL)."""

    name: str
    kind: str
    interval: float
    stats: HeartbeatStats
    #: this replica pings it now (with replicas, one holds its lease)
    active: bool

    @property
    def healthy(self) -> bool | None:
        """The last judgement; None (no verdict here) where this replica does not ping it
        (stopped, or another's)."""
        return self.stats.healthy if self.active else None


@dataclass(frozen=True, slots=True)
class Verdict:
    """Well (``reason`` None), or why not; ``quiet``: say nothing rather than fail (with
    replicas, a replica cut off from the database may be the only one in trouble)."""

    reason: str | None = None
    quiet: bool = False


@dataclass(slots=True)
class Stalls:
    """Since when each sink runner's backlog has sat unmoved."""

    _seen: dict[str, tuple[int, float]] = field(default_factory=dict)

    def update(self, now: float, runners: Mapping[str, tuple[int, int]]) -> dict[str, float]:
        """``runners``: sink -> (cursor, backlog); the seconds each runner with a backlog
        has sat on it unmoved, counted from when it was first seen so (a runner without a
        backlog is forgotten, one that moved starts again from now)."""
        seen: dict[str, tuple[int, float]] = {}
        for name, (cursor, backlog) in runners.items():
            if backlog:
                before = self._seen.get(name)
                seen[name] = (cursor, before[1] if before and before[0] == cursor else now)
        self._seen = seen
        return {name: now - since for name, (_, since) in seen.items()}


def judge(*, store: tuple[str, float, str] | None, stalled: Mapping[str, float],
          backlogs: Mapping[str, int], stall_after: float, replicas: bool) -> Verdict:
    """``store``: (what, seconds, why) of a store in trouble; ``stalled``: seconds per
    runner with a backlog not moving; ``replicas``: the trouble is this replica cut off
    from the shared database, which is quiet: another replica may still reach it and
    take the heartbeat's lease over."""
    if store is not None:
        what, seconds, why = store
        return Verdict(f"{what} for {seconds:.0f} s: {why}", quiet=replicas)
    stuck = sorted((s, n) for n, s in stalled.items() if s >= stall_after)
    if stuck:
        seconds, name = stuck[-1]
        return Verdict(f"sink {name} has not moved its backlog of {backlogs.get(name, 0)} "
                       f"events for {seconds:.0f} s")
    return Verdict()
