"""A silence holds back new notifications, never the end of one a sink already got: the
whole daemon in-process on a fake clock, a state file on disk, a scripted source failing
on cue, a real webhook receiver and a stand-in for PagerDuty's Events API on loopback.
What each sink was told is read back from the state file, so the decision holds across a
restart (and whichever replica delivers)."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from tests.runtime.test_reminders import provider, running, settle
from tests.scripted import register
from tests.sinks.pagerduty_api import KEY, FakePagerDuty
from tests.sinks.receiver import Receiver
from tests.support import parse_config, toml
from watcher.cli.silence_view import held_counts
from watcher.core.silences import Silence
from watcher.errors import TransientError
from watcher.runtime.daemon import Daemon
from watcher.state.backends import open_store
from watcher.state.silences import save
from watcher.testing import FakeClock

pytestmark = pytest.mark.anyio

FAILING, RECOVERED = "watcher.source.failing", "watcher.source.recovered"


async def accepted(pd: FakePagerDuty, n: int) -> list[tuple[str, str]]:
    """Let real time pass until PagerDuty took ``n`` events, virtual time standing still."""
    deadline = time.monotonic() + 20
    while len(pd.accepted) < n:
        assert time.monotonic() < deadline, f"{len(pd.accepted)} of {n} events arrived"
        await anyio.sleep(0.02)
    return pd.actions()


async def caught_up(daemon: Daemon, *sinks: str) -> None:
    """Wait until each sink's cursor is at the journal's head (delivered or held)."""
    assert daemon.workers is not None
    deadline = time.monotonic() + 20
    for name in sinks:
        runner = daemon.workers.runners[name].obj
        while runner.cursor < daemon.journal.head:
            assert time.monotonic() < deadline, f"{name} is behind"
            await anyio.sleep(0.02)


async def test_a_silence_added_mid_outage_lets_the_resolve_through_and_holds_new_alerts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, process_state: None) -> None:
    """source.failing pages PagerDuty and reaches the webhook; after a restart a silence on
    the source is added; source.recovered still resolves the incident and reaches the
    webhook; the next outage's failing and recovered are both held back and counted, by
    the runners and by ``silence list``."""
    register(monkeypatch)
    fake = FakeClock(seed=5)
    with Receiver() as hook, FakePagerDuty() as pd:
        cfg = parse_config(toml(
            {"state_path": str(tmp_path / "state.db"), "http_listen": ""},
            [{"name": "src", "provider": "scripted", "token": "t", "interval": "10s",
              "max_backoff": "10s", "failure_threshold": 1}],
            [{"name": "hook", "type": "webhook", "url": hook.url,
              "match": {"types": ["source.failing", "source.recovered"]}},
             {"name": "pager", "type": "pagerduty", "routing_key": KEY,
              "base_url": pd.base_url}]))
        async with running(cfg, fake, failing=True) as daemon:
            await fake.run_until(lambda: daemon.journal.counts[FAILING] == 1)
            await settle(hook, 1)
            await accepted(pd, 1)
        async with running(cfg, fake, failing=True) as daemon:
            await fake.advance(5)  # the outage goes on
            await save(daemon.journal.store, Silence(
                id="maint", match={"source": ("src",)}, starts=fake(),
                ends=fake() + 86400, author="oncall", created=fake()))
            await fake.advance(2)  # the silencer reads the store every second
            provider(daemon).fails_with = None
            await fake.run_until(lambda: daemon.journal.counts[RECOVERED] == 1)
            delivered = await settle(hook, 2)
            actions = await accepted(pd, 2)
            provider(daemon).fails_with = TransientError("503 Service Unavailable")
            await fake.run_until(lambda: daemon.journal.counts[FAILING] == 1)
            provider(daemon).fails_with = None
            await fake.run_until(lambda: daemon.journal.counts[RECOVERED] == 2)
            await caught_up(daemon, "hook", "pager")
            assert daemon.workers is not None
            silenced = {name: dict(daemon.workers.runners[name].obj.stats.silenced)
                        for name in ("hook", "pager")}
    assert [e["type"] for e in delivered] == [FAILING, RECOVERED]
    assert actions == [("trigger", "watcher/source/src"), ("resolve", "watcher/source/src")]
    assert len(hook.delivered()) == 2 and pd.actions() == actions
    assert silenced == {"hook": {"maint": 2}, "pager": {"maint": 2}}
    store = await open_store(str(tmp_path / "state.db"))
    try:
        assert await held_counts(store, cfg) == {"maint": 2}
    finally:
        await store.close()
