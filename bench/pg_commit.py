"""The PostgreSQL store against SQLite: what a poll cycle's commit costs, and journal rate.

    python -m bench.pg_commit [--commits 500] [--events 100000]

idle commit: a cycle that only moves its source's row (a new cursor), the
smallest write a poll makes (an idle cycle with nothing new writes nothing at
all, on either store).  busy commit: 20 runs changed and their 20 events.
Both are timed per commit, the same cycles on a SQLite file (WAL) and on a
PostgreSQL database on loopback, in one run; the ratio is what matters.
journal: events/s into the PostgreSQL journal in commits of 1,000 (as the
SQLite figure of ``event_throughput.py``).  Round trips per commit are counted
by the store.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import anyio
import orjson

from bench._pg import database
from bench.event_throughput import events, store_rate
from watcher.model import RunState, Status
from watcher.state.backends import open_store
from watcher.state.journal import Journal
from watcher.state.store import SourceRow, Store

BUSY = 20


def _state(i: int) -> RunState:
    return RunState(Status.FAILED, "FAILED", None, 1.8e9 + i, False, None)


async def cycles(store: Store, n: int) -> dict[str, float]:
    """Seconds per idle and per busy commit, and round trips per commit (PostgreSQL)."""
    journal = Journal(store)
    await journal.start()
    evs = events(n * BUSY)
    trips = getattr(store, "trips", None)
    out: dict[str, float] = {}
    for kind in ("idle", "busy"):
        before = trips.count if trips else 0
        t = time.perf_counter()
        for i in range(n):
            row = SourceRow(cursor={"page": i, "kind": kind}, baselined=True)
            if kind == "idle":
                await journal.commit("src", row)
            else:
                ups = {f"r{i}-{k}": _state(k) for k in range(BUSY)}
                await journal.commit("src", row, events=evs[i * BUSY:(i + 1) * BUSY],
                                     upserts=ups, base={})
        out[kind] = (time.perf_counter() - t) / n
        if trips:
            out[f"{kind}_trips"] = (trips.count - before) / n
    return out


async def measure(commits: int, n_events: int, url: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = await open_store(str(Path(tmp) / "state.db"))
        pg = await open_store(url, replica="bench", listen_url="")
        try:
            s = await cycles(sqlite, commits)
            p = await cycles(pg, commits)
            rate = await store_rate(pg, n_events, 1000)
        finally:
            await sqlite.close()
            await pg.close()
    return {"sqlite_idle": s["idle"], "sqlite_busy": s["busy"], "pg_idle": p["idle"],
            "pg_busy": p["busy"], "idle_ratio": p["idle"] / s["idle"],
            "busy_ratio": p["busy"] / s["busy"], "idle_trips": p["idle_trips"],
            "busy_trips": p["busy_trips"], "journal": rate}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--commits", type=int, default=500)
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    with database("commit") as url:
        r = anyio.run(measure, a.commits, a.events, url)
    if a.json:
        print(orjson.dumps(r).decode())
        return
    print(f"idle commit: PostgreSQL {r['pg_idle'] * 1e3:.2f} ms ({r['idle_trips']:.0f} round "
          f"trips), SQLite {r['sqlite_idle'] * 1e3:.2f} ms: {r['idle_ratio']:.2f}x")
    print(f"busy commit ({BUSY} runs + {BUSY} events): PostgreSQL {r['pg_busy'] * 1e3:.2f} ms "
          f"({r['busy_trips']:.0f} round trips), SQLite {r['sqlite_busy'] * 1e3:.2f} ms: "
          f"{r['busy_ratio']:.2f}x")
    print(f"PostgreSQL journal, 1,000 per commit: {r['journal']:,.0f} events/s "
          "(target >= 20,000)")


if __name__ == "__main__":
    main()
