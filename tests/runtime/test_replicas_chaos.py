"""Three replicas on PostgreSQL under trouble (README: Running several replicas), as real
subprocesses against the simulator and a real webhook receiver, the world changing all
the time: kill -9, SIGSTOP past the lease, pg_terminate_backend, stop all and start two.
Invariants, not timings:
every transition journaled exactly once and delivered at least once (duplicates are the
same event), the paused replica polls and delivers nothing it lost, a dead replica's
sources polled again within lease_ttl + interval, one replica per source at a time."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests import postgres
from tests.replica_checks import (
    check_delivered_at_least_once,
    check_journal_exactly_once,
    check_local_stream,
    check_one_at_a_time,
    failover,
    journaled,
    made,
)
from tests.replicas import VENDORS, Cluster
from tests.sinks.receiver import Receiver
from tests.support import SimThread
from watcher.simulator.scenario import Scenario

TTL, INTERVAL = 3.0, 1.0


def settle(cluster: Cluster, timeout: float = 30.0) -> None:
    """Until the journal holds the current status of every run each source sees, and the
    webhook has everything."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        want, journal = made(cluster), cluster.journal()
        seen = journaled(journal)
        behind = [k for k, statuses in want.items() if seen.get(k, [None])[-1] != statuses[-1]]
        if not behind and journal and cluster.cursor("hook") >= journal[-1].seq:
            return
        time.sleep(0.3)
    raise AssertionError("the replicas did not catch up with the world")


def test_three_replicas_lose_and_invent_nothing_through_kills_pauses_and_cut_connections(
        tmp_path: Path, sim_thread: SimThread, receiver: Receiver, pg_url: str) -> None:
    """Through kill -9, SIGSTOP past lease_ttl, pg_terminate_backend and a restart of all
    as two, every transition is journaled once and delivered, nothing is polled or
    delivered without the lease, and a dead or paused replica's sources move within
    lease_ttl + interval."""
    cluster = Cluster(tmp_path, sim_thread, receiver, pg_url, ttl=TTL, interval=INTERVAL)
    for name in ("r0", "r1", "r2"):
        cluster.start(name)
    cluster.wait_baselined()
    play = Scenario(sim_thread.world, vendors=list(VENDORS), spawn_every=2.0, step=(6.0, 9.0))
    churn = sim_thread.spawn(play.run)
    try:
        time.sleep(4)
        killed = cluster.kill("r0")
        took = failover(cluster, "r0", killed)
        print(f"failover after kill -9: {took:.2f} s")
        assert took <= TTL + INTERVAL
        cluster.start("r0")
        time.sleep(4)
        paused = cluster.signal("r1", signal.SIGSTOP)
        took = failover(cluster, "r1", paused)
        print(f"failover after SIGSTOP: {took:.2f} s")
        assert took <= TTL + INTERVAL
        time.sleep(2)
        cluster.signal("r1", signal.SIGCONT)
        time.sleep(4)
        assert postgres.run(lambda: postgres.terminate(pg_url, "watcher r2")) >= 1
        time.sleep(4)
        for name in ("r0", "r1", "r2"):
            assert cluster.stop(name) == 0
        cluster.start("r0")
        cluster.start("r1")
        time.sleep(4)
    finally:
        churn.cancel()
    settle(cluster)
    for name in ("r0", "r1"):
        assert cluster.stop(name) == 0
    journal = cluster.journal()
    assert check_journal_exactly_once(cluster, journal) > 50
    check_delivered_at_least_once(cluster, journal)
    check_one_at_a_time(cluster)
    for name in ("r0", "r1"):  # r2 was not started again: its stream ends at its stop
        check_local_stream(cluster, journal, name)
