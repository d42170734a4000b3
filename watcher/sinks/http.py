"""POSTing to one HTTP destination, shared by the webhook and Slack sinks.

One POST's outcome is classified here once, and :meth:`Outcome.of` turns it
into what the runner acts on (:mod:`watcher.sinks.base`):

* 2xx: delivered;
* 408, 429, 5xx, a refused or dropped connection, a timeout: a
  :class:`~watcher.sinks.base.Retry`, never sooner than the receiver's
  ``Retry-After``;
* anything else (400, 401, 403, 404, 410, 422, a 3xx...): permanent, retrying
  cannot help, a :class:`~watcher.sinks.base.Rejected` (a dead letter at once).

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
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TypeVar

import aiohttp

from watcher.core.backoff import retry_after
from watcher.infra.clock import Clock
from watcher.infra.http import USER_AGENT, reaches, read_answer
from watcher.infra.permit import checkpoint
from watcher.infra.secrets import Masker
from watcher.model import JournalEntry
from watcher.sinks.base import BaseSink, Rejected, Retry, RetryOptions

#: how much of a receiver's error answer a reason quotes
QUOTE = 200
JSON = MappingProxyType({"Content-Type": "application/json"})


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one POST came to."""

    ok: bool
    reason: str = ""
    retryable: bool = False
    retry_after: float | None = None
    status: int | None = None

    def of(self, entry: JournalEntry) -> Rejected | Retry | None:
        """What this POST made of ``entry``: ``None`` once delivered."""
        if self.ok:
            return None
        if self.retryable:
            return Retry(entry, self.reason, self.retry_after)
        return Rejected(entry, self.reason)


T = TypeVar("T")


async def in_turn(items: Sequence[T], entries: Callable[[T], Sequence[JournalEntry]],
                  send: Callable[[T], Awaitable[Outcome | None]]) -> list[Rejected | Retry]:
    """Each item sent in turn (``send``: its POST's outcome; None: nothing to send); once one
    is to be retried, the rest wait with it (retried too, unsent), so none overtakes it."""
    outcomes: list[Rejected | Retry] = []
    for n, item in enumerate(items):
        outcome = await send(item)
        if outcome is None or outcome.ok:
            continue
        if outcome.retryable:
            return outcomes + [Retry(e, outcome.reason, outcome.retry_after)
                               for later in items[n:] for e in entries(later)]
        outcomes += [Rejected(e, outcome.reason) for e in entries(item)]
    return outcomes


def check_http_url(value: str) -> str | None:
    """Config check for a destination URL; the message never repeats the (secret) value."""
    if not value.startswith(("http://", "https://")) or len(value) < 10:
        return "must be an http:// or https:// URL"
    return None


def classify(status: int, reason: str, body: bytes, headers: Mapping[str, str], *,
             secrets: Iterable[str], now: float) -> Outcome:
    """The outcome of an HTTP answer (see the module docstring for the table)."""
    if 200 <= status < 300:
        return Outcome(True)
    said = " ".join(body[:QUOTE * 2].decode("utf-8", "replace").split())[:QUOTE]
    text = f"{status} {reason}".strip() + (f": {Masker(secrets).redact(said)}" if said else "")
    retryable = status in (408, 429) or status >= 500
    return Outcome(False, text, retryable, retry_after(headers, now) if retryable else None,
                   status)


def describe(e: BaseException) -> str:
    """A connection failure in words that cannot contain the URL."""
    if isinstance(e, aiohttp.ClientConnectorError):
        return f"cannot connect: {e.os_error.strerror or type(e.os_error).__name__}"
    if isinstance(e, aiohttp.ServerDisconnectedError):
        return "server disconnected"
    if isinstance(e, aiohttp.InvalidURL):
        return "invalid URL"
    return f"connection failed: {type(e).__name__}"


HttpOptionsT = TypeVar("HttpOptionsT", bound=RetryOptions)


class HttpSink(BaseSink[HttpOptionsT]):
    """A sink POSTing to one destination, :attr:`url`: a connection pool of its own (made
    on first use, ``connections`` wide), one :meth:`send` per request within the options'
    ``timeout``, ``watcher check --connect`` reaching the host, the pool closed on
    ``aclose``.  Its options subclass :class:`~watcher.sinks.base.RetryOptions`."""

    url: str = ""
    #: connections to the destination at most
    connections: int = 100
    #: masked in failure reasons (stored with dead letters): the URL, tokens, secrets
    secrets: tuple[str, ...] = ()
    #: let aiohttp decompress answers (a receiver's quoted error only)
    decompress: bool = True
    _session: aiohttp.ClientSession | None = None
    _limits: aiohttp.ClientTimeout

    async def send(self, body: bytes, headers: Mapping[str, str] = JSON, *,
                   explain: Explain | None = None) -> Outcome:
        """POST ``body`` (JSON unless ``headers`` say otherwise) once to :attr:`url`."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connections),
                headers={"User-Agent": USER_AGENT}, auto_decompress=self.decompress)
            self._limits = aiohttp.ClientTimeout(total=self.options.timeout)
        return await post(self._session, self.url, body, headers, limits=self._limits,
                          secrets=self.secrets or (self.url,), clock=self.context.clock,
                          explain=explain)

    async def probe(self) -> str:
        return await reaches(self.url, within=self.options.timeout)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


#: a sink's own reading of an error answer (status, body): a better reason, or None
Explain = Callable[[int, bytes], "str | None"]


async def post(session: aiohttp.ClientSession, url: str, body: bytes,
               headers: Mapping[str, str], *, limits: aiohttp.ClientTimeout,
               secrets: Iterable[str] = (), clock: Clock,
               explain: Explain | None = None) -> Outcome:
    """POST once; every failure comes back as an :class:`Outcome`, never raised.
    ``explain``: the reason of an error answer in the receiver's own words."""
    await checkpoint()  # not a delivery more once this replica lost the sink
    try:
        async with session.post(url, data=body, headers=headers, timeout=limits,
                                allow_redirects=False) as resp:
            answer = await read_answer(resp)
            outcome = classify(resp.status, resp.reason or "", answer, resp.headers,
                               secrets=secrets, now=clock())
            said = None if outcome.ok or explain is None else explain(resp.status, answer)
            return replace(outcome, reason=said) if said else outcome
    except TimeoutError:
        return Outcome(False, f"timed out after {limits.total:g}s", True)
    except aiohttp.ClientError as e:
        return Outcome(False, describe(e), True)
