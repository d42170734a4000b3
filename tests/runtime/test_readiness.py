"""``/readyz`` of replicas on PostgreSQL: ready whatever leases a replica holds, not ready
while its database cannot be reached (refusing, or gone silent), ready again once it is
back.  Real subprocesses, the simulator, a webhook receiver and a TCP proxy on loopback."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.http_support import eventually, free_port, http_get
from tests.replicas import Cluster
from tests.sinks.receiver import Receiver
from tests.support import SimThread
from tests.tcp_proxy import Proxy

READY = {"ready": True, "config": "loaded", "store": "reachable"}


def ready(port: int) -> tuple[int, dict[str, Any]]:
    code, body = http_get(f"http://127.0.0.1:{port}/readyz")
    return code, orjson.loads(body) if body else {}


def leases_held(port: int) -> float:
    """Every lease the replica listening on ``port`` holds, of every kind."""
    code, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert code == 200
    return sum(s.value for f in text_string_to_metric_families(body.decode())
               for s in f.samples if s.name == "watcher_leases_held")


def alive(port: int) -> list[str]:
    """The replicas the one on ``port`` sees alive in the database (its /status)."""
    code, body = http_get(f"http://127.0.0.1:{port}/status")
    return [r["id"] for r in orjson.loads(body)["replicas"] if r["alive"]] if code == 200 else []


def test_a_replica_holding_no_lease_is_ready(tmp_path: Path, sim_thread: SimThread,
                                             receiver: Receiver, pg_url: str) -> None:
    """A replica whose peer holds every lease (paused: it neither renews nor gives them
    back) holds none until they expire, and is ready meanwhile: a rolling update's new pod
    must not wait for leases that the old pod gives back only once it is replaced."""
    cluster = Cluster(tmp_path, sim_thread, receiver, pg_url, per_vendor=1,
                      vendors=("extend",), ttl=30.0, http=True)
    ports = {"a": free_port(), "b": free_port()}
    cluster.start("a", port=ports["a"]).wait_stderr("watcher running")
    # a source, the webhook and the two journal readers
    eventually(lambda: leases_held(ports["a"]) == 4, what="a to hold every lease")
    cluster.signal("a", signal.SIGSTOP)
    try:
        cluster.start("b", port=ports["b"]).wait_stderr("watcher running")
        # b's first round is done: its heartbeat is in, and it found nothing to take
        eventually(lambda: "b" in alive(ports["b"]), what="b's heartbeat")
        before = leases_held(ports["b"])
        seen = ready(ports["b"])
        assert (before, seen, leases_held(ports["b"])) == (0, (200, READY), 0)
    finally:
        cluster.signal("a", signal.SIGCONT)
    assert cluster.stop("b") == 0
    assert cluster.stop("a") == 0


def _through(proxy: Proxy, url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))


@pytest.mark.parametrize("outage", ["refusing", "silent"])
def test_a_replica_whose_database_is_unreachable_is_not_ready_until_it_is_back(
        outage: str, tmp_path: Path, sim_thread: SimThread, receiver: Receiver,
        pg_url: str) -> None:
    """With its database refusing connections, or gone silent (every statement hangs and
    nothing is written that could fail), a replica turns not ready within lease_ttl,
    saying the store is unreachable, while /healthz stays 200; once the database is back
    it is ready again."""
    parts = urlsplit(pg_url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    try:
        cluster = Cluster(tmp_path, sim_thread, receiver, _through(proxy, pg_url),
                          per_vendor=1, vendors=("extend",), read_url=pg_url, http=True)
        port = free_port()
        cluster.start("a", port=port).wait_stderr("watcher running")
        cluster.wait_baselined()
        assert ready(port) == (200, READY)
        (proxy.cut if outage == "refusing" else proxy.stall)()
        lost = time.monotonic()

        def not_ready() -> dict[str, Any] | None:
            code, body = ready(port)
            return body if code == 503 else None
        body = eventually(not_ready, timeout=cluster.ttl + 15, what="/readyz 503")
        took = time.monotonic() - lost
        assert body["ready"] is False and body["reason"] == body["store"]
        assert body["reason"].startswith(("state store unreachable: ",
                                          "state store writes failing: ")), body
        if outage == "silent":  # nothing fails then: only the keeper's heartbeat age tells
            assert body["reason"].startswith("state store unreachable: "), body
        assert took < cluster.ttl + 5, took
        assert http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        proxy.restore()
        eventually(lambda: ready(port) == (200, READY), timeout=30, what="/readyz 200 again")
        assert cluster.stop("a") == 0
    finally:
        proxy.stop()
