"""redis: every event added to a Redis stream (``XADD``), once per event id.

* **What is added.** Fields ``id``, ``type``, ``source`` and ``subject`` (the
  CloudEvent's attributes of those names, so a consumer can route without
  parsing) and ``event`` (the CloudEvent exactly as on stdout), to the stream
  key rendered from ``stream`` (:mod:`watcher.sinks.bus`), trimmed to about
  ``maxlen`` entries (``MAXLEN ~``: whole macro nodes, cheap).
* **Once.** One Lua script per event adds it only if its guard key
  ``<stream key>:seen:<event id>`` is absent, then writes the guard (holding the
  stream entry id) with a TTL of ``dedupe_window``, atomically: Redis runs a
  script alone, and an ``XADD`` that fails leaves no guard.  So a batch sent again
  after ``kill -9`` or a lost answer adds nothing twice, as long as the first
  add is less than ``dedupe_window`` old.  Scripts go by ``EVALSHA``; a server that
  lost the script (a restart, ``SCRIPT FLUSH``) is given it again and the rest of
  the batch re-run, which the guards make safe.
* **Throughput.** A batch is one pipeline: one round trip for up to 1,000 events.
* **Failures.** Everything Redis can answer is temporary (down, loading, out of
  memory, a key of another type, missing ACL rights): the batch is retried with
  backoff while the backlog waits in the journal.  The client reconnects by
  itself on the next attempt after a server restart.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Annotated, Any, Self
from urllib.parse import urlsplit

import redis.asyncio as aioredis
import redis.exceptions
from pydantic import model_validator
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from watcher.config.options import Check, Duration, Field, Options, Secret
from watcher.config.settings import SinkConfig
from watcher.errors import Retryable
from watcher.model import JournalEntry
from watcher.sinks.base import Outcomes, SinkContext
from watcher.sinks.bus import BusSink, Route, check_template, event_field

#: KEYS: stream, guard; ARGV: guard TTL (ms), maxlen, id, type, source, subject, event
ADD_ONCE = """
if redis.call('EXISTS', KEYS[2]) == 1 then return false end
local sid = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'id', ARGV[3],
                       'type', ARGV[4], 'source', ARGV[5], 'subject', ARGV[6], 'event', ARGV[7])
