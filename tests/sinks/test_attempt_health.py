"""The runner reports every attempt of an HTTP sink to its health: failing (with the
reason, a retry counted, one error log) from the first refused attempt, and recovered
(one info log) at the first one that succeeds.  Real sinks through a real runner,
posting to a closed loopback port, then to a real receiver opened on that port, on a
fake clock that moves only when the test says so."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
import structlog

from tests.http_support import free_port
from tests.sinks.pagerduty_api import KEY, FakePagerDuty
from tests.sinks.receiver import Receiver, Reply
from tests.sinks.runs import sink_config
from tests.sinks.test_apprise import failed_event
from watcher.sinks import sink_class
from watcher.sinks.base import SinkContext
from watcher.testing import FakeClock
from watcher.testing.conformance import Bench

pytestmark = pytest.mark.anyio

RETRY = {"backoff": "1s", "max_backoff": "1s", "max_attempts": 100}


def table(kind: str, port: int) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/hook"
    if kind == "webhook":
        return {"type": "webhook", "url": url, **RETRY}
    if kind == "slack":
        return {"type": "slack", "webhook_url": url, "group_wait": "0s", **RETRY}
    if kind == "apprise":
        return {"type": "apprise", "urls": [f"json://127.0.0.1:{port}/hook"], **RETRY}
    return {"type": "pagerduty", "routing_key": KEY, "base_url": f"http://127.0.0.1:{port}",
            **RETRY}


async def until(done: Any, *, advancing: FakeClock | None = None) -> None:
    """Wait (real time: the attempts are real HTTP) until ``done()``, moving ``advancing``
    a second at a time meanwhile."""
    deadline = time.monotonic() + 20
    while not done():
        assert time.monotonic() < deadline
        if advancing is not None:
            await advancing.advance(1.0)
        await anyio.sleep(0.01)


@pytest.mark.parametrize("kind", ["webhook", "slack", "pagerduty", "apprise"])
async def test_a_refused_attempt_makes_the_sink_failing_and_a_good_one_recovers_it(
        kind: str) -> None:
    """One refused attempt: failing, one retry, the reason without the URL, one error log;
    the receiver back and the retry due: delivered, not failing, one recovery log."""
    port = free_port()
    fake = FakeClock(seed=1)
    cfg = sink_config(table(kind, port))
    cls = sink_class(cfg.type)
    assert cls is not None
    with structlog.testing.capture_logs() as logs:
        async with Bench(cls(cfg, SinkContext(clock=fake)), clock=fake) as bench, \
                anyio.create_task_group() as tg:
            [entry] = await bench.journal_events([failed_event("r1")])
            health = bench.runner.health
            tg.start_soon(lambda: bench.runner.run(until_idle=True))
            await until(lambda: health.failing and fake.sleeping)
            down = (health.stats.retries, health.last_error)
            with Receiver(port=port) if kind != "pagerduty" else FakePagerDuty(port=port):
                await until(lambda: bench.runner.cursor >= entry.seq, advancing=fake)
    assert down[0] == 1 and down[1] is not None and "/hook" not in down[1]
    assert bench.runner.stats.delivered == 1 and bench.runner.stats.dead == 0
    assert not health.failing and health.last_error is None
    errors = [e["event"] for e in logs if e["log_level"] == "error"]
    assert errors == ["sink delivery failing, will retry"]
    assert [e["event"] for e in logs if e["event"] == "sink delivery recovered"] == [
        "sink delivery recovered"]


@pytest.mark.parametrize("kind", ["webhook", "slack"])
async def test_one_event_refused_for_good_is_a_dead_letter_not_a_failing_sink(kind: str) -> None:
    """A receiver that is up and answers 400 to one event: the event is given up (a dead
    letter), and the sink is not failing, counts no retry and logs no failing sink."""
    fake = FakeClock(seed=1)
    with Receiver(lambda _hit: Reply(status=400)) as receiver, \
            structlog.testing.capture_logs() as logs:
        cfg = sink_config(table(kind, receiver.port))
        cls = sink_class(cfg.type)
        assert cls is not None
        async with Bench(cls(cfg, SinkContext(clock=fake)), clock=fake) as bench:
            await bench.journal_events([failed_event("r1")])
            await bench.deliver()
            dead = await bench.dead()
    health = bench.runner.health
    assert len(dead) == 1 and "400" in dead[0][1] and dead[0][2] == 1
    assert not health.failing and health.stats.retries == 0
    assert not [e for e in logs if e["event"].startswith("sink delivery failing")]
