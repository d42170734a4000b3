"""Journaled events for sink tests, made by really polling the simulator, and runners to
deliver them: a sink under test sees exactly what the daemon would hand it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tests.support import Harness, parse_config, toml
from watcher.config.settings import SinkConfig
from watcher.infra.clock import Clock, wall
from watcher.model import JournalEntry
from watcher.runtime.delivery import SinkRunner
from watcher.sinks import sink_class
from watcher.sinks.base import SinkContext
from watcher.testing import FrozenClock


def sink_config(table: Mapping[str, Any]) -> SinkConfig:
    """A ``[[sinks]]`` table validated by the real config loader."""
    cfg = parse_config(toml({"state_path": ":memory:"}, sinks=[{"name": "under-test", **table}]))
    return cfg.sinks[0]


async def sink_runner(h: Harness, table: Mapping[str, Any], *, clock: Clock = wall
                      ) -> SinkRunner:
    """A runner for a sink built from ``table`` over the harness's journal, attached now
    (like a new sink, it gets the events journaled from here on).

    ``clock`` is the sink's and runner's (signature timestamps, ages, linger):
    the wall clock by default, since receivers check timestamps against theirs.
    """
    cfg = sink_config(table)
    cls = sink_class(cfg.type)
    assert cls is not None
    await h.journal.attach(cfg.name)
    return SinkRunner(cls(cfg, SinkContext(clock=clock)), cfg, h.journal, clock=clock)


async def run_changes(h: Harness, steps: Sequence[Sequence[str]], *, runs: int,
                      workflow: str = "Invoice Processing", error: str | None = None,
                      initial: str = "PENDING") -> list[JournalEntry]:
    """``runs`` Extend runs created before the baseline, then moved through ``steps``
    (one vendor status per run per poll); returns the journaled entries."""
    wf = h.world.workflow("extend", workflow)
    ids = [h.world.add_run("extend", initial, workflow=wf).id for _ in range(runs)]
    await h.poll()
    start = len(h.entries)
    clock = h.clock
    assert isinstance(clock, FrozenClock)
    for step in steps:
        clock.advance(15)
        for rid, status in zip(ids, step, strict=True):
            h.world.set_status(rid, status, error=error if status == "FAILED" else None)
        await h.poll()
    return h.entries[start:]


async def failures(h: Harness, n: int, *, workflow: str = "Invoice Processing",
                   error: str = "Document could not be parsed") -> list[JournalEntry]:
    """``n`` runs of one workflow failing in one poll."""
    return await run_changes(h, [["FAILED"] * n], runs=n, workflow=workflow, error=error,
                             initial="PROCESSING")
