"""The store seam's contract, held by every implementation alike (see ``BACKENDS``):
atomic commits, a journal the store numbers, cursors, dead letters, and state that
loads back exactly as committed.  Real stores throughout, through the protocol only."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.state.runs import (
    DURABLE,
    SMALL,
    STATUSES,
    Backend,
    backend,
    entry,
    plain,
    state,
)
from watcher.errors import StoreError
from watcher.model import JournalEntry, RunState, Settled, Status, Tracked
from watcher.state.snapshots import Layout
from watcher.state.store import Commit, SourceRow, Store

pytestmark = pytest.mark.anyio


@pytest.fixture(params=DURABLE)
def durable(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each implementation whose state outlives the store object."""
    return backend(request.param, tmp_path, request)


def row(page: int = 0, *, failures: int = 0, failing_since: float | None = None) -> SourceRow:
    return SourceRow({"page": page}, True, failures, failing_since)


async def journal(store: Store, source: str, *numbers: int) -> list[int]:
    """Commit entries for ``numbers``; the sequence numbers the store gave them."""
    stored = await store.commit(Commit(source, row(), entries=[entry(n, source=source) for n in numbers]))
    return [e.seq for e in stored]


async def test_a_store_says_whether_its_state_outlives_the_process(where: Backend,
                                                                   store: Store) -> None:
    """``persistent`` is true exactly for a store whose state a new store object finds."""
    assert store.persistent is where.durable
    assert store.path and store.write_error is None and store.last_write_error is None


async def test_the_store_numbers_entries_after_its_head_in_commit_order(store: Store) -> None:
    """Each commit's entries get the next numbers, consecutive across commits, and read
    back in that order; an empty commit takes none."""
    assert await store.head() == 0
    assert await journal(store, "a", 1, 2) == [1, 2]
    assert await journal(store, "b") == []
    assert await journal(store, "b", 3, 4, 5) == [3, 4, 5]
    assert await journal(store, "a", 6) == [6]
    assert await store.head() == 6
    assert [(e.seq, e.id, e.source) for e in await store.read(0, 100)] == [
        (1, "id1", "a"), (2, "id2", "a"), (3, "id3", "b"), (4, "id4", "b"), (5, "id5", "b"),
        (6, "id6", "a")]


async def test_numbering_carries_on_from_the_head_a_reopened_store_finds(
        durable: Backend) -> None:
    """A store opened again on the same state numbers after the last entry committed."""
    store = await durable.open()
    await journal(store, "src", 1, 2, 3)
    await store.close()
    store = await durable.open()
    assert await store.head() == 3
    assert await journal(store, "src", 4) == [4]
    await store.close()


async def test_a_failed_commit_leaves_nothing_and_the_next_one_numbers_on(
        where: Backend, store: Store) -> None:
    """A commit failing at its last journal row (a constraint every store enforces),
    after it rewrote the source's runs as a snapshot, keeps none of its runs, source
    row or entries and says why in ``write_error``; the next commit gets the numbers
    the failed one would have, and its runs load back as committed."""
    first = {"r1": state(1, Status.RUNNING)}
    await store.commit(Commit("src", row(1), first, entries=[entry(1)], base={}))
    bad = JournalEntry(0, "bad", 1.8e9, "watcher.run.created", "src", "r3", "failed", None, None,
                       cast(bytes, None))  # a journal body is NOT NULL
    many = {f"m{i}": state(i, Status.RUNNING) for i in range(1500)}  # a snapshot's worth
    with pytest.raises(StoreError) as failed:
        await store.commit(Commit("src", row(2, failures=3), many, removals=["r1"],
                                  entries=[entry(2), bad], base=first))
    assert store.write_error == str(failed.value) == store.last_write_error
    assert await store.head() == 1
    assert [e.id for e in await store.read(0, 10)] == ["id1"]
    loaded = (await store.load())["src"]
    assert (loaded.cursor, loaded.failures) == ({"page": 1}, 0)
    if where.durable:
        assert plain(loaded.runs) == plain(first)
    after = await store.commit(Commit("src", row(3), {"r2": state(2, Status.FAILED)},
                                      removals=["r1"], entries=[entry(3)], base=first))
    assert [e.seq for e in after] == [2]
    assert store.write_error is None and store.last_write_error == str(failed.value)
    if where.durable:
        assert plain((await store.load())["src"].runs) == plain({"r2": state(2, Status.FAILED)})


