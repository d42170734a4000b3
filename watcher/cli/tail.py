"""``watcher tail``: follow a daemon's ``/events`` and print each event as one JSON line.

stdout gets exactly the CloudEvent JSON the daemon journaled, one per line,
so ``watcher tail | jq`` reads the same as ``watcher run | jq``.  The last
SSE id seen is the resume point: when the daemon restarts (or a proxy cuts
the stream) tail reconnects with backoff and ``Last-Event-ID``, and the
daemon replays what was journaled meanwhile, so nothing is skipped.  A
refused token is not retried: it exits 77 (EX_NOPERM) with a message.

A line or an event larger than :data:`MAX_EVENT` (a line without end from a
proxy gone wrong, or a URL that is not a watcher daemon) is not buffered on:
tail exits 76 (EX_PROTOCOL) saying so, since resuming would meet it again.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import aiohttp
import anyio
import structlog
import yarl

from watcher.cli import pretty, target
from watcher.cli.pipes import stdout_gone
from watcher.cli.target import CommandError
from watcher.config.units import format_size
from watcher.core.backoff import Backoff
from watcher.infra.http import read_answer
from watcher.server.sse import KEEPALIVE

log = structlog.get_logger("watcher.tail")

#: no byte (not even a keepalive comment) for this long means the stream is dead
READ_TIMEOUT = 3 * KEEPALIVE
#: the largest line or event read: an event is one CloudEvent, a few KB, larger only with
#: vendor fields kept in ``data.run``; far beyond that it is not a watcher stream
MAX_EVENT = 16 * 1024**2


class StdoutClosed(Exception):
    """Whoever read our stdout is gone (``watcher tail | head``): time to stop.

    Not a ConnectionError (as BrokenPipeError is), so it is never mistaken for a
    dropped stream and retried."""


class EventTooLarge(Exception):
    """A line or an event of the stream is larger than :data:`MAX_EVENT`."""


@dataclass
class Frame:
    id: int | None
    event: str
    data: bytes


async def lines(content: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    """The body's lines (without ``\\n``); EventTooLarge for one over :data:`MAX_EVENT`."""
    buf = bytearray()
    while chunk := await content.readany():
        scan = len(buf)  # what is already in buf holds no newline: do not search it again
        buf += chunk
        start = 0
        while (end := buf.find(b"\n", scan)) != -1:
            yield bytes(buf[start:end])
            start = scan = end + 1
        del buf[:start]
        if len(buf) > MAX_EVENT:
            raise EventTooLarge
    if buf:
        yield bytes(buf)


async def frames(content: aiohttp.StreamReader) -> AsyncIterator[Frame]:
    """Parse a ``text/event-stream`` body (the subset the daemon sends, robustly)."""
    seq: int | None = None
    event = "message"
    data: list[bytes] = []
    size = 0
    async for raw in lines(content):
        line = raw.rstrip(b"\r")
        if not line:
            if data:
                yield Frame(seq, event, b"\n".join(data))
            seq, event, data, size = None, "message", [], 0
            continue
        if line.startswith(b":"):  # the daemon explains discontinuities in comments
            text = line[1:].strip().decode(errors="replace")
            if text.startswith(("gap", "journal reset")):
                log.warning("event stream discontinuity", detail=text)
            continue
        name, _, value = line.partition(b":")
        value = value.removeprefix(b" ")
        if name == b"data":
            size += len(value) + 1
            if size > MAX_EVENT:  # data lines without the blank line that ends an event
                raise EventTooLarge
            data.append(value)
        elif name == b"id":
            seq = int(value) if value.isdigit() else None
        elif name == b"event":
            event = value.decode(errors="replace")


def stream_url(url: str) -> tuple[str, list[tuple[str, str]]]:
    """The ``/events`` URL and its query, from what users paste: the daemon's base URL
    or the stream URL itself, with or without a trailing slash (a path prefix behind a
    proxy is kept, and filters in a pasted query too)."""
    u = yarl.URL(url)
    path = u.path.rstrip("/")
    if not path.endswith("/events"):
        path += "/events"
    return str(u.with_path(path).with_query(None)), list(u.query.items())


