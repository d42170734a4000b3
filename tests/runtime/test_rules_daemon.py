"""Health rules in the daemon as users run it: ``once``, a ``kill -9`` in the middle of an
episode, and a reload that removes the rule; real subprocesses and the simulator."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from tests.support import DaemonProc, SimThread, lines_of, run_cli, sim_source, toml

RULE = ('\n[[rules]]\nname = "invoices"\nfailure_rate_above = 0.5\nwindow = "1h"\n'
        'min_finished = 3\n')


def config(tmp_path: Path, sim: SimThread, *, rules: str = RULE) -> Path:
    path = tmp_path / "watcher.toml"
    path.write_text(toml({"state_path": str(tmp_path / "state.db"), "http_listen": ""},
                         [sim_source(sim.url, sim.world, "extend", name="prod")],
                         [{"name": "out", "type": "stdout"}]) + rules)
    return path


def runs(sim: SimThread, status: str, n: int) -> None:
    def make(w: Any) -> None:
        wf = w.workflow("extend", "Invoice Processing")
        for _ in range(n):
            w.add_run("extend", status, workflow=wf)
    sim.call(make)


def health(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"].removeprefix("watcher.workflow.") for e in events
            if e["type"].startswith("watcher.workflow.")]


def test_once_journals_the_episode_before_it_delivers(tmp_path: Path,
                                                      sim_thread: SimThread) -> None:
    """``once`` evaluates the rules on what it polled, so its output already holds the
    degraded event; a later ``once`` resolves it, never repeating it."""
    path = config(tmp_path, sim_thread)
    assert run_cli("once", "-c", str(path)).returncode == 0  # the baseline
    runs(sim_thread, "FAILED", 3)
    first = list(lines_of(run_cli("once", "-c", str(path)).stdout))
    assert health(first) == ["degraded"]
    assert first[-1]["type"] == "watcher.workflow.degraded"  # after the runs it counts
    runs(sim_thread, "PROCESSED", 5)
    second = list(lines_of(run_cli("once", "-c", str(path)).stdout))
    assert health(second) == ["recovered"]
    assert second[-1]["data"]["episode_started_at"] == first[-1]["time"]


def test_a_kill_in_the_middle_of_an_episode_neither_repeats_nor_loses_it(
        tmp_path: Path, sim_thread: SimThread) -> None:
    """Killed with SIGKILL while a workflow is degraded, the daemon started again keeps the
    episode: no second degraded event, and the recovery still comes."""
    path = config(tmp_path, sim_thread)
    d = DaemonProc("run", "-c", str(path))
    d.wait_stderr("baseline recorded")
    runs(sim_thread, "FAILED", 3)
    d.wait_for(lambda evs: health(evs) == ["degraded"])
    d.kill()
    again = DaemonProc("run", "-c", str(path))
    try:
        again.wait_stderr("watcher running")
        runs(sim_thread, "PROCESSED", 5)
        after = again.wait_for(lambda evs: "recovered" in health(evs))
    finally:
        assert again.stop() == 0
    # stdout after a SIGKILL is at least once: the degraded event may come again, same id
    every = {e["id"]: e for e in d.events() + after if e["type"].startswith("watcher.workflow.")}
    assert sorted(health(list(every.values()))) == ["degraded", "recovered"]
    degraded = next(e for e in every.values() if e["type"].endswith("degraded"))
    assert after[-1]["data"]["episode_started_at"] == degraded["time"]


def test_a_reload_without_the_rule_ends_its_open_episode(tmp_path: Path,
                                                        sim_thread: SimThread) -> None:
    """SIGHUP with the rule gone: its open episode ends with workflow.recovered saying why,
    so no incident is left open for a rule that no longer exists."""
    path = config(tmp_path, sim_thread)
    d = DaemonProc("run", "-c", str(path))
    try:
        d.wait_stderr("baseline recorded")
        runs(sim_thread, "FAILED", 3)
        d.wait_for(lambda evs: health(evs) == ["degraded"])
        config(tmp_path, sim_thread, rules="")
        d.send(signal.SIGHUP)
        events = d.wait_for(lambda evs: health(evs) == ["degraded", "recovered"])
    finally:
        assert d.stop() == 0
    assert events[-1]["data"]["reason"] == "rule removed"
