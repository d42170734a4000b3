"""The Provider protocol and what providers share.

A provider knows one vendor's HTTP API and nothing about events.  Each poll
it returns *observations* (see :mod:`watcher.model`) and a new ``cursor``, a
small JSON-able dict of its own that the poller persists with the run state
and hands back on the next poll (watermarks, last full scan, ...).  It may
read the source's tracked runs (``PollView``) to decide how far to page or
which lingering runs to re-fetch, but never changes them.

To add a vendor: write a class with the attributes and methods of
:class:`Provider` (subclassing :class:`BaseProvider` gives the shared
helpers), then register it in :mod:`watcher.providers` or, from another
package, under the ``watcher.providers`` entry-point group.

The protocol, in short:

``kind``, ``default_base_url``, ``options``
    the ``provider`` name in the config, the base URL when a source sets
    none, and the provider's own config keys (``{name: Field}``, validated
    with every other key; values arrive in ``source.options``).
``__init__(source, session)``
    a validated :class:`~watcher.config.SourceConfig` and the shared
    ``aiohttp`` session; one instance per source, kept across polls.  A
    provider that also takes a ``clock`` keyword (:class:`BaseProvider`
    does) gets the daemon's :class:`~watcher.infra.clock.Clock` for its waits.
``await poll(view) -> PollResult``
    one cycle: observations ``(run_id, raw_status, status, version, item)``
    of every run whose status may have changed (more is fine: the diff drops
    what did not change, counts duplicates once and never reads absence as
    a change) and the next ``cursor``.  Raise a
    :class:`~watcher.errors.ProviderError` kind when the cycle cannot be
    trusted as a whole: nothing of it is kept.
``describe(item) -> RunDetails``
    event fields of one item, called only for runs that produce an event;
    it may raise :class:`~watcher.model.SkipItem` to have the diff skip it.
``await enrich(events)``
    optionally add what the listing lacks (an error message) to new events.
``requests``
    HTTP requests sent so far, for metrics and benchmarks.

Hostile items.  Any field of a vendor item may be missing, have any JSON type
or be a megabyte long, and an item may not be an object at all.  What
:class:`BaseProvider` does with each, never raising:

* not an object, or no usable run id (a non-empty string of at most
  :data:`~watcher.providers.items.MAX_ID` characters; an integer id is *not*
  taken as its string, so a run is never known under two ids), or no usable
  status (a non-empty string of at most ``MAX_STATUS`` characters; a list or
  a number is *not* mapped to ``unknown``, which would invent a transition
  and another one back when the vendor recovers): the item is skipped with
  one warning per run and field, counted in ``skipped`` by reason, and the
  rest of the page is processed.  A skipped run's state does not move.  A
  status string nobody knows is still ``unknown`` (SPEC §3).
* an unusable version stamp: no stamp (the diff keeps only a short string).
* any other field: ``describe`` gives ``None`` for it (a string where an
  object is documented, a number for a timestamp) and cuts long text (see
  :mod:`watcher.providers.items`).
"""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import structlog

from watcher.errors import BadPayload
from watcher.infra.clock import Clock, wall
from watcher.infra.ratelimit import RateLimiter, shared
from watcher.model import Event, Observation, RunDetails, RunState, SkipItem, Status
from watcher.providers.http import VendorHttp, default_error_message
from watcher.providers.items import MAX_ID, MAX_STATUS, bounded, preview

if TYPE_CHECKING:
    import aiohttp

    from watcher.config.schema import Field
    from watcher.config.settings import SourceConfig


class PollView:
    """What a provider may know of its source when it polls (read-only by contract).

    ``feed(observations)`` hands one page's observations to the diff as soon as
    the page is parsed, so the page can be dropped; a provider may instead
    return them all in :class:`PollResult`.
    """

    __slots__ = ("baseline", "cursor", "feed", "live", "now", "runs")

    def __init__(self, *, runs: Mapping[str, RunState], live: Collection[str],
                 cursor: Mapping[str, Any], baseline: bool, now: float,
                 feed: Callable[[list[Observation]], None] | None = None) -> None:
        self.runs = runs
        self.live = live
        self.cursor = cursor
        self.baseline = baseline
        self.now = now
        self.feed: Callable[[list[Observation]], None] = feed or _discard


def _discard(observations: list[Observation]) -> None:
    return None


class PollResult:
    __slots__ = ("cursor", "observations")

    def __init__(self, observations: list[Observation], cursor: dict[str, Any]) -> None:
        #: observations not already given to ``PollView.feed``
        self.observations = observations
        self.cursor = cursor


class Provider(Protocol):
    """What the poller needs from a vendor integration."""

    #: registry name, the ``provider`` config value
    kind: ClassVar[str]
    default_base_url: ClassVar[str]
    #: provider-specific config keys
    options: ClassVar[Mapping[str, Field]]

    def __init__(self, source: SourceConfig, session: aiohttp.ClientSession) -> None: ...

    async def poll(self, view: PollView) -> PollResult:
        """One cycle: observations of every run whose status may have changed.

        Raises a :class:`~watcher.errors.ProviderError` when the cycle cannot be
        trusted as a whole (it is then discarded); a single bad item is skipped
        with a warning instead.
        """
        ...

    def describe(self, item: Any) -> RunDetails:
        """Event fields of one vendor item; called only for runs that changed.

        Raises :class:`~watcher.model.SkipItem` for an item that is no usable run:
        the diff then leaves that run as it was.
        """
        ...

    # Optional: ``changed_at(item) -> float | None``, the vendor time of the item's last
    # change read without describing it. A silent baseline of a finished run needs only
    # that, so it makes a first sync cheaper; without it the diff uses ``describe``.

    async def enrich(self, events: list[Event]) -> None:
        """Optionally add what the listing lacks (e.g. an error message) to new events."""
        ...

    @property
    def requests(self) -> int:
        """HTTP requests sent so far."""
        ...


