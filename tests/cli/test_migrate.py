"""``watcher migrate``: an SQLite state moved to PostgreSQL without a re-baseline or a lost
alert, and the refusals (a daemon writing the file, a database that holds a state)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import orjson

from tests.sinks.receiver import Receiver, Reply
from tests.support import DaemonProc, SimThread, run_cli, sim_source, toml


def config(path: Path, sim: SimThread, receiver: Receiver, state: str) -> Path:
    path.write_text(toml({"state_path": state, "http_listen": "", "replica": "a"},
                         [sim_source(sim.url, sim.world, "extend")],
                         [{"name": "hook", "type": "webhook", "url": receiver.url}]))
    return path


def received(receiver: Receiver) -> list[dict[str, Any]]:
    return [orjson.loads(h.body) for h in list(receiver.hits) if h.status == 200]


def wait_until(pred: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_migrated_state_carries_on_without_rebaseline_and_delivers_its_backlog(
        tmp_path: Path, sim_thread: SimThread, pg_url: str) -> None:
    """Tracked runs and an undelivered event in SQLite, migrated: a replica on PostgreSQL
    delivers the backlog, and reports the next change of a tracked run with its previous
    status (nothing re-announced as created); migrating again into it is refused (73)."""
    tracked = sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    state = tmp_path / "state.db"
    with Receiver(lambda _hit: Reply(status=503)) as receiver:
        old = DaemonProc("run", "-c", str(config(tmp_path / "old.toml", sim_thread, receiver,
                                                  str(state))))
        old.wait_stderr("baseline recorded")
        new = sim_thread.call(lambda w: w.add_run("extend", "PENDING"))
        wait_until(lambda: receiver.hits)  # journaled; the receiver refuses it
        busy = run_cli("migrate", "--from", str(state), "--to", pg_url)
        assert busy.returncode == 75 and b"in use by" in busy.stderr
        assert old.stop(signal.SIGTERM) == 0
        moved = run_cli("migrate", "--from", str(state), "--to", pg_url)
        assert moved.returncode == 0, moved.stderr
        assert b"copied 1 sources (2 runs), 1 journal entries, 1 cursors" in moved.stderr
        receiver.reply = lambda _hit: Reply()
        replica = DaemonProc("run", "-c", str(config(tmp_path / "new.toml", sim_thread,
                                                      receiver, pg_url)))
        wait_until(lambda: [e for e in received(receiver) if e["subject"] == new.id])
        sim_thread.call(lambda w: w.set_status(tracked.id, "FAILED"))
        wait_until(lambda: [e for e in received(receiver) if e["subject"] == tracked.id])
        assert replica.stop() == 0
    events = received(receiver)
    [change] = [e for e in events if e["subject"] == tracked.id]
    assert (change["type"], change["data"]["previous_status"]) == (
        "watcher.run.status_changed", "running")
    assert {e["subject"] for e in events} == {tracked.id, new.id}
    again = run_cli("migrate", "--from", str(state), "--to", pg_url)
    assert again.returncode == 73 and b"already holds a watcher state" in again.stderr


def test_migrate_refuses_what_it_cannot_copy(tmp_path: Path) -> None:
    """A target that is no PostgreSQL URL is a usage error (64), a missing file 66, an
    unreachable server 69 (its password masked)."""
    assert run_cli("migrate", "--from", "x.db", "--to", "/tmp/y.db").returncode == 64
    missing = run_cli("migrate", "--from", str(tmp_path / "none.db"), "--to",
                      "postgresql://u@127.0.0.1:1/w")
    assert missing.returncode == 66
    state = tmp_path / "state.db"
    state.write_bytes(b"")
    away = run_cli("migrate", "--from", str(state), "--to",
                   "postgresql://u:hunter2pw@127.0.0.1:1/w")
    assert away.returncode == 69 and b"hunter2pw" not in away.stderr
