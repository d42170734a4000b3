"""The daemon's silencer drops stored silences that ended more than ``retention`` ago, so
silences added through the API do not pile up; the others stay in force."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from watcher.core.silences import Silence
from watcher.runtime.silencing import Silencer
from watcher.state import silences as stored
from watcher.state.backends import open_store
from watcher.testing.clocks import FrozenClock

DAY = 86400.0


@pytest.mark.anyio
async def test_a_silence_ended_longer_ago_than_retention_is_dropped_and_the_rest_kept(
        tmp_path: Path) -> None:
    """Only the silence that ended more than retention ago leaves the store; one ended
    within it and one in force stay, and the one in force still holds."""
    clock = FrozenClock()
    now = clock()
    store = await open_store(str(tmp_path / "state.db"))
    try:
        for sid, ends in (("old", now - 8 * DAY), ("recent", now - DAY), ("on", now + DAY)):
            await stored.save(store, Silence(id=sid, match={"source": ("a",)},
                                             starts=now - 9 * DAY, ends=ends, created=ends))
        silencer = Silencer(store, (), clock=clock, retention=7 * DAY)
        await silencer.refresh()
        kept, _ = await stored.stored(store)
        assert [s.id for s in kept] == ["recent", "on"]
        assert [s.label for s in silencer.active(now)] == ["on"]
        await silencer.refresh()  # the store's answer changed under it: nothing more goes
        assert [s.id for s in (await stored.stored(store))[0]] == ["recent", "on"]
    finally:
        await store.close()


@pytest.mark.anyio
async def test_a_store_that_refuses_the_drop_still_gets_the_new_silences_in_force(
        tmp_path: Path) -> None:
    """When forgetting an ended silence fails, the silencer says so and the silences read
    with it are still in force: a failed drop never freezes the set."""
    clock = FrozenClock()
    now = clock()
    path = tmp_path / "state.db"
    store = await open_store(str(path))
    try:
        with sqlite3.connect(path) as other:
            other.execute("CREATE TRIGGER no_delete BEFORE DELETE ON records "
                          "BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
        for sid, ends in (("old", now - 8 * DAY), ("on", now + DAY)):
            await stored.save(store, Silence(id=sid, match={"source": ("a",)},
                                             starts=now - 9 * DAY, ends=ends, created=ends))
        silencer = Silencer(store, (), clock=clock, retention=7 * DAY)
        with capture_logs() as logs:
            await silencer.refresh()
        assert [s.label for s in silencer.active(now)] == ["on"]
        assert [e["event"] for e in logs] == ["could not drop ended silences, will try again"]
    finally:
        await store.close()
