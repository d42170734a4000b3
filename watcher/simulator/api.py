"""What every simulated vendor API shares: request log, rate limit, request faults,
auth, and the page faults applied to listings.

A vendor module subclasses :class:`VendorApi`, says how its errors look and
how it authenticates, and adds its routes; this base does the rest the same
way for every vendor.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

import anyio
import orjson
from aiohttp import web

from watcher.simulator.accounts import Account
from watcher.simulator.faults import (
    PAGE_KINDS,
    REQUEST_KINDS,
    Fault,
    endless_listing,
    sized_listing,
)
from watcher.simulator.listing import Listings
from watcher.simulator.world import Request, SimRun, World

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: where a request keeps the account its key belongs to (None: no such key)
ACCOUNT: web.RequestKey[Account | None] = web.RequestKey("account")


#: UTC with microseconds, as Noxus, Knock and Prefect write their times
MICROS = "%Y-%m-%dT%H:%M:%S.%fZ"


def stamp(epoch: float | None, fmt: str = MICROS) -> str | None:
    """``epoch`` in UTC as ``fmt`` writes it (None stays None)."""
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime(fmt)


#: canonical stage -> the vendor's raw status and the extra run fields it needs
Stages = dict[str, tuple[str, dict[str, Any]]]


def stage_table(**stages: str | tuple[str, dict[str, Any]]) -> Stages:
    """A vendor's :data:`Stages`: a raw status alone needs no extra fields."""
    return {k: (v, {}) if isinstance(v, str) else v for k, v in stages.items()}


