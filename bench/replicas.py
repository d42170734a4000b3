"""Several replicas idle: CPU per replica and database round trips per source per cycle.

    python -m bench.replicas [--sources 300] [--replicas 3] [--seconds 60]

300 sources polled every 15 s, nothing changing, by 3 replicas on one
PostgreSQL database, then by 1 replica on a fresh one: of every vendor, as
many as one process polls within each vendor's documented request budget
(Extend 100, Cortex 90, Noxus 55, Knock 55).  An Extend or Cortex source
watches 10 finished runs of a workflow of its own; the Noxus and Knock sources
(no workflow filter) share 10 finished runs.  The simulator runs in a process
of its own.  After the sources have baselined
and the leases settled, each replica's CPU time is read from /proc and its
round trips to the database from its own count (``/metrics``,
``watcher_db_round_trip_seconds_count``; pg_stat_statements needs a server
restart to load).  Idle polls write nothing: what remains is lease upkeep (one
statement per replica per lease_ttl/3), reading the journal head now and then
(LISTEN is on) and nothing else.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from bench._daemon import Daemon, source
from bench._pg import database
from bench._sim import SimProcess, free_port

CYCLE = 15.0
TTL = "20s"


def _trips(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    m = re.search(r"^watcher_db_round_trip_seconds_count (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


#: of 300 sources, each vendor's share (what one process polls within its budget)
MIX = {"extend": 100, "cortex": 90, "noxus": 55, "knock": 55}
#: each vendor's finished status, and how a source names its workflow
DONE = {"extend": "PROCESSED", "cortex": "COMPLETED", "noxus": "completed",
        "knock": "completed"}


def _sources(sim: SimProcess, vendor: str, n: int) -> str:
    names = [f"{vendor} workflow {i:03d}" for i in range(n)]
    filtered = vendor in ("extend", "cortex")
    sim.admin("POST", "/_sim/seed", {"vendor": vendor, "count": 10 * n if filtered else 10,
                                     "workflows": names, "status": DONE[vendor],
                                     "spread_s": 3600})
    wf_ids = {w["name"]: w["id"] for w in sim.admin("GET", f"/_sim/workflows?vendor={vendor}")}
    out = []
    for i, name in enumerate(names):
        keys: dict[str, object] = {"interval": f"{CYCLE:g}s"}
        if vendor == "cortex":
            keys.update(app_id="app_sim", workflow_id=wf_ids[name])
        elif vendor == "extend":
            keys["params"] = {"workflowId": wf_ids[name]}
        text = source(sim.url(vendor), sim.token(vendor), f"{vendor}-{i:03d}", **keys)
        out.append(text.replace('provider = "extend"', f'provider = "{vendor}"'))
    return "".join(out)


def _config(sim: SimProcess, url: str, n_sources: int) -> str:
    scale = n_sources / sum(MIX.values())
    return (f'[watcher]\nstate_path = "{url}"\nhttp_listen = "127.0.0.1:${{PORT}}"\n'
            f'replica = "${{REPLICA}}"\nlease_ttl = "{TTL}"\n'
            + "".join(_sources(sim, v, round(n * scale)) for v, n in MIX.items())
            + '[[sinks]]\nname = "out"\ntype = "stdout"\n')


def _baselined(url: str, n: int, within: float = 300.0) -> None:
    async def count() -> int:
        conn = await asyncpg.connect(url)
        try:
            return int(await conn.fetchval(
                "SELECT count(*) FROM sources WHERE baselined"))
        except asyncpg.UndefinedTableError:  # not migrated yet
            return 0
        finally:
            await conn.close()
    deadline = time.monotonic() + within
    while asyncio.run(count()) < n:
        if time.monotonic() > deadline:
            raise RuntimeError("not every source baselined")
        time.sleep(2)


def _requests(sim: SimProcess) -> int:
    return sum(sim.admin("GET", f"/_sim/requests/count?vendor={v}")["count"] for v in MIX)


def run(n_sources: int, n_replicas: int, seconds: float) -> dict[str, Any]:
    with SimProcess() as sim, database(f"r{n_replicas}") as url, \
            tempfile.TemporaryDirectory() as tmp:
        config = _config(sim, url, n_sources)
        replicas = []
        for i in range(n_replicas):
            port, work = free_port(), Path(tmp) / f"r{i}"
            work.mkdir()
            replicas.append((port, Daemon(config, work, env={"REPLICA": f"r{i}",
                                                              "PORT": str(port)})))
        _baselined(url, n_sources)
        time.sleep(2 * CYCLE)  # the leases settled
        c0 = [d.cpu_seconds() for _, d in replicas]
        q0 = [_trips(p) for p, _ in replicas]
        r0, t0 = _requests(sim), time.monotonic()
        time.sleep(seconds)
        c1 = [d.cpu_seconds() for _, d in replicas]
        q1 = [_trips(p) for p, _ in replicas]
        r1, t1 = _requests(sim), time.monotonic()
        for _, d in replicas:
            d.stop()
    cycles = (t1 - t0) / CYCLE
    cpu = [100 * (b - a) / (t1 - t0) for a, b in zip(c0, c1, strict=True)]
    trips = sum(b - a for a, b in zip(q0, q1, strict=True))
    return {"cpu_each": cpu, "cpu_sum": sum(cpu), "trips_per_source_cycle":
            trips / cycles / n_sources, "requests_per_source_cycle":
            (r1 - r0) / cycles / n_sources}


def measure(n_sources: int, n_replicas: int, seconds: float) -> dict[str, object]:
    return {"sources": n_sources, "replicas": run(n_sources, n_replicas, seconds),
            "single": run(n_sources, 1, seconds)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sources", type=int, default=300)
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    r = measure(a.sources, a.replicas, a.seconds)
    if a.json:
        print(orjson.dumps(r).decode())
        return
    for label in ("replicas", "single"):
        m = r[label]
        assert isinstance(m, dict)
        each = ", ".join(f"{c:.2f}%" for c in m["cpu_each"])
        print(f"{label}: CPU {each} (sum {m['cpu_sum']:.2f}% of a core); "
              f"{m['trips_per_source_cycle']:.4f} database round trips and "
              f"{m['requests_per_source_cycle']:.2f} vendor requests per source per cycle")


if __name__ == "__main__":
    main()
