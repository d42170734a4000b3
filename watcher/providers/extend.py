"""Extend (extend.ai): ``GET /workflow_runs``, cursor paging, sorted by updatedAt desc.

Strategy: the listing is documented newest-updated first, so a cycle pages
from the head and stops once a page ends older than the high watermark of
the last cycle minus a safety overlap; with nothing changed that is one
request.  A run updated while we page jumps to the head and is read next
cycle (its updatedAt is above the watermark).  The first poll, and once an
hour as a safety net, reaches back ``lookback``.  The page size adapts to
how many runs the overlap held last time, so an idle cycle parses ~20
runs, not 1,000.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar
from urllib.parse import quote

from watcher.config.options import Field, Options, ensure
from watcher.config.settings import SourceConfig
from watcher.core.timestamps import parse_ts, rfc3339
from watcher.errors import BadPayload
from watcher.model import Event, Observation, RunDetails, Status
from watcher.providers.base import BaseProvider, PollResult, PollView, page_size_check
from watcher.providers.items import (
    MAX_NAME,
    first_text,
    ident,
    link,
    text,
)
from watcher.providers.pages import Listing, Run

API_VERSION = "2026-02-09"
MAX_PAGE = 1000
#: re-read this far behind the newest updatedAt seen: the index may lag a little
OVERLAP = 300.0
#: a full ``lookback`` scan this often, in case a change ever fails to bump updatedAt
RESYNC = 3600.0


class ExtendRun(Run, gc=False):
    """What the diff reads of a listed run (the rest is decoded for an event only)."""

    id: str
    status: str
    updatedAt: str | None


LISTING = Listing(ExtendRun, "data", ("nextPageToken",))


class ExtendOptions(Options):
    api_version: str = API_VERSION
    #: sent as x-extend-workspace-id when set
    workspace_id: str | None = None
    #: the most runs a page may hold (an idle cycle asks for far fewer)
    page_size: Annotated[int, Field(ge=1), page_size_check("Extend", MAX_PAGE)] = MAX_PAGE


class ExtendProvider(BaseProvider[ExtendOptions]):
    kind = "extend"
    default_base_url = "https://api.extend.ai"
    Options = ExtendOptions
    push_scheme = "extend"
    listing = LISTING
    statuses: ClassVar[dict[str, Status]] = {
        "PENDING": Status.PENDING,
        "PROCESSING": Status.RUNNING,
        "NEEDS_REVIEW": Status.NEEDS_REVIEW,
        "CANCELLING": Status.CANCELLING,
        "PROCESSED": Status.SUCCEEDED,
        "FAILED": Status.FAILED,
        "CANCELLED": Status.CANCELLED,
        "REJECTED": Status.REJECTED,
        "REVIEWED": Status.SUCCEEDED,  # legacy 2024-12-23 API version
    }
    version_key = "updatedAt"
    versions_are_times = True
    trim = frozenset({"stepRuns", "metadata", "workflowVersion", "outputs", "files"})
    rate = 10.0  # GET category, PAYG plan; per organisation
    #: its run webhooks: completed, failed, needs_review, rejected, cancelled
    push_statuses = frozenset({Status.SUCCEEDED, Status.FAILED, Status.NEEDS_REVIEW,
                               Status.REJECTED, Status.CANCELLED})

    @classmethod
    def limit_scope(cls, source: SourceConfig) -> tuple[str, ...]:
        # the organisation of the key; an org-scoped key names its workspace in a header
        workspace = ensure(cls.Options, source.options).workspace_id
        return source.base_url, source.token, workspace or ""

    def headers(self) -> dict[str, str]:
        h = super().headers()
        h["x-extend-api-version"] = self.options.api_version
        if self.options.workspace_id:
            h["x-extend-workspace-id"] = self.options.workspace_id
        return h

    async def poll(self, view: PollView) -> PollResult:
        cur, now = view.cursor, view.now
        hw: float | None = cur.get("hw")
        floor, size = now - self.source.lookback, self.options.page_size
        full = view.baseline or hw is None or now - cur.get("full", 0.0) >= RESYNC
        if not full and hw is not None:
            floor = max(hw - OVERLAP, floor)
            # big enough for what the overlap held last time, small when idle: an idle
            # cycle then parses a few dozen runs, not a thousand
            size = min(size, 2 * int(cur.get("recent", 0)) + 20)
        params: dict[str, Any] = {**self.source.params, "sortBy": "updatedAt",
                                  "sortDir": "desc", "maxPageSize": size}
        newest = hw
        token: str | None = None
        recent, counting = 0, True
        while True:
            body, items, _ = await self.page(LISTING, "/workflow_runs",
                                             {**params, "nextPageToken": token}
                                             if token else params)
            if items and token is None:
                top = parse_ts(items[0].get("updatedAt") if isinstance(items[0], dict | Run)
                               else None)
                if top is not None and (newest is None or top > newest):
                    # never past our own now: a run stamped in the future would raise the
                    # floor above every real update until then (a lower floor only reads more)
                    newest = min(top, now)
            obs: list[Observation] = []
            self.observe(items, obs)
            if counting:  # runs the next cycle's overlap re-reads (the listing is newest first)
                threshold = (newest or now) - OVERLAP
                for o in obs:
                    t = parse_ts(o[3])
                    if t is None or t < threshold:
                        counting = False
                        break
                    recent += 1
            view.feed(obs)
            token = body.get("nextPageToken")
            if token is not None and not isinstance(token, str):
                raise BadPayload("nextPageToken is not a string")
            last = parse_ts(items[-1].get("updatedAt")
                            if items and isinstance(items[-1], dict | Run) else None)
            more = bool(token and items) and (last is None or last >= floor)
            # Let go of this page before the next is parsed: the allocator then reuses
            # its memory, still warm in cache, instead of taking fresh memory.
            del body, items, obs
            if not more:
                break
        cursor = {"hw": newest, "full": now if full else cur.get("full", now), "recent": recent}
        return PollResult([], cursor)

    def observe(self, items: list[Any], out: list[Observation]) -> None:
        """The shared hot loop, with a page of structs read as slots (no getter call)."""
        if not items or not isinstance(items[0], ExtendRun):
            super().observe(items, out)
            return
        table, status_of = self.statuses, self.status_of
        try:
            out.extend([(it.id, r, table.get(r) or status_of(r), it.updatedAt, it)
                        for it in items for r in (it.status,)])
        except TypeError:  # a status that is no status: the careful loop skips that run
            super().observe(items, out)
            return
        self.observed += len(items)

    def changed_at(self, item: Any) -> float | None:
        self.run_id_of(item)
        return parse_ts(item.get("updatedAt"))

    async def probe(self) -> str:
        body, _ = await self.http.get("/workflow_runs", {**self.source.params, "maxPageSize": 1})
        return self.probed(body, "data")

    def details(self, item: Any) -> RunDetails:
        wf = item.get("workflow")
        if not isinstance(wf, dict):
            wf = {}
        updated = item.get("updatedAt")
        return RunDetails(
            workflow_id=ident(wf.get("id")), workflow_name=text(wf.get("name"), MAX_NAME),
            created_at=rfc3339(item.get("createdAt")),
            updated_at=rfc3339(updated), url=link(item.get("dashboardUrl")),
            error=first_text(item, ("failureMessage", "failureReason", "rejectionNote")),
            run=self.trimmed(item), changed_at=parse_ts(updated))

    def push_items(self, body: Any) -> tuple[list[Any], list[str]]:
        """A ``workflow_run.*`` webhook's payload is the run; a step run's names its run,
        and a payload too large to inline (a signed URL) only its id."""
        kind = body.get("eventType") if isinstance(body, dict) else None
        payload = body.get("payload") if isinstance(body, dict) else None
        if not isinstance(kind, str) or not kind.startswith("workflow_run.") \
                or not isinstance(payload, dict):
            return [], []
        if kind == "workflow_run.step_run.processed":
            rid = payload.get("workflowRunId")
            return [], [rid] if isinstance(rid, str) else []
        if "status" not in payload and isinstance(payload.get("id"), str):
            return [], [payload["id"]]
        return [payload], []

    async def fetch_run(self, run_id: str) -> Observation | None:
        body, _ = await self.http.get(f"/workflow_runs/{quote(run_id, safe='')}")
        run = body.get("workflowRun", body) if isinstance(body, dict) else None
        return self.checked(run) if isinstance(run, dict) else None

    async def enrich(self, events: list[Event]) -> None:
        """The listing has no failure message: fetch it for the first few failures."""
        async for e, body in self.failures(events, "/workflow_runs/{id}"):
            run = body.get("workflowRun", body) if isinstance(body, dict) else None
            if isinstance(run, dict):
                msg = first_text(run, ("failureMessage", "failureReason"))
                if msg is not None:
                    e.data["error"] = msg
