"""sd_notify against a real unix datagram socket, as systemd would hold it for Type=notify."""

from __future__ import annotations

import signal
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sinks.receiver import Receiver, Reply
from tests.support import DaemonProc, SimThread, sim_source, toml
from watcher.server.notify import Notifier

#: systemd's watchdog timeout for the test: the daemon must ping every 0.2 s
WATCHDOG_USEC = 400_000


@pytest.fixture(params=["path", "abstract"])
def notify_socket(request: pytest.FixtureRequest, tmp_path: Path
                  ) -> Iterator[tuple[socket.socket, str]]:
    """A bound datagram socket and the ``NOTIFY_SOCKET`` value naming it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        path = str(tmp_path / "notify.sock")
        sock.bind(path)
        name = path
    else:
        abstract = f"watcher-test-{uuid.uuid4().hex}"
        sock.bind("\0" + abstract)
        name = "@" + abstract
    sock.settimeout(0.1)
    try:
        yield sock, name
    finally:
        sock.close()


def receive(sock: socket.socket, until: float) -> list[str]:
    out = []
    while time.monotonic() < until:
        try:
            out.append(sock.recv(4096).decode())
        except TimeoutError:
            continue
    return out


def wait_for(sock: socket.socket, field: str, timeout: float = 15.0) -> tuple[str, list[str]]:
    """The first datagram containing ``field``, and every datagram before it."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = sock.recv(4096).decode()
        except TimeoutError:
            continue
        if field in msg.split("\n"):
            return msg, seen
        seen.append(msg)
    raise AssertionError(f"no {field} within {timeout}s; got {seen}")


def test_systemd_hears_ready_then_steady_watchdog_pings_then_stopping(
        notify_socket: tuple[socket.socket, str], sim_thread: SimThread, tmp_path: Path) -> None:
    """READY=1 with the status line comes first, WATCHDOG=1 keeps coming, STOPPING=1 at SIGTERM."""
    sock, name = notify_socket
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(toml({"state_path": ":memory:", "http_listen": ""},
                        [sim_source(sim_thread.url, sim_thread.world, "extend")],
                        [{"name": "out", "type": "stdout"}]))
    env = {"NOTIFY_SOCKET": name, "WATCHDOG_USEC": str(WATCHDOG_USEC)}
    # the cadence is half of systemd's timeout, read from this environment; the pings
    # below are then counted, not timed, so a loaded CI box cannot fail the test
    assert Notifier(env).watchdog_interval == WATCHDOG_USEC / 2e6
    d = DaemonProc("run", "-c", str(cfg), env=env)
    try:
        ready, before = wait_for(sock, "READY=1")
        assert before == []  # nothing claims liveness before the daemon is ready
        # READY carries the summary, and the summary shows the source already scheduled
        assert "STATUS=1/1 sources ok; 0 runs tracked; 0 events delivered" in ready.split("\n")
        for _ in range(4):  # not a single ping: it keeps pinging
            ping, _ = wait_for(sock, "WATCHDOG=1")
            assert ping == "WATCHDOG=1"
        assert d.proc.poll() is None
        d.send(signal.SIGTERM)
        stopping, _ = wait_for(sock, "STOPPING=1")
        assert stopping == "STOPPING=1"
        assert d.proc.wait(20) == 0
    finally:
        d.stop()


def test_sighup_while_draining_is_ignored_and_ready_never_follows_stopping(
        sim_thread: SimThread, tmp_path: Path) -> None:
    """A SIGHUP during the stop drain (a slow webhook holds it open) is logged as ignored:
    no reload, no READY=1 after STOPPING=1, and the stop still ends with exit 0."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(0.1)
    slow = Receiver(lambda hit: Reply(204, b"", delay=4.0)).start()
    cfg = tmp_path / "watcher.toml"

    def write(*sources: str) -> None:
        cfg.write_text(toml({"state_path": str(tmp_path / "state.db"), "http_listen": ""},
                            [sim_source(sim_thread.url, sim_thread.world, "extend", name=name)
                             for name in sources],
                            [{"name": "hook", "type": "webhook", "url": slow.url}]))
    write("one")
    d = DaemonProc("run", "-c", str(cfg), env={"NOTIFY_SOCKET": str(tmp_path / "notify.sock")})
    try:
        wait_for(sock, "READY=1")
        d.wait_log("baseline recorded", source="one")
        sim_thread.call(lambda w: w.add_run("extend", "FAILED"))
        slow.wait_for(lambda r: r.in_flight == 1)  # the drain will wait for this one
        d.send(signal.SIGTERM)
        d.wait_log("stopping: polling halted, delivering what is journaled")
        write("one", "two")  # what a reload would apply
        d.send(signal.SIGHUP)
        d.wait_log("reload ignored: the daemon is stopping", signal="SIGHUP")
        assert d.proc.poll() is None and slow.in_flight == 1  # still draining
        assert d.proc.wait(20) == 0
        after = receive(sock, time.monotonic() + 0.3)
    finally:
        d.stop()
        slow.stop()
        sock.close()
    assert len(slow.delivered()) == 1
    fields = [line for msg in after for line in msg.split("\n")]
    assert "STOPPING=1" in fields
    assert "READY=1" not in fields[fields.index("STOPPING=1"):]
    events = [entry.get("event") for entry in d.logs()]
    assert "config reloaded" not in events and "source added" not in events
