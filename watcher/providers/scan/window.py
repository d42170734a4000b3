"""The recent window: where a cycle looks for new runs when the vendor cannot say
"changed since" (Noxus, Cortex, Knock).

None of the three lists runs by update time, but a run's creation time never
changes, so every run the watcher has not seen yet - including one created
*and* finished between two polls - was created recently.  Each cycle reads
every run created at or after ``floor``:

* the first poll (baseline) reaches back ``lookback``;
* afterwards ``floor`` is the newest creation time known *before the
  previous cycle*, minus :data:`OVERLAP`.  So every run is read by two
  consecutive cycles (an offset-page shift that hid it once cannot hide it
  for good), and a run that appears in the listing a little after its
  creation time (indexing lag, clock skew) is still inside the window;
* never earlier than ``now - lookback``; after downtime the window simply
  spans the gap, which is the catch-up.

Times are the vendor's own timestamps, so our clock's skew does not matter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from watcher.core.timestamps import parse_ts
from watcher.model import Observation

#: how far behind the newest known creation time a window starts: runs may show up
#: in a listing a little after their creation time (indexing lag)
OVERLAP = 120.0


class RecentWindow:
    """This cycle's window, and the cursor fields that place the next one."""

    __slots__ = ("_known", "_now", "floor", "horizon", "newest")

    def __init__(self, cursor: Mapping[str, Any], *, now: float, lookback: float,
                 baseline: bool) -> None:
        self._now = now
        horizon = self.horizon = now - lookback
        self._known: float | None = None if baseline else cursor.get("newest")
        saved: float | None = None if baseline else cursor.get("floor")
        #: read every run created at or after this (epoch seconds)
        self.floor = horizon if saved is None else max(saved, horizon)
        #: the newest creation time seen so far
        self.newest = self._known

    def saw(self, created: float | None) -> None:
        if created is not None and (self.newest is None or created > self.newest):
            # never past our own now: a run "created" in the future would lift the next
            # floor above every real run until then (a lower floor only reads more)
            self.newest = min(created, self._now)

    def forget_old(self, obs: list[Observation], start: int, known: Mapping[str, Any],
                   created_key: str) -> None:
        """Drop, from ``obs[start:]``, runs never tracked and created before ``now - lookback``.

        Pages that reach past the horizon (a deep scan, a live-runs listing)
        show runs older than the first poll looked: they are out of scope, not new.
        """
        horizon = self.horizon
        kept = [o for o in obs[start:] if o[0] in known
                or (parse_ts(o[4].get(created_key)) or horizon) >= horizon]
        if len(kept) != len(obs) - start:
            obs[start:] = kept

    def cursor(self, *, again: bool = False) -> dict[str, float | None]:
        """Cursor fields for the next cycle; ``again`` re-reads this whole window
        (when the listing shrank while we paged, a run may have been skipped)."""
        if again:
            nxt: float | None = self.floor
        else:
            base = self._known if self._known is not None else self.newest
            nxt = None if base is None else base - OVERLAP
        return {"newest": self.newest, "floor": nxt}