class Refused(Exception):
    """Raised by a handler's checks: the request is answered with ``response`` instead."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, headers=headers,
                        content_type="application/json")


class VendorApi:
    vendor: ClassVar[str] = ""
    #: for scenarios; a stage the vendor does not have is absent
    stages: ClassVar[Stages] = {}
    #: the API's root under ``/{vendor}`` (the base URL a client is given ends with it)
    root: ClassVar[str] = ""
    #: what else a client logs in with, beside the token (``GET /_sim/info`` shows it)
    login: ClassVar[dict[str, str]] = {}
    #: what a watcher source of this platform needs beside base_url and token to watch the
    #: simulated world (GitHub: its repository)
    source_keys: ClassVar[dict[str, str]] = {}
    #: what the default :meth:`error` says for any 401 (None: the message it is given)
    unauthorized: ClassVar[str | None] = None

    def __init__(self, world: World) -> None:
        self.world = world
        #: its listings, sorted once per version of an account's runs
        self.listings = Listings(world)
        #: last item served per listing, for the ``duplicate`` fault
        self._last_item: Any = None
        #: set when the server stops, so an ``endless`` body ends instead of holding it up
        self._closing = False

    # -- to override -------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def error(self, status: int, message: str, *, code: str = "") -> web.Response:
        """FastAPI's error body, as Noxus, Airflow and Prefect answer."""
        if status == 401 and self.unauthorized is not None:
            message = self.unauthorized
        return json_response({"detail": message}, status=status)

    def credential(self, request: web.Request) -> str:
        """The key a request carries (which account it speaks for)."""
        auth = request.headers.get("Authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else ""

    def move_to_head(self, run: SimRun) -> None:
        """``shift`` fault: make ``run`` move to the first page (vendor-specific)."""
        self.world.touch(run)

    # -- shared --------------------------------------------------------------------

    def app(self) -> web.Application:
        sub = web.Application(middlewares=[self._middleware])
        self.add_routes(sub)
        sub.on_shutdown.append(self._on_shutdown)
        return sub

    async def _on_shutdown(self, _app: web.Application) -> None:
        self._closing = True

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        world = self.world
        account = request[ACCOUNT] = world.account(self.vendor, self.credential(request))
        rec = Request(self.vendor, request.method, request.path, request.query_string,
                      world.clock(), agent=request.headers.get("User-Agent", ""),
                      account=account.name if account is not None else "")
        world.requests.append(rec)
        resp = await self._serve(request, handler)
        rec.status = resp.status
        return resp

    def account_of(self, request: web.Request) -> Account:
        """The account of an authorized request's key (its runs are all it sees)."""
        account = request[ACCOUNT]
        assert account is not None  # the middleware answered 401 otherwise
        return account

    async def _serve(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        account = request[ACCOUNT]
        wait = account.admit(self.world.rate_limits.get(self.vendor)) if account else 0.0
        if wait:  # whole seconds, as Retry-After says it
            return self._failure(429, float(max(1, math.ceil(wait))))
        fault = self.world.faults.take(self.vendor, request.path, REQUEST_KINDS)
        if fault is not None:
            if fault.kind == "slow":
                await anyio.sleep(fault.delay)
            elif fault.kind == "malformed":
                return web.Response(body=b'{"data": [{"id": "trunc', status=200,
                                    content_type="application/json")
            elif fault.kind in ("endless", "huge"):
                return await self._flood(request, fault)
            else:
                return self._failure(fault.status or 500, fault.retry_after, fault.message)
        if account is None:
            return self.error(401, "Invalid or missing API key", code="UNAUTHORIZED")
        try:
            return await handler(request)
        except Refused as refused:
            return refused.response

    async def _flood(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        """``endless`` / ``huge``: stream a listing until it is done or the client hangs up."""
        resp = web.StreamResponse(status=fault.status or 200,
                                  headers={"Content-Type": "application/json"})
        if fault.kind == "huge":
            resp.content_length = fault.size
            chunks = sized_listing(fault.size)
        else:
            resp.enable_chunked_encoding()
            chunks = endless_listing()
        await resp.prepare(request)
        try:
            for chunk in chunks:
                if self._closing:
                    break
                await resp.write(chunk)
                fault.sent += len(chunk)
        except ConnectionError:
            pass  # the client refused the rest: exactly what the fault is for
        return resp

    def _failure(self, status: int, retry_after: float | None, message: str = "") -> web.Response:
        """An error answer with ``Retry-After`` when given; a 429 says the vendor's words."""
        resp = (self.error(429, "Too many requests. Back off and retry.",
                           code="RATE_LIMIT_EXCEEDED") if status == 429
                else self.error(status, message))
        if retry_after is not None:
            resp.headers["Retry-After"] = f"{retry_after:g}"
        return resp

    def run_of(self, request: web.Request, missing: str, *, key: str = "id", code: str = "",
               belongs: Callable[[SimRun], bool] | None = None) -> SimRun:
        """The run of the request's account that the path names, refused with 404 ``missing``
        when there is none (or it fails ``belongs``)."""
        run: SimRun | None = self.account_of(request).runs.get(request.match_info[key])
        if run is None or (belongs is not None and not belongs(run)):
            raise Refused(self.error(404, missing, code=code))
        return run

    @staticmethod
    def served(run: SimRun, item: dict[str, Any]) -> Any:
        """``item`` as served: mangled if the run was made hostile (see ``World.override``)."""
        return item if run.hostile is None else run.hostile.apply(item)

    def page(self, request: web.Request, order: Callable[[], list[SimRun]], size: int,
             render: Callable[[SimRun], dict[str, Any]], *, start: int = 0
             ) -> tuple[list[Any], list[SimRun]]:
        """The page of ``size`` items from ``start`` with any due page fault applied, and the
        listing.  ``order()`` returns the current ordered listing; it is called again if a
        ``shift`` fault changed the world."""
        ordered = order()
        fault = self.world.faults.take(self.vendor, request.path, PAGE_KINDS)
        if fault is not None and fault.kind == "shift" and start < len(ordered):
            # The first run of the requested page moves to the head before we answer:
            # the reader, who already has the first page, never sees it this time.
            self.move_to_head(ordered[start])
            ordered = order()
        items = [self.served(r, render(r)) for r in ordered[start:start + size]]
        if fault is not None and items:
            first = items[0]
            if fault.kind == "missing_field" and isinstance(first, dict):
                items[0] = {k: v for k, v in first.items() if k != fault.field}
            elif fault.kind == "unknown_status" and isinstance(first, dict):
                items[0] = {**first, "status": fault.value}
            elif fault.kind == "hostile":
                items[0] = fault.value
            elif fault.kind == "duplicate" and self._last_item is not None:
                items.insert(0, self._last_item)
            elif fault.kind == "reorder":
                items.reverse()
        self._last_item = items[-1] if items else None
        return items, ordered
