"""webhook: one POST per event, signed (Standard Webhooks), retried until delivered or given up.

Why it is shaped this way:

* **Per-run order.** A batch is split by run (source + run id; source events
  by source).  A run's events go one after another, each retried to the end
  before the next is sent, so a receiver never gets a run's ``failed`` before
  its ``running``.  Different runs go concurrently, at most ``concurrency``
  at a time.
* **Own connection pool** of ``concurrency`` keep-alive connections: a
  receiver that hangs holds only these, never the pool the pollers share.
* **Signing** follows Standard Webhooks (``webhook-id`` = event id,
  ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256 of
  "id.timestamp.body">``).  Each attempt is signed afresh: receivers refuse
  timestamps older than a few minutes and a retry may come an hour later;
  the id stays the event id, so a receiver drops duplicates by it.
* **Retries** follow :mod:`watcher.sinks.http`; a ``Retry-After`` pauses every
  request to the receiver, not just the one it answered.  ``deliver`` returns
  once each event is delivered or given up; those given up are returned and
  become dead letters.  Waiting here holds back only this sink: its runner
  has its own task, and its backlog waits in the journal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from typing import Annotated

import aiohttp
import anyio
import structlog

from watcher.config.options import Check, Field, Secret, SecretTable
from watcher.config.settings import SinkConfig
from watcher.model import JournalEntry
from watcher.sinks.base import BaseSink, Rejected, SinkContext
from watcher.sinks.http import (
    USER_AGENT,
    Gate,
    Outcome,
    RetryOptions,
    RetryPolicy,
    check_http_url,
    post,
    reaches,
)

CONTENT_TYPE = "application/cloudevents+json"
#: headers the sink sets itself; a configured header of the same name is an error
OWN_HEADERS = ("content-type", "webhook-id", "webhook-timestamp", "webhook-signature")


def signing_key(secret: str) -> bytes | None:
    """The HMAC key of a ``whsec_<base64>`` secret (the prefix is optional), else ``None``."""
    raw = secret.removeprefix("whsec_")
    try:  # padding is optional, as in the reference implementation
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key or None


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one attempt."""
    signed = b"%s.%d.%s" % (msg_id.encode(), timestamp, body)
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


#: the key sizes Standard Webhooks libraries accept (bytes, after base64 decoding)
KEY_BYTES = (24, 64)


def _check_secret(value: str) -> str | None:
    """What receiving libraries check: ``whsec_`` then valid base64 of 24-64 bytes."""
    what = ("must be a Standard Webhooks secret: whsec_ followed by the base64 of 24 to 64 "
            "random bytes (e.g. whsec_$(openssl rand -base64 32))")
    if not value.startswith("whsec_"):
        return f"{what}; it does not start with whsec_"
    key = signing_key(value)
    if key is None:
        return f"{what}; the part after whsec_ is not valid base64"
    if not KEY_BYTES[0] <= len(key) <= KEY_BYTES[1]:
        return f"{what}; it decodes to {len(key)} bytes"
    return None


def _check_headers(value: dict[str, str]) -> str | None:
    clash = sorted(k for k in value if k.lower() in OWN_HEADERS)
    if clash:
        return f"{', '.join(clash)}: set by the sink itself, cannot be configured"
    return None


class WebhookOptions(RetryOptions):
    #: the receiver (a secret: such a URL often carries a credential)
    url: Annotated[Secret, Check(check_http_url)]
    #: a Standard Webhooks secret (whsec_...); unset: events go unsigned
    secret: Annotated[Secret, Check(_check_secret)] | None = None
    #: extra headers; values often carry credentials (Authorization), hence secret
    headers: Annotated[SecretTable, Check(_check_headers)] = {}
    #: runs delivered at once
    concurrency: Annotated[int, Field(ge=1)] = 8


class WebhookSink(BaseSink[WebhookOptions]):
    kind = "webhook"
    Options = WebhookOptions

    def __init__(self, config: SinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        opts = self.options
        self.url = opts.url
        self.key = signing_key(opts.secret) if opts.secret else None
        self.headers = {"User-Agent": USER_AGENT, **opts.headers, "Content-Type": CONTENT_TYPE}
        self.concurrency = opts.concurrency
        self.timeout = aiohttp.ClientTimeout(total=opts.timeout)
        self.policy = RetryPolicy.from_options(opts, clock=context.clock)
        #: masked in failure reasons, which are stored with dead letters
        self.secrets = tuple(s for s in (opts.url, opts.secret, *opts.headers.values()) if s)
        self.gate = Gate(context.clock)
        self.log = structlog.get_logger("watcher.sink").bind(sink=self.name)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.concurrency),
                auto_decompress=False)
        return self._session

    async def deliver(self, batch: Sequence[JournalEntry]) -> Sequence[Rejected]:
        runs: dict[tuple[str, str | None], list[JournalEntry]] = {}
        for e in batch:
            runs.setdefault((e.source, e.run_id), []).append(e)
        queue = iter(runs.values())
        rejected: list[Rejected] = []

        async def worker() -> None:
            for events in queue:  # each worker takes the next run; a run stays with one worker
                for e in events:
                    gave_up = await self._send(e)
                    if gave_up is not None:
                        rejected.append(gave_up)

        async with anyio.create_task_group() as tg:
            for _ in range(min(self.concurrency, len(runs))):
                tg.start_soon(worker)
        rejected.sort(key=lambda r: r[0].seq)
        return rejected

    async def _send(self, e: JournalEntry) -> Rejected | None:
        """Deliver one event; ``None`` once delivered, else why it was given up."""
        session = self._client()
        started = self.context.clock()
        attempt = 0
        while True:
            await self.gate.wait()
            attempt += 1
            outcome = await self._post_once(session, e)
            if outcome.ok:
                self.context.health.succeeded()
                return None
            delay = self.policy.delay(attempt, outcome.retry_after)
            if outcome.retry_after:  # capped: a bogus "wait a year" must not stall the sink
                self.gate.hold(min(outcome.retry_after, self.policy.max_age))
            why = self.policy.give_up(outcome, attempt, self.context.clock() - started, delay)
            self.context.health.refused(outcome.reason, retryable=outcome.retryable,
                                        retry=why is None)
            if why is not None:
                return (e, why, attempt)
            self.log.debug("webhook attempt failed", event_id=e.id, attempt=attempt,
                           reason=outcome.reason, retry_in=round(delay, 3))
            await self.context.clock.sleep(delay)

    async def _post_once(self, session: aiohttp.ClientSession, e: JournalEntry) -> Outcome:
        headers = self.headers
        if self.key is not None:
            ts = int(self.context.clock())
            headers = {**headers, "webhook-id": e.id, "webhook-timestamp": str(ts),
                       "webhook-signature": sign(self.key, e.id, ts, e.body)}
        return await post(session, self.url, e.body, headers, limits=self.timeout,
                          secrets=self.secrets, clock=self.context.clock)

    async def probe(self) -> str:
        return await reaches(self.url, within=self.options.timeout)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

