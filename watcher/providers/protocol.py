"""The Provider protocol: what the poller needs from a vendor integration.

A provider knows one vendor's HTTP API and nothing about events; one instance serves
one source, kept across polls.  Each poll it returns *observations* (see
:mod:`watcher.model`) and a new ``cursor``, a small JSON-able dict of its own that the
poller persists with the run state and hands back on the next poll (watermarks, last
full scan, ...).  It may read the source's tracked runs (:class:`PollView`) to decide
how far to page or which lingering runs to re-fetch, but never changes them.

To add a vendor: write a class with the members of :class:`Provider` (subclassing
:class:`~watcher.providers.base.BaseProvider` gives them all, and the shared helpers),
then register it in :mod:`watcher.providers` or, from another package, under the
``watcher.providers`` entry-point group.  A class that lacks an optional member gets
the default of :class:`ProviderDefaults`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast

from watcher.config.options import declared
from watcher.errors import PluginError
from watcher.infra.clock import Clock
from watcher.infra.plugins import completed, plugin_class
from watcher.infra.ratelimit import Buckets
from watcher.model import Event, Observation, RunDetails, Tracked

if TYPE_CHECKING:
    import aiohttp

    from watcher.config.settings import SourceConfig


class PollView:
    """What a provider may know of its source when it polls (read-only by contract).

    ``feed(observations)`` hands one page's observations to the diff as soon as
    the page is parsed, so the page can be dropped; a provider may instead
    return them all in :class:`PollResult`.
    """

    __slots__ = ("baseline", "cursor", "feed", "live", "now", "runs")

    def __init__(self, *, runs: Mapping[str, Tracked], live: Collection[str],
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


@dataclass(slots=True)
class PollResult:
    #: observations not already given to ``PollView.feed``
    observations: list[Observation]
    cursor: dict[str, Any]


@dataclass(frozen=True)
class ProviderContext:
    """What the daemon lends a provider."""

    #: the HTTP session every source shares
    session: aiohttp.ClientSession
    #: the daemon's clock: every wait, timestamp and jitter of a provider comes from it
    clock: Clock
    #: the daemon's rate-limit buckets, shared by its sources (None: a provider's own)
    buckets: Buckets | None = None


class Provider(Protocol):
    """What the poller needs from a vendor integration (see the module docstring)."""

    #: registry name, the ``provider`` config value
    kind: ClassVar[str]
    default_base_url: ClassVar[str]
    #: the provider's own config keys: an Options model, validated with every other key;
    #: the instance arrives in ``source.options``
    Options: ClassVar[type[Any]]

    def __init__(self, source: SourceConfig, context: ProviderContext) -> None: ...

    async def poll(self, view: PollView) -> PollResult:
        """One cycle: observations ``(run_id, raw_status, status, version, item)`` of
        every run whose status may have changed, and the next cursor.

        More is fine: the diff drops what did not change, counts duplicates once and
        never reads absence as a change.  Raises a :class:`~watcher.errors.ProviderError`
        when the cycle cannot be trusted as a whole (nothing of it is kept); a single
        bad item is skipped with a warning instead.
        """
        ...

    def describe(self, item: Any) -> RunDetails:
        """Event fields of one vendor item; called only for runs that changed.

        Raises :class:`~watcher.model.SkipItem` for an item that is no usable run:
        the diff then leaves that run as it was.
        """
        ...

    def changed_at(self, item: Any) -> float | None:
        """The vendor time of the item's last change, without describing it: a silent
        baseline of a finished run needs only that, so a first sync is cheaper."""
        ...

    async def enrich(self, events: list[Event]) -> None:
        """Add what the listing lacks (e.g. an error message) to new events."""
        ...

    @property
    def skipped(self) -> Mapping[str, int]:
        """Items skipped as unusable so far, by reason."""
        ...

    @property
    def requests(self) -> int:
        """HTTP requests sent so far."""
        ...

    @property
    def observed(self) -> int:
        """Vendor items read so far (shown while a first sync runs)."""

    async def probe(self) -> str:
        """``watcher check --connect``: one cheap authenticated request (a one-run page);
        what it found, or the :class:`~watcher.errors.ProviderError` the vendor's answer
        gives."""
        ...

    def pushed(self, body: Any) -> tuple[list[Observation], list[str]]:
        """A verified push (its parsed JSON body): observations of the runs it carries
        whole, and the ids of runs it only names, which ``fetch_run`` reads at once."""
        ...

    async def fetch_run(self, run_id: str) -> Observation | None:
        """One run by id, as an observation (None: there is none); ProviderError."""
        ...


class ProviderMethods:
    """The optional methods' defaults (:class:`~watcher.providers.base.BaseProvider`
    inherits them)."""

    def changed_at(self, item: Any) -> float | None:
        # correct for every provider; override with a cheap field read where there is one
        return cast(Provider, self).describe(item).changed_at

    @classmethod
    def limit_scope(cls, source: SourceConfig) -> tuple[str, ...]:
        """What names the account the vendor counts requests against: the API host and
        the key, unless a vendor says otherwise (sources with one scope share a bucket)."""
        return source.base_url, source.token

    async def enrich(self, events: list[Event]) -> None:
        return None

    async def probe(self) -> str:
        raise NotImplementedError("this provider has no credential check")

    def pushed(self, body: Any) -> tuple[list[Observation], list[str]]:
        return [], []

    async def fetch_run(self, run_id: str) -> Observation | None:
        return None


class ProviderDefaults(ProviderMethods):
    """The optional members, for a provider class that lacks them: plain attributes here
    (a plugin may set ``self.requests``), where BaseProvider's ``requests`` is a property."""

    skipped: Mapping[str, int] = MappingProxyType({})
    requests: int = 0
    observed: int = 0


def accept(obj: object) -> type[Provider]:
    """``obj`` as a provider class of this protocol, or :class:`PluginError` saying why not.

    A class lacking an optional member is given as a subclass that completes it.
    """
    cls = plugin_class(obj, "provider", text=("kind",), methods=("poll", "describe"))
    if not isinstance(getattr(cls, "default_base_url", None), str):
        raise PluginError(f"{cls.__qualname__} is no provider: it has no default_base_url "
                          "(a string)")
    declared(cls, "provider")
    return cast("type[Provider]", completed(cls, ProviderDefaults))
