"""HTTP listener (``http_listen``): /metrics, /healthz, /readyz, /events, /status, the
status page at /, and the platforms' pushes at ``/hooks/{source}``.

It runs in the daemon's own event loop and only reads daemon state, so a
scrape or a health check sees exactly what the daemon sees and costs it
nothing when nobody asks.  Access logs are off: probes every few seconds
would drown the lines an operator cares about.

What a client may send is bounded, since anyone who reaches the port can
send: every endpoint is a GET but ``PUT /silences/{id}`` (a small JSON object),
so a request body over a few KB (or one of unknown length) is answered 413
without being read, and the request line, each header and the number of headers
are capped by aiohttp's parser (an over-long one is answered 4xx). The daemon's
memory does not depend on them.
Who may read events and status is :mod:`watcher.server.auth`'s rule.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web
from prometheus_client.exposition import generate_latest

from watcher.core.status import DaemonStatus
from watcher.errors import StoreError
from watcher.server import metrics
from watcher.server.auth import Access
from watcher.server.health import readiness
from watcher.server.hooks.receiver import Receiver
from watcher.server.page import StatusPage
from watcher.server.silences import SilenceApi
from watcher.server.sse import EventStream
from watcher.server.status import status_body, with_cluster
from watcher.state.journal import Journal
from watcher.state.store import Store

log = structlog.get_logger("watcher.api")

#: request bodies accepted: only a silence is ever sent, a few hundred bytes
MAX_REQUEST_BODY = 4096
#: request line and each header line: a bearer token or a long /events filter fits
MAX_LINE = 8190
MAX_HEADERS = 64
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6) to a (host, port) pair."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


@web.middleware
async def refuse_bodies(request: web.Request, handler: Handler) -> web.StreamResponse:
    """413 for a body over :data:`MAX_REQUEST_BODY` or of unknown length, before reading it
    (a push to ``/hooks/`` has its own cap, :data:`~watcher.server.hooks.receiver.MAX_PUSH`)."""
    length = request.content_length
    if request.body_exists and not request.path.startswith("/hooks/") and (
            length is None or length > MAX_REQUEST_BODY):
        resp = web.json_response({"error": f"request bodies are limited to {MAX_REQUEST_BODY} "
                                           "bytes"}, status=413)
        resp.force_close()  # the unread body must not be parsed as the next request
        return resp
    return await handler(request)


#: what the listener reads of the daemon: a snapshot, taken per request
Snapshot = Callable[[], DaemonStatus]
#: how the listener reports a handler's bug (counted and logged like any task's)
OnError = Callable[..., object]
#: the cluster's status document (:mod:`watcher.server.cluster`), made when asked
Status = Callable[[], Awaitable[dict[str, Any]]]


class HttpListener:
    def __init__(self, snapshot: Snapshot, journal: Callable[[], Journal | None], *,
                 token: str | None, on_error: OnError, host: str, status: Status,
                 store: Callable[[], Store | None], hooks: Receiver) -> None:
        self.snapshot = snapshot
        self.on_error = on_error
        self.status_of = status
        self.access = Access(token, host=host)
        self.events = EventStream(journal, access=self.access)
        self.registry = metrics.registry_for(snapshot, sse_clients=self.events.count)
        self.app = web.Application(client_max_size=MAX_REQUEST_BODY, middlewares=[refuse_bodies])
        self.app.middlewares.append(self._contain)
        self.app.router.add_get("/metrics", self.metrics)
        self.app.router.add_get("/healthz", self.healthz)
        self.app.router.add_get("/readyz", self.readyz)
        self.app.router.add_get("/events", self.events.handle)
        self.app.router.add_get("/status", self.status)
        StatusPage(self.access).routes(self.app)
        SilenceApi(self.access, store).routes(self.app)
        hooks.routes(self.app)  # no token: the platform's signature is the credential
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                                    max_line_size=MAX_LINE, max_field_size=MAX_LINE,
                                    max_headers=MAX_HEADERS, shutdown_timeout=2.0)

    @web.middleware
    async def _contain(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """A handler's bug is one 500 answer, counted and logged once like any task's."""
        try:
            return await handler(request)
        except (web.HTTPException, ConnectionError):  # answers and gone clients, not bugs
            raise
        except Exception as e:
            self.on_error(e, path=request.path)
            return web.json_response({"error": "internal error"}, status=500)

    async def stop(self) -> None:
        await self.events.close()
        await self.runner.cleanup()

    async def metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry),
                            headers={"Content-Type": metrics.CONTENT_TYPE})

    async def healthz(self, _request: web.Request) -> web.Response:
        # Being answered at all is the proof: this runs on the daemon's event loop.
        now = self.snapshot()
        return web.json_response({"status": "ok", "uptime_s": round(now.now - now.started_at)})

    async def readyz(self, _request: web.Request) -> web.Response:
        ready, body = readiness(self.snapshot())
        return web.json_response(body, status=200 if ready else 503)

    async def status(self, request: web.Request) -> web.Response:
        refused = self.access.refusal(request)
        if refused is not None:
            return refused
        body = status_body(self.snapshot())
        try:
            body = with_cluster(body, await self.status_of())
        except StoreError as e:  # the store is away: this replica's view, and why
            body["store"]["cluster_error"] = f"state store unreadable: {e}"
        return web.json_response(body, headers={"Cache-Control": "no-store"})


async def start(listen: str, snapshot: Snapshot, journal: Callable[[], Journal | None], *,
                token: str | None, on_error: OnError, status: Status,
                store: Callable[[], Store | None], hooks: Receiver) -> HttpListener | None:
    """Serve on ``listen``; a port that cannot be bound is logged, not fatal: watching
    and alerting matter more than the metrics endpoint, so the daemon carries on."""
    host, port = parse_listen(listen)
    listener = HttpListener(snapshot, journal, token=token, on_error=on_error, host=host,
                            status=status, store=store, hooks=hooks)
    try:
        await listener.runner.setup()
        await web.TCPSite(listener.runner, host, port).start()
    except OSError as e:
        await listener.runner.cleanup()
        log.error("http listener could not start; /metrics, /readyz and /events are "
                  "unavailable", http_listen=listen, error=str(e))
        return None
    log.info("http listening", http_listen=listen, token=bool(listener.access.token))
    if listener.access.exposed and not listener.access.token:
        log.warning("/, /status and /events are refused: bound beyond loopback without "
                    "http_token", http_listen=listen)
    return listener
