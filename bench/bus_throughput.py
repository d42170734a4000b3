"""Event-bus throughput: events/s from the journal to NATS JetStream and to Redis Streams,
through the real sink runner, against a bare client sending the same bytes.

    python -m bench.bus_throughput [--events 20000] [--rounds 3]

sink: ``--events`` CloudEvents (~1.2 KB) journaled in a SQLite file (1,000 per
commit, as poll cycles write them), then delivered by a :class:`SinkRunner`
in batches of 1,000: read from the journal, subject or key rendered, published
pipelined, every acknowledgement awaited before the cursor moves.
bare: the same subjects, bodies and headers (NATS: ``publish_async`` with
``Nats-Msg-Id``, the expected stream, acks awaited per 1,000) or the same
Lua script calls (Redis: one pipeline of ``EVALSHA`` per 1,000), from memory.
Each measurement gets a fresh stream or key, so the server does the same work;
rounds alternate bare and sink, and the median of each is kept.
Target (issue 14): >= 20,000/s each, and >= 0.7x the bare client.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import nats
import orjson
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.event_throughput import events  # noqa: E402
from watcher.config.settings import SinkConfig  # noqa: E402
from watcher.infra.clock import wall  # noqa: E402
from watcher.model import JournalEntry  # noqa: E402
from watcher.runtime.delivery import SinkRunner  # noqa: E402
from watcher.runtime.loop import run_sync  # noqa: E402
from watcher.server import logs  # noqa: E402
from watcher.sinks.base import CONTENT_TYPE, SinkContext  # noqa: E402
from watcher.sinks.nats import NatsOptions, NatsSink  # noqa: E402
from watcher.sinks.redis import ADD_ONCE, SOURCE_PREFIX, RedisOptions, RedisSink  # noqa: E402
from watcher.state.backends import open_store  # noqa: E402
from watcher.state.journal import Journal  # noqa: E402
from watcher.state.store import SourceRow  # noqa: E402

NATS_URL = os.environ.get("WATCHER_TEST_NATS", "nats://127.0.0.1:4222")
REDIS_URL = os.environ.get("WATCHER_TEST_REDIS", "redis://127.0.0.1:6379/0")
BATCH = 1000


async def journal_of(path: Path, n: int) -> tuple[Journal, list[JournalEntry]]:
    store = await open_store(str(path))
    journal = Journal(store)
    await journal.start()
    evs = events(n)
    for i in range(0, n, BATCH):
        await journal.commit("bench", SourceRow(baselined=True), events=evs[i:i + BATCH])
    return journal, await store.read(0, n)


async def through_runner(journal: Journal, sink: Any, cfg: SinkConfig, n: int) -> float:
    """Events/s from the journal to the server's acknowledgements, by the sink runner."""
    name = cfg.name
    await journal.store.set_cursor(name, 0)
    journal.cursors[name] = 0
    runner = SinkRunner(sink, cfg, journal, clock=wall)
    await sink.open()
    t = time.perf_counter()
    await runner.run(until_idle=True)
    elapsed = time.perf_counter() - t
    assert runner.stats.delivered == n and runner.stats.failures == 0, runner.stats.__slots__
    await sink.aclose()
    return n / elapsed


async def nats_round(journal: Journal, entries: list[JournalEntry], tag: str) -> tuple[float, float]:
    nc = await nats.connect(NATS_URL)
    js = nc.jetstream()
    names = [f"{tag}B", f"{tag}S"]
    for name in names:
        await js.add_stream(name=name, subjects=[f"{name.lower()}.>"], storage="file",
                            duplicate_window=3600)
    try:
        prefix = names[0].lower()
        sent = [(f"{prefix}.bench.run.status_changed", e.body, e.id) for e in entries]
        t = time.perf_counter()
        for i in range(0, len(sent), BATCH):
            futs = [await js.publish_async(s, b, stream=names[0], headers={
                "Content-Type": CONTENT_TYPE, "Nats-Msg-Id": mid}) for s, b, mid in sent[i:i + BATCH]]
            done, pending = await asyncio.wait(futs, timeout=10)
            assert not pending and all(f.exception() is None for f in done)
        bare = len(sent) / (time.perf_counter() - t)
        opts = NatsOptions(url=NATS_URL, stream=names[1], subject=names[1].lower() + ".{source}.{type}")
        cfg = SinkConfig(name="nats-" + tag, type="nats", options=opts)
        sink = await through_runner(journal, NatsSink(cfg, SinkContext(clock=wall)), cfg, len(entries))
        info = await js.stream_info(names[1])
        assert info.state.messages == len(entries), info.state
        return bare, sink
    finally:
        for name in names:
            await js.delete_stream(name)
        await nc.close()


async def redis_round(journal: Journal, entries: list[JournalEntry], tag: str) -> tuple[float, float]:
    r = aioredis.Redis.from_url(REDIS_URL)
    keys = [f"bench:{tag}:bare", f"bench:{tag}:sink"]
    try:
        sha = await r.script_load(ADD_ONCE)
        t = time.perf_counter()
        for i in range(0, len(entries), BATCH):
            pipe = r.pipeline(transaction=False)
            for e in entries[i:i + BATCH]:
                pipe.evalsha(sha, 2, keys[0], f"{keys[0]}:seen:{e.id}", "3600000", "1000000",
                             e.id, e.type, SOURCE_PREFIX + e.source, e.run_id, e.body)
            results = await pipe.execute()
            assert all(isinstance(x, bytes) for x in results)
        bare = len(entries) / (time.perf_counter() - t)
        cfg = SinkConfig(name="redis-" + tag, type="redis",
                         options=RedisOptions(url=REDIS_URL, stream=keys[1]))
        sink = await through_runner(journal, RedisSink(cfg, SinkContext(clock=wall)), cfg, len(entries))
        assert await r.xlen(keys[1]) == len(entries)
        return bare, sink
    finally:
        found = [k async for k in r.scan_iter(f"bench:{tag}:*", count=1000)]
        for i in range(0, len(found), 1000):
            await r.delete(*found[i:i + 1000])
        await r.aclose()


async def measure(n: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        journal, entries = await journal_of(Path(tmp) / "state.db", n)
        size = sum(len(e.body) for e in entries) / len(entries)
        out: dict[str, Any] = {"events": n, "size": size}
        for bus, fn in (("nats", nats_round), ("redis", redis_round)):
            pairs = [await fn(journal, entries, "b" + uuid.uuid4().hex[:8]) for _ in range(rounds)]
            bare = statistics.median(b for b, _ in pairs)
            sink = statistics.median(s for _, s in pairs)
            out[bus] = {"bare": bare, "sink": sink, "ratio": sink / bare}
        await journal.store.close()
        return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    async def go() -> int:
        result.update(await measure(args.events, args.rounds))
        return 0
    result: dict[str, Any] = {}
    logs.configure(level="warning", fmt="console")  # "stream created" is not a figure
    run_sync(go)
    if args.json:
        print(orjson.dumps(result).decode())
        return
    for bus in ("nats", "redis"):
        r = result[bus]
        print(f"{bus}: sink {r['sink']:,.0f}/s, bare client {r['bare']:,.0f}/s, "
              f"ratio {r['ratio']:.2f}x ({args.events:,} events of {result['size']:,.0f} B, "
              f"batches of {BATCH:,}, median of {args.rounds})")
        ok = r["sink"] >= 20_000 and r["ratio"] >= 0.7
        print(f"  target >= 20,000/s and >= 0.7x: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
