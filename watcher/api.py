"""HTTP listener (``http_listen``): /metrics, /healthz, /readyz, /events.

It runs in the daemon's own event loop and only reads daemon state, so a
scrape or a health check sees exactly what the daemon sees and costs it
nothing when nobody asks.  Access logs are off: probes every few seconds
would drown the lines an operator cares about.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

from watcher import metrics
from watcher.logs import redactor
from watcher.sse import EventStream

if TYPE_CHECKING:
    from watcher.daemon import Daemon

log = structlog.get_logger("watcher.api")

#: a source is ready when its last good poll is at most this many intervals old
READY_INTERVALS = 3


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6) to a (host, port) pair."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


def readiness(daemon: Daemon) -> tuple[bool, dict[str, Any]]:
    """Every source polled successfully within ``READY_INTERVALS`` of its interval, and
    the state file takes writes (a daemon that cannot journal is not doing its job)."""
    now = daemon.clock()
    sources: dict[str, Any] = {}
    store = daemon.store_failing()
    store_reason = f"state store writes failing: {redactor.redact(store)}" if store else None
    ready = not daemon.stopping and not store
    for name, child in list(daemon.pollers.items()):
        p = child.obj
        last = p.stats.last_success
        limit = READY_INTERVALS * p.config.interval
        info: dict[str, Any] = {"ready": True, "last_success_age_s": None}
        if last is not None:
            info["last_success_age_s"] = round(now - last, 3)
        if p.store_failing and store_reason:  # it polls fine: do not blame the vendor
            info["ready"] = False
            info["reason"] = store_reason
        elif last is None or now - last > limit:
            info["ready"] = False
            info["reason"] = ("no successful poll yet" if last is None else
                              f"no successful poll for {now - last:.0f}s (limit {limit:g}s)")
            if p.stats.last_error:
                info["last_error"] = redactor.redact(p.stats.last_error)
            ready = False
        sources[name] = info
    body: dict[str, Any] = {"ready": ready, "sources": sources}
    if daemon.stopping:
        body["reason"] = "stopping"
    else:
        if store_reason:
            body["reason"] = store_reason
        body["not_ready"] = sorted(n for n, i in sources.items() if not i["ready"])
    return ready, body


class HttpListener:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.events = EventStream(lambda: daemon.journal, token=daemon.config.watcher.http_token)
        self.registry = metrics.registry_for(daemon, sse_clients=self.events.count)
        self.app = web.Application()
        self.app.router.add_get("/metrics", self.metrics)
        self.app.router.add_get("/healthz", self.healthz)
        self.app.router.add_get("/readyz", self.readyz)
        self.app.router.add_get("/events", self.events.handle)
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False)

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
