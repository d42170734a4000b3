"""The simulator's webhooks: signed pushes to subscribed URLs as the world's runs change.

A subscription (``POST /_sim/webhooks``, or :meth:`Webhooks.subscribe`) names a vendor,
a URL, the signing secret and ``drop``: the fraction of pushes silently lost (never
sent), so a test or ``watcher demo`` shows polling catching what push missed.  A push
that fails (connection error, non-2xx) is retried a few times with backoff, as the
platforms do.  Each push is logged (:attr:`Webhooks.log`) with the time it was signed,
from which the benchmarks measure detection latency.  As each platform sends them:

- Extend: ``{eventId, eventType, payload}`` with the run as the API serves it, signed
  ``x-extend-request-signature`` = hex HMAC-SHA256 of ``v0:{timestamp}:{body}``; only
  for the statuses Extend has webhook events for.
- GitHub: a ``workflow_run`` event (``action`` requested, in_progress or completed,
  ``workflow_run`` = the run), ``X-Hub-Signature-256``, ``X-GitHub-Delivery``.
- GitLab: a Pipeline Hook (``object_kind`` pipeline, ``object_attributes``: id, status,
  no ``updated_at``), ``X-Gitlab-Token`` = the secret, ``X-Gitlab-Event-UUID``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import anyio
import orjson
from aiohttp import web

from watcher.simulator.extend import ExtendApi
from watcher.simulator.github import GitHubApi
from watcher.simulator.gitlab import GitLabApi
from watcher.simulator.world import SimRun, World

#: Extend's run webhook events, by the status that sends them
EXTEND_EVENTS = {"PROCESSED": "workflow_run.completed", "FAILED": "workflow_run.failed",
                 "NEEDS_REVIEW": "workflow_run.needs_review",
                 "REJECTED": "workflow_run.rejected", "CANCELLED": "workflow_run.cancelled"}
#: waits before each retry of a push that failed
RETRIES = (0.5, 2.0, 5.0)
#: what renders a vendor's run as its API serves it
Render = Callable[[SimRun], dict[str, Any]]


@dataclass
class Subscription:
    vendor: str
    url: str
    secret: str
    drop: float = 0.0


@dataclass
class Sent:
    """One push: its run, status and delivery id, when it was signed, what came of it."""

    run_id: str
    status: str
    event_id: str
    signed_at: float
    #: ``dropped`` (lost on purpose), ``pending``, ``delivered`` or ``failed``
    outcome: str = "pending"


def _hmac(secret: str, msg: bytes) -> str:
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()


def _extend(run: SimRun, item: dict[str, Any], sent: Sent, secret: str
            ) -> tuple[bytes, dict[str, str]] | None:
    event = EXTEND_EVENTS.get(run.status)
    if event is None:
        return None
    body = orjson.dumps({"eventId": sent.event_id, "eventType": event, "payload": item})
    ts = str(int(sent.signed_at))
    return body, {"x-extend-request-timestamp": ts,
                  "x-extend-request-signature": _hmac(secret, f"v0:{ts}:".encode() + body)}


def _github(run: SimRun, item: dict[str, Any], sent: Sent, secret: str
            ) -> tuple[bytes, dict[str, str]]:
    action = ("completed" if item.get("status") == "completed" else
              "in_progress" if item.get("status") == "in_progress" else "requested")
    body = orjson.dumps({"action": action, "workflow_run": item,
                         "repository": {"full_name": run.extra.get("repository", "acme/api")}})
    return body, {"X-GitHub-Event": "workflow_run", "X-GitHub-Delivery": sent.event_id,
                  "X-Hub-Signature-256": "sha256=" + _hmac(secret, body)}


def _gitlab(run: SimRun, item: dict[str, Any], sent: Sent, secret: str
            ) -> tuple[bytes, dict[str, str]]:
    attrs = {k: item.get(k) for k in ("id", "iid", "status", "ref", "sha", "source",
                                      "created_at")}
    body = orjson.dumps({"object_kind": "pipeline", "object_attributes": attrs,
                         "project": {"id": item.get("project_id"),
                                     "path_with_namespace": run.extra.get("project",
                                                                          "acme/api")}})
    return body, {"X-Gitlab-Event": "Pipeline Hook", "X-Gitlab-Token": secret,
                  "X-Gitlab-Event-UUID": sent.event_id}


FORMS = {"extend": _extend, "github": _github, "gitlab": _gitlab}


class Webhooks:
    def __init__(self, world: World, renders: Mapping[str, Render]) -> None:
        self.world = world
        self.renders = renders
        self.subscriptions: list[Subscription] = []
        self.log: list[Sent] = []
        self._pushed: dict[str, str] = {}
        self._queue: list[tuple[Subscription, Sent, bytes, dict[str, str]]] = []
        self._wake = anyio.Event()
        world.listeners.append(self._changed)

    def subscribe(self, sub: Subscription) -> None:
        if sub.vendor not in FORMS or sub.vendor not in self.renders:
            raise ValueError(f"the simulator sends no webhooks for {sub.vendor!r} "
                             f"(it does for {', '.join(sorted(FORMS))})")
        self.subscriptions.append(sub)

    def _changed(self, run: SimRun) -> None:
        if self._pushed.get(run.id) == run.status:
            return  # no status change: no webhook for an update alone
        self._pushed[run.id] = run.status
        for sub in [s for s in self.subscriptions if s.vendor == run.vendor]:
            sent = Sent(run.id, run.status, str(uuid.uuid4()), self.world.clock())
            if run.vendor == "extend":
                sent.event_id = f"evt_{sent.event_id.replace('-', '')[:20]}"
            made = FORMS[run.vendor](run, self.renders[run.vendor](run), sent, sub.secret)
            if made is None:
                continue
            self.log.append(sent)
            if self.world.rng.random() < sub.drop:
                sent.outcome = "dropped"
                continue
            self._queue.append((sub, sent, *made))
        self._wake.set()

    async def run(self) -> None:
        """Send what is queued, forever."""
        async with aiohttp.ClientSession() as session, anyio.create_task_group() as tg:
            while True:
                await self._wake.wait()
                self._wake = anyio.Event()
                queue, self._queue = self._queue, []
                for sub, sent, body, headers in queue:
                    tg.start_soon(self._deliver, session, sub, sent, body, headers)

    async def _deliver(self, session: aiohttp.ClientSession, sub: Subscription, sent: Sent,
                       body: bytes, headers: dict[str, str]) -> None:
        for wait in (0.0, *RETRIES):
            await anyio.sleep(wait)
            try:
                async with session.post(sub.url, data=body, headers={
                        "content-type": "application/json", **headers}) as resp:
                    if resp.status < 300:
                        sent.outcome = "delivered"
                        return
            except (aiohttp.ClientError, OSError):
                pass
        sent.outcome = "failed"


def attach(app: web.Application, world: World) -> Webhooks:
    """The webhooks of a simulator app, sending while the app is served."""
    hooks = Webhooks(world, {
        "extend": ExtendApi(world).render, "gitlab": GitLabApi(world).render,
        "github": lambda run: GitHubApi(world).render(run, "https://api.github.com")})

    async def sending(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(hooks.run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    app.cleanup_ctx.append(sending)
    return hooks
