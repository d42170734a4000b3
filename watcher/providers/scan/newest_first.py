"""Scanning an offset-paged run listing whose order is undocumented (Noxus, Cortex).

Both vendors page with a page number and list runs, by all appearances,
newest ``created_at`` first - but neither documents it.  The cheap scan
relies on it: page from the head and stop after the page that ends before
the recent window's floor (:mod:`watcher.providers.window`).  So the scan
checks the order from the timestamps it receives (``created_at`` never
increases along the whole scan).  When it does increase, the order is not
what we assumed: :class:`OrderTrust` warns once, this cycle carries on to
the last page, and every cycle scans every page until :data:`REVERIFY`
full scans in a row came back ordered.

Offset pages shift under the reader.  A run inserted at the head repeats
one run on the next page (the diff counts it once); a run deleted ahead of
the reader slides the next page's first run onto a page already read, so it
is skipped.  A skipped *new* run is caught because the window is read by two
cycles, and again in full when the listing's total shrank during the scan; a
skipped *tracked* run is re-read by id (:mod:`watcher.providers.lingering`).
Absence is never taken for a change.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
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


@dataclass(frozen=True, slots=True)
class ScanResult:
    observations: list[Observation]
    #: created_at never increased along the scan
    ordered: bool
    #: the scan read every page
    full: bool
    #: the listing's total went down while we paged: a run may have been skipped
    shrank: bool


async def scan(fetch: FetchPage, *, size: int, created_key: str, observe: Observe,
               window: RecentWindow, lingering: Lingering, known: Mapping[str, Any],
               full: bool, page_on: PageOn | None = None) -> ScanResult:
    """Page from the head until past ``window.floor`` (or every page when ``full``
    or the order breaks); ``page_on`` may ask for more pages for lingering runs."""
    obs: list[Observation] = []
    floor = window.floor
    page, last, top = 1, math.inf, None
    ordered, shrank = True, False
    scanned = 0
    total_before: int | None = None
    while True:
        items, total = await fetch(page)
        start = len(obs)
        observe(items, obs)
        lingering.seen(obs, start)
        newest = None
        for item in items:
            ts = parse_ts(item.get(created_key)) if isinstance(item, dict | Run) else None
            if ts is None:
                continue
            if ts > last:
                ordered = False
            last = ts
            if newest is None or ts > newest:
                newest = ts
        window.saw(newest)
        if last < window.horizon:
            window.forget_old(obs, start, known, created_key)
        if top is None:
            top = newest
        scanned += len(items)
        if total is not None:
            if total_before is not None and total < total_before:
                shrank = True
            total_before = total
        if len(items) < size or (total is not None and page * size >= total):
            return ScanResult(obs, ordered=ordered, full=True, shrank=shrank)
        if full or not ordered or last >= floor or (
                lingering.wanted and page_on is not None
                and page_on(Progress(page=page, size=size, total=total, top=top, last=last,
                                     scanned=scanned))):
            page += 1
            if page > MAX_PAGES:
                raise BadPayload(f"the run listing did not end after {MAX_PAGES} pages")
            continue
        return ScanResult(obs, ordered=ordered, full=False, shrank=shrank)


class OrderTrust:
    """Whether the cheap scan may rely on newest-first order; kept in the cursor."""

    __slots__ = ("left", "log")

    def __init__(self, cursor: Mapping[str, Any], log: structlog.typing.FilteringBoundLogger
                 ) -> None:
        self.log = log
        #: full scans still to do before trusting the order again
        self.left = int(cursor.get("reverify", 0))

    @property
    def full(self) -> bool:
        return self.left > 0

    def judge(self, result: ScanResult) -> None:
        if not result.ordered:
            if self.left == 0:
                self.log.warning("the run listing is not newest-created first as assumed; "
                                 "reading every page until the order holds again",
                                 reverify_after=REVERIFY)
            self.left = REVERIFY
        elif result.full and self.left > 0:
            self.left -= 1
            if self.left == 0:
                self.log.info("the run listing's newest-first order held for every page "
                              "again; back to reading recent pages only")

    def cursor(self) -> dict[str, int]:
        return {"reverify": self.left}


class HeadScan:
    """One poll of such a listing: the recent window, the order check and the lingering
    runs it needs, and the cursor they leave for the next poll."""

    __slots__ = ("lingering", "shrank", "trust", "view", "window")

    def __init__(self, view: PollView, *, lookback: float,
                 log: structlog.typing.FilteringBoundLogger) -> None:
        self.view = view
        self.window = RecentWindow(view.cursor, now=view.now, lookback=lookback,
                                   baseline=view.baseline)
        self.trust = OrderTrust(view.cursor, log)
        self.lingering = Lingering(view)
        self.shrank = False

    async def scan(self, fetch: FetchPage, *, size: int, observe: Observe,
                   page_on: PageOn | None = None) -> list[Observation]:
        """The head scan (see :func:`scan`); its observations, the order judged."""
        result = await scan(fetch, size=size, created_key="created_at", observe=observe,
                            window=self.window, lingering=self.lingering, known=self.view.runs,
                            full=self.trust.full, page_on=page_on)
        self.trust.judge(result)
        self.shrank = result.shrank
        return result.observations

    def cursor(self) -> dict[str, Any]:
        return {**self.window.cursor(again=self.shrank), **self.trust.cursor(),
                **self.lingering.cursor()}
