"""Run states and journal entries for store tests, and the stores to run them against.

:func:`backend` names every implementation of the store seam the conformance
tests run on; a new store is one more entry there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from watcher.model import JournalEntry, RunDetails, RunState, Status
from watcher.state.backends import open_store
from watcher.state.snapshots import Layout
from watcher.state.store import Store

STATUSES = [Status.RUNNING, Status.NEEDS_REVIEW, Status.SUCCEEDED, Status.FAILED]
#: snapshot thresholds small enough that a few dozen runs reach every layout
SMALL = Layout(snapshot_min=10, snapshot_part=7)
#: the implementations, by fixture id
BACKENDS = ["sqlite-file", "sqlite-memory", "postgres"]
#: those whose state outlives the store object (runs included)
DURABLE = ["sqlite-file", "postgres"]


@dataclass
class Backend:
    """Where one implementation keeps its state, and how to open it again."""

    name: str
    state_path: str
    #: state outlives ``close()``: a store opened again finds it (runs included)
    durable: bool

    async def open(self, layout: Layout | None = None) -> Store:
        return await open_store(self.state_path, layout=layout)


def backend(name: str, tmp_path: Path, request: pytest.FixtureRequest) -> Backend:
    """Backend ``name`` with its state somewhere fresh (PostgreSQL: a schema of the
    module's database, through the ``pg_url`` fixture)."""
    if name == "postgres":
        return Backend(name, request.getfixturevalue("pg_url"), durable=True)
    if name == "sqlite-file":
        return Backend(name, str(tmp_path / "state.db"), durable=True)
    if name == "sqlite-memory":
        return Backend(name, ":memory:", durable=False)
    raise ValueError(name)


def state(i: int, status: Status, stuck: bool = False) -> RunState:
    """Run ``i`` in ``status``; a live run carries details, as the poller keeps them."""
    live = status in (Status.RUNNING, Status.NEEDS_REVIEW)
    return RunState(status, status.value.upper(), f"v{i}" if live else None, 1.8e9 + i, stuck,
                    RunDetails(workflow_id="wf", workflow_name="Invoices", error=None,
                               run={"id": f"r{i}", "n": i}, changed_at=1.8e9 + i)
                    if live else None)


def plain(runs: Mapping[str, RunState]) -> dict[str, tuple[Any, ...]]:
    """Run states as comparable tuples (RunState has no ``__eq__``)."""
    return {rid: (s.status, s.raw_status, s.version, s.since, s.stuck,
                  s.detail.to_dict() if s.detail else None) for rid, s in runs.items()}


def entry(n: int, *, size: int = 100, time: float | None = None, source: str = "src",
          body: bytes | None = None) -> JournalEntry:
    """A journal entry before the store numbers it; ``n`` is in its id and body."""
    data = b'{"n":%d,"pad":"%s"}' % (n, b"x" * size) if body is None else body
    return JournalEntry(0, f"id{n}", 1.8e9 + n if time is None else time,
                        "watcher.run.created", source, f"r{n}", "running", None, None, data)
