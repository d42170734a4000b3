"""The rule engine in virtual time: each kind of rule through the start, hysteresis and end
of an episode, across an engine restart and a reload of the state file, with deadlines
kept by the injected clock.

The journal and its SQLite file are real; runs arrive as a poll cycle journals them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from tests.support import parse_config, toml
from watcher.core.events import RUN_STATUS_CHANGED, RUN_STUCK, run_event
from watcher.core.timestamps import format_ts
from watcher.model import RunDetails, Status
from watcher.runtime.rules import READER, RuleEngine
from watcher.state.backends import open_store
from watcher.state.journal import Journal
from watcher.state.store import SourceRow
from watcher.testing import FakeClock

pytestmark = pytest.mark.anyio

DEGRADED, RECOVERED = "watcher.workflow.degraded", "watcher.workflow.recovered"


def rules_of(**rule: Any) -> Any:
    """The rules of a config holding one ``[[rules]]`` table."""
    text = toml({"state_path": ":memory:"}) + "\n[[rules]]\n" + "\n".join(
        f"{k} = {orjson.dumps(v).decode()}" for k, v in {"name": "r", **rule}.items())
    return parse_config(text).rules


def open_episodes(engine: RuleEngine) -> int:
    return sum(1 for t in engine.tracks.values() if t.episode is not None)


class World:
    """A state file, its journal, and the engine watching it (restartable)."""

    def __init__(self, path: Path, clock: FakeClock, rules: Any) -> None:
        self.path = str(path)
        self.clock = clock
        self.rules = rules
        self.journal: Journal | None = None

    @asynccontextmanager
    async def engine(self, rules: Any = None, *, running: bool = True
                     ) -> AsyncIterator[RuleEngine]:
        """The state file opened afresh, and an engine on it until the block ends (with
        ``running=False``, none: runs are journaled while no engine is there)."""
        store = await open_store(self.path)
        self.journal = journal = Journal(store)
        await journal.start()
        engine = RuleEngine(self.rules if rules is None else rules, journal, clock=self.clock)
        try:
            async with anyio.create_task_group() as tg:
                if running:
                    await journal.attach(READER)
                    tg.start_soon(engine.run)
                    await self.clock.advance(0)
                yield engine
                tg.cancel_scope.cancel()
        finally:
            await store.close()

    async def run(self, run_id: str, status: str, *, type_: str = RUN_STATUS_CHANGED) -> None:
        """A poll cycle journals this run of "Invoices" now; the engine takes it in."""
        assert self.journal is not None
        stuck = type_ == RUN_STUCK  # as the diff makes it: no previous status, how long
        ev = run_event(type_, source="prod", provider="extend", run_id=run_id,
                       status=Status(status), raw_status=status.upper(),
                       previous=None if stuck else (Status.RUNNING, "RUNNING"),
                       details=RunDetails(workflow_id="wf1", workflow_name="Invoices",
                                          error="boom" if status == "failed" else None),
                       now=self.clock(), id_key=self.clock(),
                       extra={"stuck_for_s": 3600} if stuck else None)
        await self.journal.commit("prod", SourceRow(baselined=True), events=[ev])
        await self.clock.advance(10)

    async def episodes(self) -> list[dict[str, Any]]:
        assert self.journal is not None
        entries = await self.journal.read(0, 100_000)
        return [orjson.loads(e.body) for e in entries if e.type.startswith("watcher.workflow.")]


@dataclass
class Script:
    """A rule, and what makes it open, stay open (hysteresis) and close an episode."""

    rule: dict[str, Any]
    #: the run the degraded event names first among its samples
    sample: str
    opens: list[tuple[str, str] | float]
    holds: list[tuple[str, str] | float]
    closes: list[tuple[str, str] | float]


SCRIPTS = {
    # 4 of 4 failed; then 4 of 8 (not above half, not down to 40%); then the failures
    # slide out of the window with no new run at all
    "failure_rate_above": Script(
        {"failure_rate_above": 0.5, "window": "10m", "min_finished": 4}, "a",
        [("a", "failed"), ("b", "failed"), ("c", "failed"), ("d", "failed")],
        [("e", "succeeded"), ("f", "succeeded"), ("g", "succeeded"), ("h", "succeeded")],
        [700.0]),
    # failures keep finishing for an hour after the last success; more failures and
    # another hour are still the same episode; a success ends it
    "no_success_for": Script(
        {"no_success_for": "1h", "min_finished": 2}, "b",
        [("a", "succeeded"), ("b", "failed"), ("c", "failed"), 3600.0],
        [("d", "failed"), 3600.0],
        [("e", "succeeded")]),
    # three stuck runs (more than two); one moves on (two: not down to one); another does
    "stuck_count_above": Script(
        {"stuck_count_above": 2}, "a",
        [("a", "stuck"), ("b", "stuck"), ("c", "stuck")],
        [("a", "succeeded")],
        [("b", "failed")]),
}


async def play(world: World, steps: list[tuple[str, str] | float]) -> None:
    for step in steps:
        if isinstance(step, float):
            await world.clock.advance(step)
        elif step[1] == "stuck":
            await world.run(step[0], "running", type_=RUN_STUCK)
        else:
            await world.run(*step)


@pytest.mark.parametrize("kind", sorted(SCRIPTS))
async def test_each_rule_kind_opens_holds_and_closes_one_episode_across_a_restart(
        kind: str, tmp_path: Path) -> None:
    """An episode begins once, survives an engine restart on a reopened state file without
    a second degraded event, holds through the hysteresis band, and ends once."""
    script = SCRIPTS[kind]
    world = World(tmp_path / "state.db", FakeClock(), rules_of(**script.rule))
    async with world.engine():
        await play(world, script.opens)
        opened = await world.episodes()
        assert [e["type"] for e in opened] == [DEGRADED]
    async with world.engine() as engine:  # a new process: the store read back from disk
        assert open_episodes(engine) == 1
        await play(world, script.holds)
        assert [e["type"] for e in await world.episodes()] == [DEGRADED]
        await play(world, script.closes)
        episodes = await world.episodes()
    assert [e["type"] for e in episodes] == [DEGRADED, RECOVERED]
    degraded, recovered = episodes
    assert degraded["data"]["kind"] == kind and degraded["subject"] == "wf1"
    assert recovered["data"]["episode_started_at"] == degraded["time"]
    assert degraded["data"]["samples"][0]["run_id"] == script.sample


async def test_the_window_slides_on_the_clock_and_recovery_happens_at_its_instant(
        tmp_path: Path) -> None:
    """With nothing arriving, the engine wakes on the injected clock when the last failure
    leaves the window: recovered at that instant, not at the next run."""
    world = World(tmp_path / "state.db", FakeClock(),
                  rules_of(failure_rate_above=0.5, window="10m", min_finished=2))
    async with world.engine():
        await world.run("a", "failed")
        last = world.clock()
        await world.run("b", "failed")  # then 10 s pass
        await world.clock.advance(589)  # a has left: b alone is still a rate of 100%
        assert [e["type"] for e in await world.episodes()] == [DEGRADED]
        await world.clock.advance(30)
        episodes = await world.episodes()
    assert [e["type"] for e in episodes] == [DEGRADED, RECOVERED]
    assert episodes[1]["time"] == format_ts(last + 600)


async def test_an_engine_catching_up_decides_what_a_live_one_did_with_the_same_ids(
        tmp_path: Path) -> None:
    """Runs journaled while no engine ran (a crash before its commit, a failover) give, once
    one runs, the same episodes at the same instants with the same ids."""
    steps: list[tuple[str, str] | float] = [("a", "failed"), ("b", "failed"), ("c", "failed"),
                                            ("d", "succeeded"), 700.0]
    rules = rules_of(failure_rate_above=0.5, window="10m", min_finished=3)
    live = World(tmp_path / "live.db", FakeClock(), rules)
    async with live.engine():
        await play(live, steps)
        seen = await live.episodes()
    late = World(tmp_path / "late.db", FakeClock(), rules)
    async with late.engine():  # its cursor is taken, then it is gone
        pass
    async with late.engine(running=False):
        await play(late, steps[:3])
    async with late.engine():
        await play(late, steps[3:])
        await late.clock.advance(100_000)
        caught_up = await late.episodes()
    assert [(e["id"], e["type"], e["time"]) for e in caught_up] == \
        [(e["id"], e["type"], e["time"]) for e in seen]


async def test_removing_every_rule_ends_open_episodes_and_drops_the_cursor(
        tmp_path: Path) -> None:
    """A config without the rule: its open episode ends (reason given), its state and its
    journal cursor go, so the journal can be pruned past it."""
    world = World(tmp_path / "state.db", FakeClock(),
                  rules_of(failure_rate_above=0.5, window="10m", min_finished=2))
    async with world.engine():
        await play(world, [("a", "failed"), ("b", "failed")])
    async with world.engine(rules=()) as engine:
        await world.clock.advance(1)
        episodes = await world.episodes()
        assert world.journal is not None
        assert READER not in await world.journal.store.cursors()
        assert await world.journal.store.records("rules") == {}
        assert open_episodes(engine) == 0
    assert [e["type"] for e in episodes] == [DEGRADED, RECOVERED]
    assert episodes[1]["data"]["reason"] == "rule removed"
