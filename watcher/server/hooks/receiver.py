"""``POST /hooks/{source}``: a platform's webhook, verified, stored, acknowledged.

The signature is the credential (no ``http_token``): it is checked over the raw
body before anything is parsed or stored (:mod:`.schemes`).  The answer is 2xx only
once the push is durably in the store's inbox, so a platform retries whatever
this watcher could not keep; a delivery id stored before is acknowledged and
ignored.  The poller holding the source's lease applies it (``watcher.runtime.push``).

Answers: 200 stored or duplicate; 401 a bad or missing signature, or a timestamp
more than 5 minutes off; 404 no source of that name takes pushes; 413 a body over
:data:`MAX_PUSH`; 400 a signed body that is not JSON; 503 the store could not keep it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import orjson
import structlog
from aiohttp import web

from watcher.config.settings import SourceConfig
from watcher.core.push import PushStats
from watcher.errors import StoreError
from watcher.infra.clock import Clock
from watcher.server.hooks.schemes import Refused, scheme_of
from watcher.state.inbox import Push
from watcher.state.store import Store

log = structlog.get_logger("watcher.push")

#: the largest push accepted (the platforms send a run, a few KB)
MAX_PUSH = 1024 * 1024


class Desk(Protocol):
    """Where pushes are counted and their pollers rung (``watcher.runtime.push.PushDesk``)."""

    def stats_of(self, cfg: SourceConfig) -> PushStats: ...
    def ring(self, source: str) -> None: ...


class Receiver:
    def __init__(self, sources: Callable[[], Sequence[SourceConfig]],
                 store: Callable[[], Store | None], desk: Desk, *, clock: Clock) -> None:
        #: the daemon's current config's sources, and its store
        self.sources = sources
        self.store = store
        self.desk = desk
        self.clock = clock

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/hooks/{source}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["source"]
        cfg = next((s for s in self.sources() if s.name == name), None)
        if cfg is None or not cfg.push_secret or (scheme := scheme_of(cfg.provider)) is None:
            return _answer(404, "no source of that name takes pushes")
        stats = self.desk.stats_of(cfg)
        body = await _body(request)
        if body is None:
            stats.received["too_large"] += 1
            resp = _answer(413, f"pushes are limited to {MAX_PUSH} bytes")
            resp.force_close()  # the rest of the body is not read
            return resp
        now = self.clock()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            verified = scheme(headers, body, cfg.push_secret, now)
        except Refused as e:
            stats.received["refused"] += 1
            log.info("push refused", source=cfg.name, reason=str(e))
            return _answer(401, f"push refused: {e}")
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            stats.received["malformed"] += 1
            return _answer(400, "the body is not JSON")
        return await self._keep(cfg, stats, Push(cfg.name, verified.delivery, now,
                                                  verified.sent, body))

    async def _keep(self, cfg: SourceConfig, stats: PushStats, push: Push) -> web.Response:
        store = self.store()
        try:
            if store is None:
                raise StoreError("the state store is not open")
            new = await store.receive(push)
        except StoreError as e:
            stats.received["unstored"] += 1
            log.warning("could not store a push; the platform retries it, polling finds "
                        "the change meanwhile", source=cfg.name, error=str(e))
            return _answer(503, "the push could not be stored; send it again")
        if not new:
            stats.received["duplicate"] += 1
            return web.json_response({"status": "duplicate"})
        stats.received["stored"] += 1
        stats.pushed(push.received)
        self.desk.ring(cfg.name)
        return web.json_response({"status": "stored"})


async def _body(request: web.Request) -> bytes | None:
    """The raw body, or None when it is over :data:`MAX_PUSH` (read no further)."""
    if request.content_length is not None and request.content_length > MAX_PUSH:
        return None
    body = bytearray()
    async for chunk in request.content.iter_chunked(65536):
        body += chunk
        if len(body) > MAX_PUSH:
            return None
    return bytes(body)


def _answer(status: int, error: str) -> web.Response:
    return web.json_response({"error": error}, status=status)
