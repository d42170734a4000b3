"""Durability (the README's Guarantees): kill -9, catch-up, sink outages, reloads and a full disk.

Real daemon subprocesses, real SIGKILL/SIGTERM/SIGHUP, real SQLite files, the
simulator on loopback with a scripted world changing underneath.
"""

from __future__ import annotations

import random
import signal
import socket
import sqlite3
import subprocess
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.event_schema import valid_events
from tests.http_support import free_port, http_get
from tests.support import DaemonProc, SimThread, fill_disk, mount_tmpfs, sim_source, toml
from watcher.simulator.scenario import Scenario
from watcher.simulator.world import World
from watcher.state.backends import open_store
from watcher.state.store import SourceRow


def write_config(path: Path, sim: SimThread, state: Path, out: Path,
                 sources: list[dict[str, Any]] | None = None, listen: str = "") -> Path:
    path.write_text(toml({"state_path": str(state), "http_listen": listen},
                         sources or [sim_source(sim.url, sim.world, "extend", lookback="2h")],
                         [{"name": "archive", "type": "file", "path": str(out)}]))
    return path


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return valid_events(path.read_bytes().splitlines())


def wait_until(pred: Any, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def history(world: World) -> dict[str, list[str]]:
    h: dict[str, list[str]] = defaultdict(list)
    for t in world.transitions:
        h[t.run_id].append(t.status)
    return h


def check_consistent(events: list[dict[str, Any]], world: World) -> list[dict[str, Any]]:
    """Nothing invented, chains unbroken, duplicates share ids; returns events deduped by id."""
    by_key: dict[tuple[Any, ...], set[str]] = defaultdict(set)
    unique: dict[str, dict[str, Any]] = {}
    for e in events:
        d = e["data"]
        by_key[(e["subject"], e["type"], d["previous_raw_status"], d["raw_status"])].add(e["id"])
        unique.setdefault(e["id"], e)
    assert all(len(ids) == 1 for ids in by_key.values()), "a repeated event changed its id"
    hist = history(world)
    chains: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in unique.values():
        if e["type"] in ("watcher.run.created", "watcher.run.status_changed"):
            chains[e["subject"]].append(e)
    for run_id, chain in chains.items():
        statuses = hist[run_id]
        pos = -1
        prev: str | None = None
        for i, e in enumerate(chain):
            d = e["data"]
            if i == 0 and e["type"] == "watcher.run.created":
                assert d["previous_raw_status"] is None
            elif i == 0:
                assert d["previous_raw_status"] in statuses[:max(pos, 0) + len(statuses)]
            else:
                assert d["previous_raw_status"] == prev, f"broken chain for {run_id}"
            nxt = statuses.index(d["raw_status"], pos + 1)  # ValueError = invented status
            pos, prev = nxt, d["raw_status"]
    return list(unique.values())


def test_kill_9_twenty_times_loses_and_invents_nothing(tmp_path: Path,
                                                       sim_thread: SimThread) -> None:
    """Every run's final status is reached through a chain of real transitions, once each."""
    world = sim_thread.world
    play = Scenario(world, vendors=["extend"], spawn_every=0.4, step=(0.3, 1.2), history=10)
    sim_thread.call(lambda w: play.setup())
    churn = sim_thread.spawn(play.run)
    state, out = tmp_path / "state.db", tmp_path / "events.jsonl"
    cfg = write_config(tmp_path / "w.toml", sim_thread, state, out)
    rng = random.Random(20261122)
    try:
        for i in range(20):
            d = DaemonProc("run", "-c", str(cfg))
            if i == 0:
                # the baseline must land once, whatever the machine's load: else every
                # killed daemon dies before its first poll and the test proves nothing
                d.wait_stderr("baseline recorded", timeout=60)
            time.sleep(rng.uniform(0.3, 1.6))
            d.kill()
    finally:
        churn.cancel()
    time.sleep(0.3)
    final = sim_thread.call(lambda w: {r.id: r.status for r in w.runs["extend"].values()})
    d = DaemonProc("run", "-c", str(cfg))
    d.wait_log("watcher running")  # its predecessors may have caught up already

    async def load() -> dict[str, SourceRow]:
        store = await open_store(str(state))
        try:
            return await store.load(["extend-test"])
        finally:
            await store.close()

    def caught_up() -> bool:
        runs = anyio.run(load).get("extend-test", SourceRow()).runs
        return {rid: st.raw_status for rid, st in runs.items()} == final
    wait_until(caught_up, 30, "the daemon to know every final status")
    wait_until(lambda: len(read_events(out)) and _delivered_all(state), 30, "delivery")
    assert d.stop() == 0
    events = read_events(out)  # every line parses: torn lines were healed
    unique = check_consistent(events, world)
    with sqlite3.connect(state) as db:
        journal_ids = [r[0] for r in db.execute("SELECT id FROM journal")]
    assert len(journal_ids) == len(set(journal_ids)), "the journal holds an event twice"
    assert {e["id"] for e in unique} == set(journal_ids)
    assert sum(1 for e in unique if e["data"]["raw_status"] == "FAILED") > 0


def _delivered_all(state: Path) -> bool:
    with sqlite3.connect(state) as db:
        head = db.execute("SELECT MAX(seq) FROM journal").fetchone()[0] or 0
        cursor = db.execute("SELECT seq FROM cursors WHERE sink='archive'").fetchone()
    return cursor is not None and cursor[0] >= head


@pytest.mark.parametrize(("stop", "history"), [("sigterm", 0), ("kill -9", 0),
                                               ("kill -9", 1500)])
def test_changes_made_while_down_are_emitted_at_restart(tmp_path: Path, sim_thread: SimThread,
                                                        stop: str, history: int) -> None:
    """What changed while the daemon was down (stopped or killed) is emitted once at restart."""
    # history: finished runs already there, enough that the state is a snapshot
    def setup(w: World) -> list[str]:
        for i in range(history):
            t = w.clock() - 3600 + i
            w.add_run("extend", "PROCESSED", created=t, updated=t)
        return [w.add_run("extend", "PROCESSING").id for _ in range(3)]
    ids = sim_thread.call(setup)
    state, out = tmp_path / "state.db", tmp_path / "events.jsonl"
    cfg = write_config(tmp_path / "w.toml", sim_thread, state, out)
    d = DaemonProc("run", "-c", str(cfg))
    d.wait_log("baseline recorded")
    # a steady-state cycle too, so the watermark is saved: a cycle commits before the
    # next one sends its request, so two more requests mean one more cycle is on disk
    served = sim_thread.call(lambda w: w.count("extend", "/workflow_runs"))
    wait_until(lambda: sim_thread.call(lambda w: w.count("extend", "/workflow_runs"))
               >= served + 2, 15, "a steady-state cycle")
    with sqlite3.connect(state) as db:
        snapshot = db.execute("SELECT COALESCE(SUM(count), 0) FROM snapshots").fetchone()[0]
    assert snapshot == (history + 3 if history else 0)
    if stop == "sigterm":
        assert d.stop() == 0
    else:
        d.kill()

    def while_down(w: World) -> str:
        w.set_status(ids[0], "FAILED")
        w.set_status(ids[1], "NEEDS_REVIEW")
        w.set_status(ids[1], "PROCESSED")
        return w.add_run("extend", "FAILED").id
    new = sim_thread.call(while_down)
    d = DaemonProc("run", "-c", str(cfg))
    wait_until(lambda: len(read_events(out)) >= 3, 20, "catch-up events")
    time.sleep(1.5)
    assert d.stop() == 0
    got = {(e["subject"], e["type"].removeprefix("watcher."), e["data"]["status"],
            e["data"]["previous_status"]) for e in read_events(out)}
    assert got == {(ids[0], "run.status_changed", "failed", "running"),
                   (ids[1], "run.status_changed", "succeeded", "running"),
                   (new, "run.created", "failed", None)}


def test_a_sink_that_cannot_write_gets_everything_later_across_a_restart(
        tmp_path: Path, sim_thread: SimThread) -> None:
    """A sink that cannot write gets every event, in order, once it can, even across a restart."""
    state, out = tmp_path / "state.db", tmp_path / "logs" / "events.jsonl"  # logs/ is missing
    cfg = write_config(tmp_path / "w.toml", sim_thread, state, out)
    d = DaemonProc("run", "-c", str(cfg))
    d.wait_log("baseline recorded")
    before = sim_thread.call(lambda w: [w.add_run("extend", "FAILED").id for _ in range(3)])
    d.wait_log("sink delivery failing, will retry", sink="archive")
    started = time.monotonic()
    assert d.stop() == 0
    assert time.monotonic() - started < 5, "a failing sink must not hold up the stop"
    during = sim_thread.call(lambda w: [w.add_run("extend", "FAILED").id for _ in range(2)])
    (tmp_path / "logs").mkdir()
    d = DaemonProc("run", "-c", str(cfg))
    wait_until(lambda: len(read_events(out)) >= 5, 20, "the backlog")
    after = sim_thread.call(lambda w: w.add_run("extend", "FAILED").id)
    wait_until(lambda: len(read_events(out)) >= 6, 20, "new events")
    assert d.stop() == 0
    subjects = [e["subject"] for e in read_events(out)]
    # in order batch by batch (runs made in one batch share a timestamp)
    assert len(subjects) == 6
    assert set(subjects[:3]) == set(before) and set(subjects[3:5]) == set(during)
    assert subjects[5] == after


def test_sighup_adds_and_removes_sources_and_keeps_the_others_state(
        tmp_path: Path, sim_thread: SimThread) -> None:
    """SIGHUP adds and removes sources, keeps the others' state, and refuses an invalid config."""
    def wf_ids(w: World) -> dict[str, str]:
        return {k: w.workflow("extend", name).id for k, name in
                (("a", "Invoice Processing"), ("b", "Contract Review"), ("c", "Onboarding"))}
    wf = sim_thread.call(wf_ids)

    def source(key: str, **kw: Any) -> dict[str, Any]:
        return sim_source(sim_thread.url, sim_thread.world, "extend", name=f"src-{key}",
                          params={"workflowId": wf[key]}, **kw)

    def add(key: str, status: str = "PENDING") -> str:
        return sim_thread.call(lambda w: w.add_run(
            "extend", status, workflow=next(x for x in w.workflows["extend"]
                                            if x.id == wf[key])).id)
    existing = {k: add(k, "PROCESSING") for k in "abc"}
    state, out = tmp_path / "state.db", tmp_path / "events.jsonl"
    cfg = write_config(tmp_path / "w.toml", sim_thread, state, out, [source("a"), source("b")])
    d = DaemonProc("run", "-c", str(cfg))
    d.wait_log("baseline recorded", source="src-a")
    d.wait_log("baseline recorded", source="src-b")
    a1 = add("a")
    wait_until(lambda: any(e["subject"] == a1 for e in read_events(out)), 15, "a1")

    write_config(cfg, sim_thread, state, out, [source("a", interval="2s"), source("c")])
    d.send(signal.SIGHUP)
    d.wait_log("config reloaded")
    d.wait_log("baseline recorded", source="src-c")
    news = {k: add(k) for k in "abc"}
    wait_until(lambda: {news["a"], news["c"]} <= {e["subject"] for e in read_events(out)}, 15,
               "events from the kept and the added source")
    cfg.write_text("[watcher]\nbaseline = 42\n")  # an invalid config is refused
    d.send(signal.SIGHUP)
    d.wait_log("reload refused: invalid config, keeping the running one")
    a2 = add("a")
    wait_until(lambda: any(e["subject"] == a2 for e in read_events(out)), 15, "a2")
    assert d.stop() == 0
    subjects = [e["subject"] for e in read_events(out)]
    assert sorted(subjects) == sorted([a1, news["a"], news["c"], a2])  # each once
    assert existing["c"] not in subjects  # the added source baselined silently
    assert news["b"] not in subjects  # the removed source stopped


def test_a_full_disk_is_logged_loudly_and_nothing_is_lost(tmp_path: Path,
                                                          sim_thread: SimThread) -> None:
    """A full disk is logged once as "disk is full", shown in /metrics, /readyz and the
    STATUS= line as the state store failing, and what changed meanwhile is journaled
    once there is room again."""
    disk = tmp_path / "disk"
    if not mount_tmpfs(disk, "4m"):
        pytest.skip("needs root and tmpfs to make a real full disk")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(0.1)
    try:
        state, out = disk / "state.db", tmp_path / "events.jsonl"
        port = free_port()
        cfg = write_config(tmp_path / "w.toml", sim_thread, state, out,
                           listen=f"127.0.0.1:{port}")
        d = DaemonProc("run", "-c", str(cfg), env={"NOTIFY_SOCKET": str(tmp_path / "notify.sock")})
        d.wait_log("baseline recorded")

        def metric(name: str) -> float:
            _, body = http_get(f"http://127.0.0.1:{port}/metrics")
            return next(s.value for fam in text_string_to_metric_families(body.decode())
                        for s in fam.samples if s.name == name)

        def readyz() -> tuple[int, dict[str, Any]]:
            code, body = http_get(f"http://127.0.0.1:{port}/readyz")
            return code, orjson.loads(body)
        assert metric("watcher_state_write_failing") == 0
        first = sim_thread.call(lambda w: w.add_run("extend", "FAILED").id)
        wait_until(lambda: any(e["subject"] == first for e in read_events(out)), 15, "first")
        assert readyz()[0] == 200
        filler = disk / "filler"
        fill_disk(filler)
        during = sim_thread.call(lambda w: [w.add_run("extend", "FAILED").id for _ in range(3)])
        failed = d.wait_log("STATE STORE WRITE FAILED: events are not being recorded; polling "
                            "continues and will record them once it can write")
        assert failed["error"] == f"could not write {state}: database or disk is full"
        reason = f"state store writes failing: {failed['error']}"
        status = status_lines(notify, until=lambda line: "state store" in line)
        assert status.endswith(f"; {reason}")
        time.sleep(2.5)  # it keeps polling (and does not log the failure again)
        assert d.proc.poll() is None
        assert sum(1 for entry in d.logs() if "STATE STORE" in entry.get("event", "")) == 1
        assert metric("watcher_state_write_failing") == 1
        assert metric("watcher_state_write_failures_total") >= 1
        code, body = readyz()
        assert code == 503 and body["reason"] == body["store"] == reason
        filler.unlink()
        wait_until(lambda: set(during) <= {e["subject"] for e in read_events(out)}, 20,
                   "the changes made while the disk was full")
        assert metric("watcher_state_write_failing") == 0
        assert readyz()[0] == 200
        assert "state store" not in status_lines(notify, until=lambda line: "state" not in line)
        assert d.stop() == 0
    finally:
        notify.close()
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
    subjects = [e["subject"] for e in read_events(out)]
    assert subjects[0] == first and sorted(subjects[1:]) == sorted(during)


def status_lines(sock: socket.socket, *, until: Any, timeout: float = 15.0) -> str:
    """The first ``STATUS=`` text received on ``sock`` for which ``until`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = sock.recv(4096).decode()
        except TimeoutError:
            continue
        for line in msg.split("\n"):
            if line.startswith("STATUS=") and until(line):
                return line.removeprefix("STATUS=")
    raise AssertionError("no such STATUS= line")
