"""POSTing to one HTTP destination, shared by the webhook and Slack sinks.

One POST's outcome is classified here once, so each sink's retry loop is a
small table:

* 2xx: delivered;
* 408, 429, 5xx, a refused or dropped connection, a timeout: temporary, retry
  after a backoff and never sooner than the receiver's ``Retry-After``;
* anything else (400, 401, 403, 404, 410, 422, a 3xx...): permanent, retrying
  cannot help, the event becomes a dead letter at once.

A receiver's answer is read to a few KB at most (only a 200-character quote of
an error is used): a 2xx is delivered once its status line says so, without
waiting for its body, and an error answer that never ends is cut off and
quoted truncated; a connection whose answer was not read to its end is closed,
never reused.

Redirects are not followed: a signed event must reach the configured URL and
nowhere else.  Failure reasons never quote the URL (it is a secret: Slack's
and most webhook URLs carry their credential in the path) and the receiver's
answer is quoted only after the sink's own secrets are masked in it
(:mod:`watcher.infra.secrets`), because reasons are stored with dead letters,
outside the log redactor's reach.

Backoff is exponential with *full* jitter (a uniform draw in ``[0, nominal]``):
many events failing together against one receiver spread their retries out
instead of returning in waves.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

import aiohttp

from watcher.config.options import Duration, Field, Options
from watcher.core.backoff import retry_after
from watcher.infra.clock import Clock, wall
from watcher.infra.permit import checkpoint
from watcher.infra.secrets import Masker
from watcher.version import __version__

USER_AGENT = f"watcher/{__version__}"

#: how much of a receiver's error answer a reason quotes
QUOTE = 200
#: how much of any answer is read: enough to quote, never an endless body
ANSWER_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one POST came to."""

    ok: bool
    reason: str = ""
    retryable: bool = False
    retry_after: float | None = None
    status: int | None = None


DELIVERED = Outcome(True)


def check_http_url(value: str) -> str | None:
    """Config check for a destination URL; the message never repeats the (secret) value."""
    if not value.startswith(("http://", "https://")) or len(value) < 10:
        return "must be an http:// or https:// URL"
    return None


class RetryOptions(Options):
    """The retry keys every HTTP sink shares (its options subclass this)."""

    #: for one request
    timeout: Annotated[float, Duration(min=0.1)] = 10.0
    #: give up after this many attempts
    max_attempts: Annotated[int, Field(ge=1)] = 10
    #: give up this long after an event's first attempt
    max_age: Annotated[float, Duration(min=0.01)] = 3600.0
    #: the first retry delay (then doubling)
    backoff: Annotated[float, Duration(min=0.001)] = 1.0
    #: the cap of the retry delay
    max_backoff: Annotated[float, Duration(min=0.001)] = 300.0


def classify(status: int, reason: str, body: bytes, headers: Mapping[str, str], *,
             secrets: Iterable[str] = (), now: float | None = None) -> Outcome:
    """The outcome of an HTTP answer (see the module docstring for the table)."""
    if 200 <= status < 300:
        return DELIVERED
    said = " ".join(body[:QUOTE * 2].decode("utf-8", "replace").split())[:QUOTE]
    text = f"{status} {reason}".strip() + (f": {Masker(secrets).redact(said)}" if said else "")
    retryable = status in (408, 429) or status >= 500
    ra = retry_after(headers, wall() if now is None else now) if retryable else None
    return Outcome(False, text, retryable, ra, status)


def describe(e: BaseException) -> str:
    """A connection failure in words that cannot contain the URL."""
    if isinstance(e, aiohttp.ClientConnectorError):
        return f"cannot connect: {e.os_error.strerror or type(e.os_error).__name__}"
    if isinstance(e, aiohttp.ServerDisconnectedError):
        return "server disconnected"
    if isinstance(e, aiohttp.InvalidURL):
        return "invalid URL"
    return f"connection failed: {type(e).__name__}"


async def post(session: aiohttp.ClientSession, url: str, body: bytes,
               headers: Mapping[str, str], *, limits: aiohttp.ClientTimeout,
               secrets: Iterable[str] = (), clock: Clock) -> Outcome:
    """POST once; every failure comes back as an :class:`Outcome`, never raised."""
    await checkpoint()  # not a delivery more once this replica lost the sink
    try:
        async with session.post(url, data=body, headers=headers, timeout=limits,
                                allow_redirects=False) as resp:
            answer = await read_answer(resp)
            return classify(resp.status, resp.reason or "", answer, resp.headers,
                            secrets=secrets, now=clock())
    except TimeoutError:
        return Outcome(False, f"timed out after {limits.total:g}s", True)
    except aiohttp.ClientError as e:
        return Outcome(False, describe(e), True)


