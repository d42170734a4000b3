"""``/events``: the journal as Server-Sent Events.

Each frame is ``id: <journal sequence>``, ``event: <type>`` and ``data:`` the
CloudEvent JSON on one line, exactly the bytes the stdout sink prints.  The
sequence is the resume point: a client that reconnects with
``Last-Event-ID`` (or ``?since=``) gets everything after it from the
journal, from memory or from SQLite, so a daemon restart costs it nothing.

A client is a reader of the journal like a sink, but one that holds
nothing back: it has no cursor in the store, so pruning never waits for
it, and its only resources are one socket and one batch of entries.  A
client that stops reading stalls its own handler on the socket's flow
control, never the daemon; one that stays stalled past ``WRITE_TIMEOUT`` is
dropped and can resume from its last id.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog
from aiohttp import web
from multidict import MultiMapping

from watcher.config.match import check_match
from watcher.core.matching import Match
from watcher.model import JournalEntry
from watcher.server.auth import Access
from watcher.state.journal import Journal

log = structlog.get_logger("watcher.sse")

#: a comment this often keeps proxies and idle-timeouts from cutting a quiet stream
KEEPALIVE = 15.0
#: a client that has not taken a write for this long is dropped
WRITE_TIMEOUT = 30.0
#: entries read from the journal per write
BATCH = 500
#: beyond this many followers /events answers 503 rather than exhaust the daemon
MAX_CLIENTS = 64
#: the reconnection delay (ms) browsers' EventSource should use
RETRY_MS = 2000


class BadRequest(ValueError):
    """A filter or resume point the client got wrong (answered 400)."""


def parse_filter(query: MultiMapping[str]) -> Match:
    """``type``, ``status``, ``source`` query keys, each repeatable or comma-separated,
    with ``*`` globs: the keys of a sink's ``match``."""
    raw = {key: [v.strip() for raw in query.getall(key, []) for v in raw.split(",")
                 if v.strip()] for key in ("type", "status", "source")}
    match, found = check_match({k: v for k, v in raw.items() if v})
    if found:
        raise BadRequest(found[0][1])
    return match


def resume_point(request: web.Request, head: int) -> int:
    """Where to start: after ``Last-Event-ID``, else after ``?since=``, else from now."""
    raw = request.headers.get("Last-Event-ID") or request.query.get("since")
    if raw is None or raw.strip() == "":
        return head
    try:
        after = int(raw)
    except ValueError:
        raise BadRequest(f'"{raw}" is not a journal sequence number') from None
    if after < 0:
        raise BadRequest("a journal sequence number is never negative")
    return after


def frame(entry: JournalEntry) -> bytes:
    # The body is orjson output: one line, newlines inside strings are escaped.
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (entry.seq, entry.type.encode(), entry.body)


class EventStream:
    """The ``/events`` handler and the set of clients it is serving."""

    def __init__(self, journal: Callable[[], Journal | None], *, access: Access) -> None:
        self._journal = journal
        self.access = access
        self.clients: set[asyncio.Task[object]] = set()
        self.closing = False

    def count(self) -> int:
        return len(self.clients)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        refused = self.access.refusal(request)
        if refused is not None:
            return refused
        journal = self._journal()
        if journal is None or len(self.clients) >= MAX_CLIENTS:
            return web.json_response({"error": "too many /events clients"}, status=503,
                                     headers={"Retry-After": "10"})
        try:
            match = parse_filter(request.query)
            after = resume_point(request, journal.head)
        except BadRequest as e:
            return web.json_response({"error": str(e)}, status=400)
        task = asyncio.current_task()
        assert task is not None
        self.clients.add(task)
        try:
            return await self._follow(request, journal, match, after)
        finally:
            self.clients.discard(task)

    async def _follow(self, request: web.Request, journal: Journal, match: Match,
                      after: int) -> web.StreamResponse:
        resp = web.StreamResponse(headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # nginx: pass frames through unbuffered
        })
        await resp.prepare(request)
        peer = request.remote
        log.info("events client connected", peer=peer, after=after, head=journal.head)
        preamble = b"retry: %d\n" % RETRY_MS
        if after > journal.head:
            # The journal is younger than the client's id: a new state file, or
            # ":memory:" across a restart. Everything in it is news to the client.
            preamble += b": journal reset (client at %d, head %d); from the start\n" % (
                after, journal.head)
            after = 0
        try:
            await self._write(resp, preamble + b"\n")
            everything = match.everything
            while True:
                try:
                    async with asyncio.timeout(KEEPALIVE):
                        await journal.wait(after)
                except TimeoutError:
                    await self._write(resp, b": keepalive\n\n")
                    continue
                entries = await journal.read(after, BATCH)
                if not entries:
                    continue
                out = []
                if entries[0].seq > after + 1:
                    out.append(b": gap: events %d..%d are no longer in the journal\n\n" % (
                        after + 1, entries[0].seq - 1))
                out += [frame(e) for e in entries if everything or match(e)]
                after = entries[-1].seq
                if out:
                    await self._write(resp, b"".join(out))
        except (ConnectionError, TimeoutError) as e:
            log.info("events client gone", peer=peer, after=after,
                     reason=type(e).__name__)
        except asyncio.CancelledError:
            if not self.closing:
                raise
            # The daemon is stopping: finish the response, so the client sees a clean end
            # of stream (and resumes from its last id) rather than a broken transfer.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(resp.write_eof(), 1.0)
        return resp

    async def _write(self, resp: web.StreamResponse, data: bytes) -> None:
        async with asyncio.timeout(WRITE_TIMEOUT):
            await resp.write(data)

    async def close(self) -> None:
        """End every stream (the daemon is stopping); clients resume from their last id."""
        self.closing = True
        tasks = list(self.clients)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
