"""Noxus (noxus.ai): ``GET /v1/runs``, page/size paging, no filters, no ``updated_at``.

Strategy: the listing has no order parameter, no filter and no update time,
so a status change is only visible by re-reading the run.  Each cycle

1. reads the head of the listing (pages of 100) down to the recent window's
   floor (:mod:`watcher.providers.scan.window`): that finds every new run, also
   one created and finished between two polls.  The newest-first order this
   relies on is undocumented, so it is checked on every page and a broken
   order switches to reading every page (:mod:`watcher.providers.scan.newest_first`);
2. re-reads the tracked live runs the head did not show, choosing the
   cheaper way: one ``GET /v1/runs/{id}`` each, or more pages when the
   lingering runs are many and close to the head (estimated from their
   creation times and the density of the pages read so far; re-decided
   after every page).

Idle cost: 1 request, plus 1 per live run older than the head page.
Versions are ``finished_at`` (``None`` while live).  Noxus publishes no rate
limit but does answer 429s: 5 requests/s is the conservative default.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar

import orjson

from watcher.config.options import Field, Options
from watcher.core.timestamps import parse_ts, rfc3339
from watcher.model import RunDetails, Status
from watcher.providers.base import MAX_WARNED, BaseProvider, PollResult, PollView, page_size_check
from watcher.providers.items import MAX_NAME, dotted, ident, preview, text
from watcher.providers.pages import Listing, Run
from watcher.providers.scan.lingering import Lingering
from watcher.providers.scan.newest_first import HeadScan, PageOn, Progress

MAX_SIZE = 100


class NoxusRun(Run, gc=False):
    """What the diff and the head scan read of a listed run (the rest: for an event)."""

    id: str
    status: str
    finished_at: str | None
    created_at: str | None = None


LISTING = Listing(NoxusRun, "items", ("total",))


class NoxusOptions(Options):
    page_size: Annotated[int, Field(ge=1), page_size_check("Noxus", MAX_SIZE)] = MAX_SIZE


class NoxusProvider(BaseProvider[NoxusOptions]):
    kind = "noxus"
    default_base_url = "https://backend.noxus.ai"
    Options = NoxusOptions
    listing = LISTING
    statuses: ClassVar[dict[str, Status]] = {
        "queued": Status.PENDING,
        "running": Status.RUNNING,
        "awaiting_human_feedback": Status.NEEDS_REVIEW,  # undocumented, seen in the SDK
        "completed": Status.SUCCEEDED,
        "failed": Status.FAILED,
        "stopped": Status.CANCELLED,
    }
    version_key = "finished_at"
    trim = frozenset({"input", "definitions", "output", "progress_details"})
    rate = 5.0
    burst = 5.0

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        #: workflow id -> name; single-run GETs do not embed the workflow
        self._names: dict[str, str] = {}

    def headers(self) -> dict[str, str]:
        return {"X-API-Key": self.source.token, "Accept": "application/json"}

    @staticmethod
    def error_message(body: Any) -> str | None:
        detail = body.get("detail") if isinstance(body, dict) else None
        if isinstance(detail, list):  # FastAPI validation errors
            parts = [f"{dotted(d.get('loc'))}: {d.get('msg')}"
                     for d in detail if isinstance(d, dict)]
            if parts:
                return "; ".join(parts)
            try:
                return orjson.dumps(detail).decode()[:300]
            except TypeError:  # nested deeper than orjson writes
                return preview(detail)
        return detail if isinstance(detail, str) else None

    async def poll(self, view: PollView) -> PollResult:
        head = HeadScan(view, lookback=self.source.lookback, log=self.log)
        lingering = head.lingering
        size = self.options.page_size

        async def fetch(page: int) -> tuple[list[Any], int | None]:
            body, items, _ = await self.page(LISTING, "/v1/runs", {**self.source.params,
                                                                  "page": page, "size": size})
            total = body.get("total")
            return items, total if isinstance(total, int) else None

        obs = await head.scan(fetch, size=size, observe=self.observe,
                              page_on=self._page_on(view, lingering))
        if lingering.wanted:
            self._learn_names(view, lingering.wanted)
            self.observe(await lingering.fetch(self, "/v1/runs/{id}"), obs)
        return PollResult(obs, head.cursor())

    def _page_on(self, view: PollView, lingering: Lingering) -> PageOn:
        def created(rid: str) -> float | None:
            st = view.runs.get(rid)
            return parse_ts(st.detail.created_at) if st is not None and st.detail else None

        def page_on(p: Progress) -> bool:
            wanted = lingering.wanted
            times = [created(rid) for rid in wanted]
            oldest = None if None in times else min(t for t in times if t is not None)
            if oldest is not None and p.last < oldest:
                return False  # paged past them all: the rest are not listed here any more
            pages = p.pages_left
            if oldest is not None and p.top is not None and p.top > p.last:
                per_second = p.scanned / (p.top - p.last)
                guess = math.ceil((p.last - oldest) * per_second / p.size)
                pages = guess if pages is None else min(pages, guess)
            # a GET costs exactly one request; pages are an estimate, so GETs win ties
            return pages is not None and pages < len(wanted)

        return page_on

    def _learn_names(self, view: PollView, ids: set[str]) -> None:
        for rid in ids:
            st = view.runs.get(rid)
            d = st.detail if st is not None else None
            if d is not None and d.workflow_id and d.workflow_name:
                self._names.setdefault(d.workflow_id, d.workflow_name)

    async def probe(self) -> str:
        body, _ = await self.http.get("/v1/runs", {**self.source.params, "page": 1, "size": 1})
        return self.probed(body, "items")

    def details(self, item: Any) -> RunDetails:
        wf = item.get("workflow")
        if not isinstance(wf, dict):
            wf = {}
        wid = ident(item.get("workflow_id")) or ident(wf.get("id"))
        name = text(wf.get("name"), MAX_NAME)
        if wid and name:
            if len(self._names) >= MAX_WARNED:  # bounded, whatever ids a vendor invents
                self._names.clear()
            self._names[wid] = name
        if wf and "workflow" not in self._keep:
            # the embedded workflow carries its whole definition
            item = {**item, "workflow": {k: wf[k] for k in ("id", "name", "type") if k in wf}}
        finished = item.get("finished_at")
        changed = parse_ts(finished)
        if changed is None and item.get("status") == "queued":
            changed = parse_ts(item.get("created_at"))  # queued since creation
        return RunDetails(
            workflow_id=wid, workflow_name=name or self._names.get(wid or ""),
            created_at=rfc3339(item.get("created_at")), updated_at=rfc3339(finished),
            # Noxus exposes no run-level error message; details live per node
            url=None, error=None, run=self.trimmed(item), changed_at=changed)
