"""Which rate-limit bucket each source draws from, and whether each bucket is enough.

A vendor limits requests where it counts them: Extend per organisation (an
API key, and its workspace header), Knock per environment (a key, and its
branch), Noxus per key, Cortex per IP address.  A provider says which of its
source's settings name that scope (``limit_scope``); sources with the same
scope share one bucket of :mod:`watcher.infra.ratelimit`, at the smaller of
their limits (their ``rate_limit``, else the vendor's documented default).
The API host is part of every scope: another host is another service.

:func:`plan` works the buckets out from a config, for ``watcher check`` and
for the daemon's warning at start when a bucket cannot serve its sources at
their intervals.  A bucket is named by its vendor and its sources' names,
never by its key: check output and logs must not carry secrets.  Limits are
per process: replicas sharing an account each have their own buckets.
"""

from __future__ import annotations

import hashlib
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from watcher.config.settings import SourceConfig
from watcher.core.budget import Need, demand, fair_periods
from watcher.infra.ratelimit import Limit, smallest
from watcher.providers import provider_class

#: how many source names a bucket's label shows before "+N more"
SHOWN = 3
#: a bucket is too small when its sources need this much more than it allows (a source
#: whose period would grow by less is not worth a warning)
SLACK = 1.001


def bucket_key(cls: Any, source: SourceConfig) -> str:
    """The bucket ``source`` draws from: its vendor and a digest of its limit scope (the
    key itself stays out of it, so a dump of the registry shows no secret)."""
    digest = hashlib.sha256("\0".join(cls.limit_scope(source)).encode()).hexdigest()[:32]
    return f"{cls.kind} {digest}"


def source_limit(cls: Any, source: SourceConfig) -> Limit | None:
    """What ``source`` asks of its bucket: its ``rate_limit`` (burst: the vendor's default
    burst unless given), else the vendor's documented limit; ``None``: no known limit."""
    rate: float | None = getattr(cls, "rate", None)
    burst: float | None = getattr(cls, "burst", None)
    own = source.rate_limit
    if own is not None:
        return Limit(own.rate, own.burst if own.burst is not None else burst)
    return Limit(rate, burst) if rate else None


@dataclass(frozen=True)
class Bucket:
    """One bucket as a config makes it: its sources, limit and what they need of it."""

    vendor: str
    limit: Limit
    #: source name -> (requests an idle poll costs, interval)
    needs: Mapping[str, Need]

    @property
    def sources(self) -> list[str]:
        return sorted(self.needs)

    @property
    def need(self) -> float:
        """Requests per second its sources need at their intervals (idle polls)."""
        return demand(self.needs)

    @property
    def over(self) -> bool:
        # some source then polls at least SLACK times its interval: the sources cannot
        # all get less than need/rate times theirs, or they would get more than the rate
        return self.need > self.limit.rate * SLACK

    @property
    def label(self) -> str:
        return f"{self.vendor} bucket of {names(self.sources)}"


def plan(sources: Iterable[SourceConfig]) -> list[Bucket]:
    """The buckets ``sources`` make, in the order of their first source."""
    groups: dict[str, list[tuple[SourceConfig, Limit, float]]] = {}
    vendors: dict[str, str] = {}
    for s in sources:
        cls = provider_class(s.provider)
        limit = source_limit(cls, s)
        if limit is None:
            continue
        key = bucket_key(cls, s)
        vendors[key] = s.provider
        groups.setdefault(key, []).append((s, limit, float(getattr(cls, "idle_requests", 1))))
    return [Bucket(vendors[key], Limit(*smallest(lim for _, lim, _ in members)),
                   {s.name: (cost, s.interval) for s, _, cost in members})
            for key, members in groups.items()]


def names(sources: Sequence[str], shown: int = SHOWN) -> str:
    """``a, b, c (+997 more)``."""
    more = len(sources) - shown
    return ", ".join(sources[:shown]) + (f" (+{more} more)" if more > 0 else "")


def _seconds(values: Iterable[float]) -> str:
    seen = list(values)
    lo, hi = min(seen), max(seen)
    return f"{lo:.3g} s" if round(lo, 1) == round(hi, 1) else f"{lo:.3g}-{hi:.3g} s"


def verdict(bucket: Bucket) -> str:
    """One line on a bucket: its rate, its sources and, if it is too small, what they get."""
    lim = bucket.limit
    some = len(bucket.needs) != 1
    head = (f"{bucket.label}: {lim.rate:g} requests/s, burst {lim.depth:g}; "
            f"{len(bucket.needs)} source{'s need' if some else ' needs'} {bucket.need:.3g}/s at "
            f"{'their intervals' if some else 'its interval'}")
    if not bucket.over:
        return head
    periods = fair_periods(bucket.needs, lim.rate)
    slow = {k: p for k, p in periods.items() if p >= bucket.needs[k][1] * SLACK}
    return (f"{head}: too many, {names(sorted(slow))} can poll only every "
            f"{_seconds(slow.values())} instead of every "
            f"{_seconds(bucket.needs[k][1] for k in slow)} (raise rate_limit if the "
            "account allows more, or lengthen the interval)")


def comments(sources: Iterable[SourceConfig]) -> list[str]:
    """``watcher check``'s account of the buckets, as TOML comments."""
    buckets = plan(sources)
    out = ["", "# Rate limits (per process): a bucket per vendor account, as each vendor counts"]
    for b in buckets:
        out.append(f"#   {verdict(b)}")
        if len(b.needs) > SHOWN:  # the label named a few: every source, wrapped
            out += textwrap.wrap(", ".join(b.sources), 96, initial_indent="#     sources: ",
                                 subsequent_indent="#       ", break_on_hyphens=False)
    return out if buckets else []


def warn(sources: Iterable[SourceConfig], log: Any) -> None:
    """Log a warning per bucket that cannot serve its sources at their intervals."""
    for b in plan(sources):
        if b.over:
            log.warning("rate limit below what the sources need", bucket=b.label,
                        detail=verdict(b), sources=names(b.sources, 20))
