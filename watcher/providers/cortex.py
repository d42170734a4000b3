"""Cortex (withcortex.ai): one workflow's runs, page/take paging over a bare array.

A source watches one workflow (``app_id`` + ``workflow_id``: Cortex has no
cross-workflow run list).  Paging metadata is in the ``pagination-*``
response headers; ``status`` filters on one value.

Strategy: there is no update-time order or filter, so each cycle

1. reads the head of the listing down to the recent window's floor
   (:mod:`watcher.providers.scan.window`), which finds every new run, also one
   created and finished between two polls; the newest-first order this
   relies on is undocumented, so it is checked on every page and a broken
   order switches to reading every page (:mod:`watcher.providers.scan.newest_first`);
2. for tracked live runs the head did not show, either lists
   ``status=RUNNING`` (and ``status=PENDING`` if some were pending) - a run
   still live is in one of them - or GETs each run, whichever costs fewer
   requests; a lingering run in neither listing has ended (or is gone) and
   is read by id.

Idle cost: 1 request, plus up to 2 when live runs sit below the head (or
fewer: one GET when only one does).  Cortex allows 500 requests/minute per
IP, shared by every Cortex source: 8/s with a burst of 8 stays under it.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Annotated, Any, ClassVar

from watcher.config.options import Check, Field, Options
from watcher.config.settings import SourceConfig
from watcher.core.timestamps import parse_ts, rfc3339
from watcher.model import Observation, RunDetails, Status
from watcher.providers.base import BaseProvider, PollResult, PollView
from watcher.providers.items import MAX_ERROR, MAX_NAME, dotted, ident, number, text
from watcher.providers.pages import Listing, Run
from watcher.providers.scan.lingering import Lingering
from watcher.providers.scan.newest_first import HeadScan
from watcher.providers.scan.window import RecentWindow

DEFAULT_TAKE = 100
#: Cortex documents no maximum; beyond this a vendor is likely to refuse
MAX_TAKE = 1000
#: live canonical status -> the listing that still shows such a run
_LIVE_LISTINGS = {Status.RUNNING: ("RUNNING",), Status.PENDING: ("PENDING", "RUNNING")}


def _take(v: int) -> str | None:
    return None if v <= MAX_TAKE else f"{v} is above {MAX_TAKE}, more than Cortex is known to allow"


class CortexRun(Run, gc=False):
    """What the diff and the head scan read of a listed run (the rest: for an event)."""

    id: str
    status: str
    updated_at: str | None
    created_at: str | None = None


LISTING = Listing(CortexRun, None)


class CortexOptions(Options):
    #: the app (organization) id
    app_id: str
    #: the workflow whose runs this source watches
    workflow_id: str
    page_size: Annotated[int, Field(ge=1), Check(_take)] = DEFAULT_TAKE


class CortexProvider(BaseProvider[CortexOptions]):
    kind = "cortex"
    default_base_url = "https://api.withcortex.ai"
    Options = CortexOptions
    listing = LISTING
    statuses: ClassVar[dict[str, Status]] = {
        "PENDING": Status.PENDING,
        "RUNNING": Status.RUNNING,
        "COMPLETED": Status.SUCCEEDED,
        "FAILED": Status.FAILED,
        "CANCELLED": Status.CANCELLED,
        "SKIPPED": Status.SKIPPED,
    }
    version_key = "updated_at"
    trim = frozenset({"input", "output", "result", "workflow_version", "workflow_version_draft",
                      "usage"})
    rate = 8.0  # 500/minute per IP, with room for the burst
    burst = 8.0

    @classmethod
    def limit_scope(cls, source: SourceConfig) -> tuple[str, ...]:
        # per IP address: every Cortex source of this process, whatever its key
        return (source.base_url,)

    @property
    def _runs_path(self) -> str:
        return f"/apps/{self.options.app_id}/workflows/{self.options.workflow_id}/runs"

    @staticmethod
    def error_message(body: Any) -> str | None:
        if not isinstance(body, dict):
            return None
        msg = body.get("message")
        errors = body.get("errors")
        details = [f"{dotted(e.get('path'))}: {e.get('message')}"
                   for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []
        text = msg if isinstance(msg, str) else None
        if details:
            return f"{text or 'error'} ({'; '.join(details)})"
        return text

    async def _page(self, page: int, take: int, **filters: str) -> tuple[list[Any], int | None]:
        params = {"origin": "ALL", **self.source.params, **filters, "page": page, "take": take}
        _, items, headers = await self.page(LISTING, self._runs_path, params)
        return items, number(headers.get("pagination-count"))

    async def poll(self, view: PollView) -> PollResult:
        head = HeadScan(view, lookback=self.source.lookback, log=self.log)
        lingering = head.lingering
        take = self.options.page_size
        obs = await head.scan(partial(self._page, take=take), size=take, observe=self.observe)
        if lingering.wanted:
            listings = self._listings_worth_it(view, lingering.wanted, take)
            for status in listings:
                await self._list_status(status, take, obs, lingering, head.window, view)
            self.observe(await lingering.fetch(self, f"{self._runs_path}/{{id}}"), obs)
        return PollResult(obs, head.cursor())

    def _listings_worth_it(self, view: PollView, wanted: set[str], take: int) -> list[str]:
        """The status listings to read, if they cost fewer requests than a GET per run."""
        needed: set[str] = set()
        for rid in wanted:
            st = view.runs.get(rid)
            listing = _LIVE_LISTINGS.get(st.status) if st is not None else None
            if listing is None:
                return []  # a status no listing shows (unknown): GETs it is
            needed.update(listing)
        live_in: dict[str, int] = dict.fromkeys(needed, 0)
        for rid in view.live:
            st = view.runs.get(rid)
            raw = st.raw_status if st is not None else ""
            if raw in live_in:
                live_in[raw] += 1
        pages = sum(max(1, math.ceil(n / take)) for n in live_in.values())
        return sorted(needed) if pages < len(wanted) else []

    async def _list_status(self, status: str, take: int, obs: list[Observation],
                           lingering: Lingering, window: RecentWindow, view: PollView) -> None:
        page = 1
        while lingering.wanted:
            items, total = await self._page(page, take, status=status)
            start = len(obs)
            self.observe(items, obs)
            lingering.seen(obs, start)
            window.forget_old(obs, start, view.runs, "created_at")
            if len(items) < take or (total is not None and page * take >= total):
                return
            page += 1

    async def probe(self) -> str:
        items, _ = await self._page(1, 1)
        return self.probed(items, None)

    def details(self, item: Any) -> RunDetails:
        version = item.get("workflow_version")
        name = version.get("name") if isinstance(version, dict) else None
        updated = item.get("updated_at")
        changed = parse_ts(updated)
        if changed is None:  # nullable at Cortex
            changed = parse_ts(item.get("ended_at"))
        return RunDetails(
            workflow_id=ident(item.get("workflow_id")) or self.options.workflow_id,
            workflow_name=text(name, MAX_NAME),
            created_at=rfc3339(item.get("created_at")), updated_at=rfc3339(updated), url=None,
            error=text(item.get("error"), MAX_ERROR), run=self.trimmed(item),
            changed_at=changed)
