"""Webhook throughput: signed deliveries/s from the webhook sink to a local receiver.

    python -m bench.webhook_throughput [--events 20000] [--concurrency 8] [--unsigned]

The receiver (aiohttp, answers 204 after reading the body) runs in a separate
process pinned to the other core, so the figure is the sink's: this process is
pinned to one core and runs the sink as the daemon does (its event loop, uvloop
when installed), delivering journal-sized batches of ~1.2 KB CloudEvents, each
POST signed (Standard Webhooks HMAC-SHA256) over keep-alive connections.
A sample of the received requests is verified with the official
``standardwebhooks`` package, so a fast but wrong signer cannot pass.
Target (issue 5): 2,000 signed deliveries/s on one core.
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from watcher.config.settings import SinkConfig  # noqa: E402
from watcher.core.events import RUN_STATUS_CHANGED, run_event  # noqa: E402
from watcher.infra.clock import wall  # noqa: E402
from watcher.model import (  # noqa: E402
    JournalEntry,
    RunDetails,
    Status,
)
from watcher.runtime.loop import run_sync  # noqa: E402
from watcher.sinks.base import SinkContext  # noqa: E402
from watcher.sinks.webhook import WebhookOptions, WebhookSink  # noqa: E402
from watcher.state.journal import entry_of  # noqa: E402

SECRET = "whsec_" + base64.b64encode(b"bench-secret-bench-secret-bench!").decode()
BATCH = 1000
SAMPLE = 20

RECEIVER = """
import sys, asyncio, orjson
from aiohttp import web
try:
    import uvloop; uvloop.install()
except ImportError:
    pass
sample, count = [], [0]
async def hook(request):
    body = await request.read()
    count[0] += 1
    if len(sample) < %(sample)d:
        sample.append({"body": body.decode(), "headers": dict(request.headers)})
    return web.Response(status=204)
async def stats(request):
    return web.json_response({"count": count[0], "sample": sample})
app = web.Application()
app.router.add_post("/hook", hook)
app.router.add_get("/stats", stats)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def entries(n: int) -> list[JournalEntry]:
    details = RunDetails(workflow_id="workflow_BMdfq_yWM3sT", workflow_name="Invoice Processing",
                         created_at="2026-11-22T13:58:10Z", updated_at="2026-11-22T14:02:51Z",
                         url="https://dashboard.extend.ai/workflows/x",
                         error="Extraction failed: document could not be parsed",
                         run={"object": "workflow_run", "status": "FAILED",
                              "createdAt": "2026-11-22T13:58:10Z", "metadata": {"k": "v" * 200}})
    out = []
    for i in range(n):
        e = entry_of(run_event(
            RUN_STATUS_CHANGED, source="bench", provider="extend",
            run_id=f"workflow_run_{i:021d}", status=Status.FAILED, raw_status="FAILED",
            previous=(Status.RUNNING, "PROCESSING"), details=details, now=time.time(),
            id_key=i))
        e.seq = i + 1
        out.append(e)
    return out


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def deliver_all(url: str, batch: list[JournalEntry], *, concurrency: int, signed: bool
                      ) -> tuple[float, float]:
    """Deliveries per wall-clock second, and per CPU second of this process."""
    options = WebhookOptions(url=url, secret=SECRET if signed else None,
                             concurrency=concurrency)
    sink = WebhookSink(SinkConfig(name="bench", type="webhook", options=options), SinkContext(clock=wall))
    await sink.deliver(batch[:200])  # warm up: connections open, code paths hot
    t, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(batch), BATCH):
        rejected = await sink.deliver(batch[i:i + BATCH])
        assert not rejected, rejected[:1]
    elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
    await sink.aclose()
    return len(batch) / elapsed, len(batch) / cpu


def receiver_stats(port: int) -> dict[str, object]:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats") as r:
        result: dict[str, object] = orjson.loads(r.read())
    return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--unsigned", action="store_true")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    cores = sorted(os.sched_getaffinity(0))
    port = free_port()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER % {"sample": SAMPLE}, str(port)])
    try:
        if len(cores) > 1:  # sink and receiver on different cores, the sink on one only
            os.sched_setaffinity(receiver.pid, {cores[-1]})
            os.sched_setaffinity(0, {cores[0]})
        deadline = time.monotonic() + 10
        while True:
            try:
                receiver_stats(port)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        batch = entries(args.events)
        size = sum(len(e.body) for e in batch) / len(batch)
        rate, cpu_rate = run_sync(lambda: deliver_all(f"http://127.0.0.1:{port}/hook", batch,
                                            concurrency=args.concurrency,
                                            signed=not args.unsigned))
        stats = receiver_stats(port)
    finally:
        receiver.terminate()
        receiver.wait()

    if not args.unsigned:
        from standardwebhooks.webhooks import Webhook

        sample = stats["sample"]
        assert isinstance(sample, list)
        for req in sample:
            Webhook(SECRET).verify(req["body"], req["headers"])
    if args.json:
        print(orjson.dumps({"rate": rate, "cpu_rate": cpu_rate, "signed": not args.unsigned,
                            "verified": 0 if args.unsigned else len(sample)}).decode())
        return
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    print(f"webhook sink: {rate:,.0f} {'unsigned' if args.unsigned else 'signed'} deliveries/s "
          f"({args.events:,} events of {size:,.0f} B, concurrency {args.concurrency}, "
          f"{loop}, sink on 1 core{', receiver on another' if len(cores) > 1 else ''}; "
          f"receiver counted {stats['count']:,}"
          + ("" if args.unsigned else f", {len(sample)} signatures verified") + ")")
    print(f"per CPU second of the sink's process: {cpu_rate:,.0f} deliveries "
          "(what one core sustains when the receiver keeps up)")
    print(f"target 2,000/s: {'met' if rate >= 2000 else 'NOT met'}")


if __name__ == "__main__":
    main()
