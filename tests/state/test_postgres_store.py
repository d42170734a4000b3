"""The PostgreSQL store as replicas share it: replicas starting together, one journal
numbered for all of them in commit order, a server that is away or drops connections."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from functools import partial
from urllib.parse import urlsplit, urlunsplit

import anyio
import anyio.lowlevel
import pytest

from tests import postgres
from tests.state.runs import SMALL, Status, entry, plain, state
from tests.tcp_proxy import Proxy
from watcher.errors import StoreError, StoreUnavailable
from watcher.infra.clock import wall
from watcher.state.backends import open_store
from watcher.state.postgres.schema import SCHEMA_VERSION
from watcher.state.store import Commit, SourceRow, Store

pytestmark = pytest.mark.anyio


@pytest.fixture
async def replicas(pg_url: str) -> AsyncIterator[list[Store]]:
    """Three replicas' stores on one state, opened at the same moment."""
    stores: list[Store] = []

    async def one(name: str) -> None:
        stores.append(await open_store(pg_url, replica=name))
    async with anyio.create_task_group() as tg:
        for name in ("a", "b", "c"):
            tg.start_soon(one, name)
    try:
        yield stores
    finally:
        for s in stores:
            await s.close()


async def test_replicas_starting_together_migrate_the_schema_once(
        pg_url: str, replicas: list[Store]) -> None:
    """Three stores opening a new database at once leave it at the current schema with
    one journal head; a fourth opens it unchanged."""
    rows = await postgres.query(pg_url, "SELECT version FROM watcher_schema ORDER BY version")
    assert [r[0] for r in rows] == list(range(1, SCHEMA_VERSION + 1))
    assert [tuple(r) for r in await postgres.query(pg_url, "SELECT seq FROM journal_head")] == [
        (0,)]
    again = await open_store(pg_url, replica="d")
    assert await again.head() == 0
    await again.close()


async def test_a_database_of_a_newer_watcher_is_refused(pg_url: str) -> None:
    """A schema version above ours is refused at open (exit 69), not written."""
    store = await open_store(pg_url)
    await store.close()
    await postgres.query(pg_url, "INSERT INTO watcher_schema VALUES (99) RETURNING version")
    with pytest.raises(StoreUnavailable, match="newer watcher"):
        await open_store(pg_url)


async def test_an_unreachable_server_is_unavailable_and_its_password_is_not_shown() -> None:
    """No server at the URL: StoreUnavailable naming the masked URL, never the password."""
    with pytest.raises(StoreUnavailable) as e:
        await open_store("postgresql://watcher:hunter2secret@127.0.0.1:1/watcher")
    text = str(e.value)
    assert "postgresql://watcher:***@127.0.0.1:1/watcher" in text
    assert "hunter2secret" not in text


async def test_replicas_committing_at_once_share_one_gapless_journal_in_commit_order(
        replicas: list[Store]) -> None:
    """Commits from three replicas at once are numbered 1..n without gaps or repeats,
    and a reader following the head, reading ``seq > cursor``, misses none of them."""
    ids = itertools.count(1)
    seen: list[int] = []
    writing = True

    async def write(store: Store, source: str) -> None:
        for _ in range(25):
            await store.commit(Commit(source, SourceRow(), entries=[
                entry(next(ids), source=source) for _ in range(3)]))

    async def follow(store: Store) -> None:
        cursor = 0
        while writing or cursor < await store.head():
            for e in await store.read(cursor, 1000):
                seen.append(e.seq)
                cursor = e.seq
            await anyio.lowlevel.checkpoint()
    async with anyio.create_task_group() as tg:
        tg.start_soon(follow, replicas[0])
        async with anyio.create_task_group() as writers:
            for i, store in enumerate(replicas):
                writers.start_soon(write, store, f"s{i}")
        writing = False
    assert seen == list(range(1, 226))
    assert await replicas[1].head() == 225


async def test_a_replica_learns_of_another_ones_commit_by_notification(
        replicas: list[Store]) -> None:
    """``follow`` reports the head a commit of another replica made."""
    a, b, _ = replicas
    checked, notified = anyio.Event(), anyio.Event()

    def on_head(seq: int) -> None:
        (notified if seq == 2 else checked).set()
    assert b.cluster is not None
    async with anyio.create_task_group() as tg:
        tg.start_soon(partial(b.cluster.follow, on_head, lambda: None, clock=wall,
                              on_push=lambda _source: None))
        with anyio.fail_after(10):
            await checked.wait()  # the first head check: listening by now or soon
            await anyio.sleep(0.2)
            await a.commit(Commit("s", SourceRow(), entries=[entry(1), entry(2)]))
            await notified.wait()
        tg.cancel_scope.cancel()


