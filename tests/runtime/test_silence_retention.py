"""The daemon's silencer drops stored silences that ended more than ``retention`` ago, so
silences added through the API do not pile up; the others stay in force."""

from __future__ import annotations

from pathlib import Path

import pytest

from watcher.core.silences import Silence
from watcher.errors import StoreError
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
async def test_a_silence_in_force_holds_though_an_old_one_could_not_be_forgotten(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store refusing to forget an ended silence neither stops the refresh nor leaves the
    silences in force unapplied; the old one is forgotten once the store writes again."""
    clock = FrozenClock()
    now = clock()
    store = await open_store(str(tmp_path / "state.db"))
    try:
        for sid, ends in (("old", now - 8 * DAY), ("on", now + DAY)):
            await stored.save(store, Silence(id=sid, match={"source": ("a",)},
                                             starts=now - 9 * DAY, ends=ends, created=ends))
        put_record = store.put_record

        async def refused(namespace: str, key: str, value: bytes | None) -> None:
            raise StoreError("disk full")
        monkeypatch.setattr(store, "put_record", refused)
        silencer = Silencer(store, (), clock=clock, retention=7 * DAY)
        await silencer.refresh()
        assert [s.label for s in silencer.active(now)] == ["on"]
        await silencer.refresh()
        assert [s.label for s in silencer.active(now)] == ["on"]
        monkeypatch.setattr(store, "put_record", put_record)
        await silencer.refresh()
        assert [s.id for s in (await stored.stored(store))[0]] == ["on"]
        assert [s.label for s in silencer.active(now)] == ["on"]
    finally:
        await store.close()
