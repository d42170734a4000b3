"""The push inbox, held by every store alike: a delivery is stored once, pending until a
commit applies it, and forgotten only once applied and old.  Real stores throughout."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.state.runs import DURABLE, Backend, backend
from watcher.state.inbox import Push
from watcher.state.store import Commit, SourceRow, Store

pytestmark = pytest.mark.anyio


def push(delivery: str, received: float = 100.0, source: str = "s") -> Push:
    return Push(source, delivery, received, received - 1, b'{"eventId": "%s"}' % delivery.encode())


async def test_a_delivery_is_stored_once(store: Store) -> None:
    """The first receipt of a delivery is new; the same (source, delivery) again is not,
    while another source's delivery of that id is its own."""
    assert await store.receive(push("d1")) is True
    assert await store.receive(push("d1", received=200.0)) is False
    assert await store.receive(push("d1", source="t")) is True
    assert await store.pushes("s", 10) == [push("d1")]


async def test_pending_pushes_come_oldest_first_until_a_commit_applies_them(
        store: Store) -> None:
    """Pushes are pending oldest first, at most ``limit``; the commit that names them
    applies them with its own writes, and they are still known as delivered."""
    for i, at in enumerate((30.0, 10.0, 20.0)):
        await store.receive(push(f"d{i}", at))
    assert [p.delivery for p in await store.pushes("s", 2)] == ["d1", "d2"]
    await store.commit(Commit("s", SourceRow(baselined=True), applied=["d1", "d2"]))
    assert [p.delivery for p in await store.pushes("s", 10)] == ["d0"]
    assert await store.receive(push("d1")) is False


async def test_applied_deliveries_are_forgotten_only_when_old(store: Store) -> None:
    """``inbox_before`` forgets applied deliveries received before it, never pending ones."""
    await store.receive(push("old", 10.0))
    await store.receive(push("new", 50.0))
    await store.receive(push("waiting", 5.0))
    await store.commit(Commit("s", SourceRow(baselined=True), applied=["old", "new"],
                              inbox_before=20.0))
    assert await store.receive(push("old")) is True  # forgotten: new again
    assert await store.receive(push("new")) is False
    assert [p.delivery for p in await store.pushes("s", 10)] == ["waiting", "old"]


@pytest.fixture(params=DURABLE)
def durable(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each implementation whose state outlives the store object."""
    return backend(request.param, tmp_path, request)


async def test_a_stored_push_outlives_the_process(durable: Backend) -> None:
    """A push acknowledged (stored) is there after the store is closed and opened again."""
    s = await durable.open()
    await s.receive(push("kept"))
    await s.close()
    s = await durable.open()
    try:
        assert await s.pushes("s", 10) == [push("kept")]
    finally:
        await s.close()
