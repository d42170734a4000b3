"""The HTTP edge of every provider: auth headers, rate limit, timeout, and
classification of every failure into one :class:`~watcher.errors.ProviderError`
kind, decided here once so the poller's policy is a small table.

Every body is read in chunks against a cap (the source's ``max_response_size``;
a few KB for an error answer, which is only quoted): a peer that streams without
end, or announces more than the cap, is cut off at the cap with its connection
closed, so a broken proxy or a hostile host costs a poll, not the daemon's memory.

A short retry happens here, inside a poll cycle, for 429 and 5xx answers and
dropped connections, so one hiccup does not discard a multi-page scan; what
keeps failing is raised for the poller to back off from.  A 429's
``Retry-After`` holds the source's bucket, so every source of the same vendor
account waits it out, and only those.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import orjson

from watcher.config.units import format_size
from watcher.core.backoff import Backoff, finite, retry_after
from watcher.errors import AuthError, BadPayload, ProviderError, RateLimited, TransientError
from watcher.infra.clock import Clock
from watcher.infra.permit import checkpoint
from watcher.infra.ratelimit import RateLimiter

#: inline retries of a request before its failure is raised
RETRIES = 2
#: never sleep longer than this inside a cycle; longer waits belong to the poller
MAX_INLINE_WAIT = 30.0
#: an error answer is read this far at most: its message is all we use of it
ERROR_BODY_LIMIT = 64 * 1024


class BodyTooLarge(Exception):
    """A peer's answer is over the cap; ``length`` is its Content-Length when it gave one."""

    def __init__(self, length: int | None) -> None:
        self.length = length
        super().__init__(length)