async def test_a_read_from_a_cursor_returns_at_most_limit_entries_in_order(
        store: Store) -> None:
    """``read(after, limit)`` starts after the cursor, keeps the order and the limit, and
    is empty at or past the head."""
    for n in range(1, 26, 5):
        await journal(store, "src", *range(n, n + 5))
    assert [e.seq for e in await store.read(0, 3)] == [1, 2, 3]
    assert [e.seq for e in await store.read(7, 4)] == [8, 9, 10, 11]
    assert [e.seq for e in await store.read(22, 100)] == [23, 24, 25]
    assert await store.read(25, 100) == []
    assert await store.read(40, 100) == []
    [e] = await store.read(11, 1)
    assert (e.id, e.time, e.type, e.source, e.run_id, e.status) == (
        "id12", 1.8e9 + 12, "watcher.run.created", "src", "r12", "running")
    assert e.body == entry(12).body


async def test_pruning_drops_only_old_entries_every_sink_passed_and_no_dead_letter_holds(
        store: Store) -> None:
    """Only entries at or below ``upto``, older than ``before`` and not dead letters go."""
    await store.commit(Commit("src", row(), entries=[entry(n, time=1000.0 + n)
                                                      for n in range(1, 7)]))
    await store.add_dead("sink", [(e, "410 Gone", 1) for e in await store.read(1, 1)], 1.8e9)
    assert await store.prune_journal(upto=5, before=1005.0) == 3  # 1, 3, 4: not 2 (dead)
    assert [e.seq for e in await store.read(0, 10)] == [2, 5, 6]
    [dead] = await store.dead_letters()
    assert dead.entry.seq == 2


async def test_the_head_survives_pruning_so_no_number_is_given_twice(
        where: Backend, store: Store) -> None:
    """With every entry pruned, the head stays and the next entry takes the next number."""
    await journal(store, "src", 1, 2, 3)
    assert await store.prune_journal(upto=3, before=2e9) == 3
    assert await store.read(0, 10) == []
    assert await store.head() == 3
    assert await journal(store, "src", 4) == [4]
    if where.durable:
        await store.prune_journal(upto=4, before=2e9)
        again = await where.open()
        assert await again.head() == 4
        await again.close()


async def test_cursors_are_set_moved_and_dropped_and_reload(where: Backend,
                                                            store: Store) -> None:
    """A cursor is created, moved and dropped per sink; a reopened store has them."""
    assert await store.cursors() == {}
    await store.set_cursor("a", 0)
    await store.set_cursor("b", 3)
    await store.set_cursor("a", 7)
    assert await store.cursors() == {"a": 7, "b": 3}
    await store.drop_cursor("b")
    await store.drop_cursor("never-set")
    assert await store.cursors() == {"a": 7}
    if where.durable:
        again = await where.open()
        assert await again.cursors() == {"a": 7}
        await again.close()


async def test_records_are_written_read_per_namespace_deleted_and_reload(
        where: Backend, store: Store) -> None:
    """Records are kept per namespace, replaced by key, deleted by ``None``, and a
    reopened store has them."""
    assert await store.records("silences") == {}
    await store.put_record("silences", "s1", b"one")
    await store.put_record("silences", "s2", b"two")
    await store.put_record("rules", "s1", b"other namespace")
    await store.put_record("silences", "s1", b"one again")
    await store.put_record("silences", "s2", None)
    await store.put_record("silences", "never-set", None)
    assert await store.records("silences") == {"s1": b"one again"}
    assert await store.records("rules") == {"s1": b"other namespace"}
    if where.durable:
        again = await where.open()
        assert await again.records("silences") == {"s1": b"one again"}
        await again.close()


async def test_a_reader_commits_its_events_records_and_cursor_together(
        store: Store) -> None:
    """A journal reader that writes back (health rules, reminders) commits its events,
    its records and its cursor at once; a failed such commit keeps none of them."""
    await journal(store, "src", 1, 2)
    await store.put_record("rules", "gone", b"x")
    stored = await store.commit(Commit(entries=[entry(3, source="rules")], cursor=("rules", 2),
                                       records={("rules", "episode"): b"open",
                                                ("rules", "gone"): None}))
    assert [e.seq for e in stored] == [3]
    assert (await store.cursors())["rules"] == 2
    assert await store.records("rules") == {"episode": b"open"}
    bad = JournalEntry(0, "bad", 1.8e9, "watcher.run.created", "src", "r3", "failed", None,
                       None, cast(bytes, None))  # a journal body is NOT NULL
    with pytest.raises(StoreError):
        await store.commit(Commit(entries=[bad], cursor=("rules", 3),
                                  records={("rules", "episode"): b"closed"}))
    assert (await store.cursors())["rules"] == 2
    assert await store.records("rules") == {"episode": b"open"}
    assert await store.head() == 3


