"""The failure tally behind /status: the last 24 hours' failed runs per workflow, read
from the journal, counted once however often its chore starts again."""

from __future__ import annotations

import anyio
import pytest

from watcher.core.events import RUN_STATUS_CHANGED, run_event
from watcher.core.failures import FailureWindow
from watcher.model import Status
from watcher.runtime.chores import tally
from watcher.state.backends import open_store
from watcher.state.journal import Journal
from watcher.state.store import SourceRow
from watcher.testing.clocks import FrozenClock

pytestmark = pytest.mark.anyio


async def test_a_tally_started_again_counts_each_failure_once() -> None:
    """A tally restarted on the same window (its chore restarted after a store error)
    counts the last 24 hours afresh, not on top of what it had counted."""
    clock = FrozenClock()
    store = await open_store(":memory:")
    try:
        journal = Journal(store)
        await journal.start()
        failed = run_event(RUN_STATUS_CHANGED, source="src", provider="scripted",
                           run_id="r1", status=Status.FAILED, raw_status="failed",
                           previous=(Status.RUNNING, "running"), details=None,
                           now=clock() - 60, id_key=1)
        await journal.commit("src", SourceRow(baselined=True), events=[failed])
        window = FailureWindow()
        for _ in range(2):  # the chore's body, then the same body restarted by supervise
            with anyio.move_on_after(0.5):
                await tally(journal, window, clock=clock)
        assert [sum(hours) for hours in window.counts(clock()).values()] == [1]
    finally:
        await store.close()
