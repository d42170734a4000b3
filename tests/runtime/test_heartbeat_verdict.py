"""Which store trouble a heartbeat keeps quiet about: with replicas, only a replica cut off
from the shared database says nothing (another may reach it and take the heartbeat over);
writes failing while its lease rounds succeed keep the lease here, so it sends why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from watcher.runtime.heartbeats import Heartbeats
from watcher.testing import FakeClock


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


def test_writes_failing_on_a_replica_whose_rounds_succeed_send_the_reason() -> None:
    """Lease rounds reaching the database, commits failing: a fail signal with the reason."""
    beats = Heartbeats(Replica(failing="disk I/O error"), clock=FakeClock())
    beats.cut_off = lambda: None
    verdict = beats.judge(60.0)
    assert verdict.reason is not None and "writes failing" in verdict.reason
    assert not verdict.quiet


def test_a_replica_cut_off_from_its_database_stays_quiet() -> None:
    """The lease rounds not reaching the database: unwell, and quiet."""
    beats = Heartbeats(Replica(failing="connection refused"), clock=FakeClock())
    beats.cut_off = lambda: "connection refused"
    verdict = beats.judge(60.0)
    assert verdict.reason is not None and "unreachable" in verdict.reason and verdict.quiet
