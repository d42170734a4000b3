"""Failover: from ``kill -9`` of a replica to the first poll of each of its sources by another.

    python -m bench.failover [--kills 10] [--ttl 6] [--interval 3] [--sources 12]

Three replicas on one PostgreSQL database poll 12 Extend sources (the
simulator in a process of its own; each request carries the polling replica
in its User-Agent and the source in a query tag).  Ten times: the replica
polling the most sources is killed with SIGKILL, the time of the first poll of
each of its sources by another replica is read from the simulator's request
log, and the victim is started again before the next kill, once the leases
have settled.  Target: the worst failover <= lease_ttl + interval.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs

import orjson

from bench._daemon import Daemon, source
from bench._pg import database
from bench._sim import SimProcess


def _polls(sim: SimProcess) -> list[tuple[float, str, str]]:
    """``(wall time, source, replica)`` of every request, oldest first."""
    out = []
    for r in sim.admin("GET", "/_sim/requests"):
        tag, agent = parse_qs(r["query"]).get("tag"), r.get("agent", "")
        if tag and "(replica " in agent:
            out.append((r["time"], tag[0], agent.split("(replica ", 1)[1].rstrip(")")))
    return out


def _owners(sim: SimProcess, since: float) -> dict[str, str]:
    """Each source's last poller since ``since``."""
    return {s: r for t, s, r in _polls(sim) if t >= since}


def _config(sim: SimProcess, url: str, n: int, ttl: float, interval: float) -> str:
    token = sim.token("extend")
    return (f'[watcher]\nstate_path = "{url}"\nhttp_listen = ""\nreplica = "${{REPLICA}}"\n'
            f'lease_ttl = "{ttl:g}s"\n' + "".join(
                source(sim.url("extend"), token, f"src-{i:02d}", interval=f"{interval:g}s",
                       params={"tag": f"src-{i:02d}"}) for i in range(n))
            + '[[sinks]]\nname = "out"\ntype = "stdout"\n')


def measure(kills: int, ttl: float, interval: float, n: int) -> dict[str, object]:
    samples: list[float] = []
    worst_per_kill: list[float] = []
    with SimProcess() as sim, database("failover") as url, tempfile.TemporaryDirectory() as tmp:
        sim.admin("POST", "/_sim/seed", {"vendor": "extend", "count": 50})
        config = _config(sim, url, n, ttl, interval)
        work = {f"r{i}": Path(tmp) / f"r{i}" for i in range(3)}
        procs: dict[str, Daemon] = {}
        for name, path in work.items():
            path.mkdir()
            procs[name] = Daemon(config, path, env={"REPLICA": name})
        time.sleep(ttl + 2 * interval)
        for _ in range(kills):
            owners = _owners(sim, time.time() - 2 * interval)
            victim = Counter(owners.values()).most_common(1)[0][0]
            mine = {s for s, r in owners.items() if r == victim}
            killed = time.time()
            procs[victim].proc.kill()
            procs[victim].proc.wait()
            time.sleep(ttl + 2 * interval)
            firsts = {}
            for t, s, r in _polls(sim):
                if s in mine and r != victim and t > killed and s not in firsts:
                    firsts[s] = t - killed
            samples += list(firsts.values())
            worst_per_kill.append(max(firsts.values()) if len(firsts) == len(mine) else 1e9)
            procs[victim] = Daemon(config, work[victim], env={"REPLICA": victim})
            time.sleep(ttl)  # leases settle again
        for d in procs.values():
            d.stop()
    return {"kills": kills, "ttl": ttl, "interval": interval, "samples": len(samples),
            "p50": statistics.median(samples), "max": max(worst_per_kill),
            "worst_per_kill": worst_per_kill}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--ttl", type=float, default=6.0)
    ap.add_argument("--interval", type=float, default=3.0)
    ap.add_argument("--sources", type=int, default=12)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    r = measure(a.kills, a.ttl, a.interval, a.sources)
    if a.json:
        print(orjson.dumps(r).decode())
        return
    print(f"failover over {r['kills']} kills ({r['samples']} sources moved): p50 "
          f"{r['p50']:.2f} s, max {r['max']:.2f} s (target <= lease_ttl + interval = "
          f"{a.ttl + a.interval:g} s)")


if __name__ == "__main__":
    main()
