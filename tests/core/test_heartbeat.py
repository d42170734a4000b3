"""The pure side of heartbeats: how the watcher's health is judged from the store and the
sink runners."""

from __future__ import annotations

from watcher.core.heartbeat import Stalls, judge


def test_a_runner_is_stalled_only_while_it_sits_on_a_backlog_without_moving() -> None:
    """A backlog whose cursor does not move counts up from when it was first seen; moving
    the cursor, or an empty backlog, starts the count again."""
    stalls = Stalls()
    assert stalls.update(0.0, {"hook": (5, 2), "out": (9, 0)}) == {"hook": 0.0}
    assert stalls.update(30.0, {"hook": (5, 2), "out": (9, 0)}) == {"hook": 30.0}
    assert stalls.update(40.0, {"hook": (6, 1), "out": (9, 0)}) == {"hook": 0.0}
    assert stalls.update(50.0, {"hook": (6, 0)}) == {}
    assert stalls.update(60.0, {"hook": (6, 3)}) == {"hook": 0.0}


def test_the_verdict_names_the_trouble_and_keeps_replicas_quiet_on_store_trouble() -> None:
    """Store trouble wins and says for how long; with replicas it is quiet (no fail
    signal: another replica may take over); a stalled runner fails once past the limit."""
    store = ("state store writes failing", 45.2, "disk full")
    assert judge(store=store, stalled={}, backlogs={}, stall_after=30, replicas=False) \
        .reason == "state store writes failing for 45 s: disk full"
    assert judge(store=store, stalled={}, backlogs={}, stall_after=30, replicas=True).quiet
    assert judge(store=None, stalled={"hook": 29.0}, backlogs={"hook": 4}, stall_after=30,
                 replicas=False).reason is None
    stuck = judge(store=None, stalled={"hook": 31.0}, backlogs={"hook": 4}, stall_after=30,
                  replicas=True)
    assert (stuck.reason, stuck.quiet) == \
        ("sink hook has not moved its backlog of 4 events for 31 s", False)
