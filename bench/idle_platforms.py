"""Requests per idle cycle for GitHub, GitLab, Airflow and Prefect, on their simulators.

As ``bench/idle_requests.py`` (same world, nothing changing, nothing live), with
``--runs`` runs in the lookback (default 900, under the presets' ten pages of 100, so
the first poll reads them all).  Prints requests per cycle and events per idle cycle.

    python -m bench.idle_platforms [--runs N]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import bench.idle_requests as idle
from tests.support import Harness, LiftedBuckets
from watcher.infra.ratelimit import Limit
from watcher.server.logs import configure
from watcher.simulator import Simulator, World
from watcher.testing import FrozenClock

PLATFORMS = {"github": ("success", ("in_progress",)), "gitlab": ("success", ("running",)),
             "airflow": ("success", ("running",)), "prefect": ("COMPLETED", ("RUNNING",))}


async def measure(vendor: str, runs: int, cycles: int = 5) -> tuple[int, list[int], list[int]]:
    idle.RUNS = runs
    idle.STATUSES.update(PLATFORMS)
    clock = FrozenClock()
    world = World(clock=clock, seed=11)
    idle.populate(world, vendor, 0)
    buckets = LiftedBuckets(clock=clock, limit=Limit(1e6, 1e6))
    async with Simulator(world) as sim, Harness(sim, vendor, clock=clock, buckets=buckets,
                                                interval="15s") as h:
        await h.poll()
        first, costs, events = world.count(vendor), [], []
        for _ in range(cycles):
            clock.advance(15.0)
            before = world.count(vendor)
            events.append(len(await h.poll()))
            costs.append(world.count(vendor) - before)
    return first, costs, events


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=900)
    runs = ap.parse_args().runs
    configure(level="error")
    print(f"{runs:,} runs in the lookback, none live, 5 idle cycles after the first poll")
    for vendor in PLATFORMS:
        first, costs, events = await measure(vendor, runs)
        print(f"{vendor:<8} first poll {first:>3} requests; idle cycle {max(costs)} "
              f"request(s), {max(events)} events")


if __name__ == "__main__":
    anyio.run(main)
