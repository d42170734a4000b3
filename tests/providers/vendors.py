"""What the provider tests share: seeding a vendor's world, reading a harness's state."""

from __future__ import annotations

from typing import Any

from tests.support import Harness
from watcher.simulator import World

#: vendor -> (a live status, a finished one, a failed one, the listing's path)
SHAPES = {"extend": ("PROCESSING", "PROCESSED", "FAILED", "/workflow_runs"),
          "noxus": ("running", "completed", "failed", "/v1/runs"),
          "cortex": ("RUNNING", "COMPLETED", "FAILED", "/runs"),
          "knock": ("processing", "cancelled", "failed", "/v1/workflows/runs")}


def seed_runs(world: World, n: int, *, vendor: str, status: str, age: float = 600.0,
              gap: float = 30.0) -> list[str]:
    """``n`` runs, newest ``age`` seconds old, one every ``gap`` seconds before that."""
    now = world.clock()
    return [world.add_run(vendor, status, created=now - age - i * gap).id for i in range(n)]


def snapshot(h: Harness) -> tuple[dict[str, Any], dict[str, Any]]:
    """What a poll may change: every run's state and the source's cursor."""
    runs = {rid: (st.status, st.raw_status, st.version) for rid, st in h.state.runs.items()}
    return runs, dict(h.state.row.cursor)


def request_cost(world: World, before: int, *, vendor: str) -> int:
    """Requests the simulator served for ``vendor`` since it had served ``before``."""
    return world.count(vendor) - before
