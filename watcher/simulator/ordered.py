"""Cached, sorted and filtered listings, and page-number paging, for the simulated CI
and orchestration APIs (GitHub, GitLab, Airflow, Prefect).

Each account's listing for one query (filters and order) is sorted once per
version of its runs, so paging through 10,000 runs sorts them once, not once
per page.  :func:`link_header` writes the RFC 8288 ``Link`` header GitHub and
GitLab send with page-number paging.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from yarl import URL

from watcher.simulator.accounts import Account
from watcher.simulator.listing import CACHED
from watcher.simulator.world import SimRun


class Ordered:
    """One vendor's listings, per account and query, valid while its runs do not change."""

    def __init__(self) -> None:
        self._cache: dict[Hashable, tuple[int, list[SimRun]]] = {}

    def get(self, account: Account, query: Hashable, keep: Callable[[SimRun], bool] | None,
            key: Callable[[SimRun], Any], *, reverse: bool = False) -> list[SimRun]:
        """``account``'s runs that pass ``keep``, sorted by ``key``; ``query`` names both."""
        ck = (account.name, query)
        hit = self._cache.get(ck)
        if hit is not None and hit[0] == account.version:
            return hit[1]
        runs = account.runs.values()
        out = sorted(runs if keep is None else filter(keep, runs), key=key, reverse=reverse)
        if len(self._cache) > CACHED:
            self._cache.clear()
        self._cache[ck] = (account.version, out)
        return out


def page_count(total: int, size: int) -> int:
    return max(1, -(-total // size))


def link_header(url: URL, page: int, last: int, param: str = "page") -> str:
    """``<...page=2>; rel="next", ...`` for page ``page`` of ``last``."""
    def at(n: int) -> str:
        return f'<{url.update_query({param: str(n)})}>'
    rels = []
    if page > 1:
        rels += [f'{at(page - 1)}; rel="prev"', f'{at(1)}; rel="first"']
    if page < last:
        rels += [f'{at(page + 1)}; rel="next"', f'{at(last)}; rel="last"']
    return ", ".join(rels)


def int_param(q: Any, name: str, default: int) -> int | None:
    """A whole-number query parameter (``default`` when absent), or None when not a number."""
    raw = q.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        return None
