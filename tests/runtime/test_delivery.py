"""Sink runners in virtual time: the retry schedule of a batch, dead letters, sinks that
cannot hold each other back, and a sink's bug contained at its runner.

A scripted sink plugin records every call with the fake clock's time; the journal is
a real one (SQLite); nothing sleeps for real.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import pairwise

import anyio
import pytest
import structlog

from tests.scripted import ScriptedSink, register
from tests.support import parse_config, toml
from watcher.core.events import RUN_STATUS_CHANGED, run_event
from watcher.errors import Retryable
from watcher.model import Event, Status
from watcher.runtime.delivery import DEAD_RETRY_EVERY, SinkRunner
from watcher.sinks import sink_class
from watcher.sinks.base import Rejected, SinkContext
from watcher.state.backends import open_store
from watcher.state.journal import Journal
from watcher.state.store import SourceRow
from watcher.testing import FakeClock

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> FakeClock:
    return FakeClock(seed=5)


def event(n: int, clock: FakeClock) -> Event:
    return run_event(RUN_STATUS_CHANGED, source="src", provider="scripted", run_id=f"run-{n}",
                     status=Status.FAILED, raw_status="failed",
                     previous=(Status.RUNNING, "running"), details=None, now=clock(), id_key=n)


class Rig:
    def __init__(self, clock: FakeClock, journal: Journal, runners: list[SinkRunner]) -> None:
        self.clock = clock
        self.journal = journal
        self.runners = runners
        self.runner = runners[0]
        self.sink: ScriptedSink = runners[0].sink  # type: ignore[assignment]

    async def journal_events(self, *numbers: int) -> None:
        """Journal one event per number now, as a poll cycle would, and let sinks react."""
        await self.journal.commit("src", SourceRow(baselined=True),
                                  events=[event(n, self.clock) for n in numbers])
        await self.clock.advance(0)


@asynccontextmanager
async def rig(monkeypatch: pytest.MonkeyPatch, clock: FakeClock, *names: str
              ) -> AsyncIterator[Rig]:
    """Scripted sinks (one per name, default ``x``) with runners over one journal."""
    register(monkeypatch)
    cfg = parse_config(toml({"state_path": ":memory:"},
                            sinks=[{"name": n, "type": "scripted"} for n in names or ["x"]]))
    store = await open_store(":memory:")
    journal = Journal(store)
    await journal.start()
    runners = []
    for sc in cfg.sinks:
        cls = sink_class(sc.type)
        assert cls is not None
        await journal.attach(sc.name)
        runners.append(SinkRunner(cls(sc, SinkContext(clock=clock)), sc, journal, clock=clock))
    try:
        yield Rig(clock, journal, runners)
    finally:
        await store.close()


def call_gaps(sink: ScriptedSink) -> list[float]:
    return [b[0] - a[0] for a, b in pairwise(sink.calls)]


async def test_a_failed_batch_is_retried_whole_on_a_doubling_backoff_until_delivered(
        monkeypatch: pytest.MonkeyPatch, fake: FakeClock) -> None:
    """Each retry of the same batch waits 1 s, 2 s, 4 s... (each between half and all of
    it); once the sink takes it, the cursor moves past it and nothing is sent twice."""
    async with rig(monkeypatch, fake) as r, anyio.create_task_group() as tg:
        r.sink.fails_with = Retryable("503 Service Unavailable")
        tg.start_soon(r.runner.run)
        await r.journal_events(1, 2, 3)
        await fake.run_until(lambda: len(r.sink.calls) == 6)
        assert r.runner.failing and r.journal.cursors["x"] == 0
        r.sink.fails_with = None
        await fake.run_until(lambda: r.sink.delivered == [1, 2, 3])
        tg.cancel_scope.cancel()
    assert all(seqs == [1, 2, 3] for _, seqs in r.sink.calls)
    nominal = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    waits = call_gaps(r.sink)
    assert all(n / 2 <= w <= n for w, n in zip(waits, nominal, strict=True))
    assert r.journal.cursors["x"] == 3 and not r.runner.failing
    assert (r.runner.stats.retries, r.runner.stats.delivered) == (6, 3)


async def test_a_sink_that_cannot_connect_at_start_is_failing_and_retried_until_it_can(
        monkeypatch: pytest.MonkeyPatch, fake: FakeClock) -> None:
    """A sink whose open() fails (its server down, a missing stream) is reported failing
    from the start, tried again on the backoff, and given its backlog once it opens."""
    async with rig(monkeypatch, fake) as r, anyio.create_task_group() as tg:
        r.sink.open_fails_with = Retryable("cannot connect to NATS: Connect call failed")
        tg.start_soon(r.runner.run)
        await r.journal_events(1, 2)
        await fake.run_until(lambda: len(r.sink.opens) == 4)
        assert r.runner.failing and r.sink.calls == []
        r.sink.open_fails_with = None
        await fake.run_until(lambda: r.sink.delivered == [1, 2])
        tg.cancel_scope.cancel()
    gaps = [b - a for a, b in pairwise(r.sink.opens)]
    assert all(n / 2 <= g <= n for g, n in zip(gaps, [1.0, 2.0, 4.0, 8.0], strict=False))
    assert not r.runner.failing and r.sink.opens[0] == 0.0


async def test_a_sinks_retry_after_is_a_floor_for_the_next_attempt(
        monkeypatch: pytest.MonkeyPatch, fake: FakeClock) -> None:
    """A receiver asking for 120 s gets no attempt sooner, though the backoff says 1 s."""
    async with rig(monkeypatch, fake) as r, anyio.create_task_group() as tg:
        r.sink.fails_with = Retryable("429 Too Many Requests", retry_after=120.0)
        tg.start_soon(r.runner.run)
        await r.journal_events(1)
        await fake.run_until(lambda: len(r.sink.calls) == 2)
        tg.cancel_scope.cancel()
    assert call_gaps(r.sink)[0] >= 120.0


async def test_given_up_events_become_dead_letters_and_a_queued_retry_delivers_them(
        monkeypatch: pytest.MonkeyPatch, fake: FakeClock) -> None:
    """What the sink gives up on is stored with its reason while the cursor moves on; once
    queued for retry, the dead-letter timer hands it to the sink again and resolves it."""
    async with rig(monkeypatch, fake) as r, anyio.create_task_group() as tg:
        tg.start_soon(r.runner.run)
        await r.journal.commit("src", SourceRow(), events=[event(n, fake) for n in (1, 2, 3)])
        entries = await r.journal.read(0, 10)
        r.sink.answer = [Rejected(entries[1], "410 Gone")]
        await fake.advance(0)
        store = r.journal.store
        [dead] = await store.dead_letters("x")
        assert (dead.entry.seq, dead.reason, dead.attempts) == (2, "410 Gone", 1)
        assert r.journal.cursors["x"] == 3 and r.runner.stats.dead == 1
        r.sink.answer = None
        await store.mark_retry("x")
        await fake.advance(DEAD_RETRY_EVERY)
        assert await store.dead_letters("x") == []
        tg.cancel_scope.cancel()
    assert r.sink.calls[-1][1] == [2]


async def test_a_sink_failing_every_batch_does_not_delay_another_sink(
        monkeypatch: pytest.MonkeyPatch, fake: FakeClock) -> None:
    """While one sink raises on every batch and backs off, the other gets each event at
    the moment it is journaled."""
    async with rig(monkeypatch, fake, "good", "bad") as r, anyio.create_task_group() as tg:
        good, bad = (x.sink for x in r.runners)
        bad.fails_with = KeyError("boom")  # type: ignore[attr-defined]
        for runner in r.runners:
            tg.start_soon(runner.run)
        for n, after in ((1, 0.0), (2, 7.0), (3, 23.0), (4, 60.0)):
            await fake.advance(after)
            await r.journal_events(n)
        tg.cancel_scope.cancel()
    assert good.calls == [(0.0, [1]), (7.0, [2]), (30.0, [3]), (90.0, [4])]  # type: ignore[attr-defined]
    assert len(bad.calls) > 4 and bad.delivered == []  # type: ignore[attr-defined]
    assert r.journal.cursors == {"good": 4, "bad": 0}


async def test_a_failing_sink_is_logged_again_when_the_cause_changes_and_not_otherwise(
        monkeypatch: pytest.MonkeyPatch, fake: FakeClock) -> None:
    """A connection refused, then a server refusing the credentials: the failure is logged
    at error level once, the new cause once as a warning, and neither cause again however
    often it repeats or alternates; recovery is logged once."""
    refused = Retryable("cannot connect to NATS: connection refused")
    denied = Retryable("cannot connect to NATS: nats: 'Authorization Violation'")
    with structlog.testing.capture_logs() as logs:
        async with rig(monkeypatch, fake) as r, anyio.create_task_group() as tg:
            r.sink.fails_with = refused
            tg.start_soon(r.runner.run)
            await r.journal_events(1)
            await fake.run_until(lambda: len(r.sink.calls) == 3)
            for n, cause in enumerate((denied, refused, denied, denied), start=4):
                r.sink.fails_with = cause
                await fake.run_until(lambda n=n: len(r.sink.calls) == n)  # type: ignore[misc]
            r.sink.fails_with = None
            await fake.run_until(lambda: r.sink.delivered == [1])
            tg.cancel_scope.cancel()
    said = [(e["log_level"], e["event"], e.get("error")) for e in logs
            if e.get("sink") == "x" and e["log_level"] in ("error", "warning", "info")]
    assert said == [
        ("error", "sink delivery failing, will retry", str(refused)),
        ("warning", "sink delivery still failing, for another reason", str(denied)),
        ("info", "sink delivery recovered", None)]


async def test_a_bug_in_a_sink_is_retried_with_backoff_counted_and_logged_once(
        monkeypatch: pytest.MonkeyPatch, fake: FakeClock) -> None:
    """A deliver raising KeyError (not a DeliveryError) is an internal error: the batch is
    retried with backoff, each is counted, the traceback is logged once per episode, and
    the batch is delivered once the bug is gone."""
    with structlog.testing.capture_logs() as logs:
        async with rig(monkeypatch, fake) as r, anyio.create_task_group() as tg:
            r.sink.fails_with = KeyError("workflow")
            tg.start_soon(r.runner.run)
            await r.journal_events(1)
            await fake.run_until(lambda: len(r.sink.calls) == 5)
            r.sink.fails_with = None
            await fake.run_until(lambda: r.sink.delivered == [1])
            r.sink.fails_with = KeyError("workflow")  # a new episode is logged again
            await r.journal_events(2)
            await fake.run_until(lambda: len(r.sink.calls) == 7)
            tg.cancel_scope.cancel()
    assert r.runner.boundary.errors == 6 and r.runner.stats.retries == 6
    assert all(b > 0.4 for b in call_gaps(r.sink)[:4])  # backed off, not a hot loop
    traced = [e for e in logs if e.get("exc_info") is not None]
    assert [type(e["exc_info"]) for e in traced] == [KeyError, KeyError]
    assert traced[0]["task"] == "sink:x" and traced[0]["log_level"] == "error"


async def test_a_malformed_answer_from_a_sink_is_contained_and_the_batch_retried(
        monkeypatch: pytest.MonkeyPatch, fake: FakeClock) -> None:
    """A sink returning something that is not a Rejected or a Retry is an internal error:
    counted, backed off, and the runner carries on."""
    async with rig(monkeypatch, fake) as r, anyio.create_task_group() as tg:
        r.sink.answer = ["not a rejection"]
        tg.start_soon(r.runner.run)
        await r.journal_events(1)
        await fake.run_until(lambda: len(r.sink.calls) == 3)
        r.sink.answer = None
        await fake.run_until(lambda: r.sink.delivered == [1])
        await r.journal_events(2)
        tg.cancel_scope.cancel()
    assert r.runner.boundary.errors == 3
    assert r.sink.delivered == [1, 2] and r.journal.cursors["x"] == 2
