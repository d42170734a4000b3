"""What providers share: :class:`BaseProvider`, the helpers of every built-in vendor.

The protocol a provider follows is in :mod:`watcher.providers.protocol` (its names are
importable from here too).  A subclass of :class:`BaseProvider` sets ``kind``,
``default_base_url``, ``Options`` (typed by the class parameter: a
``BaseProvider[MyOptions]`` reads ``self.options.page_size``), ``statuses`` and the item
keys, and implements ``poll`` and ``details``.

Hostile items.  Any field of a vendor item may be missing, have any JSON type or be a
megabyte long, and an item may not be an object at all.  :class:`BaseProvider` never
raises on one:

* not an object, or no usable run id (a non-empty string of at most
  :data:`~watcher.providers.items.MAX_ID` characters; an integer id is *not* taken as
  its string, so a run is never known under two ids), or no usable status (a non-empty
  string of at most ``MAX_STATUS`` characters; a list or a number is *not* mapped to
  ``unknown``, which would invent a transition and another one back when the vendor
  recovers): the item is skipped with one warning per run and field, counted in
  ``skipped`` by reason; the rest of the page is processed and the skipped run's state
  does not move.  A status string nobody knows is still ``unknown`` (docs/events.md).
* an unusable version stamp: no stamp (the diff keeps only a short string).
* any other field: ``describe`` gives ``None`` for it, or cuts it
  (:mod:`watcher.providers.items`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Mapping
from operator import attrgetter
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar
from urllib.parse import quote

import structlog

from watcher.config.options import Check, NoOptions, ensure
from watcher.errors import ProviderError
from watcher.infra.ratelimit import Buckets, RateLimiter
from watcher.model import Event, Observation, RunDetails, SkipItem, Status
from watcher.providers.http import VendorHttp, default_error_message
from watcher.providers.items import MAX_ID, MAX_STATUS, bounded, preview
from watcher.providers.limits import bucket_key, source_limit
from watcher.providers.pages import Listing, Run, items_of
from watcher.providers.protocol import (
    PollResult,
    PollView,
    Provider,
    ProviderContext,
    ProviderMethods,
)

if TYPE_CHECKING:
    from watcher.config.settings import SourceConfig

__all__ = ["MAX_WARNED", "BaseProvider", "PollResult", "PollView", "Provider", "ProviderContext"]

#: the options type of a :class:`BaseProvider` subclass
OptionsT = TypeVar("OptionsT")


#: distinct warnings remembered per source before starting over (a hostile vendor
#: could otherwise grow the set without end)
MAX_WARNED = 10_000
#: at most this many single-run GETs per cycle to fetch what a failure was
ENRICH_LIMIT = 10


def page_size_check(vendor: str, maximum: int) -> Check:
    """A ``page_size`` of at most the vendor's ``maximum``."""
    def check(v: int) -> str | None:
        return None if v <= maximum else f"{v} exceeds {vendor}'s maximum page size of {maximum}"

    return Check(check)


def _no_version(item: Any) -> None:
    return None


