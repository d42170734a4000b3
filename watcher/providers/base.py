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
    does) gets the daemon's :class:`~watcher.clock.Clock` for its waits.
``await poll(view) -> PollResult``
    one cycle: observations ``(run_id, raw_status, status, version, item)``
    of every run whose status may have changed (more is fine: the diff drops
    what did not change, counts duplicates once and never reads absence as
    a change) and the next ``cursor``.  Raise a
    :class:`~watcher.errors.ProviderError` kind when the cycle cannot be
    trusted as a whole: nothing of it is kept.
``describe(item) -> RunDetails``
    event fields of one item, called only for runs that produce an event.
``await enrich(events)``
    optionally add what the listing lacks (an error message) to new events.
``requests``
    HTTP requests sent so far, for metrics and benchmarks.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import structlog

from watcher.clock import Clock, wall
from watcher.errors import BadPayload
from watcher.model import Event, Observation, RunDetails, RunState, Status
from watcher.ratelimit import RateLimiter, shared

if TYPE_CHECKING:
    import aiohttp

    from watcher.config import SourceConfig
    from watcher.providers.http import VendorHttp
    from watcher.schema import Field


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
        """Event fields of one vendor item; called only for runs that changed."""
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


class BaseProvider:
    """Shared helpers: status mapping with unknown-value warnings, trimming, bad items."""

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
        self.http: VendorHttp = self._http()

    def _http(self) -> VendorHttp:
        from watcher.providers.http import VendorHttp

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
        from watcher.providers.http import default_error_message

        return default_error_message(body)

    @property
    def requests(self) -> int:
        return self.http.requests

    async def enrich(self, events: list[Event]) -> None:
        return None

    def changed_at(self, item: Any) -> float | None:
        # correct for every provider; override with a cheap field read where there is one
        return self.describe(item).changed_at  # type: ignore[attr-defined, no-any-return]

    def observe(self, items: list[Any], out: list[Observation]) -> None:
        """Observations of a page's items: the hot loop (a tuple per item, nothing more).

        A comprehension builds the page's tuples a third faster than a loop; a page
        with a malformed item goes through the careful loop, which skips just that item.
        """
        table = self.statuses
        status_of = self.status_of
        id_key, status_key, version_key = self.id_key, self.status_key, self.version_key
        try:
            if version_key:
                out.extend([(it[id_key], r, table.get(r) or status_of(r), it[version_key], it)
                            for it in items for r in (it[status_key],)])
            else:
                out.extend([(it[id_key], r, table.get(r) or status_of(r), None, it)
                            for it in items for r in (it[status_key],)])
            return
        except (KeyError, TypeError):
            pass
        for item in items:
            try:
                raw = item[status_key]
                out.append((item[id_key], raw, table.get(raw) or status_of(raw),
                            item[version_key] if version_key else None, item))
            except (KeyError, TypeError) as e:
                self.bad_item(item, f"missing field {e}")

    def status_of(self, raw: object) -> Status:
        """Slow path of status mapping: case-insensitive match, else ``unknown`` (warned once)."""
        if isinstance(raw, str):
            st = self._folded.get(raw.lower())
            if st is not None:
                return st
        key = repr(raw)
        if key not in self._warned:
            self._warned.add(key)
            self.log.warning("unknown vendor status, kept as raw_status", raw_status=raw)
        return Status.UNKNOWN

    def bad_item(self, item: object, problem: str) -> None:
        ident = item.get("id") if isinstance(item, dict) else None
        self.log.warning("skipped a malformed run item", run_id=ident, problem=problem)

    def trimmed(self, item: Mapping[str, Any]) -> dict[str, Any]:
        drop = self.trim - self._keep
        return {k: v for k, v in item.items() if k not in drop}

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
