"""Requests per cycle per source when nothing changes: the politeness budget.

For each vendor: 10,000 runs created over the last 23 hours (inside the
default 24 h lookback), all finished except a few still live and spread
through the listing, and nothing changing.  One source polls the simulator
(in-process, loopback, frozen clock) through the real provider, poller and
journal; the simulator's request log counts what each cycle costs.

    python -m bench.idle_requests

Rate limiters are lifted so the 10,000-run first polls take seconds, not
minutes: this measures how many requests are sent, not when.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import anyio
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import Harness, LiftedBuckets
from watcher.infra.ratelimit import Limit
from watcher.server.logs import configure
from watcher.simulator import Simulator, World
from watcher.testing import FrozenClock

RUNS = 10_000
SPAN = 23 * 3600.0
INTERVAL = 15.0
CYCLES = 10
#: where the live runs sit in the newest-first listing
LIVE_AT = (40, 2_500, 5_000, 7_500, 9_900)
#: vendor -> (finished raw status, the live raw statuses to cycle through)
STATUSES = {
    "extend": ("PROCESSED", ("PROCESSING", "NEEDS_REVIEW")),
    "noxus": ("completed", ("running", "awaiting_human_feedback")),
    "cortex": ("COMPLETED", ("RUNNING", "PENDING")),
    "knock": ("completed", ("queued", "processing", "paused")),
}


def populate(world: World, vendor: str, live: int) -> None:
    done, live_statuses = STATUSES[vendor]
    now = world.clock()
    live_at = {at: live_statuses[n % len(live_statuses)] for n, at in enumerate(LIVE_AT[:live])}
    for i in range(RUNS):
        created = now - 60 - i * SPAN / RUNS
        status = live_at.get(i, done)
        world.add_run(vendor, status, created=created, updated=created + 30)


async def measure(vendor: str, live: int) -> tuple[int, list[int]]:
    clock = FrozenClock()
    world = World(clock=clock, seed=11)
    populate(world, vendor, live)
    buckets = LiftedBuckets(clock=clock, limit=Limit(1e6, 1e6))
    async with Simulator(world) as sim, Harness(sim, vendor, clock=clock, buckets=buckets,
                                                interval=f"{INTERVAL:g}s") as h:
        await h.poll()
        first = world.count(vendor)
        costs = []
        for _ in range(CYCLES):
            clock.advance(INTERVAL)
            before = world.count(vendor)
            events = await h.poll()
            assert h.ok and not events, f"{vendor}: an idle cycle failed or emitted"
            costs.append(world.count(vendor) - before)
    return first, costs


async def main() -> None:
    configure(level="warning")
    if "--json" in sys.argv:
        out = {}
        for vendor in STATUSES:
            first, none = await measure(vendor, 0)
            _, some = await measure(vendor, len(LIVE_AT))
            out[vendor] = {"first": first, "idle": max(none), "idle_live": max(some),
                           "live": len(LIVE_AT)}
        print(orjson.dumps(out).decode())
        return
    print(f"{RUNS:,} runs over {SPAN / 3600:g} h, interval {INTERVAL:g}s, "
          f"{CYCLES} idle cycles after the first poll\n")
    print(f"{'vendor':<8} {'first poll':>10} {'idle, 0 live':>13} "
          f"{f'idle, {len(LIVE_AT)} live':>13}   requests per cycle per source")
    for vendor in STATUSES:
        started = time.monotonic()
        first, none = await measure(vendor, 0)
        _, some = await measure(vendor, len(LIVE_AT))
        print(f"{vendor:<8} {first:>10} {_show(none):>13} {_show(some):>13}   "
              f"({time.monotonic() - started:.1f}s)")


def _show(costs: list[int]) -> str:
    lo, hi = min(costs), max(costs)
    return f"{lo}" if lo == hi else f"{lo}-{hi} (mean {statistics.mean(costs):.1f})"


if __name__ == "__main__":
    anyio.run(main)
