"""One source's runs in memory: the working set the diff reads and each cycle updates.

A first sync of a big source fills it with a hundred thousand runs at once:
:meth:`SourceState.apply` then takes the changeset's dict as the runs instead of
copying it, and counts statuses with whole-collection passes.  The counts (statuses,
stuck live runs) are kept as runs change, so a status snapshot of a thousand sources
reads numbers rather than walking their runs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import compress
from operator import attrgetter

from watcher.model import TERMINAL, Status, Tracked
from watcher.state.store import SourceRow

_status = attrgetter("status")
_live = frozenset(Status).difference(TERMINAL).__contains__


class SourceState:
    __slots__ = ("counts", "live", "row", "runs", "stuck")

    def __init__(self, row: SourceRow | None = None) -> None:
        self.row = row or SourceRow()
        self.runs: dict[str, Tracked] = self.row.runs
        self.row.runs = {}  # the row carries runs only while loading
        self.live: set[str] = {rid for rid, st in self.runs.items() if st.status not in TERMINAL}
        self.counts: Counter[Status] = Counter(st.status for st in self.runs.values())
        #: live runs flagged stuck
        self.stuck = sum(1 for rid in self.live if self.runs[rid].stuck)

    def apply(self, upserts: Mapping[str, Tracked], removals: Sequence[str]) -> None:
        runs, live, counts = self.runs, self.live, self.counts
        if not runs and type(upserts) is dict:
            # a first sync: the changeset's dict becomes the runs (not a copy of 100,000)
            self.runs = runs = upserts
            statuses = list(map(_status, upserts.values()))
            counts.update(statuses)
            live.update(compress(upserts, map(_live, statuses)))
            self.stuck += sum(1 for rid in live if upserts[rid].stuck)
            upserts = {}
        for rid, st in upserts.items():
            old = runs.get(rid)
            if old is not None:
                counts[old.status] -= 1
                self.stuck -= old.stuck and rid in live
            counts[st.status] += 1
            runs[rid] = st
            if st.status in TERMINAL:
                live.discard(rid)
            else:
                live.add(rid)
                self.stuck += st.stuck
        for rid in removals:
            old = runs.pop(rid, None)
            if old is not None:
                counts[old.status] -= 1
                self.stuck -= old.stuck and rid in live
                live.discard(rid)
