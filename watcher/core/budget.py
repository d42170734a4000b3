"""How a rate limit shared by several sources divides between them: pure arithmetic.

Sources of one bucket take turns a request each (the bucket's queue is first
come, first served), so a bucket too small for their intervals shares out
max-min fairly: a source that needs less than an equal share keeps its
interval, and the others split what is left equally.
"""

from __future__ import annotations

from collections.abc import Mapping

#: ``(requests a poll costs, interval in seconds)`` of one source
Need = tuple[float, float]


def demand(needs: Mapping[str, Need]) -> float:
    """Requests per second the sources need to poll at their intervals."""
    return sum(cost / interval for cost, interval in needs.values())


def fair_periods(needs: Mapping[str, Need], rate: float) -> dict[str, float]:
    """Each source's poll period, in seconds, when they share ``rate`` requests/second:
    its interval when the bucket suffices, longer for the sources it cannot serve."""
    pending = sorted(needs.items(), key=lambda kv: kv[1][0] / kv[1][1])
    left, out = rate, {}
    for i, (name, (cost, interval)) in enumerate(pending):
        share = left / (len(pending) - i)
        want = cost / interval
        if want <= share:
            out[name] = interval
            left -= want
        else:  # every source after this one wants more than the same share too
            out[name] = cost / share
            left -= share
    return out
