"""A sink whose destination is down is failing everywhere from its first refused attempt,
though webhook and PagerDuty retry inside their own delivery: ``watcher_sink_failing`` and
``watcher_sink_retries_total`` on /metrics, ``failing`` with the last error in /status
(what the status page shows), one error log line; and it recovers, once, when the
receiver comes back.

The whole daemon runs in-process on a fake clock with its listener on a real loopback
port; a scripted source fails, so a ``source.failing`` event goes out (PagerDuty pages
it); the destination is a closed loopback port, then a real receiver on that port."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import orjson
import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families

from tests.http_support import free_port, http_get
from tests.runtime.test_reminders import provider
from tests.scripted import register
from tests.sinks.pagerduty_api import KEY, FakePagerDuty
from tests.sinks.receiver import Receiver
from tests.support import parse_config, toml
from watcher.errors import TransientError
from watcher.runtime.daemon import Daemon
from watcher.testing import FakeClock

pytestmark = pytest.mark.anyio

#: retried for as long as the test needs, a second apart at most
PATIENT = {"backoff": "1s", "max_backoff": "1s", "max_attempts": 1000, "max_age": "30d"}


def destination(kind: str, port: int) -> dict[str, Any]:
    if kind == "webhook":
        return {"name": "dest", "type": "webhook", "url": f"http://127.0.0.1:{port}/hook",
                **PATIENT}
    return {"name": "dest", "type": "pagerduty", "routing_key": KEY,
            "base_url": f"http://127.0.0.1:{port}", **PATIENT}


def receiver(kind: str, port: int) -> Receiver:
    return Receiver(port=port) if kind == "webhook" else FakePagerDuty(port=port)


async def seen(base: str) -> tuple[dict[str, float], dict[str, Any]]:
    """The sink's samples on /metrics and its entry in /status, over HTTP."""
    code, text = await anyio.to_thread.run_sync(http_get, base + "/metrics")
    assert code == 200
    samples = {s.name: s.value for fam in text_string_to_metric_families(text.decode())
               for s in fam.samples if s.labels.get("sink") == "dest"}
    code, body = await anyio.to_thread.run_sync(http_get, base + "/status")
    assert code == 200
    [sink] = orjson.loads(body)["sinks"]
    return samples, sink


@pytest.mark.parametrize("kind", ["webhook", "pagerduty"])
async def test_a_dead_destination_is_failing_from_its_first_refused_attempt_until_it_is_back(
        kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        process_state: None) -> None:
    """After one refused attempt: failing 1, one retry, /status failing with a URL-free
    last error, one error log; once a receiver listens there: the event arrives, failing 0,
    /status clear, one recovery log line."""
    register(monkeypatch)
    fake = FakeClock(seed=3)
    port, listen = free_port(), free_port()
    cfg = parse_config(toml(
        {"state_path": str(tmp_path / "state.db"), "http_listen": f"127.0.0.1:{listen}"},
        [{"name": "src", "provider": "scripted", "token": "t", "interval": "10s",
          "failure_threshold": 1}],
        [destination(kind, port)]))
    base = f"http://127.0.0.1:{listen}"
    daemon = Daemon(cfg, clock=fake)
    with structlog.testing.capture_logs() as logs:
        async with anyio.create_task_group() as tg:
            tg.start_soon(daemon.run)
            await daemon.started.wait()
            assert daemon.workers is not None
            runner = daemon.workers.runners["dest"].obj
            provider(daemon).fails_with = TransientError("503 Service Unavailable")
            await fake.run_until(lambda: runner.stats.failures > 0, within=60)
            down, down_status = await seen(base)
            errors = [e for e in logs if e["log_level"] == "error" and e.get("sink") == "dest"]
            with receiver(kind, port) as back:
                await fake.advance(1.0)  # the retry is due
                deadline = time.monotonic() + 20
                while runner.failing or not back.delivered():
                    assert time.monotonic() < deadline, "no delivery to the receiver back"
                    await anyio.sleep(0.02)
                up, up_status = await seen(base)
            daemon.request_stop()
    assert down["watcher_sink_failing"] == 1
    assert down["watcher_sink_retries_total"] == 1
    assert down_status["failing"] is True and down_status["delivered"] == 0
    assert down_status["last_error"].startswith("cannot connect")
    assert "/hook" not in down_status["last_error"] and "enqueue" not in down_status["last_error"]
    assert down_status["failing_since"] is not None
    assert [e["event"] for e in errors] == ["sink delivery failing, will retry"]
    assert up["watcher_sink_failing"] == 0 and up["watcher_sink_deliveries_total"] >= 1
    assert up_status["failing"] is False and up_status["last_error"] is None
    recovered = [e for e in logs if e["event"] == "sink delivery recovered"]
    assert len(recovered) == 1 and recovered[0]["sink"] == "dest"
