"""Reminders while a source stays failing, in virtual time: the whole daemon in-process on
a fake clock, a state file on disk, a scripted provider failing on cue, and real HTTP
receivers behind webhook sinks.  A sink with ``repeat_interval = "1m"`` (the shortest
allowed, so little virtual time passes) is reminded every minute, not twice for the
same minute across a restart, and no more once the source recovers; a sink without one
hears of the outage twice (failing, recovered)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from tests.scripted import ScriptedProvider, register
from tests.sinks.receiver import Receiver
from tests.support import parse_config, toml
from watcher.config.settings import Config
from watcher.errors import TransientError
from watcher.runtime.daemon import Daemon
from watcher.simulator import Simulator
from watcher.testing import FakeClock, FrozenClock

pytestmark = pytest.mark.anyio

MINUTE = 60.0


def config(tmp_path: Path, reminded: Receiver, plain: Receiver) -> Config:
    outage = {"types": ["source.failing", "source.recovered"]}
    return parse_config(toml(
        {"state_path": str(tmp_path / "state.db"), "http_listen": ""},
        [{"name": "src", "provider": "scripted", "token": "t", "interval": "10s",
          "max_backoff": "10s", "failure_threshold": 1}],
        [{"name": "reminded", "type": "webhook", "url": reminded.url, "match": outage,
          "repeat_interval": "1m"},
         {"name": "plain", "type": "webhook", "url": plain.url, "match": outage}]))


@asynccontextmanager
async def running(cfg: Config, fake: FakeClock, *, failing: bool) -> AsyncIterator[Daemon]:
    """The daemon started on ``fake``, its provider failing (or not) from its first poll."""
    daemon = Daemon(cfg, clock=fake)
    async with anyio.create_task_group() as tg:
        tg.start_soon(daemon.run)
        await daemon.started.wait()
        assert daemon.workers is not None
        provider(daemon).fails_with = TransientError("503 Service Unavailable") if failing \
            else None
        yield daemon
        daemon.request_stop()


def provider(daemon: Daemon) -> ScriptedProvider:
    assert daemon.workers is not None
    p: ScriptedProvider = daemon.workers.pollers["src"].obj.provider  # type: ignore[assignment]
    return p


def bodies(r: Receiver) -> list[dict[str, Any]]:
    return [orjson.loads(hit.body) for hit in r.delivered()]


def received(r: Receiver, n: int) -> list[dict[str, Any]]:
    """Wait (real time: deliveries are real HTTP) until ``r`` has ``n`` events."""
    deadline = time.monotonic() + 20
    while len(r.delivered()) < n:
        assert time.monotonic() < deadline, f"{len(r.delivered())} of {n} events arrived"
        time.sleep(0.02)
    return bodies(r)


async def settle(r: Receiver, n: int) -> list[dict[str, Any]]:
    """Let real time pass until ``r`` has ``n`` events, virtual time standing still."""
    deadline = time.monotonic() + 20
    while len(r.delivered()) < n:
        assert time.monotonic() < deadline, f"{len(r.delivered())} of {n} events arrived"
        await anyio.sleep(0.02)
    return bodies(r)


def kinds(events: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    return [(e["type"].removeprefix("watcher."), e["data"].get("reminder")) for e in events]


async def test_a_failing_source_is_reminded_of_every_interval_until_it_recovers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, process_state: None) -> None:
    """Failing at t0: reminders at t0+1m, 2m, 3m; a restart at 3.5m repeats none of them
    and the 4m one comes once; after recovery at 4.5m three quiet minutes bring nothing.
    The sink without repeat_interval gets only failing and recovered."""
    register(monkeypatch)
    fake = FakeClock(seed=4)
    with Receiver() as reminded, Receiver() as plain:
        cfg = config(tmp_path, reminded, plain)
        async with running(cfg, fake, failing=True) as daemon:
            await fake.run_until(lambda: daemon.journal.counts["watcher.source.failing"] == 1)
            [failing] = await settle(reminded, 1)
            t0 = failing["time"]
            await fake.advance(3.5 * MINUTE)
            await settle(reminded, 4)
        async with running(cfg, fake, failing=True) as daemon:
            await fake.advance(0.6 * MINUTE)
            await settle(reminded, 5)
            provider(daemon).fails_with = None
            await fake.advance(0.5 * MINUTE)
            await settle(reminded, 6)
            await fake.advance(3 * MINUTE)
            await anyio.sleep(0.5)  # real time for anything (wrongly) on its way
        events = bodies(reminded)
        assert kinds(events) == [("source.failing", None), ("source.reminder", 1),
                                 ("source.reminder", 2), ("source.reminder", 3),
                                 ("source.reminder", 4), ("source.recovered", None)]
        assert kinds(received(plain, 2)) == [("source.failing", None),
                                             ("source.recovered", None)]
    reminders = events[1:5]
    assert len({e["id"] for e in reminders}) == 4
    assert all(e["data"]["episode_id"] == events[0]["id"] for e in reminders)
    assert [e["data"]["open_for_s"] for e in reminders] == [60, 120, 180, 240]
    assert all(e["time"] > t0 for e in reminders)


async def test_a_stuck_run_is_reminded_of_until_it_moves(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, process_state: None) -> None:
    """A run stuck in running is reminded of every minute; once it moves (succeeded) the
    reminders stop, though the source polls on."""
    register(monkeypatch)
    fake = FakeClock(seed=6)
    with Receiver() as sink:
        cfg = parse_config(toml(
            {"state_path": str(tmp_path / "state.db"), "http_listen": ""},
            [{"name": "src", "provider": "scripted", "token": "t", "interval": "10s",
              "stuck_after": "30s"}],
            [{"name": "hook", "type": "webhook", "url": sink.url, "repeat_interval": "1m",
              "match": {"types": ["run.stuck", "run.status_changed"]}}]))
        async with running(cfg, fake, failing=False) as daemon:
            provider(daemon).runs = {"r1": "running"}
            await fake.run_until(lambda: daemon.journal.counts["watcher.run.stuck"] == 1)
            await fake.advance(2.5 * MINUTE)
            await settle(sink, 3)
            provider(daemon).runs = {"r1": "succeeded"}
            await fake.run_until(
                lambda: daemon.journal.counts["watcher.run.status_changed"] == 1)
            await fake.advance(3 * MINUTE)
            await settle(sink, 4)
            await anyio.sleep(0.5)
        events = bodies(sink)
    assert kinds(events) == [("run.stuck", None), ("run.reminder", 1), ("run.reminder", 2),
                             ("run.status_changed", None)]
    assert {e["subject"] for e in events} == {"r1"}


async def test_a_silenced_reminder_is_held_back_like_any_event(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, process_state: None) -> None:
    """A window silencing source.failing for the reminded sink holds back the failing
    event and its reminders from it (counted per window), while the other sink, not
    named by the window, gets the failing event."""
    register(monkeypatch)
    fake = FakeClock(seed=8)
    with Receiver() as reminded, Receiver() as plain:
        text = toml(
            {"state_path": str(tmp_path / "state.db"), "http_listen": ""},
            [{"name": "src", "provider": "scripted", "token": "t", "interval": "10s",
              "failure_threshold": 1}],
            [{"name": "reminded", "type": "webhook", "url": reminded.url,
              "repeat_interval": "1m"},
             {"name": "plain", "type": "webhook", "url": plain.url}])
        text += ('\n[[silences]]\nname = "upgrade"\nmatch = { types = ["source.failing"] }\n'
                 'sinks = ["reminded"]\nstarts = "2020-01-01T00:00:00Z"\n'
                 'ends = "2100-01-01T00:00:00Z"\n')
        async with running(parse_config(text), fake, failing=True) as daemon:
            await fake.run_until(lambda: daemon.journal.counts["watcher.source.failing"] == 1)
            await fake.advance(2.5 * MINUTE)
            await settle(plain, 1)
            runner = daemon.workers.runners["reminded"].obj  # type: ignore[union-attr]
            await fake.run_until(lambda: runner.stats.silenced["upgrade"] == 3)
            await anyio.sleep(0.3)
        assert daemon.journal.counts["watcher.source.reminder"] == 2
        assert reminded.delivered() == []
        assert kinds(bodies(plain)) == [("source.failing", None)]


async def test_once_makes_the_reminders_that_came_due_since_the_last_run_once(
        tmp_path: Path, sim: Simulator, clock: FrozenClock, process_state: None) -> None:
    """`watcher once` against a source refusing its token: the first run reports it
    failing, one 61 s later sends reminder 1, one 90 s later nothing new."""
    with Receiver() as hook:
        source = {"name": "extend-test", "provider": "extend", "token": "wrong",
                  "base_url": sim.url("extend"), "failure_threshold": 1}
        cfg = parse_config(toml(
            {"state_path": str(tmp_path / "state.db"), "http_listen": ""}, [source],
            [{"name": "hook", "type": "webhook", "url": hook.url, "repeat_interval": "1m"}]))
        seen = []
        for wait in (0, 61, 29):
            clock.advance(wait)
            assert await Daemon(cfg, clock=clock).once() == 75
            seen.append(kinds(bodies(hook)))
    assert seen == [[("source.failing", None)],
                    [("source.failing", None), ("source.reminder", 1)],
                    [("source.failing", None), ("source.reminder", 1)]]
