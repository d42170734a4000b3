"""Replicas on PostgreSQL as operators meet them: a rolling restart hands over at once,
``watcher once`` beside running replicas, the database away at start and while running.
Real subprocesses, the simulator and a real webhook receiver on loopback."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import orjson
from prometheus_client.parser import text_string_to_metric_families

from tests.http_support import free_port, http_get
from tests.replica_checks import failover, run_events
from tests.replicas import Cluster
from tests.sinks.receiver import Receiver
from tests.support import DaemonProc, SimThread, run_cli, toml
from tests.tcp_proxy import Proxy


def wait_until(pred: object, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def delivered(receiver: Receiver) -> list[dict[str, object]]:
    return [orjson.loads(h.body) for h in list(receiver.hits)]


def test_sigterm_hands_leases_over_at_once(tmp_path: Path, sim_thread: SimThread,
                                           receiver: Receiver, pg_url: str) -> None:
    """A replica stopped with SIGTERM gives its leases back: the other one polls its
    sources well within lease_ttl (expiry alone would take most of it)."""
    ttl = 12.0
    cluster = Cluster(tmp_path, sim_thread, receiver, pg_url, per_vendor=2, ttl=ttl,
                      vendors=("extend", "noxus"))
    cluster.start("a")
    cluster.start("b")
    cluster.wait_baselined()
    def both_polling() -> bool:
        since = time.time() - 2
        return {r for polls in cluster.polls().values() for t, r in polls if t > since} == {
            "a", "b"}
    wait_until(both_polling, what="both replicas polling")
    stopped = time.time()
    assert cluster.stop("a") == 0
    time.sleep(3)
    assert 0 < failover(cluster, "a", stopped) < ttl / 2


def test_once_beside_a_running_replica_is_refused_and_alone_polls_and_delivers(
        tmp_path: Path, sim_thread: SimThread, receiver: Receiver, pg_url: str) -> None:
    """``once`` while a replica holds the leases exits 75 naming them, writing nothing;
    with none running it takes every lease, reports the change with its previous status,
    delivers it to the webhook and stdout, and gives the leases back."""
    cluster = Cluster(tmp_path, sim_thread, receiver, pg_url, per_vendor=1,
                      vendors=("extend",))
    run = sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    env = {"REPLICA": "x"}
    assert run_cli("once", "-c", str(cluster.path), env=env).returncode == 0  # baseline
    cluster.start("a")
    cluster.wait_held()
    before = cluster.journal()
    refused = run_cli("once", "-c", str(cluster.path), env=env)
    assert refused.returncode == 75
    assert b"source:extend-0 (a)" in refused.stderr
    assert [e.id for e in cluster.journal()] == [e.id for e in before]
    assert cluster.stop("a") == 0
    sim_thread.call(lambda w: w.set_status(run.id, "FAILED"))
    done = run_cli("once", "-c", str(cluster.path), env=env)
    assert done.returncode == 0, done.stderr
    [printed] = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert (printed["data"]["status"], printed["data"]["previous_status"]) == (
        "failed", "running")
    assert [e["id"] for e in delivered(receiver)] == [printed["id"]]
    assert run_cli("once", "-c", str(cluster.path), env=env).returncode == 0  # free again


def test_an_unreachable_database_at_start_exits_69_without_the_password(
        tmp_path: Path) -> None:
    """``watcher run`` with no server at the URL exits 69 saying so, password masked."""
    path = tmp_path / "w.toml"
    path.write_text(toml({"state_path": "postgresql://watcher:s3cret-pw@127.0.0.1:1/w",
                          "http_listen": ""}, [], [{"name": "out", "type": "stdout"}]))
    r = run_cli("run", "-c", str(path), timeout=30)
    assert r.returncode == 69
    assert b"cannot connect to PostgreSQL at postgresql://watcher:***@127.0.0.1:1/w" in r.stderr
    assert b"s3cret-pw" not in r.stderr and b"Traceback" not in r.stderr


def _through(proxy: Proxy, url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))


def test_a_database_lost_while_running_invents_nothing_and_the_replica_carries_on(
        tmp_path: Path, sim_thread: SimThread, receiver: Receiver, pg_url: str) -> None:
    """With the database cut off, the replica commits nothing, stops polling once its
    leases lapse, and journals nothing; when it is back the replica takes its leases
    again and reports the change made meanwhile once, from the committed state."""
    parts = urlsplit(pg_url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    try:
        cluster = Cluster(tmp_path, sim_thread, receiver, _through(proxy, pg_url),
                          per_vendor=1, vendors=("extend",), read_url=pg_url)
        run = sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
        cluster.start("a")
        cluster.wait_baselined()
        proxy.cut()
        cut = time.time()
        sim_thread.call(lambda w: w.set_status(run.id, "FAILED"))
        time.sleep(cluster.ttl + 2)
        assert not [t for t, _ in cluster.polls()["extend-0"] if t > cut + cluster.ttl + 0.5]
        assert [e for e, _ in run_events(cluster.journal())] == []
        proxy.restore()
        wait_until(lambda: run_events(cluster.journal()), 20, "the change to be journaled")
        wait_until(lambda: delivered(receiver), 10, "its delivery")
        assert cluster.stop("a") == 0
    finally:
        proxy.stop()
    [(entry, body)] = run_events(cluster.journal())
    assert (body["data"]["status"], body["data"]["previous_status"]) == ("failed", "running")
    assert {e["id"] for e in delivered(receiver)} == {entry.id}
    logs = [line["event"] for line in cluster.replicas["a"].proc.logs()]
    assert "could not renew leases; each stops at its own deadline unless renewed before" in logs
    assert "lease lost: stopped working on it" in logs


def metrics(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    code, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(body.decode()) for s in f.samples}


def test_each_replica_counts_its_leases_takeovers_and_database_round_trips(
        tmp_path: Path, sim_thread: SimThread, receiver: Receiver, pg_url: str) -> None:
    """Two replicas' leases held add up to every source, the webhook and both readers; each times its
    round trips to the database; after one is killed the other counts the takeovers."""
    cluster = Cluster(tmp_path, sim_thread, receiver, pg_url, per_vendor=2,
                      vendors=("extend", "noxus"), http=True)
    ports = {"a": free_port(), "b": free_port()}
    for name, port in ports.items():  # listening once it says it runs
        cluster.start(name, port=port).wait_stderr("watcher running")
    cluster.wait_held()

    def held(kind: str) -> list[float]:
        return [metrics(p)[("watcher_leases_held", (("kind", kind),))] for p in ports.values()]
    wait_until(lambda: sum(held("source")) == 4 and sum(held("sink")) == 1
               and sum(held("reader")) == 2
               and min(map(sum, zip(held("source"), held("sink"), held("reader"), strict=True))) >= 1,
               what="leases spread")
    seen = metrics(ports["a"])
    assert seen[("watcher_db_round_trip_seconds_count", ())] > 0
    assert seen[("watcher_fenced_commits_total", (("kind", "source"),))] == 0
    b_held = metrics(ports["b"])[("watcher_leases_held", (("kind", "source"),))]
    cluster.kill("b")
    wait_until(lambda: metrics(ports["a"])[("watcher_leases_held", (("kind", "source"),))]
               == 4, what="a to take b's sources")
    after = metrics(ports["a"])
    assert after[("watcher_lease_takeovers_total", (("kind", "source"),))] == b_held
    assert cluster.stop("a") == 0


def test_tail_on_any_replica_follows_the_whole_clusters_journal(
        tmp_path: Path, sim_thread: SimThread, receiver: Receiver, pg_url: str) -> None:
    """``watcher tail`` against one replica prints every event of the cluster, those of
    the sources another replica polls included, in journal order."""
    cluster = Cluster(tmp_path, sim_thread, receiver, pg_url, per_vendor=2,
                      vendors=("extend", "noxus"), http=True)
    port = free_port()
    cluster.start("a", port=port)
    cluster.start("b", port=free_port())
    cluster.wait_held()
    wait_until(lambda: all(any(h.end is None and h.lease.startswith("source:")
                               for h in cluster.replicas[r].holdings()) for r in ("a", "b")),
               what="each replica to poll some sources")
    cluster.wait_baselined()  # a run added before a source's first poll is in its silent baseline
    tail = DaemonProc("tail", "--url", f"http://127.0.0.1:{port}", "--since-id", "0")
    for vendor, status in (("extend", "PROCESSING"), ("noxus", "running")):
        sim_thread.call(lambda w, v=vendor, s=status: w.add_run(v, s))
    wait_until(lambda: len(cluster.journal()) == 4, what="a run.created per source")
    journal = [e.id for e in cluster.journal()]
    tail.wait_for(lambda evs: len(evs) >= 4)
    assert [e["id"] for e in tail.events()] == journal
    assert tail.stop(signal.SIGINT) == 0
    for name in ("a", "b"):
        assert cluster.stop(name) == 0


def test_a_source_added_by_reload_is_polled_by_one_replica_and_a_removed_one_let_go(
        tmp_path: Path, sim_thread: SimThread, receiver: Receiver, pg_url: str) -> None:
    """After SIGHUP on both replicas, a new source's lease is taken by one of them and it
    is polled; a source removed from the config is polled no more and its lease given
    back."""
    cluster = Cluster(tmp_path, sim_thread, receiver, pg_url, per_vendor=2,
                      vendors=("extend",))
    for name in ("a", "b"):  # a SIGHUP before its handler is in place would end it
        cluster.start(name).wait_stderr("watcher running")
    cluster.wait_held()
    text = cluster.path.read_text()
    gone, added = cluster.sources[0]["name"], "extend-new"
    cluster.path.write_text(text.replace(f'name = "{gone}"', f'name = "{added}"').replace(
        f'tag = "{gone}"', f'tag = "{added}"'))
    reloaded = time.time()
    for name in ("a", "b"):
        cluster.signal(name, signal.SIGHUP)
    wait_until(lambda: [t for t, _ in cluster.polls().get(added, []) if t > reloaded],
               what="the new source to be polled")
    time.sleep(2)
    settled = time.time()
    time.sleep(2)
    assert not [t for t, _ in cluster.polls()[gone] if t > settled]
    assert len({r for t, r in cluster.polls()[added] if t > settled}) == 1
    given = [line for p in ("a", "b") for line in cluster.replicas[p].proc.logs()
             if line.get("event") == "leases given back"]
    assert any(f"source:{gone}" in line["leases"] for line in given)
    for name in ("a", "b"):
        assert cluster.stop(name) == 0
