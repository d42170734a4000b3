"""HTTP listener (``http_listen``): /metrics, /healthz, /readyz, /events.

It runs in the daemon's own event loop and only reads daemon state, so a
scrape or a health check sees exactly what the daemon sees and costs it
nothing when nobody asks.  Access logs are off: probes every few seconds
would drown the lines an operator cares about.

What a client may send is bounded, since anyone who reaches the port can
send: every endpoint is a GET, so a request body over a few KB (or one of
unknown length) is answered 413 without being read, and the request line,
each header and the number of headers are capped by aiohttp's parser (an
over-long one is answered 4xx). The daemon's memory does not depend on them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

from watcher.server import metrics
from watcher.server.logs import redactor
from watcher.server.sse import EventStream

if TYPE_CHECKING:
    from watcher.runtime.daemon import Daemon

log = structlog.get_logger("watcher.api")

#: request bodies accepted: our endpoints are GETs and never need one
MAX_REQUEST_BODY = 4096
#: request line and each header line: a bearer token or a long /events filter fits
MAX_LINE = 8190
MAX_HEADERS = 64
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6) to a (host, port) pair."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def readiness(daemon: Daemon) -> tuple[bool, dict[str, Any]]:
    """Every source has polled successfully and is not failing.

    Failing means what ``watcher.source.failing`` and ``watcher_source_failing``
    mean (``failure_threshold`` failed polls in a row); a source with fewer is
    retrying and stays ready, with its failures and last error shown.
    The state file must take writes too: a daemon that cannot journal is not
    doing its job, whatever its polls say.
    """
    now = daemon.clock()
    sources: dict[str, Any] = {}
    store = daemon.store_failing()
    store_reason = f"state store writes failing: {redactor.redact(store)}" if store else None
    ready = not daemon.stopping and not store
    for name, child in list(daemon.pollers.items()):
        p = child.obj
        last = p.stats.last_success
        failures = p.state.row.failures
        info: dict[str, Any] = {"ready": True, "last_success_age_s": None}
        if last is not None:
            info["last_success_age_s"] = round(now - last, 3)
        if p.store_failing and store_reason:  # it polls fine: do not blame the vendor
            info["reason"] = store_reason
        elif p.failing:
            info["reason"] = (f"failing: {failures} polls in a row failed "
                              f"(failure_threshold {p.config.failure_threshold})")
        elif last is None:
            info["reason"] = "no successful poll yet"
        elif failures:
            info["retrying"] = True
        if failures:
            info["consecutive_failures"] = failures
        if "reason" in info:
            info["ready"] = ready = False
        if p.stats.last_error and (failures or not info["ready"]):
            info["last_error"] = redactor.redact(p.stats.last_error)
        sources[name] = info
    body: dict[str, Any] = {"ready": ready, "sources": sources}
    if daemon.stopping:
        body["reason"] = "stopping"
    else:
        if store_reason:
            body["reason"] = store_reason
        body["not_ready"] = sorted(n for n, i in sources.items() if not i["ready"])
    return ready, body


@web.middleware
async def refuse_bodies(request: web.Request,
                        handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                        ) -> web.StreamResponse:
    """413 for a body over :data:`MAX_REQUEST_BODY` or of unknown length, before reading it."""
    length = request.content_length
    if request.body_exists and (length is None or length > MAX_REQUEST_BODY):
        resp = web.json_response({"error": f"request bodies are limited to {MAX_REQUEST_BODY} "
                                           "bytes; these endpoints take none"}, status=413)
        resp.force_close()  # the unread body must not be parsed as the next request
        return resp
    return await handler(request)


class HttpListener:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.events = EventStream(lambda: daemon.journal, token=daemon.config.watcher.http_token)
        self.registry = metrics.registry_for(daemon, sse_clients=self.events.count)
        self.app = web.Application(client_max_size=MAX_REQUEST_BODY, middlewares=[refuse_bodies])
        self.app.middlewares.append(self._contain)
        self.app.router.add_get("/metrics", self.metrics)
        self.app.router.add_get("/healthz", self.healthz)
        self.app.router.add_get("/readyz", self.readyz)
        self.app.router.add_get("/events", self.events.handle)
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False,
                                    max_line_size=MAX_LINE, max_field_size=MAX_LINE,
                                    max_headers=MAX_HEADERS)

    @web.middleware
    async def _contain(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """A handler's bug is one 500 answer, counted and logged once like any task's."""
        try:
            return await handler(request)
        except (web.HTTPException, ConnectionError):  # answers and gone clients, not bugs
            raise
        except Exception as e:
            self.daemon.chores["http"].caught(e, path=request.path)
            return web.json_response({"error": "internal error"}, status=500)

    async def start(self, host: str, port: int) -> None:
        await self.runner.setup()
        site = web.TCPSite(self.runner, host, port, shutdown_timeout=2.0)
        await site.start()

    async def stop(self) -> None:
        await self.events.close()
        await self.runner.cleanup()

    async def metrics(self, _request: web.Request) -> web.Response:
        body = metrics.render(self.registry)
        return web.Response(body=body, headers={"Content-Type": metrics.CONTENT_TYPE})

    async def healthz(self, _request: web.Request) -> web.Response:
        # Being answered at all is the proof: this runs on the daemon's event loop.
        return web.json_response({"status": "ok",
                                  "uptime_s": round(self.daemon.clock() - self.daemon.started_at)})

    async def readyz(self, _request: web.Request) -> web.Response:
        ready, body = readiness(self.daemon)
        return web.json_response(body, status=200 if ready else 503)


async def start(daemon: Daemon, listen: str) -> HttpListener | None:
    """Serve on ``listen``; a port that cannot be bound is logged, not fatal: watching
    and alerting matter more than the metrics endpoint, so the daemon carries on."""
    host, port = parse_listen(listen)
    listener = HttpListener(daemon)
    try:
        await listener.start(host, port)
    except OSError as e:
        await listener.runner.cleanup()
        log.error("http listener could not start; /metrics, /readyz and /events are "
                  "unavailable", http_listen=listen, error=str(e))
        return None
    log.info("http listening", http_listen=listen, events_token=bool(listener.events.token))
    return listener
