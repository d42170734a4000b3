"""``provider = "json"``: any JSON API that lists runs, described by config (README "Any
JSON API").  The built-ins ``github``, ``gitlab``, ``airflow`` and ``prefect`` are this
provider with their keys given defaults (:mod:`watcher.providers.json.presets`).

A cycle, for each feed (one request template; Prefect has two):

1. page from the first page as ``[sources.pagination]`` says, at most ``max_pages``;
   with ``stop_at = "watermark"`` (a listing newest first by ``order_by``, default
   ``updated_at``) stop after the page that reaches below the floor: the newest time
   read so far minus ``overlap`` (``lookback`` on a first poll).  Params and body take
   that floor as ``{since}`` / ``{since_epoch}``, so an API that filters on it (GitLab,
   Airflow) answers only what changed;
2. with ``conditional``, page 1 is asked with ``If-None-Match``: a 304 ends the feed
   (no change there, and pages below are older);
3. with ``follow_live``, tracked live runs the pages did not show are read by id
   (``run_path``): a run started long ago that fails today is still seen.

Each page is decoded whole (JMESPath reads decoded values) and read by one projection
(:mod:`watcher.providers.json.spec`); an item without a usable id or status is skipped
and counted, never a failed poll.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

from watcher.config.settings import SourceConfig
from watcher.core.timestamps import format_ts
from watcher.model import Observation, RunDetails, SkipItem, Status
from watcher.providers.base import BaseProvider, PollResult, PollView
from watcher.providers.items import (
    MAX_ERROR,
    MAX_ID,
    MAX_NAME,
    MAX_STATUS,
    ident,
    link,
    preview,
    text,
)
from watcher.providers.json.options import JsonOptions, body_of
from watcher.providers.json.paging import Pager, filled_body
from watcher.providers.json.spec import Row, Spec, as_rfc3339, epoch
from watcher.providers.protocol import ProviderContext
from watcher.providers.scan.lingering import Lingering

#: a first poll may read this many times ``max_pages`` (it reaches back ``lookback``, and
#: what it leaves unread would come later as new runs, not as a silent baseline)
FIRST_POLL_PAGES = 10
#: rows ``watcher check --connect`` shows of page 1
PROBE_ROWS = 5


class JsonProvider(BaseProvider[JsonOptions]):
    kind = "json"
    #: none: a source says where its API is
    default_base_url = ""
    #: Standard Webhooks (an API that pushes the items its listing holds)
    push_scheme: ClassVar[str | None] = "standard"
    Options: ClassVar[type[JsonOptions]] = JsonOptions
    #: an API without auth (a self-hosted Prefect, ``auth = "none"``) needs no token
    token_required: ClassVar[bool] = False
    #: the characters a ``{key}`` placeholder leaves unquoted in a path, by key
    path_safe: ClassVar[Mapping[str, str]] = {}

    def __init__(self, source: SourceConfig, context: ProviderContext) -> None:
        super().__init__(source, context)
        o = self.options
        #: ``status_map``: the vendor's values -> canonical statuses
        self.table = {raw: Status(v) for raw, v in o.status_map.items()}
        self._folded = {k.lower(): v for k, v in self.table.items()}
        self._drop = frozenset(o.trim) - self._keep
        self.pager = Pager(o.pagination)
        self.spec = Spec(o.fields, self.pager.order_by)
        self.path = self.placed(o.path)
        self.run_path = self.placed(o.run_path) if o.run_path else None
        self._max_warned = False

    def placed(self, template: str) -> str:
        """``template`` with ``{key}`` of each of the provider's own string keys, quoted."""
        for key, value in self.options:
            if isinstance(value, str) and f"{{{key}}}" in template:
                template = template.replace(f"{{{key}}}",
                                            quote(value, safe=self.path_safe.get(key, "")))
        return template

    def headers(self) -> dict[str, str]:
        auth = self.options.auth
        h = {"Accept": "application/json"}
        if auth == "bearer" and self.source.token:
            h["Authorization"] = f"Bearer {self.source.token}"
        elif auth.startswith("header:") and self.source.token:
            h[auth.removeprefix("header:")] = self.source.token
        return h

    def feeds(self) -> list[dict[str, Any] | None]:
        """The request bodies of a cycle, one feed each (``None``: a GET)."""
        return [body_of(self.options.body)]

    def params(self, since: float) -> dict[str, str]:
        """The query parameters of every request, ``{since}`` filled in."""
        stamp, secs = format_ts(since), str(int(since))
        return {k: v.replace("{since}", stamp).replace("{since_epoch}", secs)
                for k, v in {**self.options.query, **self.source.params}.items()}

    def floor(self, view: PollView) -> float:
        """How far back this cycle reads (the ``{since}`` of its requests)."""
        hw = None if view.baseline else view.cursor.get("hw")
        reach = view.now - self.source.lookback
        return reach if hw is None else max(reach, hw - self.options.overlap)

    async def poll(self, view: PollView) -> PollResult:
        floor = self.floor(view)
        newest: float | None = view.cursor.get("hw")
        lingering = Lingering(view) if self.options.follow_live and self.run_path else None
        etags: list[str | None] = list(view.cursor.get("etags", ()))
        for i, body in enumerate(self.feeds()):
            etag = etags[i] if i < len(etags) and not view.baseline else None
            top, etag = await self._feed(view, body, floor, etag, lingering)
            etags[i:i + 1] = [etag]
            if top is not None and (newest is None or top > newest):
                newest = min(top, view.now)  # a run stamped in the future lifts no floor
        if self.options.watermark == "request" or not self.spec.has_updated:
            newest = view.now
        cursor: dict[str, Any] = {"hw": newest, "etags": etags}
        if lingering is not None:
            await self._follow(view, lingering)
            cursor.update(lingering.cursor())
        return PollResult([], cursor)

    async def _feed(self, view: PollView, body: dict[str, Any] | None, floor: float,
                    etag: str | None, lingering: Lingering | None
                    ) -> tuple[float | None, str | None]:
        """Page one feed; its newest order time and page 1's ETag."""
        pager, spec = self.pager, self.spec
        state, top, params = pager.first(), None, self.params(floor)
        pages = pager.max_pages * (FIRST_POLL_PAGES if view.baseline else 1)
        for n in range(1, pages + 1):
            cond = {"If-None-Match": etag} if n == 1 and etag and self.options.conditional \
                else None
            page, headers = await self.fetch_page(state, params, body, floor, cond)
            if page is None:  # 304: page 1 is as it was
                self.page_seen(n, None, lingering)
                return None, etag
            if n == 1 and self.options.conditional:
                etag = headers.get("ETag")
            items = spec.items_of(page)
            rows = spec.rows_of(items)
            obs: list[Observation] = []
            self.observe_rows(items, rows, obs)
            if lingering is not None:
                lingering.seen(obs)
            self.page_seen(n, obs, lingering)
            view.feed(obs)
            t = self._top(rows, n)
            if t is not None and (top is None or t > top):
                top = t
            if pager.stop_at and rows and (epoch(rows[-1][3]) or floor) < floor:
                break
            state = self.next_state(state, page, headers, len(items))
            del page, items, rows, obs
            if state is None:
                break
        else:
            if not self._max_warned:
                self._max_warned = True
                self.log.warning("stopped paging at pagination.max_pages; older pages are not "
                                 "read this cycle", max_pages=self.pager.max_pages)
        return top, etag

    def _top(self, rows: list[Row], n: int) -> float | None:
        """The newest order time of a page: its first row's in a newest-first listing."""
        if not rows:
            return None
        if self.pager.stop_at:
            return epoch(rows[0][3]) if n == 1 else None
        times = [t for t in map(epoch, (r[3] for r in rows)) if t is not None]
        return max(times) if times else None

    async def fetch_page(self, state: Any, params: dict[str, str], body: dict[str, Any] | None,
                    floor: float, cond: dict[str, str] | None) -> tuple[Any, Mapping[str, str]]:
        """One request: page ``state`` of a feed."""
        paging = self.pager.paging(state)
        if self.pager.mode == "link" and state is not None:
            return await self.http.request(self.options.method,
                                           state.removeprefix(self.http.base_url), headers=cond)
        if self.options.method == "POST":
            filled = filled_body(body or {}, format_ts(floor), floor, state)
            if "{cursor}" not in str(body):
                filled.update(paging)
            return await self.http.request("POST", self.path, params or None, json=filled,
                                           headers=cond)
        return await self.http.request("GET", self.path, {**params, **paging}, headers=cond)

    def next_state(self, state: Any, page: Any, headers: Mapping[str, str], n: int) -> Any:
        """The next page's state; a ``Link`` outside ``base_url`` is not followed (the
        token would go with it): a warning, and the cycle reads no further."""
        nxt = self.pager.next(state, page, headers, n)
        if self.pager.mode == "link" and nxt is not None \
                and not nxt.startswith(self.http.base_url + "/"):
            self.log.warning("the Link header's next page is not under base_url; not "
                             "followed", next=preview(nxt))
            return None
        return nxt

    def page_seen(self, n: int, obs: list[Observation] | None, lingering: Lingering | None
                  ) -> None:
        """Page ``n`` of a feed was read (``obs``) or answered 304 (``None``)."""

    async def _follow(self, view: PollView, lingering: Lingering) -> None:
        assert self.run_path is not None
        items = await lingering.fetch(self, self.run_path)
        obs: list[Observation] = []
        self.observe_rows(items, [self.spec.row_of(it) for it in items], obs)
        view.feed(obs)

    def push_items(self, body: Any) -> tuple[list[Any], list[str]]:
        """A push (Standard Webhooks) names a run by the ``id`` field: fetched at once."""
        return [], run_ids(self.spec.row_of(body)[0] if isinstance(body, dict) else None)

    async def fetch_run(self, run_id: str) -> Observation | None:
        """One run by id (``run_path``), as an observation; ``None`` when it is no run.
        For push (a webhook names a run) and for live runs a listing no longer shows."""
        if self.run_path is None:
            raise NotImplementedError("this source has no run_path")
        item, _ = await self.http.get(self.run_path.replace("{id}", quote(run_id, safe="")))
        out: list[Observation] = []
        self.observe_rows([item], [self.spec.row_of(item)], out)
        return out[0] if out else None

    def observe_rows(self, items: list[Any], rows: list[Row], out: list[Observation]) -> None:
        """The hot loop: one observation per usable row; the others skipped and counted."""
        self.observed += len(items)
        table, status_of, skip = self.table, self.status_of, self.skip
        for item, (rid, raw, version, _) in zip(items, rows, strict=True):
            if rid.__class__ is not str:
                if rid.__class__ is not int:
                    skip(None, "id", "bad_id", rid)
                    continue
                rid = str(rid)
            if not 0 < len(rid) <= MAX_ID:
                skip(None, "id", "bad_id", rid)
                continue
            if raw.__class__ is not str or not 0 < len(raw) <= MAX_STATUS:
                skip(rid, "status", "bad_status", raw)
                continue
            if version is not None and version.__class__ is not str:
                version = str(version) if epoch(version) is not None else None
            out.append((rid, raw, table.get(raw) or status_of(raw), version, item))

    def run_id_of(self, item: Any) -> str:
        rid = self.spec.row_of(item)[0]
        usable = run_ids(rid)
        if not usable:
            self.skip(None, "id", "bad_id", rid)
            raise SkipItem(None)
        return usable[0]

    def changed_at(self, item: Any) -> float | None:
        self.run_id_of(item)
        return epoch(self.spec.field(item, "updated_at"))

    def details(self, item: Any) -> RunDetails:
        f = self.spec.field
        updated = f(item, "updated_at")
        return RunDetails(
            workflow_id=ident(f(item, "workflow_id")),
            workflow_name=text(f(item, "workflow_name"), MAX_NAME),
            created_at=as_rfc3339(f(item, "created_at")), updated_at=as_rfc3339(updated),
            url=link(f(item, "url")), error=text(f(item, "error"), MAX_ERROR),
            run=self.trimmed(item) if isinstance(item, dict) else {},
            changed_at=epoch(updated))

    async def probe(self) -> str:
        """``watcher check --connect``: the first rows page 1 gives (id, raw -> canonical
        status, updated_at) and what a cycle costs, so a wrong JMESPath or status map
        shows before the daemon runs."""
        floor = self.clock() - self.source.lookback
        page, _ = await self.fetch_page(self.pager.first(), self.params(floor), self.feeds()[0],
                                        floor, None)
        items = self.spec.items_of(page)
        rows = self.spec.rows_of(items)
        lines = [f"credentials accepted; page 1 lists {len(items)} runs"]
        for item, row in list(zip(items, rows, strict=True))[:PROBE_ROWS]:
            obs: list[Observation] = []
            self.observe_rows([item], [row], obs)
            if not obs:
                lines.append(f"  skipped (no usable id or status): {preview(item)}")
                continue
            rid, raw, status, _, _ = obs[0]
            updated = as_rfc3339(self.spec.field(item, "updated_at")) or "-"
            lines.append(f"  {rid}  {raw} -> {status.value}  updated_at {updated}")
        lines.append(self._idle_cost())
        return "\n".join(lines)

    def _idle_cost(self) -> str:
        """What a cycle with nothing changed costs, in requests."""
        feeds = len(self.feeds())
        o, pager = self.options, self.pager
        line = f"a cycle with nothing changed: {feeds} request{'s' if feeds > 1 else ''}"
        query = {**o.query, **self.source.params}
        filtered = any("{since" in v for v in query.values()) or "{since" in (o.body or "")
        if pager.mode != "none" and not pager.stop_at and not filtered:
            line = (f"a cycle reads every page, up to {pager.max_pages} per feed "
                    f"(no stop_at and no {{since}} filter)")
        if o.conditional:
            line += " (page 1 asked with If-None-Match: an unchanged page is a 304)"
        if o.follow_live and self.run_path:
            line += ", plus one per tracked live run the pages no longer show"
        return line


def run_ids(rid: Any) -> list[str]:
    """A usable run id as a list of none or one (an integer id as its decimal string)."""
    if isinstance(rid, int) and not isinstance(rid, bool):
        rid = str(rid)
    return [rid] if isinstance(rid, str) and 0 < len(rid) <= MAX_ID else []
