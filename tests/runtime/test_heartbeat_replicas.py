"""Heartbeats of replicas on PostgreSQL (real subprocesses, the simulator, a monitor on
loopback): exactly one replica pings, another takes over within lease_ttl + the interval
of a kill -9, and a replica cut off from its database (through a TCP proxy) falls silent
rather than failing, and pings again once it is back."""

from __future__ import annotations

import signal
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.http_support import eventually
from tests.replicas import Cluster
from tests.runtime.conftest import CHECK
from tests.runtime.test_heartbeats import heartbeat
from tests.sinks.receiver import Hit, Receiver
from tests.support import SimThread
from tests.tcp_proxy import Proxy

INTERVAL = 1.0
TTL = 3.0


def who(hit: Hit) -> str:
    """The replica that sent a request (the User-Agent names it)."""
    return hit.headers.get("User-Agent", "").split("(replica ", 1)[-1].rstrip(")")


def pings(monitor: Receiver, after: float = 0.0) -> list[Hit]:
    return [h for h in list(monitor.hits) if h.path == CHECK and h.at > after]


def cluster_of(tmp_path: Path, sim: SimThread, receiver: Receiver, monitor: Receiver,
               url: str, read_url: str | None = None) -> Cluster:
    return Cluster(tmp_path, sim, receiver, url, per_vendor=1, vendors=("extend",), ttl=TTL,
                   read_url=read_url, extra=heartbeat(monitor.url, interval=f"{INTERVAL:g}s",
                                                      kind="healthchecks"))


def test_exactly_one_replica_pings_and_another_takes_over_a_killed_one(
        tmp_path: Path, sim_thread: SimThread, receiver: Receiver, monitor: Receiver,
        pg_url: str) -> None:
    """With two replicas up, one pings at a time: the pinger changes at most once (the
    leases shared out when the second starts), the new one beginning with /start, never
    interleaved; after the pinger is killed -9, the other pings within lease_ttl + the
    interval (so a monitor whose grace is that long does not page)."""
    cluster = cluster_of(tmp_path, sim_thread, receiver, monitor, pg_url)
    cluster.start("a").wait_stderr("watcher running")
    eventually(lambda: len(pings(monitor)) >= 2, what="a's pings")
    cluster.start("b").wait_stderr("watcher running")
    both = time.monotonic()
    eventually(lambda: len(pings(monitor, both)) >= 8, timeout=30, what="eight more pings")
    hits = list(monitor.hits)
    turns = [i for i in range(1, len(hits)) if who(hits[i]) != who(hits[i - 1])]
    assert len(turns) <= 1 and all(hits[i].path == f"{CHECK}/start" for i in turns), \
        [(round(h.at - both, 2), who(h), h.path) for h in hits]
    senders = {who(h) for h in hits[-4:]}
    holder = senders.pop()
    other = "b" if holder == "a" else "a"
    last = pings(monitor)[-1].at
    cluster.kill(holder)
    killed = time.monotonic()
    first = eventually(lambda: next((h for h in pings(monitor, killed) if who(h) == other),
                                    None), timeout=30, what=f"{other} to ping")
    assert first.at - killed < TTL + INTERVAL + 1.0, first.at - killed
    assert first.at - last < TTL + 2 * INTERVAL + 1.0, first.at - last
    assert {who(h) for h in pings(monitor, killed)} == {other}
    assert cluster.stop(other) == 0


def test_a_paused_pinger_continued_after_its_lease_moved_sends_nothing(
        tmp_path: Path, sim_thread: SimThread, receiver: Receiver, monitor: Receiver,
        pg_url: str) -> None:
    """The pinging replica SIGSTOPped past lease_ttl: the other takes over and pings;
    SIGCONT: the paused one sends nothing on the lease it lost (its lease ran out on its
    own clock), only after it took the lease again, when the leases are shared out."""
    cluster = cluster_of(tmp_path, sim_thread, receiver, monitor, pg_url)
    cluster.start("a").wait_stderr("watcher running")
    eventually(lambda: len(pings(monitor)) >= 2, what="a's pings")
    cluster.start("b").wait_stderr("watcher running")
    eventually(lambda: {who(h) for h in pings(monitor)[-3:]} in ({"a"}, {"b"})
               and len(pings(monitor, time.monotonic() - 3 * INTERVAL)) >= 3,
               timeout=30, what="one steady pinger")
    holder = who(pings(monitor)[-1])
    other = "b" if holder == "a" else "a"
    paused_at = cluster.signal(holder, signal.SIGSTOP)  # wall time
    paused = time.monotonic()
    try:
        eventually(lambda: next((h for h in pings(monitor, paused) if who(h) == other), None),
                   timeout=30, what=f"{other} to take over")
    finally:
        cluster.signal(holder, signal.SIGCONT)
    went_on = time.monotonic()
    eventually(lambda: len(pings(monitor, went_on)) >= 3, timeout=30, what="pings after")
    late = [h.at + cluster.offset for h in monitor.hits if h.at > went_on and who(h) == holder]
    if late:  # the leases shared out again may give it back: then only after it took it
        retaken = [datetime.fromisoformat(e["ts"]).timestamp()
                   for e in cluster.replicas[holder].proc.logs()
                   if e.get("event") == "leases taken"
                   and any(n.startswith("heartbeat:") for n in e.get("leases", ()))]
        retaken = [t for t in retaken if t > paused_at]
        assert retaken and min(late) >= min(retaken), (late, retaken)
    assert cluster.stop(holder) == 0
    assert cluster.stop(other) == 0


def _through(proxy: Proxy, url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))


def test_a_replica_cut_off_from_its_database_falls_silent_and_pings_again_once_back(
        tmp_path: Path, sim_thread: SimThread, receiver: Receiver, monitor: Receiver,
        pg_url: str) -> None:
    """Its database refusing connections, the one replica sends no ping (and no fail
    signal: another replica might still reach the database) from two intervals on; the
    database back, it pings again."""
    parts = urlsplit(pg_url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    try:
        cluster = cluster_of(tmp_path, sim_thread, receiver, monitor, _through(proxy, pg_url),
                             read_url=pg_url)
        cluster.start("a").wait_stderr("watcher running")
        eventually(lambda: len(pings(monitor)) >= 2, what="pings")
        proxy.cut()
        cut = time.monotonic()
        time.sleep(TTL + 2 * INTERVAL)  # what is measured is that nothing arrives
        late = [h for h in monitor.hits if h.at > cut + 2 * INTERVAL + 0.5]
        proxy.restore()
        back = time.monotonic()
        eventually(lambda: pings(monitor, back), timeout=30, what="pings again")
        assert late == []
        assert not [h for h in monitor.hits if h.method == "POST"]
        assert cluster.stop("a") == 0
    finally:
        proxy.stop()