async def read_capped(resp: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, or :class:`BodyTooLarge` when it is larger than ``limit`` bytes.

    Refusing reads no further than the cap and closes the connection (a half-read
    body must not be handed to the next request on a pooled connection). A
    ``Content-Length`` over the cap is refused before any of the body is read.
    """
    length = resp.content_length
    if length is not None and length > limit:
        resp.close()
        raise BodyTooLarge(length)
    # chunks joined once at the end, not a growing buffer: refusing then holds at most the
    # cap, where each regrowth of one buffer briefly holds its old and new copies
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in resp.content.iter_any():
            size += len(chunk)
            if size > limit:
                resp.close()
                del chunk  # the traceback keeps this frame's names (see below)
                raise BodyTooLarge(None)
            chunks.append(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    finally:
        # A refused or broken read leaves this frame on the exception's traceback, which
        # can outlive the poll (a reference cycle waits for the cyclic GC, a retry sleeps
        # with it): the frame must not keep the body read so far.
        chunks.clear()


#: how much of a vendor's error message is quoted in logs and events
MAX_MESSAGE = 500


def default_error_message(body: Any) -> str | None:
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            val = body.get(key)
            if isinstance(val, str):
                return val
            if val is not None:
                try:
                    return orjson.dumps(val).decode()[:300]
                except TypeError:  # orjson will not write a body nested deeper than 254 levels
                    return None
    return None


class VendorHttp:
    """GETs against one source's vendor API."""

    def __init__(self, session: aiohttp.ClientSession, *, base_url: str,
                 headers: Mapping[str, str], timeout: float, limiter: RateLimiter,
                 max_size: int, clock: Clock,
                 error_message: Callable[[Any], str | None] = default_error_message) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers)
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.limiter = limiter
        self.error_message = error_message
        self.max_size = max_size
        self.clock = clock
        #: requests sent, for metrics and the idle-cost benchmark
        self.requests = 0

    async def get(self, path: str, params: Mapping[str, Any] | list[tuple[str, str]] | None = None
                  ) -> tuple[Any, Mapping[str, str]]:
        """GET ``path``; returns the parsed JSON body and the response headers."""
        return await self.request("GET", path, params)

    async def request(self, method: str, path: str, params: Any = None, *, json: Any = None,
                      headers: Mapping[str, str] | None = None
                      ) -> tuple[Any, Mapping[str, str]]:
        """``method`` ``path`` (a JSON ``json`` body, extra ``headers``); the parsed body and
        the response headers.  A 304 (asked for with ``If-None-Match``) gives ``None``."""
        data, got = await self.send(method, path, params, json=json, headers=headers)
        if data is None:
            return None, got
        try:
            return orjson.loads(data), got
        except orjson.JSONDecodeError as e:
            raise BadPayload(f"200 OK but the body is not JSON: {e}", status=200) from None

    async def send(self, method: str, path: str, params: Any = None, *, json: Any = None,
                   headers: Mapping[str, str] | None = None
                   ) -> tuple[bytes | None, Mapping[str, str]]:
        """``method`` ``path``, retried inline on a short rate limit or a transient error;
        the 2xx body unparsed (None: a 304) and the response headers."""
        attempt = 0
        backoff = Backoff(1.0, MAX_INLINE_WAIT, rng=self.clock.random)
        while True:
            try:
                return await self._send_once(method, path, params, json, headers)
            except (RateLimited, TransientError) as e:
                attempt += 1
                wait = getattr(e, "retry_after", None)
                if wait is None:
                    wait = backoff.next()
                if attempt > RETRIES or wait > MAX_INLINE_WAIT or "timed out" in str(e):
                    raise
                await self.clock.sleep(wait)

    async def _send_once(self, method: str, path: str, params: Any, payload: Any,
                         extra: Mapping[str, str] | None) -> tuple[bytes | None, Mapping[str, str]]:
        await self.limiter.acquire()  # a saturated bucket's queue may take a while
        await checkpoint()  # not a request more once this replica lost the source
        self.requests += 1
        sent = {**self.headers, **extra} if extra else self.headers
        try:
            async with self.session.request(method, self.base_url + path, params=params,
                                            json=payload, headers=sent, timeout=self.timeout,
                                            allow_redirects=False) as resp:
                status, reason, headers = resp.status, resp.reason or "", resp.headers
                try:
                    body = await read_capped(resp, self.max_size if status in (200, 201)
                                             else ERROR_BODY_LIMIT)
                except BodyTooLarge as e:
                    if status in (200, 201):
                        raise self._too_large(e) from None
                    body = b""  # an error too long to quote: its status says enough
        except TimeoutError:
            raise TransientError(f"request timed out after {self.timeout.total:g}s") from None
        except aiohttp.ClientError as e:
            raise TransientError(f"connection failed: {type(e).__name__}: {e}") from None
        if status == 304:
            return None, headers
        if status in (200, 201):
            return body, headers
        try:
            detail = self.error_message(orjson.loads(body)) if body else None
        except (orjson.JSONDecodeError, TypeError, ValueError):  # deep or odd: say nothing
            detail = None
        if detail and len(detail) > MAX_MESSAGE:  # it ends up in logs and source.failing
            detail = detail[:MAX_MESSAGE] + "..."
        msg = f"{status} {reason}" + (f": {detail}" if detail else "")
        spent = headers.get("X-RateLimit-Remaining") == "0"  # GitHub's, GitLab's: a 403 too
        if status in (401, 403) and not spent:
            raise AuthError(msg, status=status)
        if status == 429 or (status == 403 and spent):
            ra = retry_after(headers, self.clock()) or _reset_in(headers, self.clock())
            if ra:
                self.limiter.hold(ra)
            raise RateLimited(msg, retry_after=ra)
        if status >= 500 or status == 408:
            raise TransientError(msg, status=status)
        raise ProviderError(msg, status=status)

    def _too_large(self, e: BodyTooLarge) -> BadPayload:
        said = f": Content-Length is {e.length}" if e.length is not None else ""
        return BadPayload(f"response larger than max_response_size "
                          f"({format_size(self.max_size)}){said}", status=200)


def _reset_in(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until ``X-RateLimit-Reset`` (epoch seconds), when a spent limit names it."""
    reset = finite(headers.get("X-RateLimit-Reset", ""))
    return max(1.0, reset - now) if reset is not None and reset > now else None
