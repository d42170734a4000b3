"""The sink conformance kit: any sink through a real delivery runner, over a real journal.

A sink makes one attempt per ``deliver`` and the runner does the rest
(:mod:`watcher.sinks.base`); this kit holds a sink to its side of that
contract against its real destination::

    peer = MyPeer(...)                     # the destination, seen from the test
    ran = await check_sink(MySink(config, SinkContext(clock=clock)), peer, clock=clock)
    assert ran == {"at_least_once", "retry_after", "dead_letter", "give_up"}

:func:`check_sink` journals run events into an in-memory SQLite journal and
has a :class:`~watcher.runtime.delivery.SinkRunner` deliver them, on the
clock given (a :class:`~watcher.testing.FakeClock` moves only while every task
waits; a request in flight is waited for in real time).  It checks:

* ``at_least_once``: every event arrives, each run's in journal order (runs
  that fail, then succeed: what every built-in sends on);
* ``retry_after``: a delivery refused for now with a ``Retry-After`` is tried
  again no sooner, and the sink is failing meanwhile and recovers;
* ``dead_letter``: an event refused for good is a dead letter after one
  attempt, and the events after it still go;
* ``give_up``: for a sink with retry keys (``max_attempts`` at most 20),
  events refused for now on every attempt are dead letters after
  ``max_attempts`` attempts.

A check the :class:`Peer` cannot stage (it returns False) is skipped; the
names of those that ran are returned.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Protocol

import anyio

from watcher.config.settings import SinkConfig
from watcher.core.events import RUN_STATUS_CHANGED, run_event
from watcher.infra.clock import Clock
from watcher.model import Event, JournalEntry, RunDetails, Status
from watcher.runtime.delivery import SinkRunner
from watcher.sinks.base import FOREVER, Sink
from watcher.state.backends import open_store
from watcher.state.journal import Journal
from watcher.testing.clocks import FakeClock, settle

#: real seconds a check may take
WITHIN = 60.0


class Peer(Protocol):
    """The sink's destination as the test sees it."""

    async def received(self) -> list[tuple[str, str]]:
        """``(run id, status)`` of each run event the destination holds, in arrival order
        (each as the destination says it: a message about several runs, several pairs)."""
        ...

    def fail_next(self, attempts: int, retry_after: float | None = None) -> bool:
        """Refuse the next ``attempts`` deliveries for now (saying ``Retry-After`` when
        given); False if this destination cannot be made to."""
        ...

    def refuse_next(self) -> bool:
        """Refuse the next delivery for good; False if this destination never does."""
        ...


_ids = itertools.count(1)


#: what the checks journal: runs that fail, then succeed (what every built-in sends on)
STATUSES = ("failed", "succeeded")


def said(entries: Sequence[JournalEntry]) -> list[tuple[str, str]]:
    """``(run id, status)`` of each entry."""
    return [(str(e.run_id), str(e.status)) for e in entries]


def run_events(runs: int, statuses: Sequence[str], *, now: float) -> list[Event]:
    """``runs`` runs each moving through ``statuses``, interleaved as a poll sees them."""
    events = []
    tag = next(_ids)
    for step, status in enumerate(statuses):
        for r in range(runs):
            run_id = f"run-{tag}-{r}"
            events.append(run_event(
                RUN_STATUS_CHANGED, source="conformance", provider="extend", run_id=run_id,
                status=Status(status), raw_status=status.upper(),
                previous=(Status.RUNNING, "RUNNING"),
                details=RunDetails(workflow_id="wf", workflow_name="Conformance",
                                   url=f"https://example.com/runs/{run_id}"),
                now=now + step, id_key=(tag, step)))
    return events


