"""Token buckets shared by every source of one vendor in the process.

Vendors limit per organisation, IP or environment, not per source, so two
sources of the same vendor draw from one bucket.  A 429 with ``Retry-After``
holds the whole bucket, so sibling sources back off too.
"""

from __future__ import annotations

from watcher.infra.clock import Clock, wall


class RateLimiter:
    def __init__(self, rate: float, burst: float | None = None, *, clock: Clock = wall) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self.clock = clock
        self._tokens = self.burst
        self._stamp = clock.monotonic()
        self._held_until = 0.0

    async def acquire(self) -> None:
        clock = self.clock
        while True:
            now = clock.monotonic()
            if now < self._held_until:
                await clock.sleep(self._held_until - now)
                continue
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return
            await clock.sleep((1.0 - self._tokens) / self.rate)

    def hold(self, seconds: float) -> None:
        """Let no request through for ``seconds`` (a vendor said so)."""
        self._held_until = max(self._held_until, self.clock.monotonic() + seconds)


_shared: dict[str, RateLimiter] = {}


def shared(key: str, rate: float, burst: float | None = None, *,
           clock: Clock = wall) -> RateLimiter:
    """The process-wide limiter for ``key`` (e.g. ``"knock"``), created on first use.

    It keeps the clock of its first user: in a daemon every user passes the same one.
    """
    lim = _shared.get(key)
    if lim is None:
        lim = _shared[key] = RateLimiter(rate, burst, clock=clock)
    return lim


class isolated:  # lower case: used as a context manager, like contextlib.suppress
    """``with isolated(limiters):`` :func:`shared` uses a fresh registry holding only
    ``limiters``; for tests, so one test's 429 hold or spent burst never slows the next."""

    def __init__(self, limiters: dict[str, RateLimiter] | None = None) -> None:
        self.registry = dict(limiters or {})
        self.saved: dict[str, RateLimiter] = {}

    def __enter__(self) -> None:
        global _shared
        self.saved, _shared = _shared, self.registry

    def __exit__(self, *exc: object) -> None:
        global _shared
        _shared = self.saved
