"""PagerDuty sink against a stand-in Events API v2 on loopback that checks the documented
schema: trigger and resolve with one dedup_key per incident, the alert's fields, 429 and
5xx retried, a 400 dead-lettered with PagerDuty's words, and a daemon paging for real."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.sinks.pagerduty_api import KEY, FakePagerDuty
from tests.sinks.runs import sink_config
from tests.support import DaemonProc, SimThread, sim_source, toml
from watcher.core.episodes import evaluate
from watcher.core.events import (
    RUN_STATUS_CHANGED,
    RUN_STUCK,
    SOURCE_FAILING,
    SOURCE_RECOVERED,
    run_event,
    source_event,
)
from watcher.core.rules import FAILURE_RATE, Rule
from watcher.infra.clock import wall
from watcher.model import Event, JournalEntry, RunDetails, Status
from watcher.sinks import sink_class
from watcher.sinks.base import Rejected, Sink, SinkContext
from watcher.state.journal import entry_of
from watcher.testing.conformance import Bench

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000.0
FAST = {"backoff": "10ms", "max_backoff": "100ms"}
_seq = itertools.count(1)


@pytest.fixture
def pd() -> Iterator[FakePagerDuty]:
    with FakePagerDuty() as fake:
        yield fake  # type: ignore[misc]


def sink(pd: FakePagerDuty, **keys: Any) -> Sink:
    cfg = sink_config({"type": "pagerduty", "routing_key": KEY, "base_url": pd.base_url,
                       **FAST, **keys})
    cls = sink_class("pagerduty")
    assert cls is not None
    return cls(cfg, SinkContext(clock=wall))


def journaled(*events: Event) -> list[JournalEntry]:
    entries = [entry_of(e) for e in events]
    for e in entries:
        e.seq = next(_seq)
    return entries


def run(status: str, run_id: str, *, at: float = T0, type_: str = RUN_STATUS_CHANGED,
        error: str | None = "Extraction failed: page 3 is unreadable") -> Event:
    return run_event(type_, source="prod", provider="extend", run_id=run_id,
                     status=Status(status), raw_status=status.upper(),
                     previous=(Status.RUNNING, "PROCESSING"),
                     details=RunDetails(workflow_id="wf1", workflow_name="Invoice Processing",
                                        url=f"https://dashboard.extend.ai/runs/{run_id}",
                                        error=error if status == "failed" else None),
                     now=at, id_key=at)


def episode() -> tuple[Event, Event]:
    """A degraded and a recovered event, decided by the rules themselves."""
    rule = Rule("invoices", FAILURE_RATE, 0.5, 0.4, window=1800.0, min_finished=3)
    runs = journaled(*(run("failed", f"r{i}", at=T0 + i) for i in range(3)),
                     *(run("succeeded", f"s{i}", at=T0 + 10 + i) for i in range(5)))
    decided = evaluate([rule], {}, runs).events
    assert [e.type for e in decided] == ["watcher.workflow.degraded",
                                         "watcher.workflow.recovered"]
    return decided[0], decided[1]


async def test_a_degraded_workflow_triggers_and_its_recovery_resolves_the_same_incident(
        pd: FakePagerDuty) -> None:
    """workflow.degraded is a trigger, workflow.recovered a resolve, with one dedup_key; the
    alert says what the rule saw and links the failed runs."""
    degraded, recovered = episode()
    s = sink(pd)
    assert await s.deliver(journaled(degraded, recovered)) == []
    await s.aclose()
    key = "watcher/workflow/invoices/prod/wf1"
    assert pd.actions() == [("trigger", key), ("resolve", key)]
    trigger = pd.accepted[0]
    p = trigger["payload"]
    assert p["summary"] == ("Invoice Processing is degraded on prod: 3 of 3 runs failed in "
                            "the last 30m (100%, above 50%)")
    assert (p["source"], p["severity"], p["component"], p["group"], p["class"]) == \
        ("prod", "error", "Invoice Processing", "extend", "workflow.degraded")
    assert p["timestamp"] == degraded.data["episode_started_at"]
    assert p["custom_details"]["rule"] == "invoices"
    assert p["custom_details"]["failed"] == 3 and p["custom_details"]["event_id"] == degraded.id
    assert [link["href"] for link in trigger["links"]] == \
        [f"https://dashboard.extend.ai/runs/r{i}" for i in range(3)]
    assert "payload" not in pd.accepted[1]


async def test_sources_and_runs_open_and_resolve_incidents_of_their_own(
        pd: FakePagerDuty) -> None:
    """A failing source and a stuck or failed run trigger; their recovery resolves the same
    key; a run merely moving along is acknowledged without a request."""
    failing = source_event(SOURCE_FAILING, source="prod", provider="extend", now=T0, since=T0,
                           data={"error": "401 Unauthorized: bad key",
                                 "consecutive_failures": 3})
    back = source_event(SOURCE_RECOVERED, source="prod", provider="extend", now=T0 + 60,
                        since=T0, data={"down_for_s": 60})
    s = sink(pd)
    rejected = await s.deliver(journaled(
        failing, back, run("running", "a", type_=RUN_STUCK), run("running", "b"),
        run("succeeded", "a"), run("rejected", "c")))
    await s.aclose()
    assert rejected == []
    assert pd.actions() == [("trigger", "watcher/source/prod"), ("resolve", "watcher/source/prod"),
                            ("trigger", "watcher/run/prod/a"), ("resolve", "watcher/run/prod/a"),
                            ("trigger", "watcher/run/prod/c")]
    assert pd.accepted[0]["payload"]["summary"] == \
        "Source prod is failing: 401 Unauthorized: bad key"
    assert [ev["payload"]["severity"] for ev in pd.accepted if ev["event_action"] == "trigger"] \
        == ["error", "warning", "warning"]
    assert pd.accepted[4]["links"] == [{"href": "https://dashboard.extend.ai/runs/c",
                                        "text": "Run c (rejected)"}]
    assert pd.accepted[4]["payload"]["class"] == "run.rejected"


async def test_severity_is_configured_per_event_type_and_run_status(pd: FakePagerDuty) -> None:
    """``severity`` overrides the defaults by short type or by status."""
    degraded, _ = episode()
    s = sink(pd, severity={"workflow.degraded": "critical", "failed": "info"})
    await s.deliver(journaled(degraded, run("failed", "x"), run("running", "y", type_=RUN_STUCK)))
    await s.aclose()
    assert [ev["payload"]["severity"] for ev in pd.accepted] == ["critical", "info", "warning"]


async def test_a_429_is_waited_out_and_a_5xx_retried_until_pagerduty_takes_the_event(
        pd: FakePagerDuty) -> None:
    """PagerDuty throttling (429, Retry-After) pauses the sink, a 500 is tried again, and
    the event then goes through."""
    pd.busy, pd.retry_after, pd.errors = 2, "1", 1
    async with Bench(sink(pd), clock=wall) as bench:
        await bench.journal_events([run("failed", "x")])
        await bench.deliver()
        assert await bench.dead() == []
    assert [h.status for h in pd.hits] == [429, 429, 500, 202]
    assert pd.hits[2].at - pd.hits[0].at >= 2.0
    assert len(pd.accepted) == 1


async def test_a_400_is_a_dead_letter_with_pagerdutys_message_and_no_key(
        pd: FakePagerDuty) -> None:
    """A malformed event (here a routing key of the wrong length) is given up at once, the
    reason PagerDuty's own words, the key never quoted."""
    entries = journaled(run("failed", "x"))
    s = sink(pd, routing_key="too-short-a-routing-key")
    [refused] = await s.deliver(entries)
    await s.aclose()
    assert len(pd.hits) == 1
    assert isinstance(refused, Rejected) and refused.entry is entries[0]
    assert refused.reason == ("400 Event object is invalid: Length of 'routing_key' is "
                              "incorrect (should be 32 characters)")


