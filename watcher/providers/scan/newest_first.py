"""Scanning an offset-paged run listing whose order is undocumented (Noxus, Cortex).

Both vendors page with a page number and list runs, by all appearances,
newest ``created_at`` first - but neither documents it.  The cheap scan
relies on it: page from the head and stop after the page that ends before
the recent window's floor (:mod:`watcher.providers.scan.window`).  So the scan
checks the order from the timestamps it receives (``created_at`` never
increases along the whole scan).  When it does increase, the order is not
what we assumed: :class:`HeadScan` warns once, this cycle carries on to
the last page, and every cycle scans every page until :data:`REVERIFY`
full scans in a row came back ordered.

Offset pages shift under the reader.  A run inserted at the head repeats
one run on the next page (the diff counts it once); a run deleted ahead of
the reader slides the next page's first run onto a page already read, so it
is skipped.  A skipped *new* run is caught because the window is read by two
cycles, and again in full when the listing's total shrank during the scan; a
skipped *tracked* run is re-read by id (:mod:`watcher.providers.scan.lingering`).
Absence is never taken for a change.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from watcher.core.timestamps import parse_ts
from watcher.errors import BadPayload
from watcher.model import Observation
from watcher.providers.base import PollView
from watcher.providers.pages import Run
from watcher.providers.scan.lingering import Lingering
from watcher.providers.scan.window import RecentWindow

#: ordered full scans in a row before the cheap scan is trusted again
REVERIFY = 3
#: a listing that has not ended after this many pages is not to be trusted
MAX_PAGES = 5000

#: page number -> (items, total number of runs listed, if the vendor says)
FetchPage = Callable[[int], Awaitable[tuple[list[Any], "int | None"]]]
#: vendor items -> observations appended to the list
Observe = Callable[[list[Any], list[Observation]], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress:
    """Where a scan stands, for a provider deciding whether paging on is worth it."""

    page: int
    size: int
    total: int | None
    #: newest and last ``created_at`` read so far
    top: float | None
    last: float
    scanned: int

    @property
    def pages_left(self) -> int | None:
        return None if self.total is None else max(0, math.ceil(self.total / self.size)
                                                   - self.page)


#: given the scan's progress, should it read another page for the lingering runs?
PageOn = Callable[[Progress], bool]


class HeadScan:
    """One poll of such a listing: the recent window, the order check and the lingering
    runs it needs, and the cursor they leave for the next poll."""

    __slots__ = ("lingering", "log", "reverify", "shrank", "view", "window")

    def __init__(self, view: PollView, *, lookback: float,
                 log: structlog.typing.FilteringBoundLogger) -> None:
        self.view = view
        self.log = log
        self.window = RecentWindow(view.cursor, now=view.now, lookback=lookback,
                                   baseline=view.baseline)
        self.lingering = Lingering(view)
        #: full scans still to do before the newest-first order is trusted again
        self.reverify = int(view.cursor.get("reverify", 0))
        #: the listing's total went down while we paged: a run may have been skipped
        self.shrank = False

    async def scan(self, fetch: FetchPage, *, size: int, observe: Observe,
                   page_on: PageOn | None = None) -> list[Observation]:
        """Page from the head until past the window's floor (every page while the order
        is to be verified, or once it breaks); ``page_on`` may ask for more pages for
        the lingering runs."""
        window, lingering = self.window, self.lingering
        obs: list[Observation] = []
        page, last, top = 1, math.inf, None
        ordered, scanned = True, 0
        total_before: int | None = None
        while True:
            items, total = await fetch(page)
            start = len(obs)
            observe(items, obs)
            lingering.seen(obs, start)
            newest = None
            for item in items:
                ts = parse_ts(item.get("created_at")) if isinstance(item, dict | Run) else None
                if ts is None:
                    continue
                if ts > last:
                    ordered = False
                last = ts
                if newest is None or ts > newest:
                    newest = ts
            window.saw(newest)
            if last < window.horizon:
                window.forget_old(obs, start, self.view.runs, "created_at")
            if top is None:
                top = newest
            scanned += len(items)
            if total is not None:
                self.shrank |= total_before is not None and total < total_before
                total_before = total
            if len(items) < size or (total is not None and page * size >= total):
                return self._judged(obs, ordered, full=True)
            if self.reverify or not ordered or last >= window.floor or (
                    lingering.wanted and page_on is not None
                    and page_on(Progress(page=page, size=size, total=total, top=top, last=last,
                                         scanned=scanned))):
                page += 1
                if page > MAX_PAGES:
                    raise BadPayload(f"the run listing did not end after {MAX_PAGES} pages")
                continue
            return self._judged(obs, ordered, full=False)

    def _judged(self, obs: list[Observation], ordered: bool, *, full: bool
                ) -> list[Observation]:
        """``obs``, once the scan's order is judged: warned once when it broke."""
        if not ordered:
            if self.reverify == 0:
                self.log.warning("the run listing is not newest-created first as assumed; "
                                 "reading every page until the order holds again",
                                 reverify_after=REVERIFY)
            self.reverify = REVERIFY
        elif full and self.reverify > 0:
            self.reverify -= 1
            if self.reverify == 0:
                self.log.info("the run listing's newest-first order held for every page "
                              "again; back to reading recent pages only")
        return obs

    def cursor(self) -> dict[str, Any]:
        return {**self.window.cursor(again=self.shrank), "reverify": self.reverify,
                **self.lingering.cursor()}
