"""nats: every event published to a NATS JetStream stream, acknowledged before the cursor moves.

* **What is sent.** The body is the CloudEvent exactly as on stdout, with
  ``Content-Type: application/cloudevents+json`` and ``Nats-Msg-Id`` = the event
  id, on a subject rendered from ``subject`` (:mod:`watcher.sinks.bus`).  Each
  publish names the stream it must land in (``Nats-Expected-Stream``), so a
  subject another stream captures is refused, not stored elsewhere.
* **Once.** JetStream drops a message whose ``Nats-Msg-Id`` it stored within the
  stream's duplicate window, so a batch sent again after a crash or a failed
  acknowledgement adds nothing twice within that window.
* **Throughput.** A batch is published pipelined (many messages in flight) and
  its acknowledgements are awaited together; the runner moves the cursor only
  once every one came back.  An acknowledgement missing after ``timeout`` fails
  the batch: the runner backs off and sends it again (duplicates are dropped).
* **The stream** must exist and hold the subjects; ``create_stream = true``
  creates it (file storage, ``dedupe_window``) when absent.  Checked when the
  sink starts and on every new connection: a missing stream is an error in the
  log and in ``/metrics`` until it exists, while the backlog waits in the journal.
  So is one that shares no subject with the template (every publish would find
  no stream); one that holds only some of them is accepted with a warning, since
  a sink whose ``match`` keeps to one source may rightly use a stream of that
  source's subjects.
* **Failures.** A server that is down, a reconnect, a stream that refuses for
  now: the batch is retried with backoff.  Dead letters only for what can never
  succeed: an event over the server's ``max_payload`` (or the stream's
  ``max_msg_size``), a subject longer than a server accepts, or one the account
  has no permission to publish to.  The client rides out a short server restart
  itself; after a longer one the connection is closed and the next attempt
  opens a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
from collections.abc import Sequence
from typing import Annotated, Any, Self

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig, StreamInfo
from pydantic import model_validator

from watcher.config.options import Check, Duration, Options, Secret
from watcher.config.settings import SinkConfig
from watcher.config.units import format_duration
from watcher.errors import Retryable
from watcher.model import JournalEntry
from watcher.sinks.base import CONTENT_TYPE, Outcomes, Rejected, SinkContext
from watcher.sinks.bus import BusSink, Route, check_subject, matches, overlaps

#: JetStream's error code for a message over the stream's max_msg_size
MSG_TOO_LARGE = 10054
#: a longer subject would overflow the server's control line (4 KB by default): it
#: would close the connection, so such an event can never be sent
MAX_SUBJECT = 3072
#: the shortest duplicate window that covers a restart after a crash
MIN_WINDOW = 600.0
_DENIED = re.compile(r'permissions violation for publish to "([^"]*)"', re.I)


class Denied(Exception):
    """The account may not publish to this subject: no acknowledgement will ever come."""


def _check_url(value: str) -> str | None:
    for url in value.split(","):
        if not re.match(r"^(nats|tls|ws|wss)://[^/]+", url.strip()):
            return "must be nats://host:port (several: separated by commas)"
        if "@" in url:
            return "must not hold credentials: set token, user + password or creds_file"
    return None


def _check_stream(value: str) -> str | None:
    ok = re.fullmatch(r"[^\s.*>/\\]{1,255}", value)
    return None if ok else "must be a stream name: no spaces, '.', '*', '>', '/' or '\\'"


class NatsOptions(Options):
    #: one server, or several separated by commas (as $NATS_URL)
    url: Annotated[str, Check(_check_url)] = 'nats://127.0.0.1:4222'
    subject: Annotated[str, Check(check_subject)] = 'watcher.{source}.{type}'
    #: the JetStream stream that must hold the subjects
    stream: Annotated[str, Check(_check_stream)] = 'WATCHER'
    #: create the stream (file storage, dedupe_window) when it is absent
    create_stream: bool = False
    #: the duplicate window of a stream this sink creates
    dedupe_window: Annotated[float, Duration(min=MIN_WINDOW)] = 3600.0
    token: Secret | None = None
    user: str | None = None
    password: Secret | None = None
    #: a .creds file (JWT + NKey seed)
    creds_file: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    #: to connect, and for a batch's acknowledgements
    timeout: Annotated[float, Duration(min=0.1)] = 10.0

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        given = [k for k, v in (("token", self.token), ("user", self.user),
                                ("creds_file", self.creds_file)) if v]
        if len(given) > 1:
            raise ValueError(f"set one of token, user + password, creds_file, "
                             f"not {' and '.join(given)}")
        if (self.user is None) != (self.password is None):
            raise ValueError("set user and password together")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("set tls_cert and tls_key together")
        if self.create_stream and Route(self.subject).stream_subjects() is None:
            raise ValueError("create_stream needs a subject that starts with a fixed token "
                             "(e.g. watcher.{source}.{type})")
        return self


class NatsSink(BusSink[NatsOptions]):
    kind = "nats"
    Options = NatsOptions

    def __init__(self, config: SinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self.subject = Route(self.options.subject)
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._stream_ok = False
        #: why the last connection attempt failed (the server's own words)
        self._error: str | None = None
        #: ``(subject, acknowledgement)`` of the batch in flight
        self._inflight: list[tuple[str, asyncio.Future[Any]]] = []

    # -- connection ----------------------------------------------------------------------

    async def open(self) -> None:
        await self._ready()

    async def _ready(self) -> JetStreamContext:
        """Connected, with the stream checked on this connection; else Retryable why not."""
        if self._nc is None or self._nc.is_closed:
            self._nc, self._stream_ok = await self._connect(), False
            self._js = self._nc.jetstream(timeout=self.options.timeout)
        if not self._nc.is_connected:
            raise Retryable("not connected to NATS: " + (self._error or "reconnecting"))
        assert self._js is not None
        if not self._stream_ok:
            await self._stream(self._js, create=self.options.create_stream)
            self._stream_ok = True
        return self._js

    async def _connect(self) -> Client:
        o = self.options
        self._error = None
        try:
            nc = await nats.connect(
                servers=[u.strip() for u in o.url.split(",")], name=f"watcher sink {self.name}",
                token=o.token, user=o.user, password=o.password, user_credentials=o.creds_file,
                tls=self._tls(), connect_timeout=max(1, round(o.timeout)),
                allow_reconnect=True, max_reconnect_attempts=3, reconnect_time_wait=1,
                error_cb=self._on_error, disconnected_cb=self._on_disconnected,
                reconnected_cb=self._on_reconnected, closed_cb=self._on_disconnected)
        except (nats.errors.Error, OSError, ssl.SSLError, ValueError) as e:
            raise self.unavailable("cannot connect to NATS", self._error or e) from None
        self.bus.connected = True
        return nc

    def _tls(self) -> ssl.SSLContext | None:
        o = self.options
        if not (o.tls_ca or o.tls_cert or any(u.strip().startswith("tls://")
                                               for u in o.url.split(","))):
            return None
        ctx = ssl.create_default_context(cafile=o.tls_ca)
        if o.tls_cert and o.tls_key:
            ctx.load_cert_chain(o.tls_cert, o.tls_key)
        return ctx

    async def _on_error(self, e: Exception) -> None:
        self._error = self.masker.redact(str(e) or type(e).__name__)
        denied = _DENIED.search(self._error)
        if denied:  # no acknowledgement will come for these: fail them now
            for subject, fut in self._inflight:
                if subject == denied.group(1) and not fut.done():
                    fut.set_exception(Denied(self._error))

    async def _on_disconnected(self) -> None:
        self.bus.connected = False

    async def _on_reconnected(self) -> None:
        self.bus.connected = True
        self._stream_ok = False  # the server may be another one, or restarted empty
        self.log.info("reconnected to NATS")

    async def probe(self) -> str:
        """``watcher check --connect``: connect, find the stream, never publish or create."""
        try:
            nc = await self._connect()
            try:
                info = await self._stream(nc.jetstream(timeout=self.options.timeout),
                                          create=False)
            finally:
                await nc.close()
        except Retryable as e:
            if self.options.create_stream and "does not exist" in str(e):
                return (f"connected; stream {self.options.stream} is absent and will be "
                        "created at start (create_stream = true)")
            raise
        return describe(info)

    async def _stream(self, js: JetStreamContext, *, create: bool) -> StreamInfo:
        """The stream, created if allowed; Retryable when it is absent or cannot hold
        the subjects."""
        name = self.options.stream
        try:
            info = await js.stream_info(name)
        except nats.js.errors.NotFoundError:
            if not create:
                raise Retryable(f"stream {name} does not exist: create it holding "
                                f"{self.subject.stream_subjects() or self.subject.text}, "
                                "or set create_stream = true") from None
            info = await self._create_stream(js)
        except (nats.errors.Error, OSError) as e:
            raise self.unavailable(f"cannot read stream {name}", e) from None
        subjects = info.config.subjects or []
        wanted = self.subject.patterns()
        if not any(overlaps(f, p) for f in subjects for p in wanted):
            raise Retryable(f"stream {name} holds {', '.join(subjects) or 'no subjects'}, "
                            f"none of {', '.join(wanted)}")
        missing = [p for p in wanted if not any(matches(f, p) for f in subjects)]
        if missing:
            self.log.warning("the stream may not hold every subject; an event on one it "
                             "does not is retried until it does", stream=name, missing=missing)
        return info

    async def _create_stream(self, js: JetStreamContext) -> StreamInfo:
        o = self.options
        subjects = self.subject.stream_subjects()
        assert subjects is not None  # the options refuse create_stream otherwise
        config = StreamConfig(name=o.stream, subjects=[subjects], storage=StorageType.FILE,
                              duplicate_window=o.dedupe_window)
        try:
            info = await js.add_stream(config)
        except (nats.errors.Error, OSError) as e:
            raise self.unavailable(f"cannot create stream {o.stream}", e) from None
        self.log.info("created the stream", stream=o.stream, subjects=subjects,
                      dedupe_window=format_duration(o.dedupe_window))
        return info

    # -- delivery ------------------------------------------------------------------------

    async def deliver(self, batch: Sequence[JournalEntry]) -> Outcomes:
        js = await self._ready()
        assert self._nc is not None
        limit = self._nc.max_payload
        rejected: list[Rejected] = []
        sent: list[tuple[JournalEntry, asyncio.Future[Any]]] = []
        started = time.perf_counter()
        try:
            for e in batch:
                subject = self.subject.route(e)
                if len(e.body) > limit or len(subject) > MAX_SUBJECT:
                    rejected.append(Rejected(e, _too_large(e, subject, limit)))
                    continue
                fut = await js.publish_async(
                    subject, e.body, stream=self.options.stream,
                    headers={"Content-Type": CONTENT_TYPE, "Nats-Msg-Id": e.id})
                self._inflight.append((subject, fut))
                sent.append((e, fut))
            rejected += await self._acks(sent)
        except (nats.errors.Error, OSError) as e:
            raise self.unavailable("publish failed", e) from None
        finally:
            self._inflight = []
            for _, fut in sent:
                fut.cancel()  # a no-op once done; frees the client's slot otherwise
        self.bus.observe(time.perf_counter() - started)
        return rejected

    async def _acks(self, sent: list[tuple[JournalEntry, asyncio.Future[Any]]]
                    ) -> list[Rejected]:
        """Wait for the batch's acknowledgements; the events refused for good.  Raises
        Retryable when any is missing or refused for now (the batch is sent again)."""
        if sent:
            await asyncio.wait([f for _, f in sent], timeout=self.options.timeout)
        rejected: list[Rejected] = []
        retry: list[str] = []
        for e, fut in sent:
            if not fut.done():
                retry.append(f"no acknowledgement within {format_duration(self.options.timeout)}")
                continue
            err = fut.exception()
            if err is None:
                self.bus.duplicates += fut.result().duplicate is True
            elif isinstance(err, Denied | nats.errors.MaxPayloadError) or (
                    isinstance(err, nats.js.errors.APIError) and err.err_code == MSG_TOO_LARGE):
                rejected.append(Rejected(e, self.masker.redact(f"refused by the server: {err}")))
            else:
                retry.append(_reason(err))
        if retry:
            raise Retryable(f"{len(retry)} of {len(sent)} publishes failed: {retry[0]}")
        return rejected

    async def aclose(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        self.bus.connected = False
        if nc is not None and not nc.is_closed:
            with contextlib.suppress(nats.errors.Error, OSError):  # going away anyway
                await nc.close()


def _too_large(e: JournalEntry, subject: str, limit: int) -> str:
    if len(e.body) > limit:
        return f"the event is {len(e.body)} bytes, over the server's max_payload of {limit}"
    return f"the subject is {len(subject)} bytes, over the {MAX_SUBJECT} a server accepts"


def _reason(err: BaseException) -> str:
    if isinstance(err, nats.js.errors.NoStreamResponseError):
        return "no stream holds the subject (no responders)"
    return str(err) or type(err).__name__


def describe(info: StreamInfo) -> str:
    """One line for ``watcher check --connect``."""
    window = info.config.duplicate_window or 0.0
    note = "" if window >= MIN_WINDOW else \
        f" (under {format_duration(MIN_WINDOW)}: a replay after a crash may get through)"
    return (f"stream {info.config.name} holds {', '.join(info.config.subjects or [])}, "
            f"{info.state.messages} messages, duplicate window {format_duration(window)}"
            f"{note}")
