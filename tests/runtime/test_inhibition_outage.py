"""A source outage inhibits: the whole daemon in-process on a fake clock, a state file on
disk, a scripted source that keeps handing runs to the diff while its polls fail, and a
real webhook receiver on loopback.  What is held shows in the runner's counters, the
status snapshot, ``/status``'s document and ``/metrics``."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.exposition import generate_latest

from tests.runtime.test_reminders import provider, running, settle
from tests.runtime.test_resolutions import caught_up
from tests.scripted import register
from tests.sinks.receiver import Receiver
from tests.support import parse_config, toml
from watcher.errors import TransientError
from watcher.server.metrics import registry_for
from watcher.server.status import status_body
from watcher.testing import FakeClock

pytestmark = pytest.mark.anyio

FAILING, RECOVERED = "watcher.source.failing", "watcher.source.recovered"
CREATED = "watcher.run.created"
OUTAGE = ('\n[[inhibit]]\nname = "outage"\nsource = { types = ["source.failing"] }\n'
          'target = { statuses = ["failed"] }\nequal = ["source"]\n')


async def test_a_failing_source_holds_its_run_failures_back_until_it_recovers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, process_state: None) -> None:
    """The failure journaled as the source recovers (its outage's backlog, before its
    source.recovered) is held from the webhook and counted per rule and sink (/status,
    /metrics); the rule is listed as holding while the outage lasts; after
    source.recovered the next failure is delivered and nothing is listed as holding."""
    register(monkeypatch)
    fake = FakeClock(seed=3)
    with Receiver() as hook:
        cfg = parse_config(toml(
            {"state_path": str(tmp_path / "state.db"), "http_listen": ""},
            [{"name": "src", "provider": "scripted", "token": "t", "interval": "10s",
              "max_backoff": "10s", "failure_threshold": 1}],
            [{"name": "hook", "type": "webhook", "url": hook.url}]) + OUTAGE)
        async with running(cfg, fake, failing=False) as daemon:
            await fake.advance(11)  # the baseline
            provider(daemon).fails_with = TransientError("503 Service Unavailable")
            await fake.run_until(lambda: daemon.journal.counts[FAILING] == 1)
            await settle(hook, 1)
            await caught_up(daemon, "hook")
            during = daemon.snapshot()
            provider(daemon).runs = {"r1": "failed"}  # failed during the outage
            provider(daemon).fails_with = None
            await fake.run_until(lambda: daemon.journal.counts[RECOVERED] == 1)
            provider(daemon).runs["r2"] = "failed"
            await fake.run_until(lambda: daemon.journal.counts[CREATED] == 2)
            delivered = await settle(hook, 3)
            after = daemon.snapshot()
    assert [(e["type"], e["data"].get("run_id")) for e in delivered] == [
        (FAILING, None), (RECOVERED, None), (CREATED, "r2")]
    (holding,) = status_body(during)["inhibitions"]
    assert (holding["rule"], holding["episode"], holding["source"], holding["held"]) == (
        "outage", "source.failing", "src", {"hook": 0})
    assert status_body(after)["inhibitions"] == []
    (sink,) = status_body(after)["sinks"]
    assert sink["inhibited"] == 1
    text = generate_latest(registry_for(lambda: after, sse_clients=lambda: 0)).decode()
    assert 'watcher_events_inhibited_total{rule="outage",sink="hook"} 1.0' in text

