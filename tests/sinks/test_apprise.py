"""Apprise sink: real Apprise notifying a real receiver on loopback through its ``json://``
service, from a daemon and in-process; retries per URL, timeouts, and the config errors of
a missing extra or a URL Apprise cannot use."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.sinks.receiver import Hit, Receiver, Reply
from tests.sinks.runs import sink_config
from tests.support import DaemonProc, SimThread, run_cli, sim_source, toml
from watcher.core.events import RUN_STATUS_CHANGED, run_event
from watcher.infra.clock import wall
from watcher.model import Event, JournalEntry, RunDetails, Status
from watcher.sinks import sink_class
from watcher.sinks.base import Sink, SinkContext
from watcher.state.journal import entry_of
from watcher.testing.conformance import Bench

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000.0
FAST = {"backoff": "10ms", "max_backoff": "50ms"}
_seq = itertools.count(1)


def json_url(receiver: Receiver, path: str = "hook") -> str:
    """Apprise's JSON service pointed at ``receiver``."""
    return f"json://127.0.0.1:{receiver.port}/{path}"


def notifications(receiver: Receiver) -> list[dict[str, Any]]:
    return [orjson.loads(h.body) for h in receiver.delivered()]


def sink(urls: list[str], **keys: Any) -> Sink:
    cfg = sink_config({"type": "apprise", "urls": urls, **FAST, **keys})
    cls = sink_class("apprise")
    assert cls is not None
    return cls(cfg, SinkContext(clock=wall))


def failed_event(run_id: str) -> Event:
    return run_event(RUN_STATUS_CHANGED, source="prod", provider="extend", run_id=run_id,
                          status=Status.FAILED, raw_status="FAILED",
                          previous=(Status.RUNNING, "PROCESSING"),
                          details=RunDetails(workflow_id="wf1", workflow_name="Invoices",
                                             error="Page 3 is unreadable",
                                             url=f"https://dashboard.extend.ai/runs/{run_id}"),
                          now=T0, id_key=T0)


def failed(run_id: str) -> JournalEntry:
    e = entry_of(failed_event(run_id))
    e.seq = next(_seq)
    return e


async def test_a_failure_is_a_notification_with_a_title_and_a_plain_body(
        receiver: Receiver) -> None:
    """One event is one notification: the headline as title, the details as plain text,
    Apprise's failure type, and no Slack markup."""
    s = sink([json_url(receiver)])
    assert await s.deliver([failed("r1")]) == []
    await s.aclose()
    [note] = notifications(receiver)
    assert note["title"] == "Run failed in Invoices"
    assert note["type"] == "failure"
    body = note["message"]
    assert "Run: r1 (https://dashboard.extend.ai/runs/r1)" in body
    assert "Error: Page 3 is unreadable" in body and "Source: prod (extend)" in body
    assert "`" not in body and "<" not in body and "*" not in body


async def test_without_group_wait_each_event_is_its_own_notification(receiver: Receiver
                                                                     ) -> None:
    """Grouping is Slack's only when group_wait is set: three failures, three messages."""
    s = sink([json_url(receiver)])
    await s.deliver([failed(f"r{i}") for i in range(3)])
    await s.aclose()
    assert [n["title"] for n in notifications(receiver)] == ["Run failed in Invoices"] * 3
    grouped = sink([json_url(receiver)], group_wait="1s")
    assert grouped.linger == 1.0
    await grouped.deliver([failed(f"g{i}") for i in range(3)])
    assert notifications(receiver)[-1]["title"] == "3 runs failed in Invoices"


async def dead_after(s: Sink, *run_ids: str) -> list[tuple[str, str, int]]:
    """Deliver failures of ``run_ids`` through a real runner; the dead letters."""
    async with Bench(s, clock=wall) as bench:
        await bench.journal_events([failed_event(r) for r in run_ids])
        await bench.deliver()
        return await bench.dead()


async def test_a_failing_url_is_retried_alone_and_given_up_without_quoting_it() -> None:
    """With two URLs, the one that works is notified once; the one that keeps failing is
    retried, then its events become dead letters naming it by index, not by its secrets."""
    with Receiver() as good, Receiver(lambda hit: Reply(500)) as bad:
        secret_url = json_url(bad, "s3cr3t-t0ken")
        s = sink([json_url(good), secret_url], max_attempts=3)
        [(_, reason, attempts)] = await dead_after(s, "r1")
    assert len(good.delivered()) == 1 and len(bad.hits) == 3
    assert attempts == 3
    assert reason.startswith("urls[1]: ") and "gave up after 3 attempts" in reason
    assert "s3cr3t-t0ken" not in reason


