"""A real HTTP receiver on loopback for sink tests: every request recorded, answers scripted.

It serves from its own thread and event loop, so the same receiver works for
in-process tests (the sink in the test's loop) and for daemon subprocesses.
``reply`` decides each answer from the request (its number, arrival time,
headers, body); it can be swapped while the receiver runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from tests.event_schema import note_body


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    #: seconds to wait before answering; ``None`` = hang until the receiver stops
    delay: float | None = 0.0
    #: stream ``body`` over and over without end (chunked), like a broken or hostile peer
    endless: bool = False


@dataclass
class Hit:
    """One request as the receiver saw it."""

    n: int
    at: float  # time.monotonic() on arrival
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int  # one value per TCP connection
    status: int = 0  # what it was answered (0 while pending)
    sent: int = 0  # bytes of an endless answer written before the client hung up


def ok(_hit: Hit) -> Reply:
    return Reply()


class Receiver:
    def __init__(self, reply: Callable[[Hit], Reply] = ok, *, path: str = "/hook",
                 port: int = 0) -> None:
        """``port``: where to listen (0: any free port; another: a receiver coming back)."""
        self.reply = reply
        self.path = path
        self.hits: list[Hit] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._stopping: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self.port = port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self) -> Receiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        hit = Hit(len(self.hits) + 1, time.monotonic(), request.method, request.path,
                  dict(request.headers), await request.read(), id(request.transport))
        self.hits.append(hit)
        if "cloudevents" in request.headers.get("Content-Type", ""):
            note_body(hit.body, f"received at {request.path}")
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            r = self.reply(hit)
            assert self._stopping is not None
            if r.delay is None or r.delay > 0:  # a wait, cut short when the receiver stops
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), r.delay)
            hit.status = r.status
            if r.endless:
                return await self._endless(request, hit, r)
            return web.Response(status=r.status, body=r.body, headers=r.headers)
        finally:
            self.in_flight -= 1

    async def _endless(self, request: web.Request, hit: Hit, r: Reply) -> web.StreamResponse:
        resp = web.StreamResponse(status=r.status, headers=r.headers)
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        chunk = r.body * max(1, 65536 // max(1, len(r.body)))
        assert self._stopping is not None
        try:
            while not self._stopping.is_set():
                await resp.write(chunk)
                hit.sent += len(chunk)
        except ConnectionError:
            pass  # the client stopped reading: what an endless answer is for
        return resp

    def stop(self) -> None:
        async def stop() -> None:
            assert self._stopping is not None and self._runner is not None
            self._stopping.set()
            await self._runner.cleanup()
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in rest:
                t.cancel()
            await asyncio.gather(*rest, return_exceptions=True)
        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- observing -------------------------------------------------------------------

    def delivered(self) -> list[Hit]:
        """Requests answered 2xx, in arrival order."""
        return [h for h in list(self.hits) if 200 <= h.status < 300]

    def wait_for(self, pred: Callable[[Receiver], bool], timeout: float = 20.0) -> None:
        """Block until ``pred(self)`` holds (for tests driving a subprocess)."""
        deadline = time.monotonic() + timeout
        while not pred(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"receiver: timed out; {len(self.hits)} requests")
            time.sleep(0.02)


def failing_for(seconds: float, status: int = 500) -> Callable[[Hit], Reply]:
    """Answer ``status`` for ``seconds`` from the first request, then 200."""
    start: list[float] = []

    def reply(hit: Hit) -> Reply:
        if not start:
            start.append(hit.at)
        return Reply(status) if hit.at - start[0] < seconds else Reply()
    return reply