async def test_a_terminated_connection_fails_one_write_and_the_store_carries_on(
        pg_url: str) -> None:
    """``pg_terminate_backend`` on every connection of the store: a write that finds its
    connection dead fails as a StoreError having written nothing, reads recover at
    once, and the next writes number on from the head."""
    store = await open_store(pg_url, replica="a")
    try:
        await store.commit(Commit("s", SourceRow(), entries=[entry(1)]))
        assert await postgres.terminate(pg_url, "watcher a") >= 1
        assert await store.head() == 1  # a read is tried again on a new connection
        assert await postgres.terminate(pg_url, "watcher a") >= 1
        outcomes = []
        for n in range(2, 5):
            try:
                stored = await store.commit(Commit("s", SourceRow(), entries=[entry(n)]))
                outcomes.append(stored[0].seq)
            except StoreError:
                outcomes.append(None)
        assert outcomes[-1] is not None and store.write_error is None
        assert [s for s in outcomes if s is not None] == list(range(2, 2 + sum(
            1 for s in outcomes if s is not None)))
    finally:
        await store.close()


def _through(proxy: Proxy, url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))


def _proxy(url: str) -> Proxy:
    parts = urlsplit(url)
    return Proxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()


async def test_a_readers_doubtful_write_back_is_not_settled_by_another_readers_commit(
        pg_url: str) -> None:
    """The health rules' write-back is lost in doubt; the reminders' write-back commits in
    between; the rules' retry still journals each of its events once."""
    proxy = _proxy(pg_url)
    store = await open_store(_through(proxy, pg_url), replica="a")
    try:
        proxy.lose_reply(b"COMMIT")
        with pytest.raises(StoreError):
            await store.commit(Commit(entries=[entry(1), entry(2)], cursor=("reader:rules", 0)))
        await store.commit(Commit(entries=[entry(3)], cursor=("reader:reminders", 0)))
        await store.commit(Commit(entries=[entry(1), entry(2)], cursor=("reader:rules", 0)))
        assert [(e.seq, e.id) for e in await store.read(0, 100)] == [
            (1, "id1"), (2, "id2"), (3, "id3")]
    finally:
        await store.close()
        proxy.stop()


@pytest.mark.parametrize("lost", [b"COMMIT", b"BEGIN"])
async def test_a_commit_whose_outcome_is_unknown_journals_each_event_once_when_tried_again(
        pg_url: str, lost: bytes) -> None:
    """The reply to COMMIT (or to BEGIN) is lost with the connection: the commit fails,
    and the same cycle tried again, with one more event, journals every event exactly
    once, numbered without gaps, and leaves the runs as the cycle made them."""
    proxy = _proxy(pg_url)
    store = await open_store(_through(proxy, pg_url), replica="a", layout=SMALL)
    try:
        before = {f"r{i}": state(i, Status.SUCCEEDED) for i in range(12)}
        await store.commit(Commit("s", SourceRow(), upserts=before, entries=[entry(1)]))
        cycle = {"r0": state(0, Status.FAILED), "r20": state(20, Status.RUNNING)}
        proxy.lose_reply(lost)
        with pytest.raises(StoreError):
            await store.commit(Commit("s", SourceRow(), upserts=cycle, base=before,
                                      removals=["r1"], entries=[entry(2), entry(3)]))
        stored = await store.commit(Commit("s", SourceRow(), upserts=cycle, base=before,
                                           removals=["r1"],
                                           entries=[entry(2), entry(3), entry(4)]))
        journal = [(e.seq, e.id) for e in await store.read(0, 100)]
        assert journal == [(1, "id1"), (2, "id2"), (3, "id3"), (4, "id4")]
        assert [(e.seq, e.id) for e in stored] == (
            [(4, "id4")] if lost == b"COMMIT" else journal[1:])
        runs = (await store.load(["s"]))["s"].runs
        after = {**{k: v for k, v in before.items() if k != "r1"}, **cycle}
        assert plain(runs) == plain(after)
    finally:
        await store.close()
        proxy.stop()
