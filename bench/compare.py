"""Steady state side by side: ``watcher run`` against a naive full-scan poller.

    python -m bench.compare [--runs 50000] [--changes 5] [--interval 5] [--seconds 60]
                            [--daemon-root DIR]

One Extend workflow of ``--runs`` live runs in the simulator (its own process,
Extend's 10 GET/s enforced per account); each cycle ``--changes`` of them
finish.  The daemon watches the workflow from one source (stdout sink, SQLite
state); the naive poller (its own process) pages the whole listing every
interval at 10 GET/s, ``orjson.loads`` each page and compares each run's
status with the last scan's.  They run one after the other over the same
window, with the same changes, each on an account of its own; the figure is
the naive poller's CPU over the daemon's (the daemon's own process only).
``--daemon-root`` runs another checkout's daemon against this simulator.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from bench._daemon import Daemon, source
from bench._fleet import EXTEND_RATE, wait_for_requests
from bench._sim import ROOT, SimProcess
from watcher.providers.extend import API_VERSION

#: the naive poller: every interval, page the whole listing, parse it all, compare
NAIVE = """
import asyncio, sys, time, aiohttp, orjson
url, token, wf, interval, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
async def main():
    known, changes = {}, 0
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}",
                                              "x-extend-api-version": "VERSION"}) as s:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            start, token_, seen = time.monotonic(), None, {}
            while True:
                q = {"workflowId": wf, "maxPageSize": "1000"}
                if token_:
                    q["nextPageToken"] = token_
                async with s.get(url + "/workflow_runs", params=q) as r:
                    body = orjson.loads(await r.read())
                for run in body["data"]:
                    seen[run["id"]] = run["status"]
                token_ = body.get("nextPageToken")
                await asyncio.sleep(1 / RATE)
                if not token_:
                    break
            changes += sum(1 for k, v in seen.items() if k in known and known[k] != v)
            known = seen
            await asyncio.sleep(max(0.0, interval - (time.monotonic() - start)))
    print(changes)
asyncio.run(main())
""".replace("RATE", repr(EXTEND_RATE)).replace("VERSION", API_VERSION)


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _changer(sim: SimProcess, runs: list[str], n: int) -> None:
    for _ in range(n):
        if runs:
            sim.admin("POST", f"/_sim/runs/{runs.pop()}", {"status": "PROCESSED"})


def _window(sim: SimProcess, runs: list[str], *, changes: int, interval: float,
            seconds: float, pid: int) -> float:
    """CPU seconds of ``pid`` over ``seconds`` while ``changes`` runs finish per interval."""
    c0 = _cpu(pid)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        _changer(sim, runs, changes)
        time.sleep(min(interval, max(0.0, end - time.monotonic())))
    return _cpu(pid) - c0


def _workflow(sim: SimProcess, token: str, name: str, runs: int) -> tuple[str, list[str]]:
    sim.admin("POST", "/_sim/seed", {"vendor": "extend", "count": runs, "workflows": [name],
                                     "spread_s": 3600, "status": "PROCESSING",
                                     "accounts": [token]})
    wf = next(w["id"] for w in sim.admin("GET", "/_sim/workflows?vendor=extend")
              if w["name"] == name)
    ids = [r["id"] for r in sim.admin("GET", "/_sim/runs?vendor=extend")
           if r["workflow"] == name]
    return wf, ids


def measure(runs: int, changes: int, interval: float, seconds: float,
            root: Path = ROOT) -> dict[str, float]:
    with SimProcess() as sim, tempfile.TemporaryDirectory() as tmp:
        mine, theirs = (a["token"] for a in sim.admin("POST", "/_sim/accounts",
                                                        {"vendor": "extend", "count": 2}))
        sim.admin("POST", "/_sim/rate_limits", {"vendor": "extend", "rate": EXTEND_RATE})
        wf_a, runs_a = _workflow(sim, mine, "watched", runs)
        wf_b, runs_b = _workflow(sim, theirs, "scanned", runs)
        config = (f'[watcher]\nstate_path = "{tmp}/state.db"\nhttp_listen = ""\n'
                  + source(sim.url("extend"), mine, "src", interval=f"{interval:g}s",
                           params={"workflowId": wf_a})
                  + '[[sinks]]\nname = "out"\ntype = "stdout"\n')
        d = Daemon(config, Path(tmp), root=root)
        # the first sync: runs/1000 pages at 10 GET/s, then a few cycles to settle
        wait_for_requests(sim, runs // 1000 + 1, timeout=max(120.0, runs / 500))
        time.sleep(3 * interval)
        daemon_cpu = _window(sim, runs_a, changes=changes, interval=interval, seconds=seconds,
                             pid=d.proc.pid)
        time.sleep(interval)
        d.stop()
        events = len(d.events)
        naive = subprocess.Popen(
            [sys.executable, "-c", NAIVE, sim.url("extend"), theirs, wf_b, str(interval),
             str(seconds + 4 * interval)], stdout=subprocess.PIPE, cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        time.sleep(2 * interval)  # its first scans are its baseline
        naive_cpu = _window(sim, runs_b, changes=changes, interval=interval, seconds=seconds,
                            pid=naive.pid)
        out, _ = naive.communicate(timeout=4 * interval + 60)
    return {"daemon_cpu_s": daemon_cpu, "naive_cpu_s": naive_cpu,
            "ratio": naive_cpu / daemon_cpu if daemon_cpu else float("inf"),
            "daemon_events": events, "naive_changes": int(out.strip() or 0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=50_000)
    ap.add_argument("--changes", type=int, default=5)
    ap.add_argument("--interval", type=float, default=5.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--daemon-root", type=Path, default=ROOT)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    r = measure(a.runs, a.changes, a.interval, a.seconds, a.daemon_root)
    if a.json:
        print(orjson.dumps(r).decode())
        return
    print(f"{a.runs:,} Extend runs, {a.changes} finishing every {a.interval:g} s, "
          f"{a.seconds:g} s: watcher {r['daemon_cpu_s']:.2f} s CPU "
          f"({r['daemon_events']} events), naive full scan {r['naive_cpu_s']:.2f} s "
          f"({r['naive_changes']} changes seen): {r['ratio']:.1f}x   (target >= 100x)")


if __name__ == "__main__":
    main()
