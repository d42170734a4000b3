"""Lingering runs: tracked live runs a cycle has not seen yet, re-read by id.

A run missing from this cycle's listings is not a change (absence is never a
transition), but it may have changed where the cheap listings do not reach:
a run started days ago that is still live sits deep in a newest-first
listing.  Each provider narrows :attr:`Lingering.wanted` with what its
listings showed, then reads what is left one by one through the vendor's
single-run GET.

A 404 there means the run is gone (deleted, or past the vendor's
retention): it stays tracked with its last status, silently, and is
remembered in the cursor so that it is not fetched again every cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from watcher.errors import ProviderError
from watcher.model import Observation

if TYPE_CHECKING:
    from watcher.providers.base import BaseProvider, PollView

#: single-run answers that mean "this run cannot be read", not "the vendor is down"
_SKIPPABLE = frozenset({400, 404, 410, 422})


class Lingering:
    __slots__ = ("gone", "wanted")

    def __init__(self, view: PollView) -> None:
        live = view.live
        #: runs a single-run GET said do not exist any more
        self.gone: set[str] = {r for r in view.cursor.get("gone", ()) if r in live}
        #: live runs not seen yet this cycle
        self.wanted: set[str] = set(live) - self.gone if self.gone else set(live)

    def seen(self, obs: Sequence[Observation], start: int = 0) -> None:
        """Runs ``obs[start:]`` were listed: they need no re-read (and are not gone)."""
        if not (self.wanted or self.gone):
            return  # the common idle case: nothing to look for
        ids = [o[0] for o in obs[start:]]
        self.wanted.difference_update(ids)
        self.gone.difference_update(ids)

    async def fetch(self, provider: BaseProvider[Any], path: str) -> list[Any]:
        """GET every wanted run at ``path`` (``{id}``: its id); returns the parsed runs."""
        items: list[Any] = []
        for rid in sorted(self.wanted):
            try:
                # quoted: an id is vendor data, and must not reach another path
                body, _ = await provider.http.get(path.replace("{id}", quote(rid, safe="")))
            except ProviderError as e:
                if e.status not in _SKIPPABLE:
                    raise  # auth, rate limit, outage: the cycle cannot be trusted
                if e.status in (404, 410):
                    self.gone.add(rid)
                    provider.log.info("a tracked live run is gone from the vendor; it stays "
                                      "as last seen", run_id=rid)
                else:
                    provider.log.warning("could not re-read a run; it stays as last seen",
                                         run_id=rid, error=str(e))
                continue
            items.append(body)
        self.wanted.clear()
        return items

    def cursor(self) -> dict[str, list[str]]:
        return {"gone": sorted(self.gone)}