async def test_dead_letters_are_kept_listed_queued_for_retry_and_resolved(
        store: Store) -> None:
    """Dead letters list oldest first per sink or for all, within a limit; a retry queues
    one sink's or all; adding one again replaces it with the flag cleared; resolving
    drops only that sink's."""
    e1, e2, e3 = await store.commit(Commit("src", row(), entries=[entry(n) for n in (1, 2, 3)]))
    await store.add_dead("a", [(e3, "410 Gone", 1), (e1, "422", 2)], 100.0)
    await store.add_dead("b", [(e2, "timeout", 5)], 200.0)
    assert [(d.sink, d.entry.seq, d.reason, d.attempts, d.time, d.retry)
            for d in await store.dead_letters()] == [
        ("a", 1, "422", 2, 100.0, False), ("b", 2, "timeout", 5, 200.0, False),
        ("a", 3, "410 Gone", 1, 100.0, False)]
    assert [d.entry.id for d in await store.dead_letters("a", limit=1)] == ["id1"]
    assert (await store.dead_letters("a"))[1].entry.body == e3.body
    assert await store.dead_letters("a", retry_only=True) == []
    assert await store.mark_retry("a") == 2
    assert [d.entry.seq for d in await store.dead_letters(retry_only=True)] == [1, 3]
    await store.add_dead("a", [(e1, "still 422", 3)], 300.0)
    [again] = await store.dead_letters("a", limit=1)
    assert (again.reason, again.attempts, again.time, again.retry) == ("still 422", 3, 300.0,
                                                                       False)
    assert await store.mark_retry(None) == 3
    await store.resolve_dead("a", [1, 2])  # 2 is b's: stays
    assert [(d.sink, d.entry.seq, d.retry) for d in await store.dead_letters()] == [
        ("b", 2, True), ("a", 3, True)]


async def test_runs_and_source_rows_load_back_after_reopening(durable: Backend) -> None:
    """Snapshot, rows, removals of snapshotted and of plain runs, and each source's row
    (cursor, baseline, failures) load back exactly as committed into a new store."""
    store = await durable.open(SMALL)
    runs = {f"r{i}": state(i, STATUSES[i % 4], stuck=i % 5 == 0) for i in range(30)}
    await store.commit(Commit("big", row(1), runs, base={}))  # a snapshot
    changes = {"r1": state(1, Status.FAILED), "r2": state(2, Status.RUNNING, stuck=True),
               "new": state(99, Status.RUNNING)}
    await store.commit(Commit("big", row(2), changes, removals=["r3", "r4"], base=runs))
    await store.commit(Commit("small", row(5, failures=2, failing_since=1.7e9),
                              {"x": state(0, Status.RUNNING), "y": state(1, Status.SUCCEEDED)}))
    await store.commit(Commit("small", row(6, failures=2, failing_since=1.7e9), removals=["y"]))
    await store.close()
    store = await durable.open(SMALL)
    loaded = await store.load()
    await store.close()
    expected = {**runs, **changes}
    del expected["r3"], expected["r4"]
    assert plain(loaded["big"].runs) == plain(expected)
    assert (loaded["big"].cursor, loaded["big"].baselined) == ({"page": 2}, True)
    small = loaded["small"]
    assert plain(small.runs) == plain({"x": state(0, Status.RUNNING)})
    assert (small.cursor, small.failures, small.failing_since) == ({"page": 6}, 2, 1.7e9)


