"""Event throughput: events/s into the durable journal, and out through the stdout sink.

    python -m bench.event_throughput [--events 200000] [--batch 1000]

journal: events appended to a SQLite file journal (WAL) in poll-sized
commits, including their CloudEvent serialisation, as a poll cycle does.
stdout: events delivered from the journal's memory to the stdout sink writing
to /dev/null, through the sink runner (routing, batching, cursor acks).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import anyio
import orjson

from watcher.config.settings import SinkConfig
from watcher.core.events import RUN_STATUS_CHANGED, run_event
from watcher.infra.clock import wall
from watcher.model import Event, RunDetails, Status
from watcher.runtime.delivery import SinkRunner
from watcher.sinks.base import SinkContext
from watcher.sinks.stdout import StdoutSink
from watcher.state.backends import open_store
from watcher.state.journal import Journal
from watcher.state.store import SourceRow, Store


def events(n: int) -> list[Event]:
    details = RunDetails(workflow_id="workflow_BMdfq_yWM3sT", workflow_name="Invoice Processing",
                         created_at="2026-11-22T13:58:10Z", updated_at="2026-11-22T14:02:51Z",
                         url="https://dashboard.extend.ai/workflows/x", error=None,
                         run={"object": "workflow_run", "status": "FAILED",
                              "createdAt": "2026-11-22T13:58:10Z"})
    return [run_event(RUN_STATUS_CHANGED, source="bench", provider="extend",
                      run_id=f"workflow_run_{i:021d}", status=Status.FAILED, raw_status="FAILED",
                      previous=(Status.RUNNING, "PROCESSING"), details=details,
                      now=1_800_000_000.0, id_key=i) for i in range(n)]


async def journal_rate(n: int, batch: int, path: str) -> float:
    store = await open_store(path)
    try:
        return await store_rate(store, n, batch)
    finally:
        await store.close()


async def store_rate(store: Store, n: int, batch: int) -> float:
    """Events per second journaled into ``store``, ``batch`` to a commit (any backend)."""
    journal = Journal(store)
    await journal.start()
    evs = events(n)
    t = time.perf_counter()
    for i in range(0, n, batch):
        await journal.commit("bench", SourceRow(baselined=True), events=evs[i:i + batch])
    return n / (time.perf_counter() - t)


async def stdout_rate(n: int, batch: int) -> float:
    store = await open_store(":memory:")
    journal = Journal(store, tail_keep=n)
    await journal.start()
    for _ in range(0, n, batch):
        await journal.commit("bench", SourceRow(baselined=True), events=events(batch))
    with open("/dev/null", "wb") as devnull:  # noqa: ASYNC230 - /dev/null never blocks
        cfg = SinkConfig(name="out", type="stdout")
        runner = SinkRunner(StdoutSink(cfg, SinkContext(stdout=devnull, clock=wall)), cfg, journal,
                            clock=wall)
        runner.batch = batch
        await journal.attach("out")
        journal.cursors["out"] = 0
        t = time.perf_counter()
        await runner.run(until_idle=True)
        elapsed = time.perf_counter() - t
    await store.close()
    return n / elapsed


async def main_async(n: int, batch: int, as_json: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        j = await journal_rate(n, batch, str(Path(tmp) / "state.db"))
    s = await stdout_rate(n, batch)
    if as_json:
        print(orjson.dumps({"journal": j, "stdout": s}).decode())
        return
    print(f"journal (SQLite file, WAL, {batch}/commit): {j:>10,.0f} events/s   (target >= 20,000)")
    print(f"stdout sink (to /dev/null):              {s:>10,.0f} events/s   (target >= 100,000)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    anyio.run(main_async, a.events, a.batch, a.json)


if __name__ == "__main__":
    main()
