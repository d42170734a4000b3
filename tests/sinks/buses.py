"""Real NATS JetStream and Redis servers for the event-bus sink tests.

The shared servers come from ``$WATCHER_TEST_NATS`` / ``$WATCHER_TEST_REDIS``
(defaults: the loopback ones); each test gets its own stream or key prefix and
removes it after.  A server that does not answer skips the test with that
reason, except under CI (``CI=true``), where it is a failure.  A test that
needs a server it can stop or protect with a password starts its own
``nats-server`` / ``redis-server`` subprocess, or puts a :class:`Proxy` between
the sink and the shared server.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nats
import orjson
import pytest
import redis.asyncio as aioredis
from nats.js.api import ConsumerConfig, StorageType, StreamConfig

NATS_URL = os.environ.get("WATCHER_TEST_NATS", "nats://127.0.0.1:4222")
REDIS_URL = os.environ.get("WATCHER_TEST_REDIS", "redis://127.0.0.1:6379/0")


def unavailable(what: str, why: object) -> None:
    """Skip, or fail under CI: a green CI must mean the bus tests ran."""
    msg = f"no {what} server answers: {why}"
    if os.environ.get("CI") == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def host_port(url: str) -> tuple[str, int]:
    u = urlsplit(url)
    return u.hostname or "127.0.0.1", u.port or (4222 if u.scheme == "nats" else 6379)


@dataclass
class Message:
    """One event as a consumer read it back from the bus."""

    id: str
    body: bytes
    subject: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    fields: dict[str, bytes] = field(default_factory=dict)

    @property
    def event(self) -> dict[str, Any]:
        return dict(orjson.loads(self.body))


class NatsBus:
    """A fresh stream on the shared server (``create_stream`` off: the test makes it)."""

    kind = "nats"

    def __init__(self, url: str = NATS_URL) -> None:
        self.url = url
        self.tag = "t" + uuid.uuid4().hex[:10]
        self.stream = self.tag.upper()
        self.subject = f"{self.tag}.{{source}}.{{type}}"

    def sink(self, name: str = "bus", **kw: Any) -> dict[str, Any]:
        return {"name": name, "type": "nats", "url": self.url, "subject": self.subject,
                "stream": self.stream, **kw}

    async def create(self, **kw: Any) -> None:
        nc = await nats.connect(self.url, connect_timeout=2, max_reconnect_attempts=0)
        try:
            await nc.jetstream().add_stream(StreamConfig(
                name=self.stream, subjects=[f"{self.tag}.>"], storage=StorageType.FILE,
                duplicate_window=600, **kw))
        finally:
            await nc.close()

    async def read(self) -> list[Message]:
        """Every message of the stream, through a real consumer that acks each one."""
        nc = await nats.connect(self.url)
        try:
            js = nc.jetstream()
            total = (await js.stream_info(self.stream)).state.messages
            sub = await js.pull_subscribe(f"{self.tag}.>", durable="reader", stream=self.stream,
                                          config=ConsumerConfig(ack_wait=30))
            out: list[Message] = []
            while len(out) < total:
                for m in await sub.fetch(min(500, total - len(out)), timeout=5):
                    headers = dict(m.headers or {})
                    out.append(Message(headers.get("Nats-Msg-Id", ""), m.data, m.subject,
                                       headers))
                    await m.ack()
            await js.delete_consumer(self.stream, "reader")
            return out
        finally:
            await nc.close()

    async def count(self) -> int:
        nc = await nats.connect(self.url)
        try:
            return int((await nc.jetstream().stream_info(self.stream)).state.messages)
        except nats.js.errors.NotFoundError:
            return 0
        finally:
            await nc.close()

    async def cleanup(self) -> None:
        nc = await nats.connect(self.url)
        try:
            await nc.jetstream().delete_stream(self.stream)
        except nats.js.errors.NotFoundError:
            pass
        finally:
            await nc.close()


class RedisBus:
    """A fresh key prefix on the shared server."""

    kind = "redis"

    def __init__(self, url: str = REDIS_URL) -> None:
        self.url = url
        self.tag = "t" + uuid.uuid4().hex[:10]
        self.key = f"{self.tag}:events"

    def sink(self, name: str = "bus", **kw: Any) -> dict[str, Any]:
        return {"name": name, "type": "redis", "url": self.url, "stream": self.key, **kw}

    async def create(self, **kw: Any) -> None:
        return None

    def client(self) -> aioredis.Redis:
        return aioredis.Redis.from_url(self.url)

    async def read(self) -> list[Message]:
        """Every entry of the stream, through a consumer group (XREADGROUP, XACK)."""
        r = self.client()
        group = "readers-" + uuid.uuid4().hex[:6]
        try:
            await r.xgroup_create(self.key, group, id="0", mkstream=True)
            out: list[Message] = []
            while True:
                got = await r.xreadgroup(group, "one", {self.key: ">"}, count=500)
                entries = got[0][1] if got else []
                if not entries:
                    return out
                for entry_id, f in entries:
                    fields = {k.decode(): v for k, v in f.items()}
                    out.append(Message(fields["id"].decode(), fields["event"], fields=fields))
                    await r.xack(self.key, group, entry_id)
        finally:
            await r.aclose()

    async def count(self) -> int:
        r = self.client()
        try:
            return int(await r.xlen(self.key))
        finally:
            await r.aclose()

    async def cleanup(self) -> None:
        r = self.client()
        try:
            keys = [k async for k in r.scan_iter(f"{self.tag}*", count=1000)]
            for i in range(0, len(keys), 500):
                await r.delete(*keys[i:i + 500])
        finally:
            await r.aclose()


Bus = NatsBus | RedisBus


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def reachable(bus: Bus) -> None:
    """Skip (or fail under CI) unless the bus's server answers."""
    try:
        if isinstance(bus, NatsBus):
            async def ping_nats() -> None:
                nc = await nats.connect(bus.url, connect_timeout=2, max_reconnect_attempts=0,
                                        allow_reconnect=False)
                await nc.jetstream().account_info()
                await nc.close()
            run(asyncio.wait_for(ping_nats(), 5))
        else:
            async def ping_redis() -> None:
                r = bus.client()
                await r.ping()
                await r.aclose()
            run(asyncio.wait_for(ping_redis(), 5))
    except Exception as e:
        unavailable(bus.kind, e)


