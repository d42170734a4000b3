"""Vendor push: detection latency from the vendor's send to the event on stdout, and the
request cost per source per hour, with push beside polling alone at the same interval.

    python -m bench.push [--changes 1000] [--seconds 600] [--interval 15] [--json]

One Extend source (a state file, a loopback listener) over a workflow of ``changes``
running runs; the simulator (its own process) moves them to PROCESSED one at a time,
spread over ``seconds``.  With push it signs and posts an Extend webhook for each to
``/hooks/<source>`` as it changes; latency is from the webhook's signed time to the
event's arrival on the daemon's stdout.  Polling alone: from the change to the event.
Cost: the source's API requests per hour, from their mean period over the window (push:
polls at ``push_interval`` = 4 x interval once pushes arrive, plus any fetches).  Targets: with push, p99 <= 1 s
and <= 1/4 of polling's requests.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from bench._daemon import Daemon, source
from bench._fleet import wait_for_requests
from bench._sim import ROOT, SimProcess, free_port

SECRET = "wss_bench_push"


def measure(push: bool, changes: int, seconds: float, interval: float, debug: bool = False
            ) -> dict[str, Any]:
    with SimProcess() as sim, tempfile.TemporaryDirectory() as tmp:
        sim.admin("POST", "/_sim/seed", {"vendor": "extend", "count": changes + 1,
                                         "status": "PROCESSING", "spread_s": 600})
        warm, *runs = [r["id"] for r in sim.admin("GET", "/_sim/runs?vendor=extend")]
        port = free_port()
        extra = {"push_secret": SECRET} if push else {}
        config = (f'[watcher]\nstate_path = "{tmp}/state.db"\nhttp_listen = "127.0.0.1:{port}"\n'
                  + source(sim.url("extend"), sim.token("extend"), "src",
                           interval=f"{interval:g}s", **extra)
                  + '[[sinks]]\nname = "out"\ntype = "stdout"\n')
        d = Daemon(config, Path(tmp), root=ROOT)
        wait_for_requests(sim, 1, timeout=interval + 30)
        time.sleep(2)  # the baseline is committed
        if push:
            sim.admin("POST", "/_sim/webhooks", {"vendor": "extend", "secret": SECRET,
                                                 "url": f"http://127.0.0.1:{port}/hooks/src"})
        # one change first, and a poll after it: with push the cadence is push_interval
        sim.admin("POST", f"/_sim/runs/{warm}", {"status": "PROCESSED"})
        time.sleep(interval + 2)
        start = time.time()
        changed: dict[str, float] = {}
        gap = seconds / changes
        for i, rid in enumerate(runs):
            _pace(start + i * gap)
            changed[rid] = time.time()
            sim.admin("POST", f"/_sim/runs/{rid}", {"status": "PROCESSED"})
        _pace(start + seconds)
        log = [r for r in sim.admin("GET", "/_sim/requests")
               if r["vendor"] == "extend" and start <= r["time"]]
        times = sorted(r["time"] for r in log)
        if debug:
            for r in log:
                print(round(r["time"] - start, 2), r["path"], r["query"][:120])
        deadline = time.monotonic() + 2 * interval + 10
        while time.monotonic() < deadline and len(_seen(d)) < len(changed):
            time.sleep(0.5)
        sent = {h["run_id"]: h["signed_at"] for h in sim.admin("GET", "/_sim/webhooks")}
        missed = _metric(port, "watcher_push_missed_total")
        d.stop()
    seen = _seen(d)
    origin = sent if push else changed
    lat = sorted(seen[r] - origin[r] for r in changed if r in seen and r in origin)
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [float("inf")] * 99
    return {"samples": len(lat), "missed": len(changed) - len(lat), "p50": q[49], "p99": q[98],
            "max": lat[-1] if lat else float("inf"),
            # the mean period between the source's requests over the window, per hour
            "requests_per_hour": 3600 * (len(times) - 1) / (times[-1] - times[0]),
            "requests": len(times), "push_missed": missed}


def _metric(port: int, name: str) -> float | None:
    """A sample's value on the daemon's /metrics (None: absent)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + "{") or line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
    return None


def _pace(at: float) -> None:
    delay = at - time.time()
    if delay > 0:
        time.sleep(delay)


def _seen(d: Daemon) -> dict[str, float]:
    """When each run's change to succeeded reached the daemon's stdout."""
    return {e["subject"]: t for t, e in list(d.events) if e["data"].get("status") == "succeeded"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--changes", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--interval", type=float, default=15)
    ap.add_argument("--only", choices=("push", "poll"))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    modes = [a.only] if a.only else ["push", "poll"]
    out: dict[str, Any] = {"interval": a.interval, "changes": a.changes}
    for mode in modes:
        out[mode] = measure(mode == "push", a.changes, a.seconds, a.interval)
    if len(modes) == 2:
        out["cost_ratio"] = out["push"]["requests_per_hour"] / out["poll"]["requests_per_hour"]
    if a.json:
        print(orjson.dumps(out).decode())
        return
    for mode in modes:
        r = out[mode]
        print(f"{mode}: {r['samples']} changes, p50 {r['p50']:.3f} s, p99 {r['p99']:.3f} s, "
              f"max {r['max']:.3f} s, missed {r['missed']}, "
              f"{r['requests_per_hour']:.0f} requests/h")
    if "cost_ratio" in out:
        print(f"push costs {out['cost_ratio']:.2f}x polling's requests")


if __name__ == "__main__":
    main()