async def test_a_service_that_recovers_gets_the_notification_on_a_retry() -> None:
    """A 500 from the service is retried with backoff and the retry delivers."""
    with Receiver(lambda hit: Reply(500) if hit.n == 1 else Reply()) as r:
        assert await dead_after(sink([json_url(r)]), "r1") == []
    assert [h.status for h in r.hits] == [500, 200]


async def test_a_service_that_hangs_costs_at_most_timeout_per_attempt() -> None:
    """Apprise blocks; its call is abandoned after ``timeout`` and counted as failed."""
    def hang(hit: Hit) -> Reply:
        return Reply(200, delay=5.0)
    with Receiver(hang) as r:
        s = sink([json_url(r)], timeout="300ms", max_attempts=1)
        [(_, reason, _)] = await dead_after(s, "r1")
    assert reason.startswith("urls[0]: timed out after 0.3s")


def test_a_daemon_notifies_through_apprise_grouping_a_burst(
        sim_thread: SimThread, tmp_path: Path, receiver: Receiver) -> None:
    """A daemon watching the simulator sends failures arriving together as one Apprise
    notification, the URL (a secret) masked by check and absent from its logs."""
    config = tmp_path / "watcher.toml"
    config.write_text(toml(
        {"state_path": str(tmp_path / "state.db"), "http_listen": ""},
        [sim_source(sim_thread.url, sim_thread.world, "extend", name="prod")],
        [{"name": "chat", "type": "apprise", "urls": ["${CHAT_URL}"], "group_wait": "2s",
          "match": {"status": ["failed"]}}]))
    url = json_url(receiver, "t0ken-in-path")
    checked = run_cli("check", "-c", str(config), env={"CHAT_URL": url})
    assert checked.returncode == 0 and 'urls = ["***"]' in checked.stdout.decode()
    daemon = DaemonProc("run", "-c", str(config), env={"CHAT_URL": url})
    try:
        daemon.wait_log("baseline recorded", source="prod")

        def burst(w: Any) -> None:
            wf = w.workflow("extend", "Invoice Processing")
            for _ in range(3):
                w.add_run("extend", "FAILED", workflow=wf, error="Upstream model timed out")
        sim_thread.call(burst)
        receiver.wait_for(lambda r: len(r.delivered()) >= 1)
    finally:
        assert daemon.stop() == 0
    [note] = notifications(receiver)
    assert note["title"] == "3 runs failed in Invoice Processing"
    assert note["message"].count("Upstream model timed out") == 3
    assert receiver.delivered()[0].path == "/t0ken-in-path"
    assert "t0ken-in-path" not in daemon.err_text()


def test_a_url_apprise_cannot_use_is_a_config_error_naming_it_by_index(tmp_path: Path
                                                                       ) -> None:
    """A malformed URL exits 78 at ``sinks[0].urls``, saying which one without quoting it."""
    config = tmp_path / "watcher.toml"
    config.write_text(toml({"state_path": ":memory:"}, sinks=[{
        "name": "chat", "type": "apprise",
        "urls": ["json://127.0.0.1:9/ok", "json2://hunter2@example.com"]}]))
    r = run_cli("check", "-c", str(config))
    assert r.returncode == 78
    err = r.stderr.decode()
    assert ("sinks[0].urls: urls[1] (json2://): not a URL Apprise can send to" in err), err
    assert "hunter2" not in err


def test_without_the_extra_an_apprise_sink_is_a_config_error_naming_it(tmp_path: Path) -> None:
    """With Apprise not installed, the config is refused (78) with the pip command."""
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "apprise.py").write_text("raise ModuleNotFoundError(\"No module named 'apprise'\")\n")
    config = tmp_path / "watcher.toml"
    config.write_text(toml({"state_path": ":memory:"}, sinks=[{
        "name": "chat", "type": "apprise", "urls": ["json://127.0.0.1:9/x"]}]))
    from tests.support import ROOT

    r = run_cli("check", "-c", str(config), env={"PYTHONPATH": f"{shim}:{ROOT}"})
    assert r.returncode == 78
    assert ('sinks[0].urls: needs Apprise, an optional extra: '
            'pip install "workflow-watcher[apprise]"') in r.stderr.decode()
