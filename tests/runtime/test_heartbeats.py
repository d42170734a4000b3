"""Heartbeats in a daemon run in-process on a fake clock, pinging a real receiver on
loopback as the outside monitor: a ping every interval while well, the fail signal with
the reason once a sink runner sits on its backlog, pings again once it moves."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import pytest

from tests.runtime.conftest import CHECK
from tests.scripted import ScriptedProvider, ScriptedSink, register
from tests.sinks.receiver import Receiver, Reply
from tests.support import parse_config, toml
from watcher.config.render import toml_value
from watcher.core.heartbeat import HeartbeatStats
from watcher.errors import TransientError
from watcher.runtime.daemon import Daemon
from watcher.server.status import heartbeat_body
from watcher.testing import FakeClock

pytestmark = pytest.mark.anyio



def heartbeat(url: str, **kw: str) -> str:
    """A ``[[heartbeats]]`` table's text."""
    table = {"name": "deadman", "url": url, **kw}
    return "\n[[heartbeats]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in table.items())


def daemon_config(receiver: Receiver, **kw: str) -> str:
    return toml({"state_path": ":memory:", "http_listen": ""},
                [{"name": "src", "provider": "scripted", "token": "t", "interval": "10s",
                  "max_backoff": "10s", "failure_threshold": 1}],
                [{"name": "out", "type": "scripted"}]) + heartbeat(receiver.url, **kw)


async def until(pred: Callable[[], object]) -> None:
    """Wait in real time (the requests are real) until ``pred()`` holds."""
    with anyio.fail_after(10):
        while True:
            if pred():
                return
            await anyio.sleep(0.01)


@asynccontextmanager
async def pinging(monitor: Receiver, fake: FakeClock) -> AsyncIterator[tuple[Daemon,
                                                                              HeartbeatStats]]:
    """A started daemon with one healthchecks heartbeat every 10 s, and its stats; stopped
    when the block ends."""
    daemon = Daemon(parse_config(daemon_config(monitor, interval="10s", kind="healthchecks")),
                    clock=fake)
    async with anyio.create_task_group() as tg:
        tg.start_soon(daemon.run)
        await daemon.started.wait()
        assert daemon.workers is not None
        yield daemon, daemon.workers.heartbeats.stats["deadman"]
        daemon.request_stop()


async def test_a_ping_arrives_every_interval_and_not_in_between(
        monkeypatch: pytest.MonkeyPatch, process_state: None, monitor: Receiver) -> None:
    """A healthchecks heartbeat sends /start at start-up and a ping at once, then exactly
    one ping per interval of the daemon's clock (none a moment before it is due)."""
    register(monkeypatch)
    fake = FakeClock(seed=1)
    async with pinging(monitor, fake) as (_, stats):
        await until(lambda: stats.pings == 1)
        for n in range(2, 6):
            await fake.advance(9.9)
            assert len(monitor.hits) == n, "a ping before the interval was up"
            await fake.advance(0.1)
            await until(lambda n=n: stats.pings == n)  # type: ignore[misc]
        hits = list(monitor.hits)
    assert [(h.method, h.path) for h in hits] == [("GET", f"{CHECK}/start")] + \
        [("GET", CHECK)] * 5
    assert stats.healthy is True and stats.failures == 0 and stats.last_ping == fake()


async def test_a_sink_stuck_on_its_backlog_sends_the_fail_signal_with_the_reason_until_it_moves(
        monkeypatch: pytest.MonkeyPatch, process_state: None, monitor: Receiver) -> None:
    """A sink runner whose backlog has not moved for three intervals turns the next ping
    into POST /fail whose body names the sink, its backlog and for how long; once the sink
    delivers again, plain pings resume."""
    register(monkeypatch)
    fake = FakeClock(seed=2)
    async with pinging(monitor, fake) as (daemon, stats):
        assert daemon.workers is not None
        sink: ScriptedSink = daemon.workers.runners["out"].obj.sink  # type: ignore[assignment]
        provider: ScriptedProvider = daemon.workers.pollers["src"].obj.provider  # type: ignore[assignment]
        sink.fails_with = TransientError("503 Service Unavailable")
        provider.fails_with = TransientError("503 Service Unavailable")  # -> source.failing
        await fake.run_until(lambda: stats.fail_signals >= 1, within=120)
        fails = list(monitor.hits)
        assert stats.pings >= 1 and stats.healthy is False
        sink.fails_with = None
        before = stats.pings
        await fake.run_until(lambda: stats.pings > before, within=120)
    fail = next(h for h in fails if h.method == "POST")
    assert fail.path == f"{CHECK}/fail"
    assert fail.body.decode().startswith("sink out has not moved its backlog of 1 events for ")
    assert int(fail.body.split(b" for ")[1].split()[0]) >= 30
    assert stats.healthy is True and stats.reason is None


async def test_status_says_failing_while_the_monitor_does_not_take_the_pings(
        monkeypatch: pytest.MonkeyPatch, process_state: None, monitor: Receiver) -> None:
    """While the monitor refuses the pings /status shows the heartbeat failing (the watcher
    itself still healthy); once it takes one again, no longer."""
    register(monkeypatch)
    fake = FakeClock(seed=1)
    monitor.reply = lambda _hit: Reply(status=503)
    async with pinging(monitor, fake) as (daemon, stats):
        await until(lambda: stats.failures >= 2)
        assert daemon.workers is not None
        [beat] = [heartbeat_body(h) for h in daemon.workers.heartbeats.status()]
        assert (beat["healthy"], beat["failing"], beat["last_error"]) == (
            True, True, "HTTP 503")
        monitor.reply = lambda _hit: Reply(status=200)
        await fake.advance(10)
        await until(lambda: stats.pings >= 1)
        [beat] = [heartbeat_body(h) for h in daemon.workers.heartbeats.status()]
        assert beat["failing"] is False


async def test_a_stopping_daemon_pings_no_more_while_it_drains_its_sinks(
        monkeypatch: pytest.MonkeyPatch, process_state: None, monitor: Receiver) -> None:
    """Once a stop is asked the heartbeat falls silent at once, though the daemon still
    waits for a sink to deliver its backlog: a stopping watcher is not a well one."""
    register(monkeypatch)
    fake = FakeClock(seed=3)
    daemon = Daemon(parse_config(daemon_config(monitor, interval="1s", kind="healthchecks")),
                    clock=fake)
    delivering = anyio.Event()

    async def hang(batch: object) -> None:
        delivering.set()
        await anyio.sleep_forever()
    async with anyio.create_task_group() as tg:
        tg.start_soon(daemon.run)
        await daemon.started.wait()
        assert daemon.workers is not None
        stats = daemon.workers.heartbeats.stats["deadman"]
        await until(lambda: stats.pings >= 1)
        monkeypatch.setattr(daemon.workers.runners["out"].obj.sink, "deliver", hang)
        provider: ScriptedProvider = daemon.workers.pollers["src"].obj.provider  # type: ignore[assignment]
        provider.fails_with = TransientError("503 Service Unavailable")  # -> source.failing
        await fake.run_until(delivering.is_set, within=60)
        daemon.request_stop()
        await until(lambda: daemon.stopping)
        await anyio.sleep(0.2)  # a request on its way before the stop lands
        hits = len(monitor.hits)
        for _ in range(5):  # the drain waits up to 10 s for the sink
            await fake.advance(1.0)
            await anyio.sleep(0.05)
        assert daemon.workers.runners, "the daemon was not draining any more"
        assert len(monitor.hits) == hits, "pinged while stopping"
        await fake.advance(10.0)