class Follower:
    def __init__(self, base_url: str, *, token: str | None, query: list[tuple[str, str]],
                 last_id: int | None, out: IO[bytes] | pretty.PrettyWriter) -> None:
        self.url, pasted = stream_url(base_url)
        self.token = token
        self.query = pasted + query
        self.last_id = last_id
        self.out = out
        self.backoff = Backoff(0.5, 30.0)
        #: reached the daemon once: from then on an outage is a restart, waited out
        self.connected = False

    async def run(self) -> int:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=READ_TIMEOUT)
        outage_logged = False  # once per outage, not once per attempt
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                try:
                    reason = await self._stream(session)
                    log.warning("event stream ended; reconnecting", url=self.url, reason=reason,
                                last_event_id=self.last_id)
                    outage_logged = False
                except (aiohttp.ClientError, TimeoutError, ConnectionError) as e:
                    if not self.connected:  # a typo or no daemon: say so rather than wait
                        _never_reached(self.url, e)
                    if not outage_logged:
                        log.warning("event stream unavailable; retrying", url=self.url,
                                    reason=str(e) or type(e).__name__, last_event_id=self.last_id)
                    outage_logged = True
                await anyio.sleep(self.backoff.next())

    async def _stream(self, session: aiohttp.ClientSession) -> str:
        """One connection; returns why it ended, raises CommandError on what retrying can't fix."""
        headers = target.headers(self.token, "text/event-stream")
        if self.last_id is not None:
            headers["Last-Event-ID"] = str(self.last_id)
        async with session.get(self.url, params=self.query, headers=headers) as resp:
            if resp.status in (401, 403):
                raise CommandError(f"{self.url}: {resp.status} {resp.reason}: the daemon "
                                   "requires a bearer token (--token-file, $WATCHER_HTTP_TOKEN, "
                                   "or the config's http_token_file with -c), and the one given "
                                   "was missing or wrong" if resp.status == 401 else
                                   f"{self.url}: 403 Forbidden: {await _said(resp, 400)}",
                                   os.EX_NOPERM)
            if resp.status in (400, 404):
                raise CommandError(f"{self.url}: {resp.status} {resp.reason}: "
                                   f"{await _said(resp, 300)}", os.EX_USAGE)
            if resp.status != 200:
                return f"{resp.status} {resp.reason}"
            self.backoff.reset()  # reached: the next interruption starts the backoff afresh
            self.connected = True
            log.info("following", url=self.url, last_event_id=self.last_id)
            try:
                async for f in frames(resp.content):
                    self._print(f)
            except EventTooLarge:
                raise CommandError(f"{self.url}: the stream sent a line or an event larger "
                                   f"than {format_size(MAX_EVENT)}; is this a watcher daemon's "
                                   "/events?", os.EX_PROTOCOL) from None
        return "the daemon closed the stream"

    def _print(self, f: Frame) -> None:
        if f.event.startswith("watcher.") or f.event == "message":
            try:
                self.out.write(f.data + b"\n")
                self.out.flush()  # line by line, so a pipe into jq sees each event at once
            except BrokenPipeError:
                raise StdoutClosed from None
        if f.id is not None:
            self.last_id = f.id


def _never_reached(url: str, e: Exception) -> None:
    """CommandError when ``e``, before the daemon was ever reached, means it is not there:
    nothing listens, or what listens does not speak HTTP (another service's port)."""
    if isinstance(e, aiohttp.ClientConnectorError):
        raise CommandError(f"{url}: nothing answers there ({e.os_error}); is the daemon "
                           "running, with http_listen set? (--url, -c FILE)", os.EX_UNAVAILABLE)
    # a peer that took the connection and hung up (reset while the request was written)
    reset = isinstance(e, OSError) and e.errno == errno.ECONNRESET
    if reset or isinstance(e, aiohttp.ServerDisconnectedError | aiohttp.ClientResponseError):
        raise CommandError(f"{url}: what answers there is not an HTTP server "
                           f"({type(e).__name__}); is it the daemon's http_listen port? "
                           "(--url, -c FILE)", os.EX_PROTOCOL)


async def _said(resp: aiohttp.ClientResponse, chars: int) -> str:
    return (await read_answer(resp)).decode(errors="replace")[:chars]


async def tail(args: argparse.Namespace) -> int:
    """Follow until interrupted; 77 when the token is refused, 64 for a bad filter,
    76 when the stream is not one tail can read."""
    try:
        url, token = _target(args)
        out = pretty.writer_for(args.format, sys.stdout.buffer, sys.stdout)
        query = [(key, v) for key in ("type", "status", "source") for v in getattr(args, key)]
        follower = Follower(url, token=token, query=query, last_id=args.since_id, out=out)
        return await _until_signalled(follower.run)
    except CommandError as e:
        print(f"watcher tail: {e}", file=sys.stderr)
        return e.code
    except StdoutClosed:  # `watcher tail | head`: the reader is done, so are we
        stdout_gone()
        return os.EX_OK


def _target(args: argparse.Namespace) -> tuple[str, str | None]:
    """The daemon's URL (``--url``, else the config's ``http_listen``) and token
    (``--token-file``, else ``$WATCHER_HTTP_TOKEN``, else the config's)."""
    token = (target.read_token_file(args.token_file, base=Path.cwd(), env={})
             if args.token_file else os.environ.get("WATCHER_HTTP_TOKEN") or None)
    given = target.daemon_url(args.url) if args.url else None
    if given and token:
        return given, token
    url, configured = target.from_config(args.config, need_url=not given)
    return given or url, token or configured


async def _until_signalled(run: Callable[[], Awaitable[int]]) -> int:
    """``run()``, or EX_OK once SIGINT/SIGTERM arrives.

    The stop goes through an anyio cancel scope, which cancels again at every
    checkpoint: the one-shot task cancellation asyncio's default SIGINT
    handling sends can be swallowed inside a connection attempt (and turned
    into a connection error the reconnect loop retries), leaving tail running.
    """
    code = os.EX_OK
    failure: BaseException | None = None
    async with anyio.create_task_group() as tg:
        async def stop_on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    tg.cancel_scope.cancel()
                    return

        async def follow() -> None:
            nonlocal code, failure
            try:
                code = await run()
            except (CommandError, StdoutClosed) as e:  # raised as is, not in an exception group
                failure = e
            tg.cancel_scope.cancel()
        tg.start_soon(stop_on_signal)
        tg.start_soon(follow)
    if failure is not None:
        raise failure
    return code