async def test_a_huge_error_still_makes_a_summary_pagerduty_accepts(pd: FakePagerDuty) -> None:
    """The summary is cut to PagerDuty's 1024 characters, whatever the vendor said."""
    s = sink(pd)
    assert await s.deliver(journaled(run("failed", "x", error="overflow " * 2000))) == []
    await s.aclose()
    assert len(pd.accepted[0]["payload"]["summary"]) <= 1024


def test_a_bad_severity_is_a_config_error_at_its_key(pd: FakePagerDuty) -> None:
    """A severity PagerDuty does not have, or for an event it is not sent, is refused, the
    value quoted as TOML writes it."""
    from tests.support import parse_config
    from watcher.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        parse_config(toml({"state_path": ":memory:"}, sinks=[{
            "name": "oncall", "type": "pagerduty", "routing_key": KEY,
            "severity": {"failed": "loud"}}]))
    assert e.value.problems == [
        'sinks[0].severity: failed: "loud" is not one of critical, error, warning, info']


def test_a_daemon_pages_when_a_workflow_degrades_and_resolves_when_it_recovers(
        sim_thread: SimThread, tmp_path: Path, pd: FakePagerDuty) -> None:
    """A daemon watching the simulator triggers one incident when a workflow's runs start
    failing and resolves that same incident (same dedup_key) once they succeed again."""
    config = tmp_path / "watcher.toml"
    config.write_text(toml(
        {"state_path": str(tmp_path / "state.db"), "http_listen": ""},
        [sim_source(sim_thread.url, sim_thread.world, "extend", name="prod")],
        [{"name": "oncall", "type": "pagerduty", "routing_key": "${PD_ROUTING_KEY}",
          "base_url": pd.base_url,
          "match": {"types": ["workflow.degraded", "workflow.recovered"]}}])
        + '\n[[rules]]\nname = "invoices"\nfailure_rate_above = 0.5\nwindow = "1h"\n'
          'min_finished = 3\nmatch = { workflows = ["Invoice Processing"] }\n')
    daemon = DaemonProc("run", "-c", str(config), env={"PD_ROUTING_KEY": KEY})
    try:
        daemon.wait_log("baseline recorded", source="prod")

        def add(status: str, n: int) -> None:
            def make(w: Any) -> None:
                wf = w.workflow("extend", "Invoice Processing")
                for _ in range(n):
                    w.add_run("extend", status, workflow=wf, error="Upstream model timed out")
            sim_thread.call(make)
        add("FAILED", 3)
        pd.wait_for(lambda r: len(pd.accepted) >= 1)
        add("PROCESSED", 5)
        pd.wait_for(lambda r: len(pd.accepted) >= 2)
    finally:
        assert daemon.stop() == 0
    (trigger, key), (resolve, same) = pd.actions()
    assert (trigger, resolve) == ("trigger", "resolve") and key == same
    assert key.startswith("watcher/workflow/invoices/prod/")
    summary = pd.accepted[0]["payload"]["summary"]
    assert summary.startswith("Invoice Processing is degraded on prod: 3 of 3 runs failed")
    assert KEY not in daemon.err_text()
    assert all(s["error"] == "Upstream model timed out"
               for s in pd.accepted[0]["payload"]["custom_details"]["samples"])
    assert orjson.loads(pd.hits[0].body)["routing_key"] == KEY
