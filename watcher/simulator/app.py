"""The simulator server: every vendor API under its own prefix, plus ``/_sim`` admin.

``http://HOST:PORT/extend`` is an Extend base URL, ``/noxus``, ``/cortex`` and
``/knock`` the others'; ``/github``, ``/gitlab``, ``/airflow`` and ``/prefect/api``
those of the CI and orchestration platforms.  ``/_sim`` lets a test or a person drive the world
over HTTP: add and change runs, make a run hostile, inject faults, add
accounts, read the request log.  :data:`ADMIN` lists its routes with what
each does, and ``GET /_sim/info`` serves that list, so it is found from the
simulator itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import orjson
from aiohttp import web

from watcher.simulator.airflow import AirflowApi
from watcher.simulator.api import VendorApi, json_response
from watcher.simulator.cortex import CortexApi
from watcher.simulator.extend import ExtendApi
from watcher.simulator.faults import PAGE_KINDS, REQUEST_KINDS, Fault
from watcher.simulator.github import GitHubApi
from watcher.simulator.gitlab import GitLabApi
from watcher.simulator.knock import KnockApi
from watcher.simulator.noxus import NoxusApi
from watcher.simulator.prefect import PrefectApi
from watcher.simulator.webhooks import Subscription, Webhooks
from watcher.simulator.world import KEEP, VENDORS, World

APIS: dict[str, type[VendorApi]] = {
    "extend": ExtendApi, "noxus": NoxusApi, "cortex": CortexApi, "knock": KnockApi,
    "github": GitHubApi, "gitlab": GitLabApi, "airflow": AirflowApi, "prefect": PrefectApi}

APIS_KEY = web.AppKey("apis", dict)
HOOKS_KEY = web.AppKey("webhooks", Webhooks)

#: the admin API: method, path, the handler of :class:`_Admin`, and what it does, which
#: ``GET /_sim/info`` lists so that a person trying configs finds it
ADMIN = (
    ("GET", "/_sim/info", "info",
     "each vendor's base_url and token, run and account counts, and this list"),
    ("GET", "/_sim/workflows", "workflows", "the workflows of ?vendor= (default extend)"),
    ("GET", "/_sim/runs", "list_runs", "the runs of ?vendor= (default extend): id, status, "
     "workflow"),
    ("POST", "/_sim/runs", "add_run", 'add a run: {"vendor", "status" (the vendor\'s raw '
     'status, e.g. "PROCESSING"), "workflow" (a name), "id", and the keys of .../hostile}; '
     "answers its id"),
    ("POST", "/_sim/runs/{id}", "update_run", 'change a run: {"status", "error", '
     '"error_count"}; an empty object only touches its update time'),
    ("POST", "/_sim/runs/{id}/hostile", "hostile", 'serve a run mangled: {"overrides": '
     '{field: any JSON}, "drop": [field, ...], "replace": any JSON}; {} serves it as it is'),
    ("POST", "/_sim/seed", "seed", 'many runs at once: {"vendor", "count", "status", '
     '"spread_s", "workflows", "accounts"}'),
    ("POST", "/_sim/faults", "add_fault", 'make a vendor misbehave: {"vendor", "kind", '
     '"times", "after", "path", "status", "retry_after", "delay", ...}; kinds: '
     + ", ".join(REQUEST_KINDS + PAGE_KINDS)),
    ("DELETE", "/_sim/faults", "clear_faults", "remove the pending faults (?vendor= for one)"),
    ("POST", "/_sim/accounts", "add_accounts", 'more accounts: {"vendor", "count", '
     '"rate_limit"}; answers their names and tokens'),
    ("POST", "/_sim/rate_limits", "set_rate_limit", 'a vendor\'s per-account limit: '
     '{"vendor", "rate"} (requests/s; null: none)'),
    ("GET", "/_sim/requests", "requests", "every request the vendors were sent"),
    ("GET", "/_sim/requests/count", "request_count",
     "how many, of ?vendor= and ?status= (the answer's HTTP status)"),
    ("GET", "/_sim/transitions", "transitions", "every status change the world made"),
    ("POST", "/_sim/webhooks", "subscribe", 'push signed webhooks as runs change: {"vendor", '
     '"url", "secret", "drop" (the fraction lost, 0-1)}'),
    ("GET", "/_sim/webhooks", "webhooks", "every webhook: run, status, signed_at, outcome"),
)


def available_vendors() -> tuple[str, ...]:
    return tuple(v for v in VENDORS if v in APIS)


def make_app(world: World) -> web.Application:
    app = web.Application()
    apis = {v: APIS[v](world) for v in available_vendors()}
    for vendor, api in apis.items():
        app.add_subapp(f"/{vendor}", api.app())
    hooks = app[HOOKS_KEY] = Webhooks(world)
    admin = _Admin(world, apis, hooks)
    for method, path, name, _ in ADMIN:
        app.router.add_route(method, path, getattr(admin, name))
    app[APIS_KEY] = apis

    async def sending(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(hooks.run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    app.cleanup_ctx.append(sending)
    return app


class _Admin:
    def __init__(self, world: World, apis: dict[str, VendorApi], hooks: Webhooks) -> None:
        self.world = world
        self.apis = apis
        self.hooks = hooks

    async def _of_vendor(self, request: web.Request) -> tuple[str, dict[str, Any]]:
        """A request's JSON body and the vendor it names (taken out of it), refused with 400
        when the simulator serves no such vendor."""
        body: dict[str, Any] = orjson.loads(await request.read())
        vendor = body.pop("vendor", None)
        if vendor not in self.apis:
            raise web.HTTPBadRequest(body=orjson.dumps({"error": f"unknown vendor {vendor!r}"}),
                                     content_type="application/json")
        return vendor, body

    async def subscribe(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        try:
            sub = Subscription(**body)
        except TypeError as e:
            return json_response({"error": str(e)}, status=400)
        self.hooks.subscribe(sub)
        return json_response({"ok": True}, status=201)

    async def webhooks(self, request: web.Request) -> web.Response:
        return json_response([dataclasses.asdict(s) for s in self.hooks.log])

    async def info(self, request: web.Request) -> web.Response:
        base = f"{request.scheme}://{request.host}"
        return json_response({"vendors": {v: {"base_url": f"{base}/{v}{api.root}",
                                              "token": self.world.tokens[v], **api.login}
                                          for v, api in self.apis.items()},
                              "runs": {v: len(r) for v, r in self.world.runs.items()},
                              "accounts": {v: 1 + len(a)
                                           for v, a in self.world.accounts.items()},
                              "admin": [{"method": m, "path": p, "does": does}
                                        for m, p, _, does in ADMIN]})

    async def requests(self, request: web.Request) -> web.Response:
        return json_response([dataclasses.asdict(r) for r in self.world.requests])

    async def request_count(self, request: web.Request) -> web.Response:
        vendor, status = request.query.get("vendor"), request.query.get("status")
        return json_response({"count": sum(1 for r in self.world.requests
                                           if (vendor is None or r.vendor == vendor)
                                           and (status is None or str(r.status) == status))})

    async def workflows(self, request: web.Request) -> web.Response:
        vendor = request.query.get("vendor", "extend")
        return json_response([dataclasses.asdict(w) for w in self.world.workflows.get(vendor, [])])

    async def transitions(self, request: web.Request) -> web.Response:
        return json_response([dataclasses.asdict(t) for t in self.world.transitions])

    async def add_fault(self, request: web.Request) -> web.Response:
        vendor, body = await self._of_vendor(request)
        try:
            fault = self.world.faults.add(vendor, Fault(**body))
        except (TypeError, ValueError) as e:
            return json_response({"error": str(e)}, status=400)
        return json_response(dataclasses.asdict(fault), status=201)

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.world.faults.clear(request.query.get("vendor"))
        return json_response({"ok": True})

    async def list_runs(self, request: web.Request) -> web.Response:
        vendor = request.query.get("vendor", "extend")
        return json_response([{"id": r.id, "status": r.status, "workflow": r.workflow.name}
                              for r in self.world.runs.get(vendor, {}).values()])

    async def add_run(self, request: web.Request) -> web.Response:
        vendor, body = await self._of_vendor(request)
        wf = self.world.workflow(vendor, body.pop("workflow", "Invoice Processing"))
        run = self.world.add_run(vendor, body.pop("status"), workflow=wf,
                                 **_hostile(body), **body)
        return json_response({"id": run.id, "vendor": vendor, "status": run.status}, status=201)

    async def seed(self, request: web.Request) -> web.Response:
        vendor, body = await self._of_vendor(request)
        count, spread = int(body.get("count", 1000)), float(body.get("spread_s", 3600))
        names = body.get("workflows") or ["Invoice Processing"]
        wfs = [self.world.workflow(vendor, n) for n in names]
        keys = body.get("accounts") or []
        accounts = [self.world.account(vendor, k) for k in keys] or [None]
        if keys and None in accounts:
            return json_response({"error": "unknown account key"}, status=400)
        now = self.world.clock()
        for i in range(count):
            t = now - spread * (count - i) / count
            self.world.add_run(vendor, body.get("status", "PROCESSED"), workflow=wfs[i % len(wfs)],
                               created=t, updated=t, account=accounts[i % len(accounts)])
        return json_response({"vendor": vendor, "runs": len(self.world.runs[vendor])},
                             status=201)

    async def add_accounts(self, request: web.Request) -> web.Response:
        vendor, body = await self._of_vendor(request)
        made = [self.world.add_account(vendor, rate_limit=body.get("rate_limit"))
                for _ in range(int(body.get("count", 1)))]
        return json_response([{"name": a.name, "token": a.token} for a in made], status=201)

    async def set_rate_limit(self, request: web.Request) -> web.Response:
        vendor, body = await self._of_vendor(request)
        rate = body.get("rate")
        if rate:
            self.world.rate_limits[vendor] = float(rate)
        else:
            self.world.rate_limits.pop(vendor, None)
        return json_response({"vendor": vendor, "rate": rate})

    async def hostile(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body: dict[str, Any] = orjson.loads(raw) if raw.strip() else {}
        try:
            run = self.world.override(request.match_info["id"], **_hostile(body))
        except KeyError:
            return json_response({"error": "no such run"}, status=404)
        return json_response({"id": run.id, "hostile": run.hostile is not None})

    async def update_run(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = orjson.loads(await request.read())
        try:
            run = self.world.get(request.match_info["id"])
        except KeyError:
            return json_response({"error": "no such run"}, status=404)
        if "status" in body:
            self.world.set_status(run, body["status"], error=body.get("error"),
                                  error_count=body.get("error_count"))
        else:
            self.world.touch(run)
        return json_response({"id": run.id, "status": run.status})


def _hostile(body: dict[str, Any]) -> dict[str, Any]:
    """Pops the hostile-run keys of a request body, as ``World.override`` arguments
    (a ``replace`` key replaces the item even when its value is null)."""
    return {"overrides": body.pop("overrides", None) or {}, "drop": body.pop("drop", None) or (),
            "replace": body.pop("replace") if "replace" in body else KEEP}


class Simulator:
    """The simulator as a server on loopback; ``async with Simulator(world) as sim``."""

    def __init__(self, world: World, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.world = world
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        self._runner = web.AppRunner(make_app(self.world), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def webhooks(self) -> Webhooks:
        """Its webhooks: subscribe a URL, read what was sent."""
        assert self._runner is not None
        return self._runner.app[HOOKS_KEY]

    def url(self, vendor: str) -> str:
        root = APIS[vendor].root if vendor in APIS else ""
        return f"http://{self.host}:{self.port}/{vendor}{root}"
