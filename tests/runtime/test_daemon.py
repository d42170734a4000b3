"""The daemon as users run it: real subprocesses, real signals, the simulator on loopback."""

from __future__ import annotations

import signal
from pathlib import Path

import orjson
import pytest

from tests.support import DaemonProc, SimThread, lines_of, run_cli, sim_source, toml


def config_file(tmp_path: Path, sim: SimThread, *, sinks: list[dict[str, object]] | None = None,
                state: str = ":memory:", **source: object) -> Path:
    path = tmp_path / "watcher.toml"
    path.write_text(toml({"state_path": state, "http_listen": ""},
                         [sim_source(sim.url, sim.world, "extend", **source)],
                         sinks if sinks is not None else [{"name": "out", "type": "stdout"}]))
    return path


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signals_exit_zero_and_stdout_carries_only_events(
        tmp_path: Path, sim_thread: SimThread, sig: int) -> None:
    """SIGTERM and SIGINT stop the daemon with exit 0, and stdout holds only CloudEvents."""
    sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    d = DaemonProc("run", "-c", str(config_file(tmp_path, sim_thread)))
    d.wait_stderr("baseline recorded")
    run = sim_thread.call(lambda w: w.add_run("extend", "PENDING"))
    d.wait_for(lambda evs: any(e["subject"] == run.id for e in evs))
    assert d.stop(sig) == 0
    for line in d.stdout:  # every stdout line is an event, logs went to stderr
        assert orjson.loads(line)["specversion"] == "1.0"
    assert b"watcher stopped" in b"".join(d.stderr)


def test_once_polls_delivers_and_exits(tmp_path: Path, sim_thread: SimThread) -> None:
    """once baselines silently, then reports what changed since, delivers it and exits 0."""
    sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    state = str(tmp_path / "state.db")
    path = config_file(tmp_path, sim_thread, state=state)
    assert run_cli("once", "-c", str(path)).returncode == 0  # baseline, silent
    run = sim_thread.call(lambda w: w.add_run("extend", "FAILED"))
    r = run_cli("once", "-c", str(path))
    assert r.returncode == 0
    (event,) = lines_of(r.stdout)
    assert (event["subject"], event["data"]["status"]) == (run.id, "failed")


def test_once_exits_75_when_a_source_fails(tmp_path: Path, sim_thread: SimThread) -> None:
    """once exits 75, logging the vendor's error, when a source's poll fails."""
    path = config_file(tmp_path, sim_thread, token="wrong-key")
    r = run_cli("once", "-c", str(path))
    assert r.returncode == 75
    assert b"401" in r.stderr


def test_unwritable_state_file_exits_69(tmp_path: Path, sim_thread: SimThread) -> None:
    """A state file that cannot be created exits 69 with a message, not a traceback."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    path = config_file(tmp_path, sim_thread, state=str(blocker / "state.db"))
    r = run_cli("run", "-c", str(path), timeout=20)
    assert r.returncode == 69
    assert b"cannot open state file" in r.stderr and b"Traceback" not in r.stderr


def test_file_sink_appends_and_reopens_on_sighup(tmp_path: Path, sim_thread: SimThread) -> None:
    """After logrotate moves its file, SIGHUP makes the file sink write to a new one."""
    out = tmp_path / "events.jsonl"
    path = config_file(tmp_path, sim_thread, sinks=[{"name": "f", "type": "file",
                                                     "path": str(out)}])
    d = DaemonProc("run", "-c", str(path))
    d.wait_stderr("baseline recorded")
    first = sim_thread.call(lambda w: w.add_run("extend", "PENDING"))
    _wait_file(out, first.id)
    out.rename(tmp_path / "events.jsonl.1")  # what logrotate does
    d.send(signal.SIGHUP)
    d.wait_stderr("config reloaded")
    second = sim_thread.call(lambda w: w.add_run("extend", "PENDING"))
    _wait_file(out, second.id)
    assert d.stop() == 0
    assert first.id in (tmp_path / "events.jsonl.1").read_text()
    assert first.id not in out.read_text()


def _wait_file(path: Path, text: str, timeout: float = 15) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"{text} never reached {path}")


def test_a_second_stop_signal_cuts_the_drain_short_and_exits_cleanly(
        tmp_path: Path, sim_thread: SimThread) -> None:
    """A second stop signal ends the wait for a hung sink at once, and the exit is clean."""
    import socket
    import threading
    import time

    hang = socket.socket()  # reads requests, never answers: deliveries hang
    hang.bind(("127.0.0.1", 0))
    hang.listen(16)
    got_request = threading.Event()

    def swallow() -> None:
        conn, _ = hang.accept()
        if conn.recv(65536):
            got_request.set()
        time.sleep(30)
    threading.Thread(target=swallow, daemon=True).start()
    url = f"http://127.0.0.1:{hang.getsockname()[1]}/hook"
    path = config_file(tmp_path, sim_thread, state=str(tmp_path / "state.db"),
                       sinks=[{"name": "hook", "type": "webhook", "url": url, "timeout": "60s"}])
    d = DaemonProc("run", "-c", str(path))
    try:
        d.wait_log("baseline recorded")
        sim_thread.call(lambda w: w.add_run("extend", "FAILED"))
        assert got_request.wait(15)  # the delivery is in flight, waiting for an answer
        d.send(signal.SIGTERM)
        d.wait_log("stopping: polling halted, delivering what is journaled")
        started = time.monotonic()
        d.send(signal.SIGTERM)
        code = d.proc.wait(10)  # no third signal: the second must be enough
        assert code == 0, d.err_text()[-3000:]
        assert time.monotonic() - started < 5  # not the 10 s drain deadline
        assert "Traceback" not in d.err_text()
        d.wait_log("second stop signal: not waiting for sinks any longer", timeout=1)
    finally:
        hang.close()
