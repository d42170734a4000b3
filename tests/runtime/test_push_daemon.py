"""Vendor push as users run it: a daemon subprocess (or two replicas on PostgreSQL), the
simulator pushing signed webhooks to ``/hooks/`` on loopback."""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.request
from pathlib import Path

import orjson
from prometheus_client.parser import text_string_to_metric_families

from tests import postgres
from tests.http_support import eventually, free_port, http_get, polled
from tests.support import DaemonProc, SimThread, sim_source, toml
from watcher.simulator.extend import ExtendApi
from watcher.simulator.webhooks import Subscription

SECRET = "wss_daemon_push"
SOURCE = "extend-test"


def metric(base: str, name: str, **labels: str) -> float | None:
    for fam in text_string_to_metric_families(http_get(base + "/metrics")[1].decode()):
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


def post(url: str, body: bytes, secret: str = SECRET) -> tuple[int, bytes]:
    ts = str(int(time.time()))
    sig = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "x-extend-request-timestamp": ts, "x-extend-request-signature": sig})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.read()


def test_a_pushed_change_reaches_stdout_long_before_the_next_poll(
        tmp_path: Path, sim_thread: SimThread) -> None:
    """With pushes arriving the source polls every push_interval (30 s), yet a change is on
    stdout within seconds; /hooks/ is served beyond loopback without a token while
    /status is refused there, and the metrics count the push."""
    port = free_port()
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(toml({"state_path": str(tmp_path / "state.db"),
                         "http_listen": f"0.0.0.0:{port}"},
                        [sim_source(sim_thread.url, sim_thread.world, "extend",
                                    push_secret=SECRET, push_interval="30s")],
                        [{"name": "out", "type": "stdout"}]))
    first = sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    d = DaemonProc("run", "-c", str(cfg))
    base = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: polled(base), what="first poll")
        sim_thread.sim.webhooks.subscribe(Subscription("extend", f"{base}/hooks/{SOURCE}",
                                                       SECRET))
        sim_thread.call(lambda w: w.set_status(first, "PROCESSED"))
        d.wait_for(lambda evs: any(e["subject"] == first.id for e in evs))
        eventually(lambda: metric(base, "watcher_push_live", source=SOURCE) == 1.0,
                   what="push live")
        time.sleep(1.5)  # the poll due at interval (1 s) now schedules the next at 30 s
        polls = metric(base, "watcher_polls_total", source=SOURCE)
        second = sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
        sim_thread.call(lambda w: w.set_status(second, "FAILED"))
        pushed_at = time.monotonic()
        d.wait_for(lambda evs: any(e["subject"] == second.id for e in evs), timeout=10)
        assert time.monotonic() - pushed_at < 5
        assert metric(base, "watcher_polls_total", source=SOURCE) == polls
        assert metric(base, "watcher_push_received_total", source=SOURCE,
                      result="stored") == 2.0
        assert metric(base, "watcher_push_missed_total", source=SOURCE) == 0.0
        assert http_get(base + "/status")[0] == 403  # beyond loopback, no token
        assert [e["subject"] for e in d.events()].count(second.id) == 1
    finally:
        d.stop()


def test_a_push_to_a_replica_without_the_lease_is_applied_once_by_the_holder(
        tmp_path: Path, sim_thread: SimThread, pg_url: str) -> None:
    """Two replicas on PostgreSQL: a push sent to the one that does not poll the source,
    and again to the one that does, is journaled once, applied by the holder."""
    ports = {"a": free_port(), "b": free_port()}
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(toml({"state_path": pg_url, "http_listen": "127.0.0.1:${PORT}",
                         "replica": "${REPLICA}", "lease_ttl": "5s"},
                        [sim_source(sim_thread.url, sim_thread.world, "extend",
                                    push_secret=SECRET, push_interval="30s",
                                    interval="20s")],
                        [{"name": "out", "type": "stdout"}]))
    run = sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    procs = {n: DaemonProc("run", "-c", str(cfg), env={"REPLICA": n, "PORT": str(p)})
             for n, p in ports.items()}
    try:
        def owner() -> str | None:
            for p in ports.values():
                code, body = http_get(f"http://127.0.0.1:{p}/status")
                if code == 200:
                    src = orjson.loads(body)["sources"]
                    found = [s for s in src if s["name"] == SOURCE and s.get("last_success")]
                    if found and found[0]["owner"] in ports:
                        return str(found[0]["owner"])
            return None
        holder = eventually(owner, timeout=60, what="a replica polling the source")
        other = next(n for n in ports if n != holder)
        sim_thread.call(lambda w: w.set_status(run, "PROCESSED"))
        body = orjson.dumps({"eventId": "evt_replicas", "eventType": "workflow_run.completed",
                             "payload": sim_thread.call(lambda w: ExtendApi(w).render(run))})
        assert post(f"http://127.0.0.1:{ports[other]}/hooks/{SOURCE}", body)[0] == 200
        for n in (holder, other):  # delivered by each replica's own stdout sink
            procs[n].wait_for(lambda evs: any(e["subject"] == run.id for e in evs), timeout=15)
        assert orjson.loads(post(f"http://127.0.0.1:{ports[holder]}/hooks/{SOURCE}",
                                 body)[1]) == {"status": "duplicate"}
        time.sleep(1)
        rows = postgres.run(lambda: postgres.query(
            pg_url, "SELECT type FROM journal WHERE run_id = $1", run.id))
        assert [r[0] for r in rows] == ["watcher.run.status_changed"]
        applied = postgres.run(lambda: postgres.query(
            pg_url, "SELECT applied FROM inbox WHERE delivery = 'evt_replicas'"))
        assert [r[0] for r in applied] == [True]
        lag = metric(f"http://127.0.0.1:{ports[holder]}", "watcher_push_lag_seconds_count",
                     source=SOURCE)
        assert lag == 1.0  # the holder applied it (polling alone is every 20 s)
    finally:
        for p in procs.values():
            p.stop()
