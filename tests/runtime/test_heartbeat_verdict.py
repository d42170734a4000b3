"""Which store trouble a heartbeat keeps quiet about: with replicas, only a replica cut off
from the shared database says nothing (another may reach it and take the heartbeat over);
writes failing while its lease rounds succeed keep the lease here, so it sends why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from watcher.runtime.heartbeats import Heartbeats
from watcher.testing import FakeClock

pytestmark = pytest.mark.anyio


@dataclass
class Replica:
    """The few things the heartbeats read of a replica's workers (``Host``), no sinks."""

    failing: str | None = None
    config: Any = None
    session: Any = None
    tg: Any = None
    journal: Any = None
    runners: dict[str, Any] = field(default_factory=dict)
    claims: dict[str, Any] = field(default_factory=dict)

    def leased(self, lease: str) -> bool:
        return True

    def store_failing(self) -> str | None:
        return self.failing


async def test_writes_failing_on_a_replica_whose_rounds_succeed_send_the_reason() -> None:
    """Commits failing: quiet while no lease round has reached the database since (it may be
    cut off); once one has, a fail signal with the reason."""
    fake = FakeClock()
    beats = Heartbeats(Replica(failing="disk I/O error"), clock=fake)
    last_round = fake.monotonic() - 1
    beats.cut_off, beats.reached = (lambda: None), (lambda: last_round)
    assert beats.judge(60.0).quiet
    await fake.advance(5)
    last_round = fake.monotonic()  # a lease round went through after the writes failed
    verdict = beats.judge(60.0)
    assert verdict.reason is not None and "writes failing" in verdict.reason
    assert not verdict.quiet


def test_a_replica_cut_off_from_its_database_stays_quiet() -> None:
    """The lease rounds not reaching the database: unwell, and quiet."""
    fake = FakeClock()
    beats = Heartbeats(Replica(failing="connection refused"), clock=fake)
    beats.cut_off, beats.reached = (lambda: "connection refused"), fake.monotonic
    verdict = beats.judge(60.0)
    assert verdict.reason is not None and "unreachable" in verdict.reason and verdict.quiet
