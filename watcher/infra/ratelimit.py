"""Token buckets, one per vendor account as the vendor counts it, with a fair queue.

Scope.  Vendors limit per organisation (Extend), environment (Knock), key
(Noxus) or IP (Cortex), not per source: every source of one account draws
from one bucket and sources of other accounts never slow it.  Which account
a source belongs to is its provider's business (``limit_scope``); here a
bucket is a key with members: each source :meth:`~Buckets.join` s its bucket with its
own :class:`Limit` (its ``rate_limit``, or the vendor's documented default),
and the bucket runs at the smallest of its members' limits.  The buckets of a
process are a :class:`Buckets` its daemon makes and lends out, not a global.

Waiting.  A bucket schedules requests on a timeline (GCRA, "virtual
scheduling"): each :meth:`RateLimiter.acquire` reserves the next free slot,
in arrival order, and sleeps once until it.  So waiters are served first
come, first served; exactly one task wakes per token; and waiting costs one
timer per request however many wait.  Sources of a saturated bucket thus
take turns a request each (round-robin), and none starves.

Holds.  A 429 with ``Retry-After`` holds the whole bucket (:meth:`hold`): no
request before it ends.  Slots already handed out move back by the hold, in
order; their waiters sleep once more.  A waiter cancelled before its slot
(a reload, a lost lease) gives the slot to the next newcomer, so a bucket's
timeline is never left booked by tasks that are gone.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass

from watcher.infra.clock import Clock

#: a slot this close is due (a fake clock lands on a deadline to within rounding)
EPSILON = 1e-9


@dataclass(frozen=True)
class Limit:
    """Requests per second, and how many may go at once after a quiet spell (``None``:
    the rate, at least one)."""

    rate: float
    burst: float | None = None

    @property
    def depth(self) -> float:
        return self.burst if self.burst is not None else max(1.0, self.rate)


class RateLimiter:
    """A token bucket whose waiters queue: first come, first served, one wake-up each."""

    __slots__ = ("_gap", "_held", "_holes", "_shift", "_tat", "_tolerance", "burst", "clock",
                 "rate")

    def __init__(self, rate: float, burst: float | None = None, *, clock: Clock) -> None:
        self.clock = clock
        #: the theoretical time of the next request with no burst credit (GCRA's TAT)
        self._tat = clock.monotonic()
        self._held = float("-inf")
        #: how far holds have moved the timeline back since the start
        self._shift = 0.0
        #: slots given up by cancelled waiters (a heap), for the next newcomers
        self._holes: list[float] = []
        self.retune(rate, burst)

    def retune(self, rate: float, burst: float | None = None) -> None:
        """Run at another rate from now on (slots already handed out stay as they are)."""
        self.rate, self.burst = rate, Limit(rate, burst).depth
        self._gap, self._tolerance = 1.0 / rate, (self.burst - 1.0) / rate

    async def acquire(self) -> None:
        """Return when a request may go: at once while the bucket holds a token."""
        clock = self.clock
        now = clock.monotonic()
        slot = self._reserve(now)
        if slot - now <= EPSILON:
            return
        shift = self._shift
        try:
            while (wait := slot + self._shift - shift - clock.monotonic()) > EPSILON:
                await clock.sleep(wait)  # more than once only when a hold moved the slot
        except BaseException:  # cancelled: the slot goes to whoever asks next
            heapq.heappush(self._holes, slot + self._shift - shift)
            raise

    def _reserve(self, now: float) -> float:
        start = max(now, self._held)
        tat = max(self._tat, start)
        slot = max(start, tat - self._tolerance)
        holes = self._holes
        while holes and holes[0] < start:
            heapq.heappop(holes)  # a gone waiter's slot that nobody took in time
        if holes and slot > start and holes[0] < slot:
            return heapq.heappop(holes)
        self._tat = tat + self._gap
        return slot

    def held(self) -> float:
        """Seconds until a vendor's hold on the bucket ends (0.0: none)."""
        return max(0.0, self._held - self.clock.monotonic())

    def hold(self, seconds: float) -> None:
        """Let no request through for ``seconds`` (a vendor said so)."""
        now = self.clock.monotonic()
        start = max(now, self._held)
        until = now + seconds
        if until <= start:
            return
        # every slot handed out and not yet due is at or after ``start``: move them all
        # back by the hold, so none is before ``until``, keeping their order and spacing
        moved = until - start
        self._shift += moved
        if self._tat > start:
            self._tat += moved
        self._holes = [h + moved for h in self._holes]
        self._held = until


class Buckets:
    """A process's buckets: key -> limiter, and the members (sources) of each."""

    def __init__(self, *, clock: Clock) -> None:
        self.clock = clock
        self.limiters: dict[str, RateLimiter] = {}
        self.members: dict[str, dict[str, Limit]] = {}
        self._bucket_of: dict[str, str] = {}

    def get(self, key: str, rate: float, burst: float | None = None) -> RateLimiter:
        """The limiter for ``key``, made on first use (no members: a sink's pace, say)."""
        lim = self.limiters.get(key)
        if lim is None:
            lim = self.limiters[key] = RateLimiter(rate, burst, clock=self.clock)
        return lim

    def join(self, key: str, member: str, limit: Limit) -> RateLimiter:
        """``member``'s bucket, now run at the smallest limit of its members."""
        self.leave(member)
        members = self.members.setdefault(key, {})
        members[member] = limit
        self._bucket_of[member] = key
        lim = self.get(key, limit.rate, limit.burst)
        lim.retune(*smallest(members.values()))
        return lim

    def leave(self, member: str) -> None:
        """``member`` draws from its bucket no more (its source stopped or moved)."""
        key = self._bucket_of.pop(member, None)
        if key is None:
            return
        members = self.members.get(key, {})
        members.pop(member, None)
        if members:
            self.limiters[key].retune(*smallest(members.values()))


def smallest(limits: Iterable[Limit]) -> tuple[float, float]:
    """The rate and burst a bucket shared by these limits runs at: the smaller of each."""
    given = list(limits)
    return min(x.rate for x in given), min(x.depth for x in given)
