"""A maintenance window in a running daemon, on the spring-forward night in Berlin: the
whole daemon in-process on a fake clock set to 2026-03-29, a scripted provider whose
runs fail on cue, a real HTTP receiver behind a webhook.

``daily 01:55 - 03:05`` that night opens at 01:55 CET (00:55 UTC) and closes at 03:05
CEST (01:05 UTC): ten minutes, not seventy.  A failure before, two inside and one after
show it: the receiver gets the first and the last, the window counts two, and the
status snapshot and /metrics name the window while it is open."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import anyio
import orjson
import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.scripted import ScriptedProvider, register
from tests.sinks.receiver import Receiver
from tests.support import parse_config, toml
from watcher.runtime.daemon import Daemon
from watcher.server import metrics
from watcher.testing import FakeClock

pytestmark = pytest.mark.anyio


def utc(hhmm: str) -> float:
    return datetime.fromisoformat(f"2026-03-29T{hhmm}:00").replace(tzinfo=UTC).timestamp()


WINDOW = """
[[silences]]
name = "nightly-maintenance"
match = { status = "failed" }
schedule = "daily 01:55 - 03:05"
timezone = "Europe/Berlin"
"""


async def test_a_window_opens_and_closes_at_local_times_across_spring_forward(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, process_state: None) -> None:
    """Failures at 00:48, 00:58, 01:02 and 01:08 UTC: only those at 00:48 (01:48 CET)
    and 01:08 (03:08 CEST) reach the webhook; the window holds two and shows in the
    status snapshot while open, with its opening's start and end."""
    register(monkeypatch)
    fake = FakeClock(start=utc("00:40"), seed=2)
    with Receiver() as hook:
        cfg = parse_config(toml(
            {"state_path": str(tmp_path / "state.db"), "http_listen": ""},
            [{"name": "src", "provider": "scripted", "token": "t", "interval": "10s"}],
            [{"name": "hook", "type": "webhook", "url": hook.url}]) + WINDOW)
        daemon = Daemon(cfg, clock=fake)
        shown: list[list[tuple[str, str, float, float]]] = []
        active: list[float] = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(daemon.run)
            await daemon.started.wait()
            assert daemon.workers is not None
            p: ScriptedProvider = daemon.workers.pollers["src"].obj.provider  # type: ignore
            p.runs = {f"r{i}": "running" for i in range(1, 5)}
            for i, at in enumerate(("00:48", "00:58", "01:02", "01:08"), 1):
                await fake.advance(utc(at) - fake())
                p.runs[f"r{i}"] = "failed"
                await fake.advance(30)
                shown.append([(s.label, s.kind, s.starts, s.ends)
                              for s in daemon.snapshot().silences])
                active.append(windows_active(daemon))
            runner = daemon.workers.runners["hook"].obj
            deadline = time.monotonic() + 20
            while len(hook.delivered()) < 2:
                assert time.monotonic() < deadline
                await anyio.sleep(0.02)
            await anyio.sleep(0.3)
            [sink] = daemon.snapshot().sinks
            daemon.request_stop()
    delivered = [orjson.loads(h.body) for h in hook.delivered()]
    assert [e["subject"] for e in delivered if e["data"]["status"] == "failed"] == ["r1", "r4"]
    assert runner.stats.silenced == sink.stats.silenced == {"nightly-maintenance": 2}
    opening = ("nightly-maintenance", "window", utc("00:55"), utc("01:05"))
    assert shown == [[], [opening], [opening], []]
    assert active == [0, 1, 1, 0]


def windows_active(daemon: Daemon) -> float:
    """``watcher_silences_active{kind="window"}`` as /metrics would say now."""
    text = generate_latest(metrics.registry_for(daemon.snapshot, sse_clients=lambda: 0)).decode()
    return next(s.value for fam in text_string_to_metric_families(text) for s in fam.samples
                if s.name == "watcher_silences_active" and s.labels["kind"] == "window")
