"""Hot-path cost: parse + normalise + diff of 1,000-run Extend pages vs ``orjson.loads`` alone.

    python bench/diff_throughput.py [--pages 200]

Pages are rendered by the simulator (real Extend shape, ~1 KB a run), state
is warm (every run already known), and two cases run: nothing changed, and
1% of runs changed status.  Prints runs/s and the ratio to the bare parse.
"""

from __future__ import annotations

import argparse
import gc
import time
from typing import Any

import orjson

from watcher.clock import FrozenClock
from watcher.config import SourceConfig
from watcher.diff import Policy, diff
from watcher.model import TERMINAL, Observation, RunState
from watcher.providers.base import observe_all
from watcher.providers.extend import ExtendProvider
from watcher.simulator.extend import ExtendApi
from watcher.simulator.world import World

RUNS = 1000


def make_pages(n_pages: int) -> tuple[list[bytes], list[bytes], ExtendProvider]:
    clock = FrozenClock()
    world = World(clock=clock, seed=5)
    api = ExtendApi(world)
    provider = ExtendProvider(SourceConfig(name="bench", provider="extend", token="x",
                                           base_url="http://127.0.0.1:1"), None)  # type: ignore[arg-type]
    runs = [world.add_run("extend", "PROCESSING", created=clock() - i) for i in range(RUNS)]
    same = orjson.dumps({"object": "list", "data": [api.render(r) for r in runs],
                         "nextPageToken": "abc"})
    for r in runs[::100]:  # 1% changed
        world.set_status(r, "FAILED")
    changed = orjson.dumps({"object": "list", "data": [api.render(r) for r in runs],
                            "nextPageToken": "abc"})
    return [same] * n_pages, [changed] * n_pages, provider


def warm_state(page: bytes, provider: ExtendProvider) -> tuple[dict[str, RunState], set[str]]:
    out: list[Observation] = []
    observe_all(provider, orjson.loads(page)["data"], id_key="id", status_key="status",
                version_key="updatedAt", out=out)
    runs = {o[0]: RunState(o[2], o[1], o[3], 0.0) for o in out}
    return runs, {r for r, s in runs.items() if s.status not in TERMINAL}


def bare(pages: list[bytes]) -> float:
    t = time.perf_counter()
    for p in pages:
        orjson.loads(p)
    return time.perf_counter() - t


def full(pages: list[bytes], provider: ExtendProvider, runs: dict[str, RunState],
         live: set[str]) -> tuple[float, int]:
    policy = Policy(source="bench", provider="extend")
    events = 0
    t = time.perf_counter()
    for p in pages:
        body: Any = orjson.loads(p)
        obs: list[Observation] = []
        observe_all(provider, provider.items_of(body, "data"), id_key="id", status_key="status",
                    version_key="updatedAt", out=obs)
        events += len(diff(runs, live, obs, now=1.0, policy=policy,
                           describe=provider.describe).events)
    return time.perf_counter() - t, events


def measure(n_pages: int) -> dict[str, float]:
    same, changed, provider = make_pages(n_pages)
    runs, live = warm_state(same[0], provider)
    gc.collect()
    results: dict[str, float] = {"run_bytes": len(same[0]) / RUNS}
    for label, pages in (("0%", same), ("1%", changed)):
        b = min(bare(pages) for _ in range(3))
        f, events = min((full(pages, provider, runs, live) for _ in range(3)),
                        key=lambda x: x[0])
        n = len(pages) * RUNS
        results[f"bare_{label}"] = n / b
        results[f"full_{label}"] = n / f
        results[f"ratio_{label}"] = f / b
        results[f"events_{label}"] = events / len(pages)
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pages", type=int, default=200)
    r = measure(ap.parse_args().pages)
    print(f"Extend page: {RUNS} runs, {r['run_bytes']:.0f} bytes/run")
    print(f"{'changed':>8} {'orjson.loads runs/s':>20} {'full runs/s':>14} {'ratio':>7}")
    for label in ("0%", "1%"):
        print(f"{label:>8} {r[f'bare_{label}']:>20,.0f} {r[f'full_{label}']:>14,.0f} "
              f"{r[f'ratio_{label}']:>6.2f}x  ({r[f'events_{label}']:.0f} events/page)")


if __name__ == "__main__":
    main()
