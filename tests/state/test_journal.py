"""The journal through its public API: consecutive sequence numbers, reads from memory and
from the state file alike, sink cursors that persist, a bounded in-memory tail, pruning."""

from __future__ import annotations

from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from watcher.core.events import RUN_STATUS_CHANGED, run_event
from watcher.model import Event, Status
from watcher.state.backends import open_store
from watcher.state.journal import Journal
from watcher.state.store import SourceRow
from watcher.testing import FakeClock

pytestmark = pytest.mark.anyio


def event(n: int, now: float) -> Event:
    return run_event(RUN_STATUS_CHANGED, source="src", provider="scripted", run_id=f"run-{n}",
                     status=Status.FAILED, raw_status="failed",
                     previous=(Status.RUNNING, "running"), details=None, now=now, id_key=n)


async def commit(journal: Journal, *numbers: int, now: float = 1_800_000_000.0) -> list[int]:
    entries = await journal.commit("src", SourceRow(baselined=True),
                                   events=[event(n, now) for n in numbers])
    return [e.seq for e in entries]


async def test_commits_get_consecutive_sequence_numbers_across_a_restart(tmp_path: Path
                                                                         ) -> None:
    """Each event gets the next number; a journal reopened on the same file carries on."""
    path = str(tmp_path / "state.db")
    store = await open_store(path)
    journal = Journal(store)
    await journal.start()
    assert await commit(journal, 1, 2) == [1, 2]
    assert await commit(journal) == []
    assert await commit(journal, 3) == [3]
    await store.close()
    store = await open_store(path)
    again = Journal(store)
    await again.start()
    assert again.head == 3
    assert await commit(again, 4) == [4]
    assert [e.run_id for e in await again.read(0, 10)] == ["run-1", "run-2", "run-3", "run-4"]
    await store.close()


async def test_a_read_returns_the_same_entries_from_memory_or_from_the_file(tmp_path: Path
                                                                          ) -> None:
    """With a tail of 5 kept in memory, reads far behind (from the file) and near the head
    (from memory) return the same entries, in order, at most ``limit``."""
    store = await open_store(str(tmp_path / "state.db"))
    journal = Journal(store, tail_keep=5)
    await journal.start()
    await journal.attach("slow")  # never acknowledges: the tail must not grow for it
    for n in range(1, 31):
        await commit(journal, n)
    assert [e.seq for e in await journal.read(0, 4)] == [1, 2, 3, 4]
    assert [e.seq for e in await journal.read(12, 3)] == [13, 14, 15]
    assert [e.seq for e in await journal.read(27, 100)] == [28, 29, 30]
    assert await journal.read(30, 100) == []
    bodies = {e.seq: e.body for e in await store.read(0, 100)}
    assert all(e.body == bodies[e.seq] for e in await journal.read(0, 100))
    await store.close()


async def test_a_new_sink_starts_at_the_head_and_its_acknowledged_cursor_persists(
        tmp_path: Path) -> None:
    """A sink attached after two events gets only later ones; what it acknowledged is its
    cursor after a restart, and its backlog is what it has not."""
    path = str(tmp_path / "state.db")
    store = await open_store(path)
    journal = Journal(store)
    await journal.start()
    await commit(journal, 1, 2)
    assert await journal.attach("late") == 2
    await commit(journal, 3, 4, 5)
    assert journal.backlog("late") == 3
    await journal.ack("late", 4)
    assert journal.backlog("late") == 1
    await store.close()
    store = await open_store(path)
    again = Journal(store)
    await again.start()
    assert await again.attach("late") == 4
    await again.detach("late")
    assert await again.attach("late") == 5  # detached: a sink of that name starts afresh
    await store.close()


async def test_wait_returns_at_the_commit_that_passes_the_cursor_and_not_before() -> None:
    """A sink waiting after the head wakes at the next commit, not at an empty one."""
    clock = FakeClock()
    store = await open_store(":memory:")
    journal = Journal(store)
    await journal.start()
    woke: list[int] = []

    async def waiter() -> None:
        await journal.wait(0)
        woke.append(journal.head)
    async with anyio.create_task_group() as tg:
        tg.start_soon(waiter)
        await clock.advance(0)
        await commit(journal)
        await clock.advance(0)
        assert woke == []
        await commit(journal, 1)
        await clock.advance(0)
    assert woke == [1]
    await store.close()


async def test_pruning_forgets_only_what_every_sink_passed_and_is_old_enough(
        tmp_path: Path) -> None:
    """Entries older than the cut that every sink acknowledged go; an entry a sink still
    needs or a recent one stays readable."""
    store = await open_store(str(tmp_path / "state.db"))
    journal = Journal(store, tail_keep=1)
    await journal.start()
    await journal.attach("a")
    await journal.attach("b")
    await commit(journal, 1, 2, 3, now=1000.0)
    await commit(journal, 4, now=5000.0)
    await journal.ack("a", 4)
    await journal.ack("b", 2)
    assert await journal.prune(before=2000.0) == 2
    assert [e.seq for e in await store.read(0, 10)] == [3, 4]
    await journal.ack("b", 4)
    assert await journal.prune(before=2000.0) == 1
    assert [e.seq for e in await store.read(0, 10)] == [4]
    await store.close()


async def test_entries_another_writer_committed_meanwhile_are_numbered_and_read_in_order(
        tmp_path: Path) -> None:
    """The store, not the journal's memory, numbers entries: with another writer on the
    same state in between, this journal's next entries come after that writer's, and a
    read returns all of them in order."""
    path = str(tmp_path / "state.db")
    store = await open_store(path)
    journal = Journal(store)
    await journal.start()
    assert await commit(journal, 1) == [1]
    other = await open_store(path)
    await Journal(other).commit("src", SourceRow(baselined=True),
                                events=[event(n, 1.8e9) for n in (2, 3)])
    await other.close()
    assert await commit(journal, 4) == [4]
    assert journal.head == 4
    assert [e.run_id for e in await journal.read(0, 10)] == ["run-1", "run-2", "run-3", "run-4"]
    assert [e.run_id for e in await journal.read(3, 10)] == ["run-4"]
    await store.close()


async def test_a_reader_writing_back_wakes_sinks_and_resumes_where_it_committed(
        tmp_path: Path) -> None:
    """A reader's write-back numbers its events after the head, wakes waiting sinks, and
    a reopened journal has its cursor and records as committed."""
    path = str(tmp_path / "state.db")
    store = await open_store(path)
    journal = Journal(store)
    await journal.start()
    await commit(journal, 1, 2)
    woke: list[int] = []

    async def sink() -> None:
        await journal.wait(2)
        woke.append(journal.head)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sink)
        await anyio.lowlevel.checkpoint()
        entries = await journal.write_back("rules", 2, events=[event(3, 1.8e9)],
                                           records={("rules", "episode"): b"open"})
    assert [e.seq for e in entries] == [3] and woke == [3]
    assert journal.cursors["rules"] == 2
    await store.close()
    again = Journal(await open_store(path))
    await again.start()
    assert again.cursors["rules"] == 2 and again.head == 3
    assert await again.store.records("rules") == {"episode": b"open"}
    await again.store.close()