async def read_answer(resp: aiohttp.ClientResponse) -> bytes:
    """At most :data:`ANSWER_LIMIT` bytes of an answer, never failing once the status is in.

    A 2xx takes only what already arrived with its headers: it is delivered whatever
    follows. An error answer is read up to the limit; if its body then stalls or
    breaks, what was read is quoted (the status decides the outcome, not the body).
    """
    content = resp.content
    answer = bytearray()
    try:
        if 200 <= resp.status < 300:
            answer += content.read_nowait(ANSWER_LIMIT)
        else:
            while len(answer) < ANSWER_LIMIT:
                chunk = await content.read(ANSWER_LIMIT - len(answer))
                if not chunk:
                    break
                answer += chunk
    except (TimeoutError, aiohttp.ClientError):
        pass
    if not content.at_eof():
        resp.close()
    return bytes(answer)


class RetryPolicy:
    """When to try again and when to give up: attempts, age and full-jitter backoff."""

    def __init__(self, *, backoff: float, max_backoff: float, max_attempts: int,
                 max_age: float, clock: Clock) -> None:
        self.backoff = backoff
        self.max_backoff = max(backoff, max_backoff)
        self.max_attempts = max_attempts
        self.max_age = max_age
        self.clock = clock

    @classmethod
    def from_options(cls, options: RetryOptions, *, clock: Clock) -> RetryPolicy:
        return cls(backoff=options.backoff, max_backoff=options.max_backoff,
                   max_attempts=options.max_attempts, max_age=options.max_age, clock=clock)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        nominal = min(self.max_backoff, self.backoff * 2 ** min(attempt - 1, 60))
        return max(self.clock.random.uniform(0, nominal), retry_after or 0.0)

    def give_up(self, outcome: Outcome, attempt: int, age: float, delay: float) -> str | None:
        """Why this failure is final, or ``None`` to retry after ``delay``."""
        if not outcome.retryable:
            return outcome.reason
        if attempt >= self.max_attempts:
            return f"{outcome.reason} (gave up after {attempt} attempts)"
        if age + delay > self.max_age:
            return f"{outcome.reason} (gave up after {attempt} attempts: max_age reached)"
        return None


class Gate:
    """A pause every sender to one destination observes: a receiver's ``Retry-After``
    (429/503) speaks for the whole endpoint, not just the request it answered."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._until = 0.0

    def hold(self, seconds: float) -> None:
        self._until = max(self._until, self.clock.monotonic() + seconds)

    async def wait(self) -> None:
        # a loop, not one sleep: another answer may extend the hold meanwhile
        while (left := self._until - self.clock.monotonic()) > 0:
            await self.clock.sleep(left)


async def reaches(url: str, *, within: float = 10.0) -> str:
    """``watcher check --connect`` for an HTTP destination: open a TCP connection to its
    host and port (and complete a verified TLS handshake for https), then close it.
    No request is sent: a test POST would be an event to the receiver.  What was found
    names ``host:port`` only, never the (secret) path or query; OSError if unreachable."""
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if tls else 80)
    except ValueError:
        raise OSError(f"{host}: not a valid port") from None
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(
            host, port, ssl=ssl.create_default_context() if tls else None), within)
    except TimeoutError:
        raise OSError(f"{where}: no connection within {within:g}s (timeout)") from None
    except ssl.SSLCertVerificationError as e:
        raise OSError(f"{where}: TLS error: {e.verify_message}") from None
    except ssl.SSLError as e:
        raise OSError(f"{where}: TLS error: {e.reason or e}") from None
    except socket.gaierror as e:
        raise OSError(f"{host} does not resolve: {e.strerror or e}") from None
    except OSError as e:  # several addresses: "Multiple exceptions: [Errno 111] ..."
        refused = isinstance(e, ConnectionRefusedError) or "refused" in str(e).lower()
        raise OSError(f"{where}: " + ("connection refused" if refused
                                      else (e.strerror or str(e)))) from None
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
    return f"{where} " + ("reachable, TLS verified" if tls else "reachable") + \
        " (no request sent)"
