"""Vendor push, the pure part: whether push is live for a source, its counters, and
whether a pushed run state is older than what is known.

Push is *live* while verified pushes keep arriving: the last came within
``quiet`` (twice the source's ``push_interval``) and after the last poll that found
a change no push had announced.  While it is live the source polls every
``push_interval``; otherwise every ``interval``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from watcher.core.histogram import Histogram
from watcher.core.timestamps import parse_ts
from watcher.model import TERMINAL, Observation, Tracked

#: upper bounds (seconds) of the push lag histogram
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


@dataclass(slots=True, eq=False)
class PushStats:
    """One push-enabled source's push counters (``watcher_push_*``) and liveness."""

    quiet: float
    #: deliveries answered, by result (``stored``, ``duplicate``, ``refused``, ...)
    received: Counter[str] = field(default_factory=Counter)
    #: changes a poll found that no push had announced
    missed: int = 0
    #: seconds from the platform's send (or our receipt) to the push's commit
    lag: Histogram = field(default_factory=lambda: Histogram(LAG_BUCKETS))
    #: when the last verified new push was received, and the last miss was found
    last_push: float | None = None
    missed_at: float | None = None

    def pushed(self, at: float) -> None:
        if self.last_push is None or at > self.last_push:
            self.last_push = at

    def live(self, now: float) -> bool:
        last = self.last_push
        return (last is not None and now - last <= self.quiet
                and (self.missed_at is None or last > self.missed_at))


def stale(o: Observation, runs: Mapping[str, Tracked]) -> bool:
    """Whether a pushed run state is older than the known one: a terminal run never
    changes again, and a vendor ``updated_at`` older than the known one is the past."""
    st = runs.get(o[0])
    if st is None:
        return False
    if st.status in TERMINAL:
        return True
    if o[3] is None or st.version is None:
        return False
    new, old = parse_ts(o[3]), parse_ts(st.version)
    return new is not None and old is not None and new < old
