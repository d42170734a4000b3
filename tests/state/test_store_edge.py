"""The store's edge: every SQLite failure leaves the store as a StoreError that says
what really went wrong, and the code reading the store at runtime survives it.
Real SQLite files, and a real full file system (tmpfs) where the tests run as root."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import anyio
import orjson
import pytest
from structlog.testing import capture_logs

from tests.sinks.runs import sink_config
from tests.state.runs import entry, state
from tests.support import fill_disk, mount_tmpfs
from watcher.errors import StoreError
from watcher.infra.clock import wall
from watcher.model import Status
from watcher.runtime.delivery import SinkRunner
from watcher.sinks.base import SinkContext
from watcher.sinks.file import FileSink
from watcher.state.backends import open_store
from watcher.state.journal import Journal
from watcher.state.store import Commit, SourceRow


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MB file system (tmpfs), unmounted afterwards."""
    disk = tmp_path / "disk"
    if not mount_tmpfs(disk, "2m"):
        pytest.skip("needs root and tmpfs to make a real full disk")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.mark.anyio
async def test_a_full_disk_is_reported_as_a_full_disk_not_as_the_rollback_after_it(
        small_disk: Path) -> None:
    """SQLite has already rolled back when a commit finds the disk full: the StoreError
    still says "disk is full", each retry says so again, and writing resumes with room."""
    store = await open_store(str(small_disk / "state.db"))
    row = SourceRow(baselined=True)
    await store.commit(Commit("src", row, entries=[entry(1)]))
    fill_disk(small_disk / "filler")
    big = [entry(n, size=20_000) for n in range(2, 42)]
    for _ in range(2):
        with pytest.raises(StoreError, match="database or disk is full") as failed:
            await store.commit(Commit("src", row, entries=big))
        assert store.write_error == str(failed.value)
        assert str(small_disk / "state.db") in str(failed.value)
    assert [e.seq for e in await store.read(0, 1000)] == [1]  # nothing of the failed ones
    (small_disk / "filler").unlink()
    await store.commit(Commit("src", row, entries=big))
    assert store.write_error is None and store.last_write_error == str(failed.value)
    assert [e.seq for e in await store.read(0, 1000)] == list(range(1, 42))
    await store.close()


@pytest.mark.anyio
async def test_every_store_call_on_a_damaged_file_raises_store_error(tmp_path: Path) -> None:
    """With its tables dropped underneath, every read and write (journal, cursors, dead
    letters, prune, load) raises StoreError naming the file and SQLite's reason."""
    path = tmp_path / "state.db"
    store = await open_store(str(path))
    await store.commit(Commit("src", SourceRow(baselined=True), {"r1": state(1, Status.RUNNING)},
                              entries=[entry(1)]))
    await store.set_cursor("sink", 1)
    with sqlite3.connect(path) as other:
        for table in ("journal", "cursors", "deadletters", "sources", "runs", "snapshots"):
            other.execute(f"DROP TABLE {table}")
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "load": store.load, "head": store.head, "read": lambda: store.read(0, 10),
        "cursors": store.cursors, "set_cursor": lambda: store.set_cursor("sink", 2),
        "drop_cursor": lambda: store.drop_cursor("sink"),
        "add_dead": lambda: store.add_dead("sink", [(entry(1), "410 Gone", 1)], 1.8e9),
        "dead_letters": store.dead_letters, "resolve_dead": lambda: store.resolve_dead("s", [1]),
        "mark_retry": lambda: store.mark_retry(None),
        "prune": lambda: store.prune_journal(upto=1, before=2e9),
        "forget_source": lambda: store.forget_source("src"),
        "commit": lambda: store.commit(Commit("src", SourceRow(), entries=[entry(2)])),
    }
    for name, call in calls.items():
        with pytest.raises(StoreError, match=f"{path}: no such table") as raised:
            await call()
        assert isinstance(raised.value.__cause__, sqlite3.Error), name
    await store.close()


@pytest.mark.anyio
async def test_a_sink_that_cannot_read_the_journal_retries_and_then_delivers_everything_once(
        tmp_path: Path) -> None:
    """A journal table gone from under a running sink runner is logged once and read
    again with backoff, without ending the task; once it is back, each entry is
    delivered exactly once."""
    path, out = tmp_path / "state.db", tmp_path / "events.jsonl"
    store = await open_store(str(path))
    await Journal(store).attach("under-test")
    await store.commit(Commit("src", SourceRow(baselined=True),
                              entries=[entry(n) for n in range(1, 6)]))
    journal = Journal(store)  # as after a restart: nothing in memory, reads go to the file
    await journal.start()
    with sqlite3.connect(path) as other:
        other.execute("ALTER TABLE journal RENAME TO journal_elsewhere")
    cfg = sink_config({"type": "file", "path": str(out)})
    runner = SinkRunner(FileSink(cfg, SinkContext(clock=wall)), cfg, journal, clock=wall)

    async def until(pred: Callable[[], bool]) -> None:
        for _ in range(1000):
            if pred():
                return
            await anyio.sleep(0.02)
        raise AssertionError("timed out")

    with capture_logs() as logs:
        async with anyio.create_task_group() as tg:
            tg.start_soon(runner.run)
            await until(lambda: runner.failing)
            assert not out.exists()
            with sqlite3.connect(path) as other:
                other.execute("ALTER TABLE journal_elsewhere RENAME TO journal")
            # the cursor moves before the step that delivered returns and clears the failure
            await until(lambda: journal.cursors["under-test"] == 5 and not runner.failing)
            tg.cancel_scope.cancel()
    await runner.sink.aclose()
    await store.close()
    failed = [e for e in logs if e["event"] == "could not read the journal, will retry"]
    assert len(failed) == 1 and "no such table: journal" in failed[0]["error"]
    assert [orjson.loads(line)["n"] for line in out.read_bytes().splitlines()] == [
        1, 2, 3, 4, 5]
    assert not runner.failing
