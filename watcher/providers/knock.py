"""Knock (knock.app): ``GET /v1/workflow_recipient_runs``, ``after`` cursor paging.

Knock has no ``failed`` status: a run that failed ends ``completed`` with
``error_count > 0``; that maps to ``failed`` (``raw_status`` stays
``completed``; source option ``failed_on_errors = false`` turns it off).  A
rise of ``error_count`` alone is not a transition.

Strategy, which depends on no ordering at all (Knock documents none):

1. a recent-window listing, ``starting_at`` = the window's floor
   (:mod:`watcher.providers.scan.window`), paged to the end: every new run,
   also one created and finished between two polls;
2. for tracked live runs that listing did not show, either one
   ``status[]=queued&status[]=processing&status[]=paused`` listing, paged to
   the end (a run still live is in it), or a GET per run, whichever costs
   fewer requests; a lingering run absent from the live listing has ended
   (or is gone) and is read by id.

Idle cost: 1 request, plus 1 when live runs older than the window exist (a
single GET or a page of the live listing per 50 live runs).  Knock allows 5
requests/s per endpoint and environment, shared by every Knock source: the
limiter spaces requests 200 ms apart rather than allow a burst above it.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar

from watcher.config.options import Field, Options, ensure
from watcher.config.settings import SourceConfig
from watcher.core.timestamps import format_ts, parse_ts, rfc3339
from watcher.errors import BadPayload
from watcher.model import Event, Observation, RunDetails, Status
from watcher.providers.base import BaseProvider, PollResult, PollView, page_size_check
from watcher.providers.items import MAX_ERROR, MAX_NAME, ident, text
from watcher.providers.pages import Listing, Run
from watcher.providers.scan.lingering import Lingering
from watcher.providers.scan.window import RecentWindow

MAX_PAGE = 50
LIVE = ("queued", "processing", "paused")
RUN_PATH = "/v1/workflow_recipient_runs/{id}"


def _errors(item: Any) -> bool:
    n = item.get("error_count")
    return isinstance(n, int) and n > 0


def _error_of(events: Any) -> str | None:
    """What went wrong, from a run detail's ``events[]``."""
    if not isinstance(events, list):
        return None
    for ev in events:
        if isinstance(ev, dict) and ev.get("status") == "error":
            data = ev.get("data")
            why = next((v for v in (data.get(k) for k in ("error", "message", "reason"))
                        if isinstance(v, str) and v), None) if isinstance(data, dict) else None
            step = text(ev.get("step_ref"), MAX_NAME)
            where = f" at step {step}" if step else ""
            what = text(ev.get("event"), MAX_NAME) or "error"
            return text(f"{what}{where}: {why}" if why else f"{what}{where}", MAX_ERROR)
    return None


class KnockRun(Run, gc=False):
    """What the diff reads of a listed run: the status rule's ``error_count`` and the
    window's ``inserted_at`` too (the rest is decoded for an event only)."""

    id: str
    status: str
    updated_at: str | None
    inserted_at: str | None = None
    error_count: int | None = None


LISTING = Listing(KnockRun, "items", ("page_info",))


class KnockOptions(Options):
    #: the branch environment to watch (X-Knock-Branch)
    branch: str | None = None
    page_size: Annotated[int, Field(ge=1), page_size_check("Knock", MAX_PAGE)] = MAX_PAGE
    #: a completed run with error_count > 0 counts as failed
    failed_on_errors: bool = True