class Bench:
    """One sink, its runner and a journal of its own (SQLite in memory)."""

    def __init__(self, sink: Sink, *, clock: Clock) -> None:
        self.sink, self.clock = sink, clock
        config = getattr(sink, "config", None)
        self.config = config if isinstance(config, SinkConfig) else SinkConfig(
            name="under-test", type=sink.kind)

    async def __aenter__(self) -> Bench:
        self.store = await open_store(":memory:")
        self.journal = Journal(self.store)
        await self.journal.start()
        await self.journal.attach(self.config.name)
        self.runner = SinkRunner(self.sink, self.config, self.journal, clock=self.clock)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.sink.aclose()
        await self.store.close()

    async def journal_events(self, events: Sequence[Event]) -> list[JournalEntry]:
        return await self.journal.write_back("conformance", self.journal.head, events=events)

    async def deliver(self) -> None:
        """Until the runner caught up: every entry delivered or dead."""
        finished = anyio.Event()

        async def run() -> None:
            await self.runner.run(until_idle=True)
            finished.set()
        with anyio.fail_after(WITHIN):
            async with anyio.create_task_group() as tg:
                tg.start_soon(run)
                if isinstance(self.clock, FakeClock):
                    await _drive(self.clock, finished.is_set)

    async def dead(self) -> list[tuple[str, str, int]]:
        """``(event id, reason, attempts)`` of each dead letter."""
        letters = await self.store.dead_letters(self.config.name)
        return [(d.entry.id, d.reason, d.attempts) for d in letters]


async def _drive(clock: FakeClock, done: Callable[[], bool]) -> None:
    """Move virtual time while every task waits on it; a request or a thread in flight is
    waited for in real time."""
    while not done():
        await settle()
        if done():
            return
        if clock.sleeping:
            await clock.advance(clock.deadlines()[0])
        else:
            await anyio.sleep(0.005)


async def check_sink(sink: Sink, peer: Peer, *, clock: Clock) -> set[str]:
    """Run the checks of this module against ``sink``; the names of those that ran."""
    ran = set()
    async with Bench(sink, clock=clock) as bench:
        await _at_least_once(bench, peer)
        ran.add("at_least_once")
        if peer.fail_next(1, retry_after=2.0):
            await _retry_after(bench, peer)
            ran.add("retry_after")
        if peer.refuse_next():
            await _dead_letter(bench, peer)
            ran.add("dead_letter")
        attempts = bench.runner.policy.max_attempts
        if bench.runner.policy is not FOREVER and attempts <= 20 and peer.fail_next(attempts):
            await _give_up(bench, peer, attempts)
            ran.add("give_up")
    return ran


async def _at_least_once(bench: Bench, peer: Peer) -> None:
    entries = await bench.journal_events(run_events(3, STATUSES, now=bench.clock()))
    await bench.deliver()
    got = await peer.received()
    missing = set(said(entries)) - set(got)
    assert not missing, f"never arrived: {sorted(missing)}"
    for run in {e.run_id for e in entries}:
        order = [pair for pair in said(entries) if pair[0] == run]
        seen = [pair for pair in dict.fromkeys(got) if pair[0] == run]
        assert seen == order, f"run {run}: arrived as {seen}, journaled as {order}"
    assert await bench.dead() == []


async def _retry_after(bench: Bench, peer: Peer) -> None:
    before, started = len(await peer.received()), bench.clock.monotonic()
    failures = bench.runner.stats.failures
    entries = await bench.journal_events(run_events(1, STATUSES[:1], now=bench.clock()))
    await bench.deliver()
    assert said(entries)[0] in (await peer.received())[before:], "never delivered"
    assert bench.runner.stats.failures > failures, "the refused attempt was not counted"
    assert bench.clock.monotonic() - started >= 2.0, "tried again before its Retry-After"
    assert not bench.runner.failing, "still failing after a delivery went through"


async def _dead_letter(bench: Bench, peer: Peer) -> None:
    dead_before = len(await bench.dead())
    first, second = run_events(2, STATUSES[:1], now=bench.clock())
    refused = await bench.journal_events([first])
    await bench.deliver()
    dead = (await bench.dead())[dead_before:]
    assert [(i, n) for i, _, n in dead] == [(refused[0].id, 1)], f"dead letters: {dead}"
    assert dead[0][1], "a dead letter without its reason"
    assert not bench.runner.failing, "an event refused for good made the sink failing"
    after = await bench.journal_events([second])
    await bench.deliver()
    assert said(after)[0] in await peer.received(), "the event after a refused one did not go"
    assert bench.runner.cursor >= after[-1].seq


async def _give_up(bench: Bench, peer: Peer, attempts: int) -> None:
    dead_before = len(await bench.dead())
    entries = await bench.journal_events(run_events(1, STATUSES[:1], now=bench.clock()))
    await bench.deliver()
    dead = (await bench.dead())[dead_before:]
    assert [(i, n) for i, _, n in dead] == [(entries[0].id, attempts)], f"dead: {dead}"
    assert "gave up" in dead[0][1]
