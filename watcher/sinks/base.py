"""The Sink protocol: one attempt at a batch, an outcome per entry; the runner does the rest.

A sink knows one destination and nothing about vendors.  The delivery runner
(:mod:`watcher.runtime.delivery`) reads the journal, applies the sink's ``match``
and hands :meth:`Sink.deliver` a batch.  ``deliver`` makes **one attempt** at
it and says what became of each entry:

* an entry it does not list was delivered;
* :class:`Retry` ``(entry, reason, after=None)``: not delivered this time
  (5xx, a timeout, a refused connection); ``after`` is a wait the peer asked
  for (``Retry-After``);
* :class:`Rejected` ``(entry, reason)``: refused for good (a 4xx): it becomes
  a dead letter at once;
* raising :class:`~watcher.errors.Retryable` is a :class:`Retry` of every
  entry (a bus that is down); raising anything else is a bug: counted and
  logged with its traceback, and the batch is tried again.

The runner owns everything else, the same for every sink: backoff, ``Retry-After``
(a pause of the whole sink), giving up (:class:`RetryOptions`: a sink whose options
subclass it has them; other sinks retry forever), dead letters, health and metrics.
It calls ``deliver`` again with the entries to retry only, never two calls at once
for one sink.  So a sink keeps its own order rules: one that must not let an entry
overtake another (a run's events) answers :class:`Retry` for the later ones when an
earlier one is to be retried (:func:`watcher.sinks.http.in_turn`).  Models: arq's
``Retry(defer=...)``, kopf's ``TemporaryError(delay)`` / ``PermanentError``.

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
* optionally ``bus``: a :class:`~watcher.core.status.BusStats` that ``/metrics``
  shows (connection, publish round trips).  The registry gives a class that
  lacks one of these the default of :class:`SinkDefaults`.

:class:`BaseSink` provides the defaults and types ``self.options`` by its class
parameter (``class MySink(BaseSink[MyOptions])``); an HTTP sink POSTs with
:func:`watcher.sinks.http.post`, whose :class:`~watcher.sinks.http.Outcome`
turns into an entry's outcome with :meth:`~watcher.sinks.http.Outcome.of`.
:mod:`watcher.testing` runs any sink through a real runner
(:func:`~watcher.testing.conformance.check_sink`).  To add a sink: write such
a class, then register it in :mod:`watcher.sinks` or, from another package,
under the ``watcher.sinks`` entry-point group::

    [project.entry-points."watcher.sinks"]
    my-sink = "my_package.sink:MySink"

and configure it with ``type = "my-sink"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Protocol, TypeVar, cast

from watcher.config.options import Duration, Field, NoOptions, Options, declared, ensure
from watcher.core.status import BusStats
from watcher.infra.clock import Clock
from watcher.infra.plugins import completed, plugin_class
from watcher.infra.ratelimit import Buckets
from watcher.model import JournalEntry

if TYPE_CHECKING:
    from watcher.config.settings import SinkConfig


@dataclass(frozen=True, slots=True)
class Rejected:
    """An entry the destination refused for good: a dead letter at once."""

    entry: JournalEntry
    reason: str


@dataclass(frozen=True, slots=True)
class Retry:
    """An entry not delivered this time; ``after``: seconds the peer asked to wait."""

    entry: JournalEntry
    reason: str
    after: float | None = None


#: what ``deliver`` says of the entries it did not deliver
Outcomes = Sequence[Rejected | Retry]
#: the media type of a journal entry's body (CloudEvents structured JSON)
CONTENT_TYPE = "application/cloudevents+json"


class RetryOptions(Options):
    """The retry keys of a sink that gives up (its options subclass this); the runner
    reads them.  A sink without them is retried forever, backing off 1s to 60s."""

    #: for one request
    timeout: Annotated[float, Duration(min=0.1)] = 10.0
    #: give up after this many attempts
    max_attempts: Annotated[int, Field(ge=1)] = 10
    #: give up this long after an event's first attempt
    max_age: Annotated[float, Duration(min=0.01)] = 3600.0
    #: the first retry delay (then doubling)
    backoff: Annotated[float, Duration(min=0.001)] = 1.0
    #: the cap of the retry delay
    max_backoff: Annotated[float, Duration(min=0.001)] = 300.0


#: the policy of a sink without :class:`RetryOptions`: never give up
FOREVER = RetryOptions.model_construct(timeout=10.0, max_attempts=2**62, max_age=float("inf"),
                                       backoff=1.0, max_backoff=60.0)


def policy_of(sink: object) -> RetryOptions:
    """The retry keys of ``sink``: its options', or :data:`FOREVER`."""
    options = getattr(sink, "options", None)
    return options if isinstance(options, RetryOptions) else FOREVER


#: the options type of a :class:`BaseSink` subclass
OptionsT = TypeVar("OptionsT")


@dataclass
class SinkContext:
    """What the daemon lends a sink."""

    stdout: IO[bytes] | None = None
    #: the daemon's clock: every wait, timestamp and jitter of a sink comes from it
    clock: Clock = field(kw_only=True)
    #: the daemon's rate-limit buckets, shared by its sinks (None: a sink's own)
    buckets: Buckets | None = None


class Sink(Protocol):
    """A sink class: its members as the module docstring lists them."""

    kind: ClassVar[str]
    Options: ClassVar[type[Any]]
    record: ClassVar[bool]
    local: ClassVar[bool]

    def __init__(self, config: SinkConfig, context: SinkContext) -> None: ...

    async def deliver(self, batch: Sequence[JournalEntry]) -> Outcomes: ...

    @property
    def linger(self) -> float: ...

    def reopen(self) -> None: ...

    async def aclose(self) -> None: ...

    async def open(self) -> None: ...

    async def probe(self) -> str: ...

    @property
    def bus(self) -> BusStats | None: ...


class SinkDefaults:
    """The optional members, for a sink class that lacks them."""

    linger: float = 0.0
    record: bool = False
    bus: BusStats | None = None
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