def build(cls: Any, source: SourceConfig, session: aiohttp.ClientSession, *,
          clock: Clock) -> Provider:
    """An instance of provider class ``cls``, given ``clock`` if it takes one."""
    if (isinstance(cls, type) and issubclass(cls, BaseProvider)) or \
            "clock" in inspect.signature(cls).parameters:
        return cls(source, session, clock=clock)  # type: ignore[no-any-return]
    return cls(source, session)  # type: ignore[no-any-return]


#: distinct warnings remembered per source before starting over (a hostile vendor
#: could otherwise grow the set without end)
MAX_WARNED = 10_000


class BaseProvider:
    """Shared helpers: status mapping with unknown-value warnings, trimming, bad items.

    A subclass implements ``details(item)``; :meth:`describe` wraps it.
    """

    kind: ClassVar[str] = ""
    default_base_url: ClassVar[str] = ""
    options: ClassVar[Mapping[str, Field]] = {}
    #: the vendor's status strings -> canonical status
    statuses: ClassVar[Mapping[str, Status]] = {}
    #: top-level fields dropped from ``data.run`` (bulky or sensitive)
    trim: ClassVar[frozenset[str]] = frozenset()
    #: where an item keeps its id, status and version stamp (``None``: no stamp)
    id_key: ClassVar[str] = "id"
    status_key: ClassVar[str] = "status"
    version_key: ClassVar[str | None] = None
    #: requests per second allowed for the vendor, shared by all its sources
    rate: ClassVar[float] = 10.0
    burst: ClassVar[float | None] = None

    def __init__(self, source: SourceConfig, session: aiohttp.ClientSession, *,
                 clock: Clock = wall) -> None:
        self.source = source
        self.session = session
        self.clock = clock
        self.log = structlog.get_logger("watcher.provider").bind(source=source.name,
                                                                 provider=self.kind)
        self._keep = frozenset(source.keep_fields)
        self._folded = {k.lower(): v for k, v in self.statuses.items()}
        self._warned: set[str] = set()
        #: (run id or problem, field) already warned about as unusable
        self._warned_items: set[tuple[str | None, str]] = set()
        #: items skipped as unusable, by reason (``watcher_items_skipped_total``)
        self.skipped: Counter[str] = Counter()
        self.http: VendorHttp = self._http()

    def _http(self) -> VendorHttp:
        return VendorHttp(self.session, base_url=self.source.base_url, headers=self.headers(),
                          timeout=self.source.timeout, limiter=self.limiter(),
                          error_message=self.error_message, clock=self.clock,
                          max_size=self.source.max_response_size)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.source.token}", "Accept": "application/json"}

    def limiter(self) -> RateLimiter:
        return shared(self.kind, self.rate, self.burst, clock=self.clock)

    @staticmethod
    def error_message(body: Any) -> str | None:
        try:
            return default_error_message(body)
        except TypeError:  # orjson will not write a body nested deeper than 254 levels
            return None

    @property
    def requests(self) -> int:
        return self.http.requests

    async def enrich(self, events: list[Event]) -> None:
        return None

    def describe(self, item: Any) -> RunDetails:
        """Event fields of one item (``details``); :class:`SkipItem` when it is no run.

        Only runs new to the diff or with a new status get here, so this completes
        the hot loop's cheap id check (a string) with the rest (not empty, not absurd).
        A ``details`` that raises on some strange item skips that run, not the source.
        """
        rid = self.run_id_of(item)
        try:
            return self.details(item)
        except Exception:
            self.skip(rid, "item", "undescribable", exc_info=True)
            raise SkipItem(rid) from None

    def details(self, item: Any) -> RunDetails:
        raise NotImplementedError

    def run_id_of(self, item: Any) -> str:
        """The item's run id, or :class:`SkipItem` (logged, counted) when unusable."""
        rid = item.get(self.id_key) if isinstance(item, dict) else None
        if not isinstance(rid, str) or not 0 < len(rid) <= MAX_ID:
            self.skip(None, self.id_key, "bad_id", rid)
            raise SkipItem(None)
        return rid

    def changed_at(self, item: Any) -> float | None:
        # correct for every provider; override with a cheap field read where there is one
        return self.describe(item).changed_at

    def observe(self, items: list[Any], out: list[Observation]) -> None:
        """Observations of a page's items: the hot loop (a tuple per item, nothing more).

        A comprehension builds the page's tuples a third faster than a loop.  Its
        only checks are free or nearly so: ``id + ""`` fails unless the id is a
        string, and ``status_of`` (reached only by a status the table lacks) fails
        unless the status is a string; an item that is not an object fails at its
        first lookup.  A page with such an item goes through the careful loop,
        which skips just that item.
        """
        table = self.statuses
        status_of = self.status_of
        id_key, status_key, version_key = self.id_key, self.status_key, self.version_key
        try:
            if version_key:
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
        if not isinstance(item, dict):
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
        drop = self.trim - self._keep
        return bounded({k: v for k, v in item.items() if k not in drop})

    @staticmethod
    def items_of(body: Any, key: str | None) -> list[Any]:
        """The list of run items of a page, or BadPayload naming what is wrong."""
        if key is not None and not isinstance(body, dict):
            # callers read the page's other fields next (cursor, totals) and may not crash
            raise BadPayload(f"the body is a {type(body).__name__}, not an object with "
                             f'"{key}"')
        items = body.get(key) if key is not None else body
        if not isinstance(items, list):
            where = f'"{key}"' if key else "the body"
            raise BadPayload(f"{where} is not a list of runs")
        return items
