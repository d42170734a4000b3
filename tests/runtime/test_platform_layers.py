"""A GitHub Actions source (the simulator's) under silences, a health rule, reminders and
replicas, none of which has code of its own for GitHub: ``watcher once`` runs of the
daemon in-process on a frozen clock the simulator shares, a state file and a real
receiver; and two replica subprocesses on PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.replicas import Cluster
from tests.runtime.test_replica_readers import wait
from tests.sinks.receiver import Receiver
from tests.support import SimThread, lines_of, parse_config, sim_source, toml
from watcher.runtime.daemon import Daemon
from watcher.simulator import Simulator
from watcher.simulator.faults import Fault
from watcher.testing import FrozenClock

EXTRA = """
[[rules]]
name = "ci"
failure_rate_above = 0.5
window = "1h"
min_finished = 3

[[silences]]
name = "known-flaky"
match = { status = "failed" }
sinks = ["hook"]
starts = "2000-01-01T00:00:00Z"
ends = "2100-01-01T00:00:00Z"
"""


@pytest.mark.anyio
async def test_a_github_source_gets_silences_rules_and_reminders_from_the_shared_layers(
        tmp_path: Path, sim: Simulator, clock: FrozenClock, process_state: None) -> None:
    """After a silent baseline, three failed workflow runs and one left in_progress: the
    rule journals workflow.degraded, the stuck run is reminded of a minute on; the hook's
    silence holds back the failed runs' events (the file sink, not named, has them)."""
    all_events = tmp_path / "all.jsonl"
    with Receiver() as hook:
        cfg = parse_config(toml(
            {"state_path": str(tmp_path / "state.db"), "http_listen": ""},
            [sim_source(sim.url, sim.world, "github", name="gh", stuck_after="30s")],
            [{"name": "hook", "type": "webhook", "url": hook.url, "repeat_interval": "1m"},
             {"name": "all", "type": "file", "path": str(all_events)}]) + EXTRA)
        assert await Daemon(cfg, clock=clock).once() == 0  # the baseline: nothing yet
        wf = sim.world.workflow("github", "CI")
        live = sim.world.add_run("github", "in_progress", workflow=wf)
        failed = [sim.world.add_run("github", "in_progress", workflow=wf) for _ in range(3)]
        clock.advance(5)
        for run in failed:
            sim.world.set_status(run, "failure")
        for wait in (5, 40, 61):
            clock.advance(wait)
            assert await Daemon(cfg, clock=clock).once() == 0
        hooked = [orjson.loads(h.body) for h in hook.delivered()]
    every = list(lines_of(all_events.read_bytes()))

    def kinds(events: list[dict[str, Any]]) -> list[str]:
        return sorted(e["type"].removeprefix("watcher.") for e in events
                      if e["type"].startswith(("watcher.workflow.", "watcher.run.stuck",
                                               "watcher.run.reminder")))

    assert kinds(hooked) == ["run.reminder", "run.stuck", "workflow.degraded"]
    assert {e["subject"] for e in hooked if e["type"].startswith("watcher.run.")} == {live.id}
    assert not [e for e in hooked if e["data"].get("status") == "failed"]
    failures = {e["subject"] for e in every if e["data"].get("status") == "failed"
                and e["data"].get("provider") == "github"}
    assert failures == {r.id for r in failed}
    assert kinds(every) == kinds(hooked)


def test_two_replicas_journal_a_github_sources_failure_once(
        tmp_path: Path, sim_thread: SimThread, receiver: Receiver, pg_url: str) -> None:
    """Two replicas on PostgreSQL, one GitHub source answering 500: source.failing is
    journaled and delivered once, not once per replica, and so is its recovery."""
    cluster = Cluster(tmp_path, sim_thread, receiver, pg_url, per_vendor=1,
                      vendors=("github",))
    for name in ("a", "b"):
        cluster.start(name)
    try:
        cluster.wait_baselined()
        cluster.wait_held()
        sim_thread.call(lambda w: w.faults.add("github", Fault("status", times=10**6)))
        wait(lambda: outage(cluster) == ["failing"], "the failing event", timeout=60)
        time.sleep(3 * cluster.interval)  # the other replica had its chance to journal one
        assert outage(cluster) == ["failing"]
        sim_thread.call(lambda w: w.faults.clear("github"))
        wait(lambda: outage(cluster) == ["failing", "recovered"], "the recovery", timeout=60)
        wait(lambda: len(hooked(cluster)) == 2, "both delivered")
        time.sleep(2 * cluster.interval)
    finally:
        codes = [cluster.stop(name) for name in ("a", "b")]
    assert outage(cluster) == ["failing", "recovered"]
    assert hooked(cluster) == ["failing", "recovered"]
    assert codes == [0, 0]


def outage(cluster: Cluster) -> list[str]:
    """The source events the cluster journaled, in order."""
    return [e.type.removeprefix("watcher.source.") for e in cluster.journal()
            if e.type in ("watcher.source.failing", "watcher.source.recovered")]


def hooked(cluster: Cluster) -> list[str]:
    """The source events the webhook sink delivered (from whichever replica held it)."""
    return [e["type"].removeprefix("watcher.source.") for _, _, e in cluster.deliveries()
            if e["type"] in ("watcher.source.failing", "watcher.source.recovered")]