redis.call('SET', KEYS[2], sid, 'PX', ARGV[1])
return sid
"""
SOURCE_PREFIX = "/watcher/sources/"


def _check_url(value: str) -> str | None:
    if not value.startswith(("redis://", "rediss://", "unix://")):
        return "must be a redis://, rediss:// or unix:// URL"
    return None


class RedisOptions(Options):
    #: a secret: such a URL often holds the password (redis://:password@host:6379/0)
    url: Annotated[Secret, Check(_check_url)] = 'redis://127.0.0.1:6379/0'
    #: the stream key, a template like NATS subjects
    stream: Annotated[str, Check(check_template)] = 'watcher:events'
    #: approximate trimming (XADD MAXLEN ~)
    maxlen: Annotated[int, Field(ge=1)] = 1000000
    #: how long an added event's id is remembered, so a replay adds nothing twice
    dedupe_window: Annotated[float, Duration(min=600.0)] = 3600.0
    user: str | None = None
    password: Secret | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    #: to connect, and for a batch's answers
    timeout: Annotated[float, Duration(min=0.1)] = 10.0

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("set tls_cert and tls_key together")
        if (self.tls_ca or self.tls_cert) and not self.url.startswith("rediss://"):
            raise ValueError("tls_ca, tls_cert and tls_key need a rediss:// url")
        return self


class RedisSink(BusSink[RedisOptions]):
    kind = "redis"
    Options = RedisOptions

    def __init__(self, config: SinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self.key = Route(self.options.stream)
        self._ttl = str(int(self.options.dedupe_window * 1000))
        self._maxlen = str(self.options.maxlen)
        self._client: aioredis.Redis | None = None
        self._sha: str | None = None

    def _redis(self) -> aioredis.Redis:
        if self._client is None:
            o = self.options
            tls: dict[str, Any] = {"ssl_ca_certs": o.tls_ca, "ssl_certfile": o.tls_cert,
                                   "ssl_keyfile": o.tls_key} if o.url.startswith("rediss://") \
                else {}
            # no retries inside the client: the runner backs off and sends the batch again
            self._client = aioredis.Redis.from_url(
                o.url, username=o.user, password=o.password, socket_timeout=o.timeout,
                socket_connect_timeout=o.timeout, retry=Retry(NoBackoff(), 0),
                client_name=f"watcher-sink-{self.name}", **tls)
        return self._client

    def _failed(self, what: str, e: BaseException) -> Retryable:
        self.bus.connected = False
        return self.unavailable(what, e)

    async def open(self) -> None:
        try:
            await self._load_script()
        except (redis.exceptions.RedisError, OSError) as e:
            raise self._failed("cannot reach Redis", e) from None

    async def _load_script(self) -> str:
        sha: str = await self._redis().script_load(ADD_ONCE)
        self._sha = sha
        self.bus.connected = True
        return sha

    async def probe(self) -> str:
        """``watcher check --connect``: authenticate and PING; the stream key's type when
        the key is fixed.  Nothing is written."""
        client = self._redis()
        try:
            await client.ping()
            info = await client.info("server")
            url = urlsplit(self.options.url)
            where = url.path if url.scheme == "unix" else f"{url.hostname}:{url.port or 6379}"
            line = f"PING answered by Redis {info.get('redis_version', '?')} at {where}"
            if self.key.fixed:
                kind = await client.type(self.key.text)
                kind = kind.decode() if isinstance(kind, bytes) else str(kind)
                if kind not in ("stream", "none"):
                    raise Retryable(f"key {self.key.text} holds a {kind}, not a stream")
                line += f"; {self.key.text} is {'a stream' if kind == 'stream' else 'absent'}"
            return line
        except (redis.exceptions.RedisError, OSError) as e:
            raise self._failed("Redis", e) from None

    async def deliver(self, batch: Sequence[JournalEntry]) -> Outcomes:
        started = time.perf_counter()
        try:
            sha = self._sha or await self._load_script()
            results = await self._add(sha, batch)
            first = next((i for i, r in enumerate(results)
                          if isinstance(r, redis.exceptions.NoScriptError)), None)
            if first is not None:  # the server lost the script: load it, go on from there
                sha = await self._load_script()
                results[first:] = await self._add(sha, batch[first:])
        except (redis.exceptions.RedisError, OSError) as e:
            raise self._failed("Redis unavailable", e) from None
        errors = [r for r in results if isinstance(r, Exception)]
        if errors:
            raise self._failed(f"{len(errors)} of {len(batch)} events not added", errors[0])
        self.bus.connected = True
        self.bus.duplicates += sum(1 for r in results if r is None)
        self.bus.observe(time.perf_counter() - started)
        return ()

    async def _add(self, sha: str, batch: Sequence[JournalEntry]) -> list[Any]:
        pipe = self._redis().pipeline(transaction=False)
        key, ttl, maxlen = self.key, self._ttl, self._maxlen
        for e in batch:
            stream = key.route(e)
            subject = e.run_id or event_field(e.body, "subject")  # about no run: the event says
            pipe.evalsha(sha, 2, stream, f"{stream}:seen:{e.id}", ttl, maxlen, e.id, e.type,
                         SOURCE_PREFIX + e.source, e.source if subject is None else subject,
                         e.body)
        return list(await pipe.execute(raise_on_error=False))

    async def aclose(self) -> None:
        client, self._client = self._client, None
        self.bus.connected = False
        if client is not None:
            with contextlib.suppress(redis.exceptions.RedisError, OSError):
                await client.aclose()