class KnockProvider(BaseProvider[KnockOptions]):
    kind = "knock"
    default_base_url = "https://api.knock.app"
    Options = KnockOptions
    listing = LISTING
    statuses: ClassVar[dict[str, Status]] = {
        "queued": Status.PENDING,
        "processing": Status.RUNNING,
        "paused": Status.PAUSED,
        "completed": Status.SUCCEEDED,
        "cancelled": Status.CANCELLED,
    }
    version_key = "updated_at"
    trim = frozenset({"events"})
    rate = 5.0  # tier 2: 5 requests/s per endpoint per environment
    burst = 1.0

    @classmethod
    def limit_scope(cls, source: SourceConfig) -> tuple[str, ...]:
        # the environment of the key (and a branch of it); both endpoints in one budget
        return source.base_url, source.token, ensure(cls.Options, source.options).branch or ""

    def headers(self) -> dict[str, str]:
        h = super().headers()
        if self.options.branch:
            h["X-Knock-Branch"] = self.options.branch
        return h

    @staticmethod
    def error_message(body: Any) -> str | None:
        if not isinstance(body, dict):
            return None
        msg, code = body.get("message"), body.get("code")
        if isinstance(msg, str):
            return f"{msg} ({code})" if isinstance(code, str) else msg
        errors = body.get("errors")  # unrouted paths answer {"errors": {"detail": ...}}
        detail = errors.get("detail") if isinstance(errors, dict) else None
        return detail if isinstance(detail, str) else None

    def observe(self, items: list[Any], out: list[Observation]) -> None:
        """The hot loop with Knock's failure rule (``completed`` + errors = ``failed``).

        One comprehension for the page, with the shared loop's cheap checks; a malformed
        item sends the page through the shared careful loop (which skips it) and the
        rule is then applied after.
        """
        if not self.options.failed_on_errors:
            super().observe(items, out)
            return
        table, status_of, failed = self.statuses, self.status_of, Status.FAILED
        try:
            if items and isinstance(items[0], KnockRun):  # typed: error_count is an int
                out.extend([(it.id, r, failed if r == "completed" and (it.error_count or 0) > 0
                             else table.get(r) or status_of(r), it.updated_at, it)
                            for it in items for r in (it.status,)])
                self.observed += len(items)
                return
            out.extend([(it["id"] + "", r,
                         failed if r == "completed" and _errors(it) else
                         table.get(r) or status_of(r), it["updated_at"], it)
                        for it in items for r in (it["status"],)])
            return
        except (KeyError, TypeError):
            pass
        start = len(out)
        super().observe(items, out)
        for i in range(start, len(out)):
            o = out[i]
            if o[1] == "completed" and _errors(o[4]):
                out[i] = (o[0], o[1], failed, o[3], o[4])

    async def _list(self, params: dict[str, Any] | list[tuple[str, str]], obs: list[Observation],
                    lingering: Lingering, window: RecentWindow) -> None:
        """Page a listing to its end (Knock cursors need the same query on every page)."""
        after: str | None = None
        while True:
            query = params if after is None else (
                [*params, ("after", after)] if isinstance(params, list)
                else {**params, "after": after})
            body, items, _ = await self.page(LISTING, "/v1/workflow_recipient_runs", query)
            start = len(obs)
            self.observe(items, obs)
            lingering.seen(obs, start)
            for o in obs[start:]:
                window.saw(parse_ts(o[4].get("inserted_at")))
            info = body.get("page_info")
            cursor = info.get("after") if isinstance(info, dict) else None
            if cursor is not None and not isinstance(cursor, str):
                raise BadPayload("page_info.after is not a string")
            if not cursor or not items:
                return
            if cursor == after:
                raise BadPayload("the run listing returned the same page cursor twice")
            after = cursor

    async def poll(self, view: PollView) -> PollResult:
        window = RecentWindow(view.cursor, now=view.now, lookback=self.source.lookback,
                              baseline=view.baseline)
        lingering = Lingering(view)
        size = self.options.page_size
        base = {**self.source.params, "page_size": str(size)}
        obs: list[Observation] = []
        await self._list({**base, "starting_at": format_ts(window.floor)}, obs, lingering,
                         window)
        if lingering.wanted and math.ceil(len(view.live) / size) < len(lingering.wanted):
            start = len(obs)
            query = [*base.items(), *(("status[]", s) for s in LIVE)]
            await self._list(query, obs, lingering, window)
            window.forget_old(obs, start, view.runs, "inserted_at")
        if lingering.wanted:
            self.observe(await lingering.fetch(self, RUN_PATH), obs)
        return PollResult(obs, {**window.cursor(), **lingering.cursor()})

    async def probe(self) -> str:
        body, _ = await self.http.get("/v1/workflow_recipient_runs",
                                      {**self.source.params, "page_size": "1"})
        return self.probed(body, "items")

    def details(self, item: Any) -> RunDetails:
        updated = item.get("updated_at")
        # Knock names workflows by key; runs carry no display name
        key = ident(item.get("workflow"))
        return RunDetails(
            workflow_id=key, workflow_name=key if isinstance(item.get("workflow"), str) else None,
            created_at=rfc3339(item.get("inserted_at")), updated_at=rfc3339(updated), url=None,
            error=_error_of(item.get("events")), run=self.trimmed(item),
            changed_at=parse_ts(updated))

    async def enrich(self, events: list[Event]) -> None:
        """The listing says how many errors, not which: read the first few failures' events."""
        async for e, body in self.failures(events, RUN_PATH):
            detail = _error_of(body.get("events")) if isinstance(body, dict) else None
            run = e.data.get("run") or {}
            n = run.get("error_count") if isinstance(run, dict) else None
            count = n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else "some"
            e.data["error"] = detail or f"{count} errors during the run"
