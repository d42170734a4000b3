"""The simulator's webhooks: signed pushes to subscribed URLs as the world's runs change.

A subscription (``POST /_sim/webhooks``, or :meth:`Webhooks.subscribe`) names a vendor,
a URL, the signing secret and ``drop``: the fraction of pushes silently lost (never
sent), so a test or ``watcher demo`` shows polling catching what push missed.  A push
that fails (connection error, non-2xx) is retried a few times with backoff, as the
platforms do.  Each push is logged (:attr:`Webhooks.log`) with the time it was signed,
from which the benchmarks measure detection latency.

Extend: the envelope ``{eventId, eventType, payload}`` with the run as the list
serves it, signed ``x-extend-request-signature`` = hex HMAC-SHA256 of
``v0:{timestamp}:{body}``; sent for the statuses Extend has webhook events for.
GitHub's ``workflow_run`` and GitLab's ``Pipeline Hook``: see ``ci_webhooks.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass

import aiohttp
import anyio
import orjson

from watcher.simulator.ci_webhooks import PUSHES
from watcher.simulator.extend import ExtendApi
from watcher.simulator.world import SimRun, World

#: Extend's run webhook events, by the status that sends them
EXTEND_EVENTS = {"PROCESSED": "workflow_run.completed", "FAILED": "workflow_run.failed",
                 "NEEDS_REVIEW": "workflow_run.needs_review",
                 "REJECTED": "workflow_run.rejected", "CANCELLED": "workflow_run.cancelled"}
#: waits before each retry of a push that failed
RETRIES = (0.5, 2.0, 5.0)


@dataclass
class Subscription:
    vendor: str
    url: str
    secret: str
    drop: float = 0.0


@dataclass
class Sent:
    """One push: its run, status and event, when it was signed, and what came of it."""

    run_id: str
    status: str
    event_id: str
    signed_at: float
    #: ``dropped`` (lost on purpose), ``pending``, ``delivered`` or ``failed``
    outcome: str = "pending"


class Webhooks:
    def __init__(self, world: World) -> None:
        self.world = world
        self._extend = ExtendApi(world)
        self.subscriptions: list[Subscription] = []
        self.log: list[Sent] = []
        self._pushed: dict[str, str] = {}
        #: what to send: GitHub's and GitLab's come with their headers, Extend's are signed
        #: at each try
        self._queue: list[tuple[Subscription, Sent, bytes, dict[str, str] | None]] = []
        self._wake = anyio.Event()
        world.listeners.append(self._changed)

    def subscribe(self, sub: Subscription) -> None:
        self.subscriptions.append(sub)

    def _changed(self, run: SimRun) -> None:
        if self._pushed.get(run.id) == run.status:
            return  # no status change: no platform sends a webhook for an update alone
        self._pushed[run.id] = run.status
        for sub in [s for s in self.subscriptions if s.vendor == run.vendor]:
            made = self._made(run, sub.secret)
            if made is None:
                return  # a status the platform sends no webhook for
            event_id, body, headers = made
            sent = Sent(run.id, run.status, event_id, self.world.clock())
            self.log.append(sent)
            if self.world.rng.random() < sub.drop:
                sent.outcome = "dropped"
                continue
            self._queue.append((sub, sent, body, headers))
            self._wake.set()

    def _made(self, run: SimRun, secret: str
              ) -> tuple[str, bytes, dict[str, str] | None] | None:
        """The webhook of the run's new status: its event id, body and (but Extend's, signed
        at each try) headers; None when the platform sends none."""
        if (push := PUSHES.get(run.vendor)) is not None:
            return push(self.world, run, secret)
        event = EXTEND_EVENTS.get(run.status) if run.vendor == "extend" else None
        if event is None:
            return None
        event_id = f"evt_{uuid.uuid4().hex[:20]}"
        return event_id, orjson.dumps({"eventId": event_id, "eventType": event,
                                       "payload": self._extend.render(run)}), None

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
                       body: bytes, fixed: dict[str, str] | None) -> None:
        for wait in (0.0, *RETRIES):
            await anyio.sleep(wait)
            ts = str(int(sent.signed_at))
            sig = hmac.new(sub.secret.encode(), b"v0:%s:%s" % (ts.encode(), body),
                           hashlib.sha256).hexdigest()
            try:
                async with session.post(sub.url, data=body, headers=fixed or {
                        "content-type": "application/json",
                        "x-extend-request-timestamp": ts,
                        "x-extend-request-signature": sig}) as resp:
                    if resp.status < 300:
                        sent.outcome = "delivered"
                        return
            except (aiohttp.ClientError, OSError):
                pass
        sent.outcome = "failed"
