"""The poller's policy in virtual time: cadence, phase, backoff, Retry-After, health, and
what a bug in a poll does to the cycle.

A scripted provider plugin answers what each test says, the journal is a real one
(SQLite), and the clock is a :class:`~watcher.testing.FakeClock`: hours of schedule run
with no real wait, and every time asserted is exact virtual time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import pairwise
from typing import Any

import anyio
import orjson
import pytest
import structlog

from tests.scripted import ScriptedProvider, register
from tests.support import parse_config, toml
from watcher.errors import AuthError, RateLimited, TransientError
from watcher.model import Status
from watcher.providers import provider_class
from watcher.providers.protocol import ProviderContext
from watcher.runtime.poller import Poller, SourceState
from watcher.state.backends import open_store
from watcher.state.journal import Journal
from watcher.testing import FakeClock

pytestmark = pytest.mark.anyio


@pytest.fixture
def fake() -> FakeClock:
    return FakeClock(seed=11)


class Rig:
    """Scripted sources polled over one real journal, on a fake clock."""

    def __init__(self, journal: Journal, pollers: list[Poller]) -> None:
        self.journal = journal
        self.pollers = pollers
        self.poller = pollers[0]
        self.provider: ScriptedProvider = pollers[0].provider  # type: ignore[assignment]

    async def events(self) -> list[dict[str, Any]]:
        return [orjson.loads(e.body) for e in await self.journal.read(0, 1_000_000)]

    async def types(self) -> list[str]:
        return [e["type"].removeprefix("watcher.") for e in await self.events()]


@asynccontextmanager
async def rig(monkeypatch: pytest.MonkeyPatch, clock: FakeClock, *sources: dict[str, Any],
              **keys: Any) -> AsyncIterator[Rig]:
    """Sources (``keys`` for a single one named ``src``) with their pollers, not started."""
    register(monkeypatch)
    tables = [{"provider": "scripted", "token": "t", **s} for s in sources or [{"name": "src"}]]
    cfg = parse_config(toml({"state_path": ":memory:"}, [{**t, **keys} for t in tables]))
    store = await open_store(":memory:")
    journal = Journal(store)
    await journal.start()
    cls = provider_class("scripted")
    assert cls is not None
    context = ProviderContext(None, clock)  # type: ignore[arg-type]  # it sends no request
    pollers = [Poller(src, cls(src, context), SourceState(), journal,
                      retention=86400.0, emit_baseline=False, clock=clock)
               for src in cfg.sources]
    try:
        yield Rig(journal, pollers)
    finally:
        await store.close()


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in pairwise(times)]


async def test_polls_are_due_every_interval_however_long_each_poll_takes(
        monkeypatch: pytest.MonkeyPatch, fake: FakeClock) -> None:
    """A poll taking 4 s of a 10 s interval does not stretch the period: each poll starts
    exactly one interval after the one before (no drift)."""
    async with rig(monkeypatch, fake, interval="10s") as r, anyio.create_task_group() as tg:
        r.provider.takes = 4.0
        tg.start_soon(r.poller.run)
        await fake.run_until(lambda: len(r.provider.started) == 7)
        tg.cancel_scope.cancel()
    assert gaps(r.provider.started) == pytest.approx([10.0] * 6)


async def test_each_source_starts_at_its_own_random_phase_within_its_interval(
        monkeypatch: pytest.MonkeyPatch, fake: FakeClock) -> None:
    """Sources of one vendor do not fire together: each first poll comes at a different
    point of the first interval, never later than the interval."""
    names = [{"name": f"src-{i}"} for i in range(8)]
    async with rig(monkeypatch, fake, *names, interval="10s") as r, \
            anyio.create_task_group() as tg:
        for p in r.pollers:
            tg.start_soon(p.run)
        await fake.advance(10.0)
        tg.cancel_scope.cancel()
    firsts = [p.provider.started[0] for p in r.pollers]  # type: ignore[attr-defined]
    assert all(0.0 <= t < 10.0 for t in firsts)
    assert len(set(firsts)) == len(firsts)


async def test_failed_polls_back_off_doubling_from_interval_to_max_backoff_with_jitter(
        monkeypatch: pytest.MonkeyPatch, fake: FakeClock) -> None:
    """After failures the waits are interval, 2x, 4x... capped at max_backoff, each between
    half and all of that; the first good poll restores the interval."""
    async with rig(monkeypatch, fake, interval="10s", max_backoff="80s") as r, \
            anyio.create_task_group() as tg:
        r.provider.fails_with = TransientError("503 Service Unavailable")
        tg.start_soon(r.poller.run)
        await fake.run_until(lambda: len(r.provider.started) == 8)
        r.provider.fails_with = None
        await fake.run_until(lambda: len(r.provider.started) == 11)
        tg.cancel_scope.cancel()
    waits = gaps(r.provider.started)
    nominal = [10.0, 20.0, 40.0, 80.0, 80.0, 80.0, 80.0]
    assert all(n / 2 <= w <= n for w, n in zip(waits, nominal, strict=False))
    assert any(w < n for w, n in zip(waits, nominal, strict=False))  # jittered, not fixed
    assert waits[-2:] == pytest.approx([10.0, 10.0])


async def test_retry_after_is_a_floor_for_the_next_poll_never_a_shortcut(
        monkeypatch: pytest.MonkeyPatch, fake: FakeClock) -> None:
    """A 429 asking for 100 s delays the next poll at least 100 s although the backoff is
    5-10 s; one asking for 1 s does not bring the next poll sooner than the backoff."""
    async with rig(monkeypatch, fake, interval="10s", max_backoff="5m") as r, \
            anyio.create_task_group() as tg:
        r.provider.answers.extend([RateLimited("429 Too Many Requests", retry_after=100.0),
                                   RateLimited("429 Too Many Requests", retry_after=1.0)])
        tg.start_soon(r.poller.run)
        await fake.run_until(lambda: len(r.provider.started) == 3)
        tg.cancel_scope.cancel()
    first, second = gaps(r.provider.started)
    assert first >= 100.0
    assert 10.0 <= second <= 20.0  # the second failure's backoff: nominal 20 s


async def test_a_source_is_failing_only_after_failure_threshold_polls_then_recovers_once(
        monkeypatch: pytest.MonkeyPatch, fake: FakeClock) -> None:
    """Two failed polls of failure_threshold=3 are retries (no event, not failing); the
    third emits one source.failing; more add nothing; the first good poll emits
    source.recovered and the source is neither failing nor retrying."""
    async with rig(monkeypatch, fake, interval="10s", failure_threshold=3) as r, \
            anyio.create_task_group() as tg:
        p = r.poller
        r.provider.fails_with = AuthError("401 Unauthorized: bad key", status=401)
        tg.start_soon(p.run)
        await fake.run_until(lambda: len(r.provider.started) == 2)
        assert (p.stats.health, p.failing) == ("retrying", False)
        assert await r.types() == []
        await fake.run_until(lambda: len(r.provider.started) == 5)
        assert (p.stats.health, p.failing) == ("failing", True)
        [failing] = await r.events()
        r.provider.fails_with = None
        await fake.run_until(lambda: len(r.provider.started) == 6)
        tg.cancel_scope.cancel()
    assert await r.types() == ["source.failing", "source.recovered"]
    assert failing["data"]["error"] == "401 Unauthorized: bad key"
    assert failing["data"]["consecutive_failures"] == 3
    assert (p.stats.health, p.failing) == ("ok", False)


async def test_a_bug_in_a_poll_discards_the_cycle_and_fails_the_source_like_any_error(
        monkeypatch: pytest.MonkeyPatch, fake: FakeClock) -> None:
    """A provider raising KeyError after feeding part of its page: nothing of the cycle is
    kept, the error is counted and logged once with its traceback, the source backs off
    and is failing with "internal error: KeyError..." after the threshold; once fixed,
    the change it hid is reported once."""
    with structlog.testing.capture_logs() as logs:
        async with rig(monkeypatch, fake, interval="10s", failure_threshold=3) as r, \
                anyio.create_task_group() as tg:
            p = r.poller
            r.provider.runs = {"run-1": "running"}
            tg.start_soon(p.run)
            await fake.run_until(lambda: p.state.row.baselined)
            r.provider.runs["run-1"] = "failed"
            r.provider.feed_first = True
            r.provider.fails_with = KeyError("workflow")
            await fake.run_until(lambda: len(r.provider.started) == 5)
            assert p.state.runs["run-1"].status == Status.RUNNING
            assert await r.types() == ["source.failing"]
            r.provider.fails_with = None
            await fake.run_until(lambda: len(r.provider.started) == 6)
            tg.cancel_scope.cancel()
    events = await r.events()
    assert [e["type"].removeprefix("watcher.") for e in events] == [
        "source.failing", "run.status_changed", "source.recovered"]
    assert events[0]["data"]["error"] == "internal error: KeyError: 'workflow'"
    assert events[0]["data"]["kind"] == "internal"
    assert p.boundary.errors == 4 and p.stats.errors["internal"] == 4
    assert gaps(r.provider.started)[1:4] != pytest.approx([10.0] * 3)  # backed off
    traced = [e for e in logs if e.get("exc_info") is not None]
    assert len(traced) == 1 and isinstance(traced[0]["exc_info"], KeyError)
    assert traced[0]["log_level"] == "error" and traced[0]["task"] == "source:src"
