"""Memory per tracked run: RSS growth with 1,000,000 runs tracked across 10 sources.

    python -m bench.memory [--runs 1000000] [--live 0.02]

Runs go through the real path (Extend-shaped JSON pages decoded by the provider's listing,
observed by the provider, diffed as a baseline, applied to each source's
state), so what is measured is what the daemon keeps: run ids, states, the
live set and per-status counts.  Pages are dropped as they are processed.
"""

from __future__ import annotations

import argparse
import gc
import os

import orjson

from tests.support import diff
from watcher.config.settings import SourceConfig
from watcher.core.diff import Policy
from watcher.infra.clock import wall
from watcher.model import Observation
from watcher.providers.extend import ExtendProvider
from watcher.providers.protocol import ProviderContext
from watcher.runtime.poller import SourceState

PAGE = 1000
SOURCES = 10


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def page(start: int, live_every: int) -> bytes:
    items = []
    for i in range(start, start + PAGE):
        t = f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i // 60) % 60:02d}.{i % 1000:03d}Z"
        items.append({
            "object": "workflow_run", "id": f"workflow_run_{i:021d}",
            "status": "PROCESSING" if live_every and i % live_every == 0 else "PROCESSED",
            "workflow": {"object": "workflow", "id": f"workflow_{i % 7}", "name": "Invoices"},
            "dashboardUrl": f"https://dashboard.extend.ai/workflows/workflow_run_{i:021d}",
            "createdAt": t, "updatedAt": t})
    return orjson.dumps({"object": "list", "data": items})


def measure(runs: int, live_ratio: float) -> dict[str, float]:
    provider = ExtendProvider(SourceConfig(name="m", provider="extend", token="x",
                                           base_url="http://127.0.0.1:1"),
                              ProviderContext(None, wall))  # type: ignore[arg-type]
    live_every = int(1 / live_ratio) if live_ratio else 0
    states = [SourceState() for _ in range(SOURCES)]
    policies = [Policy(source=f"s{i}", provider="extend", horizon=1e12) for i in range(SOURCES)]
    gc.collect()
    base = rss()
    for n, start in enumerate(range(0, runs, PAGE)):
        st = states[n % SOURCES]
        obs: list[Observation] = []
        provider.observe(ExtendProvider.listing.read(page(start, live_every))[1], obs)
        ch = diff(st.runs, st.live, obs, now=1_800_000_000.0, policy=policies[n % SOURCES],
                  describe=provider.describe, baseline=True)
        st.apply(ch.upserts, [])
    gc.collect()
    grown = rss() - base
    tracked = sum(len(s.runs) for s in states)
    return {"runs": tracked, "live": sum(len(s.live) for s in states), "bytes": grown,
            "per_run": grown / tracked}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=1_000_000)
    ap.add_argument("--live", type=float, default=0.02, help="share of runs still live")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    r = measure(a.runs, a.live)
    if a.json:
        print(orjson.dumps(r).decode())
        return
    print(f"{r['runs']:,} runs tracked ({r['live']:,} live) across {SOURCES} sources: "
          f"RSS +{r['bytes'] / 2**20:.0f} MiB = {r['per_run']:.0f} bytes per run")


if __name__ == "__main__":
    main()
