"""Inhibition with replicas: two daemons on PostgreSQL, the simulator and a webhook receiver
on loopback.  Which events are held is decided from the journal's order and the episodes
kept with the sink's cursor, so the replica that takes a sink over holds the same."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson

from tests.replicas import Cluster
from tests.runtime.test_inhibition_daemon import FAILED, INHIBIT
from tests.runtime.test_replica_readers import health, holder, wait
from tests.runtime.test_rules_daemon import RULE
from tests.sinks.receiver import Receiver
from tests.support import SimThread


def add(sim: SimThread, status: str, n: int) -> list[str]:
    made: list[str] = []

    def make(w: Any) -> None:
        wf = w.workflow("extend", "Invoice Processing")
        made.extend(w.add_run("extend", status, workflow=wf).id for _ in range(n))
    sim.call(make)
    return made


def hooked(receiver: Receiver) -> list[dict[str, Any]]:
    return [orjson.loads(h.body) for h in receiver.delivered()]


def test_the_replica_taking_a_sink_over_holds_what_the_open_episode_holds(
        tmp_path: Path, sim_thread: SimThread, receiver: Receiver, pg_url: str) -> None:
    """The webhook's holder is killed after the degraded event reached it; the other
    replica delivers from then on and holds the workflow's failures back all the same;
    the recovery is journaled once and counts them."""
    cluster = Cluster(tmp_path, sim_thread, receiver, pg_url, per_vendor=1,
                      vendors=("extend",), extra=RULE + INHIBIT)
    for name in ("a", "b"):
        cluster.start(name)
    cluster.wait_baselined()
    add(sim_thread, "FAILED", 3)
    wait(lambda: any(e["type"].endswith("degraded") for e in hooked(receiver)),
         "the degraded event at the webhook")
    first = wait(lambda: holder(cluster, "sink:hook"), "a replica holding sink:hook")
    cluster.kill(first)
    other = "b" if first == "a" else "a"
    wait(lambda: holder(cluster, "sink:hook") == other, "the takeover of sink:hook")
    held = add(sim_thread, "FAILED", 2)
    wait(lambda: set(held) <= {e.run_id for e in cluster.journal()}, "the held failures")
    add(sim_thread, "PROCESSED", 8)
    wait(lambda: any(e["type"].endswith("recovered") for e in hooked(receiver)),
         "the recovery at the webhook")
    time.sleep(2 * cluster.interval)
    assert health(cluster) == ["degraded", "recovered"]
    got = {e["data"].get("run_id") for e in hooked(receiver) if e["type"] in FAILED}
    assert not set(held) & got
    recovered = next(e for e in hooked(receiver) if e["type"].endswith("recovered"))
    assert recovered["data"]["inhibited"]["count"] == 2
    assert sorted(recovered["data"]["inhibited"]["runs"]) == sorted(held)
    assert cluster.stop(other) == 0
