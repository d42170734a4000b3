"""One writer per state file: while a daemon runs on a state file, ``watcher once`` and a
second ``watcher run`` are refused at once, naming the file and the process holding it,
and the daemon carries on journaling and delivering each event exactly once.  Real
daemon subprocesses, real SQLite files, the simulator on loopback."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from tests.sinks.receiver import Hit, Receiver, Reply
from tests.support import DaemonProc, SimThread, lines_of, run_cli, sim_source, toml


def refuse(hit: Hit) -> Reply:
    return Reply(422, b'{"error": "unknown tenant"}')


def accept(hit: Hit) -> Reply:
    return Reply(204, b"")


def config(tmp_path: Path, sim: SimThread, hook: str | None = None) -> tuple[Path, Path]:
    state = tmp_path / "state.db"
    sinks = [{"name": "out", "type": "stdout"}]
    if hook:
        sinks.append({"name": "hook", "type": "webhook", "url": hook,
                      "match": {"status": ["failed"]}})
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(toml({"state_path": str(state), "http_listen": ""},
                        [sim_source(sim.url, sim.world, "extend")], sinks))
    return cfg, state


def wait(pred: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_once_and_a_second_run_are_refused_and_the_daemon_delivers_each_event_once(
        tmp_path: Path, sim_thread: SimThread) -> None:
    """``once`` exits 75 and a second ``run`` (even through a symlink) 69, naming the
    state file and the daemon's pid; ``deadletters list`` and ``retry`` work meanwhile,
    and every later transition reaches the daemon's stdout exactly once."""
    st = sim_thread
    with Receiver(refuse) as receiver:
        cfg, state = config(tmp_path, st, receiver.url)
        d = DaemonProc("run", "-c", str(cfg))
        try:
            d.wait_log("baseline recorded")
            first = st.call(lambda w: w.add_run("extend", "FAILED", error="boom")).id
            d.wait_for(lambda evs: len(evs) == 1)

            once = run_cli("once", "-c", str(cfg))
            assert once.returncode == 75, once.stderr
            said = once.stderr.decode()
            assert f"{state} is in use by another watcher process: pid {d.proc.pid}" in said
            assert "`watcher run`" in said and once.stdout == b""
            # the same file by another name (a symlink) is the same state
            (tmp_path / "alias.db").symlink_to(state)
            alias = tmp_path / "alias.toml"
            alias.write_text(cfg.read_text().replace(str(state), str(tmp_path / "alias.db")))
            second = run_cli("run", "-c", str(alias), timeout=30)
            assert second.returncode == 69, second.stderr
            assert "state store unusable at start" in second.stderr.decode()
            assert f"pid {d.proc.pid}" in second.stderr.decode()

            wait(lambda: len(list(lines_of(run_cli("deadletters", "list", "-c",
                                                    str(cfg)).stdout))) == 1)
            receiver.reply = accept
            retry = run_cli("deadletters", "retry", "-c", str(cfg))
            assert retry.returncode == 0 and b"1 dead letter queued" in retry.stderr
            receiver.wait_for(lambda r: len(r.delivered()) == 1)

            run = st.call(lambda w: w.add_run("extend", "PROCESSING")).id
            d.wait_for(lambda evs: len(evs) == 2)
            st.call(lambda w: w.set_status(run, "PROCESSED"))
            d.wait_for(lambda evs: len(evs) == 3)
            time.sleep(1.5)  # more cycles: nothing else arrives, and nothing twice
        finally:
            assert d.stop() == 0
    events = d.events()
    assert [(e["subject"], e["type"]) for e in events] == [
        (first, "watcher.run.created"), (run, "watcher.run.created"),
        (run, "watcher.run.status_changed")]
    assert len({e["id"] for e in events}) == 3
    assert "STATE STORE" not in d.err_text()
    with sqlite3.connect(state) as db:
        assert [r[0] for r in db.execute("SELECT id FROM journal ORDER BY seq")] == \
            [e["id"] for e in events]


def test_a_kill_9_releases_the_state_file_and_once_then_catches_up(
        tmp_path: Path, sim_thread: SimThread) -> None:
    """The kernel drops the lock with the killed daemon: ``once`` then runs, and
    delivers what changed since."""
    cfg, _ = config(tmp_path, sim_thread)
    d = DaemonProc("run", "-c", str(cfg))
    d.wait_log("baseline recorded")
    # a steady-state cycle, so the next one only sees what follows: a cycle commits before
    # the next one sends its request, so two more requests mean one more cycle is on disk
    served = sim_thread.call(lambda w: w.count("extend", "/workflow_runs"))
    wait(lambda: sim_thread.call(lambda w: w.count("extend", "/workflow_runs")) >= served + 2)
    d.kill()
    run = sim_thread.call(lambda w: w.add_run("extend", "FAILED")).id
    once = run_cli("once", "-c", str(cfg))
    assert once.returncode == 0, once.stderr
    assert [(e["subject"], e["data"]["status"]) for e in lines_of(once.stdout)] == \
        [(run, "failed")]
    # and the file is free again for the service
    again = DaemonProc("run", "-c", str(cfg))
    again.wait_log("watcher running")
    assert again.stop() == 0