class BaseProvider(ProviderMethods, Generic[OptionsT]):
    """Shared helpers: status mapping with unknown-value warnings, trimming, bad items."""

    kind: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    Options: ClassVar[type[Any]] = NoOptions
    #: the signature scheme of the vendor's webhooks that ``push_secret`` enables
    #: (``extend``, ``github``, ``gitlab``, ``standard``); None: the vendor does not push
    push_scheme: ClassVar[str | None] = None
    #: the vendor's status strings -> canonical status
    statuses: ClassVar[Mapping[str, Status]] = {}
    #: top-level fields dropped from ``data.run`` (bulky or sensitive)
    trim: ClassVar[frozenset[str]] = frozenset()
    #: where an item keeps its id, status and version stamp (``None``: no stamp)
    id_key: ClassVar[str] = "id"
    status_key: ClassVar[str] = "status"
    version_key: ClassVar[str | None] = None
    #: how the run listing's pages decode (the fields the diff reads), when it has one
    listing: ClassVar[Listing | None] = None
    #: the vendor's documented limit, requests per second (and burst), shared by every
    #: source of one account (:meth:`limit_scope`); a source's ``rate_limit`` overrides it
    rate: ClassVar[float] = 10.0
    burst: ClassVar[float | None] = None
    #: requests an idle poll costs at least (what ``watcher check`` counts a source for)
    idle_requests: ClassVar[float] = 1.0
    #: an observation's version is the RFC 3339 time of the run's last change, as
    #: :meth:`changed_at` reads it (the first sync then reads no item again)
    versions_are_times: ClassVar[bool] = False
    #: the statuses the platform's webhooks announce (None: every change)
    push_statuses: ClassVar[frozenset[Status] | None] = None

    def __init__(self, source: SourceConfig, context: ProviderContext) -> None:
        self.source = source
        #: the provider's own keys (``source.options``; ``None`` there: the defaults)
        self.options: OptionsT = ensure(self.Options, source.options)
        self.session = context.session
        self.clock = context.clock
        self.buckets = context.buckets or Buckets(clock=context.clock)
        self.log = structlog.get_logger("watcher.provider").bind(source=source.name,
                                                                 provider=self.kind)
        self._keep = frozenset(source.keep_fields)
        #: top-level fields dropped from ``data.run``
        self._drop = self.trim - self._keep
        self._folded = {k.lower(): v for k, v in self.statuses.items()}
        self._warned: set[str] = set()
        #: (run id or problem, field) already warned about as unusable
        self._warned_items: set[tuple[str | None, str]] = set()
        #: items skipped as unusable, by reason (``watcher_items_skipped_total``)
        self.skipped: Counter[str] = Counter()
        #: vendor items handed to :meth:`observe` (a first sync's progress)
        self.observed = 0
        self.http = VendorHttp(self.session, base_url=source.base_url, headers=self.headers(),
                               timeout=source.timeout, limiter=self.limiter(),
                               error_message=self.error_message, clock=self.clock,
                               max_size=source.max_response_size)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.source.token}", "Accept": "application/json"}

    def limiter(self) -> RateLimiter:
        """This source's bucket: that of its account, shared with its other sources."""
        own = source_limit(type(self), self.source)
        if own is None:  # a plugin that declares no rate (0) and a source that sets none
            return RateLimiter(1e9, clock=self.clock)
        return self.buckets.join(bucket_key(type(self), self.source), self.source.name, own)

    error_message = staticmethod(default_error_message)

    @property
    def requests(self) -> int:
        return self.http.requests

    async def failures(self, events: list[Event], path: str
                       ) -> AsyncIterator[tuple[Event, Any | None]]:
        """The failed events that state no error, each with what ``path`` (``{id}``: the
        run's id) answers: only the first :data:`ENRICH_LIMIT` are asked (``None`` for
        the others, and when the GET fails)."""
        failed = [e for e in events if e.data.get("status") == "failed"
                  and not e.data.get("error")]
        for i, e in enumerate(failed):
            body = None
            if i < ENRICH_LIMIT:
                try:
                    body, _ = await self.http.get(path.replace("{id}", quote(e.subject, safe="")))
                except ProviderError as err:
                    self.log.debug("could not fetch failure details", run_id=e.subject,
                                   error=str(err))
            yield e, body

    def pushed(self, body: Any) -> tuple[list[Observation], list[str]]:
        """A verified push: its whole runs' observations, and the ids of runs it names."""
        items, named = self.push_items(body)
        out: list[Observation] = []
        self.observe(items, out)
        return out, named

    def push_items(self, body: Any) -> tuple[list[Any], list[str]]:
        """A push's run items (as a page's), and the ids of runs it only names."""
        return [], []

    def probed(self, body: Any, key: str | None) -> str:
        """What a probe's one-run page says: the credentials work, the page parses."""
        n = len(self.items_of(body, key))
        return f"credentials accepted ({n} run on a one-run page)"

    async def page(self, listing: Listing, path: str,
                   params: Mapping[str, Any] | list[tuple[str, str]] | None = None
                   ) -> tuple[Any, list[Any], Mapping[str, str]]:
        """GET one page of a listing: ``(body, items, headers)`` (see :class:`Listing`)."""
        data, headers = await self.http.send("GET", path, params)
        body, items = listing.read(data or b"")
        return body, items, headers

    def describe(self, item: Any) -> RunDetails:
        """Event fields of one item (``details``); :class:`SkipItem` when it is no run.

        Only runs new to the diff or with a new status get here, so this completes
        the hot loop's cheap id check (a string) with the rest (not empty, not absurd).
        A ``details`` that raises on some strange item skips that run, not the source.
        A :class:`~watcher.providers.pages.Run` is decoded in full first (an item whose
        JSON msgspec skipped over but orjson refuses is skipped the same way).
        """
        rid = self.run_id_of(item)
        try:
            return self.details(item.whole() if isinstance(item, Run) else item)
        except Exception:
            self.skip(rid, "item", "undescribable", exc_info=True)
            raise SkipItem(rid) from None

    def details(self, item: Any) -> RunDetails:
        raise NotImplementedError

    def run_id_of(self, item: Any) -> str:
        """The item's run id, or :class:`SkipItem` (logged, counted) when unusable."""
        rid = item.get(self.id_key) if isinstance(item, dict | Run) else None
        if not isinstance(rid, str) or not 0 < len(rid) <= MAX_ID:
            self.skip(None, self.id_key, "bad_id", rid)
            raise SkipItem(None)
        return rid

    def observe(self, items: list[Any], out: list[Observation]) -> None:
        """Observations of a page's items: the hot loop (a tuple per item, nothing more).

        A comprehension builds the page's tuples a third faster than a loop.  Its
        only checks are free or nearly so: ``id + ""`` fails unless the id is a
        string, and ``status_of`` (reached only by a status the table lacks) fails
        unless the status is a string; an item that is not an object fails at its
        first lookup.  A page with such an item goes through the careful loop,
        which skips just that item.
        """
        self.observed += len(items)  # once a page: the progress of a long first sync
        table = self.statuses
        status_of = self.status_of
        id_key, status_key, version_key = self.id_key, self.status_key, self.version_key
        try:
            if items and isinstance(items[0], Run):  # a Listing's page: the fields are typed
                version = attrgetter(version_key) if version_key else _no_version
                if id_key == "id" and status_key == "status":
                    # the usual names, read as slots (a specialised attribute read is a
                    # third of a call to an attrgetter)
                    out.extend([(it.id, r, table.get(r) or status_of(r), version(it), it)
                                for it in items for r in (it.status,)])
                else:
                    fields = attrgetter(id_key, status_key)
                    out.extend([(i, r, table.get(r) or status_of(r), version(it), it)
                                for it in items for i, r in (fields(it),)])
            elif version_key:
                out.extend([(it[id_key] + "", r, table.get(r) or status_of(r), it[version_key],
                             it) for it in items for r in (it[status_key],)])
            else:
                out.extend([(it[id_key] + "", r, table.get(r) or status_of(r), None, it)
                            for it in items for r in (it[status_key],)])
            return
        except (KeyError, TypeError):
            pass
        for item in items:
            obs = self.checked(item)
            if obs is not None:
                out.append(obs)

    def checked(self, item: Any) -> Observation | None:
        """The careful loop's step: one item's observation, or ``None`` (skipped, warned)."""
        if not isinstance(item, dict | Run):
            self.skip(None, "item", "not_an_object", item)
            return None
        rid = item.get(self.id_key)
        if not isinstance(rid, str) or not 0 < len(rid) <= MAX_ID:
            self.skip(None, self.id_key, "bad_id", rid)
            return None
        raw = item.get(self.status_key)
        if not isinstance(raw, str) or not 0 < len(raw) <= MAX_STATUS:
            self.skip(rid, self.status_key, "bad_status", raw)
            return None
        version = item.get(self.version_key) if self.version_key else None
        return rid, raw, self.statuses.get(raw) or self.status_of(raw), version, item

    def status_of(self, raw: object) -> Status:
        """Slow path of status mapping: case-insensitive match, else ``unknown`` (warned once).

        Raises TypeError for what is no status at all (not a string, empty, too
        long): the hot loop then sends the page through the careful loop.
        """
        if not isinstance(raw, str) or not 0 < len(raw) <= MAX_STATUS:
            raise TypeError("not a usable status")
        st = self._folded.get(raw.lower())
        if st is not None:
            return st
        if raw not in self._warned:
            if len(self._warned) >= MAX_WARNED:
                self._warned.clear()
            self._warned.add(raw)
            self.log.warning("unknown vendor status, kept as raw_status", raw_status=raw)
        return Status.UNKNOWN

    def skip(self, rid: str | None, field: str, reason: str, value: Any = None, *,
             exc_info: bool = False) -> None:
        """Count a skipped item; warn once per run and field (items with no usable id:
        once per field and kind of value)."""
        self.skipped[reason] += 1
        key = (rid, field) if rid is not None else (None, f"{field}:{type(value).__name__}")
        if key in self._warned_items:
            return
        if len(self._warned_items) >= MAX_WARNED:
            self._warned_items.clear()
        self._warned_items.add(key)
        self.log.warning("skipped a malformed run item", run_id=rid, field=field,
                         reason=reason, value=preview(value), exc_info=exc_info)

    def trimmed(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """``data.run``: the item without its bulky fields, cut down if still huge."""
        drop = self._drop
        return bounded({k: v for k, v in item.items() if k not in drop})

    #: :func:`~watcher.providers.pages.items_of`, for a plugin's ``poll``
    items_of = staticmethod(items_of)
