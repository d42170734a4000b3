"""``watcher status`` and ``GET /status``: the replicas, and who polls and delivers what,
on PostgreSQL (two replicas) and on SQLite (the one process)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson

from tests.http_support import free_port, http_get
from tests.replicas import Cluster
from tests.sinks.receiver import Receiver
from tests.support import DaemonProc, SimThread, run_cli, sim_source, toml


def status_json(config: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    r = run_cli("status", "--json", "-c", str(config), env=env)
    assert r.returncode == 0, r.stderr
    doc: dict[str, Any] = orjson.loads(r.stdout)
    return doc


def eventually(fn: Any, timeout: float = 20.0) -> Any:
    """``fn()`` once it stops raising AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def test_status_shows_replicas_owners_leases_and_each_owners_report(
        tmp_path: Path, sim_thread: SimThread, receiver: Receiver, pg_url: str) -> None:
    """With two replicas, ``watcher status --json`` lists both alive, every source owned
    by one of them with its lease epoch, expiry and the owner's last poll and runs, the
    webhook owned by one, stdout delivered by every replica; the table shows the same;
    a replica's ``/status`` is that document with itself as ``replica``."""
    sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    cluster = Cluster(tmp_path, sim_thread, receiver, pg_url, per_vendor=2,
                      vendors=("extend",), http=True)
    port = free_port()
    cluster.start("a", port=port)
    cluster.start("b", port=free_port())
    cluster.wait_held()
    env = {"REPLICA": "cli", "PORT": "0"}

    def settled() -> dict[str, Any]:
        doc = status_json(cluster.path, env)
        assert [(r["id"], r["alive"]) for r in doc["replicas"]] == [("a", True), ("b", True)]
        for s in doc["sources"]:
            assert s["owner"] in ("a", "b") and s["epoch"] >= 1 and s["expires"]
            assert s["last_success"] and (s["runs"], s["live"]) == (1, 1)
        return doc
    doc = eventually(settled)
    hook, out = doc["sinks"][1], doc["sinks"][0]
    assert (hook["name"], hook["local"], hook["owner"] in ("a", "b")) == ("hook", False, True)
    assert (out["name"], out["local"], out["owner"], out["backlog"]) == ("out", True, None, 0)
    assert doc["store"]["kind"] == "postgresql" and doc["replica"] is None
    table = run_cli("status", "-c", str(cluster.path), env=env).stdout.decode()
    assert "extend-0" in table and "every replica" in table and "postgresql" in table
    code, body = http_get(f"http://127.0.0.1:{port}/status")
    assert code == 200
    live = orjson.loads(body)
    assert live["replica"]["id"] == "a"
    assert [s["name"] for s in live["sources"]] == ["extend-0", "extend-1"]
    for name in ("a", "b"):
        assert cluster.stop(name) == 0


def test_status_on_sqlite_shows_the_one_process_and_the_runs_as_stored(
        tmp_path: Path, sim_thread: SimThread) -> None:
    """On SQLite the one replica is the process holding the file, owner of everything,
    no leases; the runs are those stored; ``/status`` agrees."""
    sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    port = free_port()
    path = tmp_path / "w.toml"
    path.write_text(toml({"state_path": str(tmp_path / "state.db"),
                          "http_listen": f"127.0.0.1:{port}"},
                         [sim_source(sim_thread.url, sim_thread.world, "extend")],
                         [{"name": "out", "type": "stdout"}]))
    d = DaemonProc("run", "-c", str(path))
    d.wait_stderr("baseline recorded")
    doc = status_json(path)
    [replica] = doc["replicas"]
    assert replica["alive"] and replica["pid"] == d.proc.pid
    [source] = doc["sources"]
    assert (source["owner"], source["epoch"], source["runs"], source["live"]) == (
        replica["id"], None, 1, 1)
    assert doc["sinks"][0]["owner"] == replica["id"] and doc["store"]["kind"] == "sqlite"
    code, body = http_get(f"http://127.0.0.1:{port}/status")
    assert code == 200 and orjson.loads(body)["sources"][0]["runs"] == {"running": 1}
    assert d.stop() == 0
