"""The Sink protocol: deliver a batch of journal entries, say which were given up.

A sink knows one destination and nothing about vendors.  The delivery runner
(:mod:`watcher.runtime.delivery`) reads the journal, applies the sink's ``match``,
calls :meth:`Sink.deliver` and moves the sink's cursor past the batch once it
returns.  So ``deliver`` returns only when every entry is either delivered
or given up on:

* entries not listed in the returned sequence were delivered (acknowledged);
* each ``(entry, reason, attempts)`` returned is given up on: it goes to the
  dead-letter store and is counted; ``watcher deadletters retry`` later hands
  it to ``deliver`` again, in a batch of its own;
* raising :class:`~watcher.errors.Retryable` (or any error) acknowledges
  nothing: the runner backs off and hands the same batch again; an error that
  is not a :class:`~watcher.errors.DeliveryError` is also counted and logged
  with its traceback as an internal error (a bug).

The runner never calls ``deliver`` twice at once for one sink, and each sink
has its own runner task: a ``deliver`` that waits (retries, a slow
receiver) holds back only its own sink, never polling or other sinks.

A sink class has:

* ``kind``: its ``type`` name in the config;
* ``Options``: its own config keys, a :class:`~watcher.config.options.Options`
  model (``Secret``, ``SecretTable`` and ``SecretList`` fields are masked by
  ``watcher check`` and redacted from logs; ``NoOptions``: none); the validated
  instance arrives in ``config.options``;
* ``__init__(config, context)``; ``deliver``;
* optionally ``reopen()`` (SIGHUP), ``aclose()``, ``linger`` (seconds,
  default 0): the runner lets a batch gather that long after its first event
  before handing it over (Slack groups what arrives together); ``record``
  (default False): True for a sink that keeps a complete record of the journal
  (stdout, file, event buses), which silences never hold events back from and
  which gets every reminder; False for a notification sink (Slack, webhook);
  and ``local`` (default False): with several replicas a local sink (stdout, a
  file) is delivered by every replica from its own cursor, any other by the one
  replica holding its lease;
* optionally ``open()``: connect and check the destination before the first
  batch, so a server that is down or a missing stream is reported at start;
  the runner retries it with backoff until it returns;
* optionally ``probe()`` for ``watcher check --connect``: reach the destination
  *without sending an event* and return what was found (one line), or raise
  with the server's own error; the default raises NotImplementedError: it cannot
  be checked that way;
* optionally, a sink that retries inside ``deliver`` reports every attempt to
  ``context.health`` (:class:`~watcher.sinks.health.SinkHealth`: ``failed(reason)``,
  ``succeeded()``), so it shows as failing from its first refused attempt, not
  when ``deliver`` returns; a sink that makes one attempt per call need not;
* optionally ``bus``: a :class:`~watcher.core.status.BusStats` that ``/metrics``
  shows (connection, publish round trips).  The registry gives a class that
  lacks one of these the default of :class:`SinkDefaults`.

:class:`BaseSink` provides the defaults and types ``self.options`` by its class
parameter (``class MySink(BaseSink[MyOptions])``).  To add a sink: write such a
class, then register it in :mod:`watcher.sinks` or, from another package, under
the ``watcher.sinks`` entry-point group::

    [project.entry-points."watcher.sinks"]
    my-sink = "my_package.sink:MySink"

and configure it with ``type = "my-sink"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar, cast

from watcher.config.options import NoOptions, declared, ensure
from watcher.core.status import BusStats
from watcher.infra.clock import Clock
from watcher.infra.plugins import completed, plugin_class
from watcher.infra.ratelimit import Buckets
from watcher.model import JournalEntry
from watcher.sinks.health import SinkHealth

if TYPE_CHECKING:
    import aiohttp

    from watcher.config.settings import SinkConfig

#: ``(entry, reason, attempts)``: an entry the sink gave up on
Rejected = tuple[JournalEntry, str, int]

#: the options type of a :class:`BaseSink` subclass
OptionsT = TypeVar("OptionsT")


@dataclass
class SinkContext:
    """What the daemon lends a sink."""

    stdout: IO[bytes] | None = None
    session: aiohttp.ClientSession | None = None
    #: the daemon's clock: every wait, timestamp and jitter of a sink comes from it
    clock: Clock = field(kw_only=True)
    #: where a sink that retries inside ``deliver`` reports each attempt (failed, succeeded)
    health: SinkHealth = field(default_factory=SinkHealth)
    #: the daemon's rate-limit buckets, shared by its sinks (None: a sink's own)
    buckets: Buckets | None = None


class Sink(Protocol):
    kind: ClassVar[str]
    #: the sink's own config keys: an Options model
    Options: ClassVar[type[Any]]
    #: a complete record of the journal: never silenced (stdout, file, buses)
    record: ClassVar[bool]

    def __init__(self, config: SinkConfig, context: SinkContext) -> None: ...

    async def deliver(self, batch: Sequence[JournalEntry]) -> Sequence[Rejected]: ...

    @property
    def linger(self) -> float:
        """Seconds a batch gathers after its first event before it is handed over."""
        ...

    #: every replica delivers it (stdout, a file), rather than the one holding its lease
    local: ClassVar[bool]

    def reopen(self) -> None:
        """Reopen files (SIGHUP, logrotate); a no-op for most sinks."""

    async def aclose(self) -> None: ...

    async def open(self) -> None:
        """Connect and check the destination before the first batch (raise: retried)."""

    async def probe(self) -> str:
        """Reach the destination without sending; what was found, or raise
        NotImplementedError when that is impossible."""
        ...

    @property
    def bus(self) -> BusStats | None:
        """An event-bus sink's connection and publish timings, for /metrics."""
        ...


class SinkDefaults:
    """The optional members, for a sink class that lacks them."""

    linger: float = 0.0
    record: bool = False
    bus: BusStats | None = None
    #: this process's own output (stdout, a file): every replica delivers the whole stream
    local: ClassVar[bool] = False

    def reopen(self) -> None:
        return None

    async def open(self) -> None:
        return None

    async def probe(self) -> str:
        raise NotImplementedError("cannot be checked without sending an event")

    async def aclose(self) -> None:
        return None


class BaseSink(SinkDefaults, Generic[OptionsT]):
    kind: ClassVar[str] = ""
    Options: ClassVar[type[Any]] = NoOptions

    def __init__(self, config: SinkConfig, context: SinkContext) -> None:
        self.config = config
        self.name = config.name
        self.context = context
        #: the sink's own keys (``config.options``; ``None`` there: the defaults)
        self.options: OptionsT = ensure(self.Options, config.options)


def accept(obj: object) -> type[Sink]:
    """``obj`` as a sink class of this protocol, or :class:`PluginError` saying why not.

    A class lacking an optional member is given as a subclass that completes it.
    """
    cls = plugin_class(obj, "sink", text=("kind",), methods=("deliver",))
    declared(cls, "sink")
    return cast("type[Sink]", completed(cls, SinkDefaults))
