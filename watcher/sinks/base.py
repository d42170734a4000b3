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
* ``options``: its own config keys as ``{name: Field}`` (kinds ``secret`` and
  ``secret_table`` are masked by ``watcher check`` and redacted from logs);
  the validated values arrive in ``config.options``;
* ``__init__(config, context)``; ``deliver``; ``reopen()`` (SIGHUP); ``aclose()``;
* optionally ``linger`` (seconds, default 0): the runner lets a batch gather
  that long after its first event before handing it over (Slack groups what
  arrives together).

:class:`BaseSink` provides the defaults.  To add a sink: write such a class,
then register it in :mod:`watcher.sinks` or, from another package, under the
``watcher.sinks`` entry-point group::

    [project.entry-points."watcher.sinks"]
    my-sink = "my_package.sink:MySink"

and configure it with ``type = "my-sink"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, ClassVar, Protocol

from watcher.infra.clock import Clock, wall
from watcher.model import JournalEntry

if TYPE_CHECKING:
    import aiohttp

    from watcher.config.schema import Field
    from watcher.config.settings import SinkConfig

#: ``(entry, reason, attempts)``: an entry the sink gave up on
Rejected = tuple[JournalEntry, str, int]


@dataclass
class SinkContext:
    """What the daemon lends a sink."""

    stdout: IO[bytes] | None = None
    session: aiohttp.ClientSession | None = None
    #: the daemon's clock: every wait, timestamp and jitter of a sink comes from it
    clock: Clock = wall


class Sink(Protocol):
    kind: ClassVar[str]
    options: ClassVar[Mapping[str, Field]]

    def __init__(self, config: SinkConfig, context: SinkContext) -> None: ...

    async def deliver(self, batch: Sequence[JournalEntry]) -> Sequence[Rejected]: ...

    def reopen(self) -> None:
        """Reopen files (SIGHUP, logrotate); a no-op for most sinks."""

    async def aclose(self) -> None: ...


class BaseSink:
    kind: ClassVar[str] = ""
    options: ClassVar[Mapping[str, Field]] = {}
    #: seconds a batch gathers before delivery (see the module docstring)
    linger: float = 0.0

    def __init__(self, config: SinkConfig, context: SinkContext) -> None:
        self.config = config
        self.name = config.name
        self.context = context

    def reopen(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
