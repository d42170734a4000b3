"""A TCP proxy on loopback that a test can cut and restore: a database "lost" and "back"
without touching the real server other tests share; gone silent (connections stay open
and nothing passes, as in a partition); or one reply lost on its way back (the server
did what was asked, the client never hears so)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable


class Proxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._open = True
        #: cleared while stalled: nothing passes, new connections wait
        self._flowing = asyncio.Event()
        self._flowing.set()
        #: the next request holding these bytes reaches the server; its reply is dropped
        self._doom: bytes | None = None

    def start(self) -> Proxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._open:
            writer.close()
            return
        await self._flowing.wait()
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, up_writer}
        doomed = asyncio.Event()

        def ask(data: bytes) -> bool:
            if self._doom is not None and self._doom in data:
                self._doom = None
                doomed.set()
            return True

        def answer(data: bytes) -> bool:
            if doomed.is_set():  # the server answered the doomed request: cut instead
                writer.transport.abort()
                up_writer.transport.abort()
                return False
            return True
        await asyncio.gather(_pipe(reader, up_writer, ask, self._flowing),
                             _pipe(up_reader, writer, answer, self._flowing))
        self._writers -= {writer, up_writer}

    def lose_reply(self, marker: bytes) -> None:
        """The next request holding ``marker`` reaches the server, and the connection is
        cut as its reply comes back: the client cannot know what the server did."""
        self._doom = marker

    def cut(self) -> None:
        """Drop every connection and refuse new ones (they are closed at once)."""
        async def cut() -> None:
            self._open = False
            for w in list(self._writers):
                w.transport.abort()
        asyncio.run_coroutine_threadsafe(cut(), self._loop).result(10)

    def stall(self) -> None:
        """Keep every connection open but pass nothing either way, and hold new ones
        unanswered: a server gone silent, where each call hangs instead of failing."""
        self._loop.call_soon_threadsafe(self._flowing.clear)

    def restore(self) -> None:
        self._open = True
        self._loop.call_soon_threadsafe(self._flowing.set)

    def stop(self) -> None:
        self.cut()

        async def stop() -> None:
            if self._server is not None:
                self._server.close()
        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                passes: Callable[[bytes], bool] = lambda data: True,
                flowing: asyncio.Event | None = None) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while (data := await reader.read(65536)) and passes(data):
            if flowing is not None:
                await flowing.wait()  # held, as a partition holds it, until restored
            writer.write(data)
            await writer.drain()
    writer.close()
