"""The journal readers that write back (health rules, reminders) run on one replica at a
time: real replicas on PostgreSQL, the simulator and a webhook receiver on loopback."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.replicas import Cluster
from tests.runtime.test_rules_daemon import RULE, runs
from tests.sinks.receiver import Receiver
from tests.support import SimThread


def health(cluster: Cluster) -> list[str]:
    return [e.type.removeprefix("watcher.workflow.") for e in cluster.journal()
            if e.type.startswith("watcher.workflow.")]


def holder(cluster: Cluster, lease: str) -> str | None:
    """The replica that took ``lease`` last of those whose logs show it still held.

    The logs of two processes cannot say who holds it *now*: a replica's "given back"
    line may still be on its way through its stderr while the other's "taken" line is
    read, and one whose lease lapsed under load says "lease lost" only at its next keeper
    pass, after the other took it over (its fence kept it from acting meanwhile).  That
    the readers act one at a time is held by what they journal: one event each."""
    held = [(h.start, name) for name, hs in cluster.holdings().items()
            for h in hs if h.lease == lease and h.end is None]
    return max(held)[1] if held else None


def wait(pred: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if got := pred():
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_one_replica_evaluates_the_rules_and_another_takes_over_after_a_kill(
        tmp_path: Path, sim_thread: SimThread, receiver: Receiver, pg_url: str) -> None:
    """Two replicas journal one degraded event, not one each; after the rules' holder is
    killed the other takes ``reader:rules`` over from the committed episode and journals
    the recovery once, without a second degraded event."""
    cluster = Cluster(tmp_path, sim_thread, receiver, pg_url, per_vendor=1,
                      vendors=("extend",))
    cluster.path.write_text(cluster.path.read_text() + RULE)
    for name in ("a", "b"):
        cluster.start(name)
    cluster.wait_baselined()
    first = wait(lambda: holder(cluster, "reader:rules"), "a replica holding reader:rules")
    assert wait(lambda: holder(cluster, "reader:reminders"), "reader:reminders held")
    runs(sim_thread, "FAILED", 3)
    wait(lambda: health(cluster) == ["degraded"], "the degraded event")
    time.sleep(2 * cluster.interval)  # the other replica had its chance to journal one
    assert health(cluster) == ["degraded"]
    cluster.kill(first)
    other = "b" if first == "a" else "a"
    wait(lambda: holder(cluster, "reader:rules") == other, "the takeover")
    runs(sim_thread, "PROCESSED", 5)
    wait(lambda: "recovered" in health(cluster), "the recovery")
    time.sleep(2 * cluster.interval)
    assert health(cluster) == ["degraded", "recovered"]
    assert cluster.stop(other) == 0
