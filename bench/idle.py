"""Idle footprint: CPU% and RSS of the daemon with many sources polling, nothing changing.

    python -m bench.idle [--sources 100] [--seconds 60] [--keys one|distinct]
                         [--daemon-root DIR]

Each source watches one Extend workflow of 100 runs (in the simulator, its own
process, which enforces Extend's 10 GET/s per account).  ``--keys one``: every
source on one key (one account, one bucket); ``distinct``: each source's
workflow in an account of its own, with its own key.  After every source has
baselined, the daemon's CPU time is read from /proc over the window, and the
simulator's request log gives the requests per source per cycle and each
source's actual poll period.  ``--daemon-root`` runs the daemon of another
checkout (the simulator stays this one's), to compare with an earlier version.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from bench._daemon import Daemon
from bench._fleet import fleet, periods, polls, refused, requests, wait_for_requests
from bench._sim import ROOT, SimProcess


def measure(n_sources: int, seconds: float, interval: float = 15.0, keys: str = "one",
            root: Path = ROOT) -> dict[str, float]:
    with SimProcess() as sim, tempfile.TemporaryDirectory() as tmp:
        config = fleet(sim, n_sources, keys=keys, interval=f"{interval:g}s",
                       state_path=f"{tmp}/state.db")
        d = Daemon(config, Path(tmp), root=root)
        # every source baselined (one request each), then a few seconds to settle
        wait_for_requests(sim, n_sources, timeout=max(60.0, n_sources / 5))
        time.sleep(5)
        before, w0 = requests(sim), time.time()
        c0, t0 = d.cpu_seconds(), time.monotonic()
        time.sleep(seconds)
        c1, t1 = d.cpu_seconds(), time.monotonic()
        after, w1 = requests(sim), time.time()
        rss = d.rss_bytes()
        got = periods(polls(sim, w0, w1))
        refusals = refused(sim)
        d.stop()
    cycles = n_sources * (t1 - t0) / interval
    return {"cpu_pct": 100 * (c1 - c0) / (t1 - t0), "rss_mb": rss / 2**20,
            "requests_per_cycle": (after - before) / cycles, "events": len(d.events),
            "period_min": min(got, default=0.0), "period_max": max(got, default=0.0),
            "period_median": statistics.median(got) if got else 0.0,
            "sources_timed": len(got), "refused": refusals}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sources", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--keys", choices=("one", "distinct"), default="one")
    ap.add_argument("--daemon-root", type=Path, default=ROOT)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    r = measure(a.sources, a.seconds, keys=a.keys, root=a.daemon_root)
    if a.json:
        print(orjson.dumps(r).decode())
        return
    spread = r["period_max"] / r["period_min"] - 1 if r["period_min"] else float("nan")
    print(f"{a.sources} sources ({a.keys} key{'s' * (a.keys != 'one')}), 15 s interval, nothing "
          f"changing: CPU {r['cpu_pct']:.2f}% of a core, RSS {r['rss_mb']:.0f} MB, "
          f"{r['requests_per_cycle']:.2f} requests per source per cycle, poll period "
          f"{r['period_min']:.1f}-{r['period_max']:.1f} s (median {r['period_median']:.1f}, "
          f"spread {spread:.1%}, {r['sources_timed']:.0f} sources), {r['refused']:.0f} 429s, "
          f"{r['events']} events")


if __name__ == "__main__":
    main()
