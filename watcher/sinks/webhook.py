"""webhook: one POST per event, signed (Standard Webhooks), retried until delivered or given up.

Why it is shaped this way:

* **Per-run order.** A batch is split by run (source + run id; source events
  by source).  A run's events go one after another; once one is to be retried
  the rest of its run wait with it (retried too, unsent), so a receiver never
  gets a run's ``failed`` before its ``running``.  Different runs go
  concurrently, at most ``concurrency`` at a time.
* **Own connection pool** of ``concurrency`` keep-alive connections: a
  receiver that hangs holds only these, never the pool the pollers share.
* **Signing** follows Standard Webhooks (``webhook-id`` = event id,
  ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256 of
  "id.timestamp.body">``).  Each attempt is signed afresh: receivers refuse
  timestamps older than a few minutes and a retry may come an hour later;
  the id stays the event id, so a receiver drops duplicates by it.
* **A ``Retry-After``** pauses every request to the receiver, not just the one
  it answered: what was not sent yet in this attempt waits for the next.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from typing import Annotated

import anyio

from watcher.config.options import Check, Field, Secret, SecretTable
from watcher.config.settings import SinkConfig
from watcher.model import JournalEntry
from watcher.sinks.base import CONTENT_TYPE, Outcomes, Rejected, Retry, RetryOptions, SinkContext
from watcher.sinks.http import HttpSink, Outcome, check_http_url, in_turn

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


class WebhookSink(HttpSink[WebhookOptions]):
    kind = "webhook"
    Options = WebhookOptions
    decompress = False

    def __init__(self, config: SinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        opts = self.options
        self.url = opts.url
        self.key = signing_key(opts.secret) if opts.secret else None
        self.headers = {**opts.headers, "Content-Type": CONTENT_TYPE}
        self.concurrency = self.connections = opts.concurrency
        self.secrets = tuple(s for s in (opts.url, opts.secret, *opts.headers.values()) if s)

    async def deliver(self, batch: Sequence[JournalEntry]) -> Outcomes:
        runs: dict[tuple[str, str | None], list[JournalEntry]] = {}
        for e in batch:
            runs.setdefault((e.source, e.run_id), []).append(e)
        queue = iter(runs.values())
        outcomes: list[Rejected | Retry] = []
        held: list[Outcome] = []  # a Retry-After: nothing more is sent in this attempt

        async def post(e: JournalEntry) -> Outcome:
            if held:
                return held[0]
            outcome = await self._post_once(e)
            if outcome.retryable and outcome.retry_after:
                held.append(outcome)
            return outcome

        async def worker() -> None:
            for events in queue:  # each worker takes the next run; a run stays with one worker
                outcomes.extend(await in_turn(events, lambda e: (e,), post))

        async with anyio.create_task_group() as tg:
            for _ in range(min(self.concurrency, len(runs))):
                tg.start_soon(worker)
        return outcomes

    async def _post_once(self, e: JournalEntry) -> Outcome:
        headers = self.headers
        if self.key is not None:
            ts = int(self.context.clock())
            headers = {**headers, "webhook-id": e.id, "webhook-timestamp": str(ts),
                       "webhook-signature": sign(self.key, e.id, ts, e.body)}
        return await self.send(e.body, headers)