class Proxy:
    """A TCP relay on a fixed loopback port to ``target``, which a test can cut off
    (connections dropped, the port refusing) and put back."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def up(self) -> None:
        async def start() -> None:
            self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port,
                                                      reuse_address=True)
        self._call(start())

    def down(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
                self._server = None
            for w in list(self._writers):
                w.transport.abort()
            self._writers.clear()
        self._call(stop())

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_w))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.transport.abort()
        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))

    def close(self) -> None:
        self.down()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


@contextmanager
def private_server(kind: str, tmp: Path, *, secret: str) -> Iterator[str]:
    """A ``nats-server`` (JetStream, token auth) or ``redis-server`` (requirepass) of the
    test's own on a free port; yields its URL without the secret."""
    binary = shutil.which("nats-server" if kind == "nats" else "redis-server")
    if binary is None:
        unavailable(f"private {kind}", "the server binary is not installed")
    assert binary is not None
    port = free_port()
    if kind == "nats":
        conf = tmp / "nats.conf"
        conf.write_text(f'port: {port}\nhost: "127.0.0.1"\njetstream {{ store_dir: "{tmp}/js" }}\n'
                        f'authorization {{ token: "{secret}" }}\n')
        args = [binary, "-c", str(conf)]
    else:
        args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--requirepass", secret,
                "--save", "", "--appendonly", "no", "--dir", str(tmp)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        yield f"{kind}://127.0.0.1:{port}" + ("/0" if kind == "redis" else "")
    finally:
        proc.terminate()
        proc.wait(10)
