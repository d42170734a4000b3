"""A source's runs in memory: the counts a status snapshot reads follow every change."""

from __future__ import annotations

from watcher.model import RunState, Settled, Status
from watcher.runtime.tracking import SourceState
from watcher.state.store import SourceRow


def walked(state: SourceState) -> int:
    """The stuck live runs, counted the slow way."""
    return sum(1 for rid in state.live if state.runs[rid].stuck)


def test_stuck_count_follows_runs_flagged_finished_forgotten_and_loaded() -> None:
    """The stuck count equals a walk of the live runs after a first sync, a run flagged
    stuck, one flagged again, one finishing, one moving on, one forgotten, and a load."""
    state = SourceState()
    state.apply({"a": RunState(Status.RUNNING, "r", None, 0.0, True),
                 "b": RunState(Status.RUNNING, "r", None, 0.0),
                 "c": Settled((Status.FAILED, "f", 0.0))}, [])
    assert state.stuck == walked(state) == 1
    state.apply({"b": RunState(Status.RUNNING, "r", None, 0.0, True)}, [])
    state.apply({"b": RunState(Status.RUNNING, "r", "v2", 0.0, True)}, [])
    assert state.stuck == walked(state) == 2
    state.apply({"a": Settled((Status.SUCCEEDED, "s", 1.0))}, [])
    assert state.stuck == walked(state) == 1
    state.apply({"b": RunState(Status.PAUSED, "p", None, 2.0)}, [])
    assert state.stuck == walked(state) == 0
    state.apply({"b": RunState(Status.PAUSED, "p", None, 2.0, True)}, ["a", "c"])
    state.apply({}, ["b", "gone"])
    assert state.stuck == walked(state) == 0
    loaded = SourceState(SourceRow(runs={"x": RunState(Status.RUNNING, "r", None, 0.0, True),
                                         "y": RunState(Status.PENDING, "q", None, 0.0)}))
    assert loaded.stuck == walked(loaded) == 1
