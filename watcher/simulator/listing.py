"""Newest-created-first listings, for the simulated APIs that list that way.

Noxus, Cortex and Knock document no order for their run listings; the
simulator picks the likely one, newest ``created`` first (ties: higher id
first), so that a provider trusting it blindly would look right and only its
own order check can tell otherwise (see the ``reorder`` fault).

Each account's filtered listing is cached for one version of its runs, so
paging through 10,000 runs sorts them once, not once per page.

How runs move in such a listing: ``created`` never changes, so a run only
changes place when runs *before* it come or go.  An insert slides everything
down one place (the next page repeats a run: a duplicate); a deletion slides
everything up one place (the first run of the next page lands on the page the
reader already has and is skipped).  :meth:`NewestFirst.drop_before` is that
deletion, which is what the ``shift`` fault does for these vendors: it is the
realistic way a run "moves to an earlier page" between two page requests.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from watcher.simulator.accounts import Account
from watcher.simulator.world import SimRun, World

#: cached listings kept at most (a thousand accounts polled in turn each keep theirs)
CACHED = 4096


def _key(run: SimRun) -> tuple[float, str]:
    return (run.created, run.id)


class NewestFirst:
    """One vendor's runs, newest created first, filtered and cached."""

    def __init__(self, world: World, vendor: str) -> None:
        self.world = world
        self.vendor = vendor
        self._cache: dict[Hashable, tuple[int, list[SimRun]]] = {}
        #: the listing most recently served, for :meth:`drop_before`
        self.last: list[SimRun] = []

    def listing(self, account: Account, key: Hashable,
                keep: Callable[[SimRun], bool] | None = None) -> list[SimRun]:
        """``account``'s runs that pass ``keep``, newest first; ``key`` names the filter for
        the cache."""
        key = (account.name, key)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == account.version:
            self.last = hit[1]
            return hit[1]
        runs = account.runs.values()
        out = sorted(runs if keep is None else filter(keep, runs), key=_key, reverse=True)
        if len(self._cache) > CACHED:
            self._cache.clear()
        self._cache[key] = (account.version, out)
        self.last = out
        return out

    def drop_before(self, run: SimRun) -> None:
        """Delete the run listed just before ``run`` (so ``run`` moves up one place)."""
        try:
            i = self.last.index(run)
        except ValueError:
            return
        if i > 0:
            self.world.delete(self.last[i - 1])
