"""Idle footprint: CPU% and RSS of the daemon with 100 sources polling every 15 s, nothing changing.

    python bench/idle.py [--sources 100] [--seconds 60]

Each source watches one workflow of 100 runs (10,000 runs in all, in the
simulator, its own process).  After every source has baselined, the
daemon's CPU time is read from /proc over the measuring window.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import orjson

from bench._daemon import Daemon, source
from bench._sim import SimProcess


def measure(n_sources: int, seconds: float, interval: str = "15s") -> dict[str, float]:
    with SimProcess() as sim, tempfile.TemporaryDirectory() as tmp:
        names = [f"Workflow {i:03d}" for i in range(n_sources)]
        sim.admin("POST", "/_sim/seed", {"vendor": "extend", "count": 100 * n_sources,
                                         "workflows": names, "spread_s": 3600})
        wf_ids = {w["name"]: w["id"] for w in sim.admin("GET", "/_sim/workflows?vendor=extend")}
        token = sim.token("extend")
        config = f'[watcher]\nstate_path = "{tmp}/state.db"\nhttp_listen = ""\n' + "".join(
            source(sim.url("extend"), token, f"src-{i:03d}", interval=interval,
                   params={"workflowId": wf_ids[names[i]]}) for i in range(n_sources))
        config += '[[sinks]]\nname = "out"\ntype = "stdout"\n'
        d = Daemon(config, Path(tmp))
        time.sleep(20)  # every source baselines within one interval
        before = sim.admin("GET", "/_sim/requests/count?vendor=extend")["count"]
        c0, t0 = d.cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        c1, t1 = d.cpu_seconds(), time.monotonic()
        after = sim.admin("GET", "/_sim/requests/count?vendor=extend")["count"]
        rss = d.rss_bytes()
        d.stop()
    cycles = n_sources * (t1 - t0) / 15
    return {"cpu_pct": 100 * (c1 - c0) / (t1 - t0), "rss_mb": rss / 2**20,
            "requests_per_cycle": (after - before) / cycles, "events": len(d.events)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sources", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    r = measure(a.sources, a.seconds)
    if a.json:
        print(orjson.dumps(r).decode())
        return
    print(f"{a.sources} sources, 15 s interval, nothing changing: CPU {r['cpu_pct']:.2f}% of a "
          f"core, RSS {r['rss_mb']:.0f} MB, {r['requests_per_cycle']:.2f} requests per source "
          f"per cycle, {r['events']} events   (target <= 1%, <= 80 MB)")


if __name__ == "__main__":
    main()
