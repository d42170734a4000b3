from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests import postgres
from tests.event_schema import note_body, take_violations
from tests.sinks.buses import Bus, NatsBus, RedisBus, reachable, run
from tests.sinks.receiver import Receiver
from tests.support import SimThread
from watcher.model import Event, JournalEntry
from watcher.simulator import Simulator, World
from watcher.state import journal
from watcher.testing import FrozenClock


@pytest.fixture(autouse=True)
def events_hold_their_schema(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every event journaled in this process, and every one the shared readers of
    subprocesses and receivers saw, holds the shipped schema; else the test fails.

    The journal's ``entry_of`` (where each event becomes its JSON body) is watched,
    not replaced: it still makes every entry itself.
    """
    take_violations()  # what a previous test's leftover threads saw is not this test's
    made = journal.entry_of

    def watched(event: Event) -> JournalEntry:
        entry = made(event)
        note_body(entry.body, "journaled")
        return entry
    monkeypatch.setattr(journal, "entry_of", watched)
    yield
    wrong = take_violations()
    if wrong:
        pytest.fail(f"{len(wrong)} event(s) break the schema:\n" + "\n".join(wrong[:5]))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(1_800_000_000.0)


@pytest.fixture
def world(clock: FrozenClock) -> World:
    return World(clock=clock, seed=1)


@pytest.fixture
async def sim(world: World) -> AsyncIterator[Simulator]:
    async with Simulator(world) as s:
        yield s


@pytest.fixture
def sim_thread() -> Iterator[SimThread]:
    """The simulator on a real clock in a background thread, for daemon subprocesses."""
    st = SimThread().start()
    try:
        yield st
    finally:
        st.stop()


@pytest.fixture(params=["nats", "redis"])
def bus(request: pytest.FixtureRequest) -> Iterator[Bus]:
    """A fresh stream (NATS, created here) or key prefix (Redis) on the shared server,
    removed after; skipped (under CI: failed) when the server does not answer."""
    b: Bus = NatsBus() if request.param == "nats" else RedisBus()
    reachable(b)
    run(b.create())
    try:
        yield b
    finally:
        run(b.cleanup())


@pytest.fixture
def nats_bus() -> Iterator[NatsBus]:
    """A fresh stream name on the shared NATS server (not created), removed after."""
    b = NatsBus()
    reachable(b)
    try:
        yield b
    finally:
        run(b.cleanup())


@pytest.fixture(scope="module")
def pg_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A PostgreSQL database of this test module's own (URL), dropped after it; skips
    when no server answers (fails under CI=true)."""
    name, url = postgres.create_database(request.module.__name__.rsplit(".", 1)[-1])
    try:
        yield url
    finally:
        postgres.drop_database(name)


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A URL whose tables live in a fresh schema of the module's database: a state of
    the test's own."""
    return postgres.create_schema(pg_database)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP receiver on loopback answering 200 until told otherwise."""
    with Receiver() as r:
        yield r
