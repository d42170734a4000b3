"""``watcher tail``: follow a daemon's ``/events`` and print each event as one JSON line.

stdout gets exactly the CloudEvent JSON the daemon journaled, one per line,
so ``watcher tail | jq`` reads the same as ``watcher run | jq``.  The last
SSE id seen is the resume point: when the daemon restarts (or a proxy cuts
the stream) tail reconnects with backoff and ``Last-Event-ID``, and the
daemon replays what was journaled meanwhile, so nothing is skipped.  A
refused token is not retried: it exits 77 (EX_NOPERM) with a message.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import aiohttp
import anyio
import structlog
import yarl

from watcher.backoff import Backoff
from watcher.sse import KEEPALIVE

log = structlog.get_logger("watcher.tail")

EX_OK, EX_USAGE, EX_NOPERM, EX_CONFIG = 0, 64, 77, 78
DEFAULT_URL = "http://127.0.0.1:9464"
DEFAULT_CONFIG = "/etc/watcher/watcher.toml"
#: no byte (not even a keepalive comment) for this long means the stream is dead
READ_TIMEOUT = 3 * KEEPALIVE


class StdoutClosed(Exception):
    """Whoever read our stdout is gone (``watcher tail | head``): time to stop.

    Not a ConnectionError (as BrokenPipeError is), so it is never mistaken for a
    dropped stream and retried."""


class TailError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Frame:
    id: int | None
    event: str
    data: bytes


def url_from_listen(listen: str) -> str:
    """``http_listen`` as the URL a local client dials (a wildcard bind means loopback)."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def default_url(env: Mapping[str, str] = os.environ) -> str:
    """From the config's ``http_listen`` when a config is readable, else the default port.

    Only that one key is read (no validation, no ``${VAR}`` expansion): tail must work
    for someone who may read the config but not the daemon's secrets.
    """
    path = env.get("WATCHER_CONFIG") or DEFAULT_CONFIG
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return DEFAULT_URL
    section = raw.get("watcher")
    listen = section.get("http_listen", "127.0.0.1:9464") if isinstance(section, dict) else None
    if listen == "":
        raise TailError(f"{path}: http_listen is disabled, so there is no /events to "
                        "follow; enable it or pass --url", EX_CONFIG)
    if not isinstance(listen, str) or ":" not in listen:
        return DEFAULT_URL
    return url_from_listen(listen)


async def frames(content: aiohttp.StreamReader) -> AsyncIterator[Frame]:
    """Parse a ``text/event-stream`` body (the subset the daemon sends, robustly)."""
    seq: int | None = None
    event = "message"
    data: list[bytes] = []
    while True:
        raw = await content.readline()
        if not raw:
            return
        line = raw.rstrip(b"\r\n")
        if not line:
            if data:
                yield Frame(seq, event, b"\n".join(data))
            seq, event, data = None, "message", []
            continue
        if line.startswith(b":"):
            _comment(line[1:].strip().decode(errors="replace"))
            continue
        name, _, value = line.partition(b":")
        value = value.removeprefix(b" ")
        if name == b"data":
            data.append(value)
        elif name == b"id":
            seq = int(value) if value.isdigit() else None
        elif name == b"event":
            event = value.decode(errors="replace")


def _comment(text: str) -> None:
    # The daemon explains discontinuities in comments; surface them, quietly otherwise.
    if text.startswith(("gap", "journal reset")):
        log.warning("event stream discontinuity", detail=text)


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
                 last_id: int | None, out: IO[bytes]) -> None:
        self.url, pasted = stream_url(base_url)
        self.token = token
        self.query = pasted + query
        self.last_id = last_id
        self.out = out
        self.backoff = Backoff(0.5, 30.0)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.last_id is not None:
            headers["Last-Event-ID"] = str(self.last_id)
        return headers

    async def run(self) -> int:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=READ_TIMEOUT)
        unreachable_logged = False
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                try:
                    reason = await self._stream(session)
                    log.warning("event stream ended; reconnecting", url=self.url, reason=reason,
                                last_event_id=self.last_id)
                    unreachable_logged = False
                except (aiohttp.ClientError, TimeoutError, ConnectionError) as e:
                    if not unreachable_logged:  # once per outage, not once per attempt
                        log.warning("event stream unavailable; retrying", url=self.url,
                                    reason=str(e) or type(e).__name__,
                                    last_event_id=self.last_id)
                        unreachable_logged = True
                await anyio.sleep(self.backoff.next())

    async def _stream(self, session: aiohttp.ClientSession) -> str:
        """One connection; returns why it ended, raises TailError on what retrying can't fix."""
        async with session.get(self.url, params=self.query, headers=self._headers()) as resp:
            if resp.status == 401:
                raise TailError(f"{self.url}: 401 Unauthorized: the daemon requires a bearer "
                                "token (--token or $WATCHER_HTTP_TOKEN), and the one given was "
                                "missing or wrong", EX_NOPERM)
            if resp.status in (400, 404):
                detail = (await resp.text())[:300]
                raise TailError(f"{self.url}: {resp.status} {resp.reason}: {detail}", EX_USAGE)
            if resp.status != 200:
                return f"{resp.status} {resp.reason}"
            self.backoff.reset()  # reached: the next interruption starts the backoff afresh
            log.info("following", url=self.url, last_event_id=self.last_id)
            async for f in frames(resp.content):
                self._print(f)
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


def _query(args: argparse.Namespace) -> list[tuple[str, str]]:
    return ([("type", t) for t in args.type] + [("status", s) for s in args.status]
            + [("source", s) for s in args.source])


async def tail(args: argparse.Namespace) -> int:
    """Follow until interrupted; 77 when the token is refused, 64 for a bad filter."""
    try:
        url = args.url or default_url()
        token = args.token or os.environ.get("WATCHER_HTTP_TOKEN") or None
        follower = Follower(url, token=token, query=_query(args), last_id=args.since_id,
                            out=sys.stdout.buffer)
        return await _until_signalled(follower.run)
    except TailError as e:
        print(f"watcher tail: {e}", file=sys.stderr)
        return e.code
    except StdoutClosed:  # `watcher tail | head`: the reader is done, so are we
        # stdout is gone; point it at /dev/null so the exit-time flush cannot complain
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EX_OK


async def _until_signalled(run: Callable[[], Awaitable[int]]) -> int:
    """``run()``, or EX_OK once SIGINT/SIGTERM arrives.

    The stop goes through an anyio cancel scope, which cancels again at every
    checkpoint: the one-shot task cancellation asyncio's default SIGINT
    handling sends can be swallowed inside a connection attempt (and turned
    into a connection error the reconnect loop retries), leaving tail running.
    """
    code = EX_OK
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
            except (TailError, StdoutClosed) as e:  # raised as is, not in an exception group
                failure = e
            tg.cancel_scope.cancel()
        tg.start_soon(stop_on_signal)
        tg.start_soon(follow)
    if failure is not None:
        raise failure
    return code
