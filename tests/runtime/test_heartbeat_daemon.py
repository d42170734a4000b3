"""Heartbeats of a real daemon (a subprocess on SQLite, polling the simulator) as a real
monitor on loopback sees them: a state store that cannot write (a full disk) turns pings into the fail signal
with the reason, a stopped process stops them, and the URL is never shown."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from tests.http_support import eventually, free_port, http_get
from tests.runtime.conftest import CHECK
from tests.runtime.test_heartbeats import heartbeat
from tests.sinks.receiver import Hit, Receiver, Reply
from tests.support import (
    DaemonProc,
    SimThread,
    fill_disk,
    mount_tmpfs,
    run_cli,
    sim_source,
    toml,
)

INTERVAL = 2.0


def write_config(path: Path, sim: SimThread, state: Path, monitor: Receiver, *,
                 port: int = 0) -> Path:
    path.write_text(toml({"state_path": str(state),
                          "http_listen": f"127.0.0.1:{port}" if port else ""},
                         [sim_source(sim.url, sim.world, "extend", interval="1s")],
                         [{"name": "out", "type": "stdout"}])
                    + heartbeat(monitor.url, interval=f"{INTERVAL:g}s", kind="healthchecks"))
    return path


def pings(hits: list[Hit]) -> list[Hit]:
    return [h for h in hits if h.method == "GET" and h.path == CHECK]


def test_a_state_store_that_cannot_write_sends_the_fail_signal_with_the_reason_then_pings(
        tmp_path: Path, sim_thread: SimThread, monitor: Receiver) -> None:
    """With the SQLite file's disk full, the monitor gets POST /fail saying the state
    store's writes fail, within two intervals, and no ping meanwhile; once there is room
    again, pings resume."""
    disk = tmp_path / "disk"
    if not mount_tmpfs(disk, "4m"):
        pytest.skip("needs root and tmpfs to make a real full disk")
    try:
        cfg = write_config(tmp_path / "w.toml", sim_thread, disk / "state.db", monitor)
        d = DaemonProc("run", "-c", str(cfg))
        d.wait_log("baseline recorded")
        eventually(lambda: len(pings(monitor.hits)) >= 2, what="two pings")
        filler = disk / "filler"
        fill_disk(filler)
        broke = time.monotonic()
        for _ in range(3):  # changes to write, in case a quiet poll would not
            sim_thread.call(lambda w: w.add_run("extend", "FAILED"))
        fail = eventually(lambda: next((h for h in monitor.hits if h.method == "POST"), None),
                          timeout=30, what="the fail signal")
        assert fail.path == f"{CHECK}/fail"
        assert fail.body.decode().startswith("state store writes failing for "), fail.body
        assert fail.at - broke < 2 * INTERVAL + 1.5, fail.at - broke
        during = [h for h in monitor.hits if h.at > fail.at]
        filler.unlink()
        mended = time.monotonic()
        eventually(lambda: any(h.at > mended for h in pings(monitor.hits)), timeout=30,
                   what="pings again")
        assert not pings(during), "pinged while the store could not write"
        assert d.stop() == 0
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_a_stopped_daemon_sends_nothing_until_it_continues(
        tmp_path: Path, sim_thread: SimThread, monitor: Receiver) -> None:
    """SIGSTOP: no request reaches the monitor for three intervals; SIGCONT: pings again."""
    cfg = write_config(tmp_path / "w.toml", sim_thread, tmp_path / "state.db", monitor)
    d = DaemonProc("run", "-c", str(cfg))
    eventually(lambda: len(pings(monitor.hits)) >= 2, what="two pings")
    d.send(signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        time.sleep(3 * INTERVAL)  # the absence of pings is what is measured here
        silent = [h for h in monitor.hits if h.at > stopped + 0.2]
    finally:
        d.send(signal.SIGCONT)
    went_on = time.monotonic()
    eventually(lambda: any(h.at > went_on for h in pings(monitor.hits)), what="pings again")
    assert silent == []
    assert d.stop() == 0


def test_the_heartbeat_url_is_never_shown(tmp_path: Path, sim_thread: SimThread,
                                          monitor: Receiver) -> None:
    """The URL (the check's secret id) is in no log line (pings refused with 500 included),
    event, /status, /metrics or ``watcher check`` output; /status shows the heartbeat's
    name, kind, last ping and last error, and ``check`` shows the URL as ***."""
    secret = CHECK.rsplit("/", 1)[1]
    port = free_port()
    cfg = write_config(tmp_path / "w.toml", sim_thread, tmp_path / "state.db", monitor,
                       port=port)
    d = DaemonProc("run", "-c", str(cfg))
    eventually(lambda: len(pings(monitor.hits)) >= 1, what="a ping")
    monitor.reply = lambda _hit: Reply(status=500)
    d.wait_log("heartbeat not taken", heartbeat="deadman")
    code, body = http_get(f"http://127.0.0.1:{port}/status")
    status = orjson.loads(body)
    _, metrics = http_get(f"http://127.0.0.1:{port}/metrics")
    check = run_cli("check", "-c", str(cfg))
    assert d.stop() == 0
    beat = status["heartbeats"][0]
    assert code == 200 and {k: beat[k] for k in ("name", "kind", "last_error")} == {
        "name": "deadman", "kind": "healthchecks", "last_error": "HTTP 500"}
    assert beat["last_ping"] is not None
    assert b'url = "***"' in check.stdout
    assert b'watcher_heartbeat_failures_total{heartbeat="deadman"}' in metrics
    for where, text in (("logs", d.err_text()), ("events", b"".join(d.stdout).decode()),
                        ("/status", body.decode()), ("/metrics", metrics.decode()),
                        ("check", (check.stdout + check.stderr).decode())):
        assert secret not in text and "127.0.0.1:" + str(monitor.port) not in text, where


def test_check_connect_reaches_the_monitor_without_pinging_it(
        tmp_path: Path, monitor: Receiver) -> None:
    """``watcher check --connect`` opens a connection to a heartbeat's monitor, sends it no
    request (it would count as a ping), and shows no part of the URL but host and port."""
    cfg = tmp_path / "w.toml"
    cfg.write_text(toml({"state_path": str(tmp_path / "s.db")})
                   + heartbeat(monitor.url, kind="healthchecks"))
    out = run_cli("check", "--connect", "-c", str(cfg))
    text = (out.stdout + out.stderr).decode()
    assert out.returncode == 0, text
    assert ("ok         heartbeat deadman (healthchecks): "
            f"127.0.0.1:{monitor.port} reachable") in text
    assert monitor.hits == [] and CHECK not in text
