"""What plugin authors and our own tests use to test against watcher: the test clocks
(:class:`FakeClock` runs hours of cadence, backoff and retries in milliseconds, in a
reproducible order), a sink that keeps what it is given, and the vendor simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import anyio
import orjson

from watcher.config.options import NoOptions
from watcher.config.settings import SinkConfig
from watcher.infra.clock import Clock, wall
from watcher.model import JournalEntry
from watcher.sinks.base import BaseSink, Outcomes, SinkContext
from watcher.testing.clocks import FakeClock, FrozenClock, settle

__all__ = ["CAPTURE", "CapturingSink", "FakeClock", "FrozenClock", "SimulatedVendors", "Vendor",
           "settle", "simulator"]

if TYPE_CHECKING:
    from watcher.simulator import Simulator, World


#: the registry reference of :class:`CapturingSink`, for ``SINKS.builtin["capture"]``
CAPTURE = "watcher.testing:CapturingSink"


class CapturingSink(BaseSink[NoOptions]):
    """A sink that keeps every entry it is given, in order, and gives none up.

    Use it directly (``CapturingSink.named_new("out")``) or through a config: make
    ``type = "capture"`` known for the test (``monkeypatch.setitem(SINKS.builtin,
    "capture", CAPTURE)``) and find the instance the daemon built with
    :meth:`named`.  ``await sink.wait_for(n)`` returns once it holds ``n`` entries
    (bound it with ``anyio.fail_after``, or use ``FakeClock.run_until``).
    """

    kind = "capture"
    #: the latest instance built for each sink name
    _built: ClassVar[dict[str, CapturingSink]] = {}

    def __init__(self, config: SinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self.entries: list[JournalEntry] = []
        self._arrived: anyio.Event | None = None  # made in the loop, on first wait
        CapturingSink._built[config.name] = self

    @classmethod
    def named(cls, name: str) -> CapturingSink:
        """The instance last built for the sink called ``name`` (KeyError if none)."""
        return cls._built[name]

    @classmethod
    def named_new(cls, name: str = "capture", *, clock: Clock = wall) -> CapturingSink:
        """A new instance, outside any config."""
        return cls(SinkConfig(name=name, type=cls.kind), SinkContext(clock=clock))

    async def deliver(self, batch: Sequence[JournalEntry]) -> Outcomes:
        self.entries.extend(batch)
        if self._arrived is not None:
            self._arrived.set()
            self._arrived = None
        return ()

    @property
    def events(self) -> list[dict[str, Any]]:
        """The CloudEvents received, parsed."""
        return [orjson.loads(e.body) for e in self.entries]

    async def wait_for(self, n: int) -> list[JournalEntry]:
        """Return the entries once at least ``n`` have arrived."""
        while len(self.entries) < n:
            if self._arrived is None:
                self._arrived = anyio.Event()
            await self._arrived.wait()
        return self.entries


@dataclass(frozen=True)
class Vendor:
    """Where a simulated vendor answers, and the token it takes."""

    base_url: str
    token: str


class SimulatedVendors:
    """The running simulator: its :class:`~watcher.simulator.World` and each vendor's
    :class:`Vendor`."""

    def __init__(self, sim: Simulator, vendors: Sequence[str]) -> None:
        self.simulator = sim
        self.world = sim.world
        self.vendors = {v: Vendor(sim.url(v), sim.world.tokens[v]) for v in vendors}

    def source(self, vendor: str, name: str | None = None, **keys: Any) -> dict[str, Any]:
        """A ``[[sources]]`` table that polls ``vendor`` here (Cortex: its first workflow)."""
        table: dict[str, Any] = {"name": name or vendor, "provider": vendor,
                                 "token": self.vendors[vendor].token,
                                 "base_url": self.vendors[vendor].base_url}
        from watcher.simulator.app import APIS
        table.update(APIS[vendor].source_keys)
        if vendor == "cortex":
            workflows = self.world.workflows["cortex"]
            wf = workflows[0] if workflows else self.world.workflow("cortex", "Invoices")
            table.update(app_id="app_sim", workflow_id=wf.id)
        return table | keys


@asynccontextmanager
async def simulator(world: World | None = None, *, clock: Clock = wall,
                    seed: int = 0) -> AsyncIterator[SimulatedVendors]:
    """The built-in simulator of every vendor on a free loopback port, while the block runs.

    ``world`` (default: an empty one on ``clock``) holds the runs it serves; add runs
    and change their status with ``world.add_run`` / ``world.set_status``.
    """
    # imported here: the simulator (aiohttp's server) costs ~0.2 s, the clocks nothing
    from watcher.simulator import Simulator, World, available_vendors

    async with Simulator(world or World(clock=clock, seed=seed)) as sim:
        yield SimulatedVendors(sim, available_vendors())