async def test_finished_runs_load_back_as_bare_tuples(durable: Backend) -> None:
    """Finished runs written as Settled tuples (a first sync), in a snapshot or as rows,
    load back as Settled, as compact after a restart as before; stuck or detailed runs
    stay RunStates."""
    store = await durable.open(SMALL)
    runs: dict[str, Tracked] = {f"s{i}": Settled((Status.SUCCEEDED, "PROCESSED", 1.8e9 + i))
                                for i in range(30)}
    runs["live"] = state(1, Status.RUNNING)
    await store.commit(Commit("src", row(), runs, base={}))
    await store.commit(Commit("src", row(), {"late": Settled((Status.FAILED, "FAILED", 1.9e9))},
                              base=runs))
    await store.close()
    store = await durable.open(SMALL)
    loaded = (await store.load())["src"].runs
    await store.close()
    assert plain(loaded) == plain({**runs, "late": Settled((Status.FAILED, "FAILED", 1.9e9))})
    assert {type(v).__name__ for k, v in loaded.items() if k != "live"} == {"Settled"}
    assert isinstance(loaded["live"], RunState)


async def test_a_store_opened_without_loading_still_records_removals(durable: Backend) -> None:
    """A store that never loaded a source still makes a removal of a snapshotted run stick."""
    store = await durable.open(SMALL)
    runs = {f"r{i}": state(i, Status.RUNNING) for i in range(20)}
    await store.commit(Commit("src", row(), runs, base={}))
    await store.close()
    store = await durable.open(SMALL)  # a fresh process, before any load
    await store.commit(Commit("src", row(), removals=["r0"], base=runs))
    await store.close()
    store = await durable.open(SMALL)
    assert set((await store.load())["src"].runs) == set(runs) - {"r0"}
    await store.close()


async def test_loading_given_sources_loads_only_those(where: Backend, store: Store) -> None:
    """``load(sources)`` returns those sources' rows and runs only; one never committed is
    absent."""
    for name in ("a", "b", "c"):
        await store.commit(Commit(name, row(ord(name)), {f"{name}1": state(1, Status.RUNNING)}))
    loaded = await store.load(["a", "c", "never"])
    assert sorted(loaded) == ["a", "c"]
    assert loaded["c"].cursor == {"page": ord("c")}
    if where.durable:
        assert list(loaded["a"].runs) == ["a1"]


async def test_forgetting_a_source_drops_its_runs_and_row_only(where: Backend,
                                                               store: Store) -> None:
    """A forgotten source loads as never committed, others are untouched, its journal
    entries stay, and it can start afresh."""
    big = {f"r{i}": state(i, Status.SUCCEEDED) for i in range(1500)}
    await store.commit(Commit("src", row(), big, entries=[entry(1)], base={}))
    await store.commit(Commit("other", row(), {"x": state(0, Status.RUNNING)}))
    await store.forget_source("src")
    loaded = await store.load()
    assert "src" not in loaded and "other" in loaded
    assert [e.id for e in await store.read(0, 10)] == ["id1"]
    await store.commit(Commit("src", row(), {"r1": state(1, Status.FAILED)}, base={}))
    if where.durable:
        assert plain((await store.load(["src"]))["src"].runs) == plain(
            {"r1": state(1, Status.FAILED)})
        assert list((await store.load())["other"].runs) == ["x"]


commits = st.lists(st.tuples(
    st.dictionaries(st.integers(0, 40), st.tuples(st.sampled_from(STATUSES), st.booleans()),
                    max_size=25),
    st.lists(st.integers(0, 40), max_size=8)), min_size=1, max_size=12)
#: thresholds that a handful of runs crosses again and again
TINY = Layout(snapshot_min=6, snapshot_part=4)
_sources = itertools.count()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commits)
async def test_any_sequence_of_commits_loads_back_as_committed(
        durable: Backend,
        sequence: list[tuple[dict[int, tuple[Status, bool]], list[int]]]) -> None:
    """Any sequence of upserts and removals, as a poller commits them, loads back
    exactly as committed into another store, whichever layout each commit took."""
    source = f"src{next(_sources)}"  # the examples share the state: one source each
    runs: dict[str, RunState] = {}
    store = await durable.open(TINY)
    try:
        for upserts, removals in sequence:
            ups = {f"r{i}": state(i, s, stuck) for i, (s, stuck) in upserts.items()}
            gone = [f"r{i}" for i in removals if i not in upserts]
            await store.commit(Commit(source, row(), ups, gone, base=runs))
            runs = {**runs, **ups}
            for rid in gone:
                runs.pop(rid, None)
            reader = await durable.open(TINY)
            loaded = await reader.load([source])
            await reader.close()
            assert plain(loaded.get(source, SourceRow()).runs) == plain(runs)
    finally:
        await store.close()
