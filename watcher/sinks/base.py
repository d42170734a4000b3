"""The Sink protocol: deliver a batch of journal entries, say which were given up.

A sink knows one destination and nothing about vendors.  The delivery runner
(:mod:`watcher.delivery`) reads the journal, applies the sink's ``match``,
calls :meth:`Sink.deliver` and moves the sink's cursor past the batch once it
returns.  So ``deliver`` returns only when every entry is either delivered
or given up on:

* entries not listed in the returned sequence were delivered (acknowledged);
* each ``(entry, reason, attempts)`` returned is given up on: it goes to the
  dead-letter store and is counted;
* raising :class:`~watcher.errors.Retryable` (or any error) acknowledges
  nothing: the runner backs off and hands the same batch again.

To add a sink: write a class with these attributes and methods, then register
it in :mod:`watcher.sinks` or, from another package, under the ``watcher.sinks``
entry-point group (``type = "my-sink"`` in the config).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, ClassVar, Protocol

from watcher.clock import Clock, wall
from watcher.store import Entry

if TYPE_CHECKING:
    import aiohttp

    from watcher.config import SinkConfig
    from watcher.schema import Field

#: ``(entry, reason, attempts)``: an entry the sink gave up on
Rejected = tuple[Entry, str, int]


@dataclass
class SinkContext:
    """What the daemon lends a sink."""

    stdout: IO[bytes] | None = None
    session: aiohttp.ClientSession | None = None
    clock: Clock = wall
    extra: dict[str, Any] = field(default_factory=dict)


class Sink(Protocol):
    kind: ClassVar[str]
    options: ClassVar[Mapping[str, Field]]

    def __init__(self, config: SinkConfig, context: SinkContext) -> None: ...

    async def deliver(self, batch: Sequence[Entry]) -> Sequence[Rejected]: ...

    def reopen(self) -> None:
        """Reopen files (SIGHUP, logrotate); a no-op for most sinks."""

    async def aclose(self) -> None: ...


class BaseSink:
    kind: ClassVar[str] = ""
    options: ClassVar[Mapping[str, Field]] = {}

    def __init__(self, config: SinkConfig, context: SinkContext) -> None:
        self.config = config
        self.name = config.name
        self.context = context

    def reopen(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
