"""Cached, sorted and filtered listings, and the paging helpers, of the simulated APIs.

Each account's listing for one query (filters and order) is sorted once per
version of its runs, so paging through 10,000 runs sorts them once, not once
per page.  :func:`links` writes the RFC 8288 ``Link`` header GitHub and
GitLab send with page-number paging.

Noxus, Cortex and Knock document no order for their run listings; the
simulator picks the likely one, newest ``created`` first (ties: higher id
first), so that a provider trusting it blindly would look right and only its
own order check can tell otherwise (see the ``reorder`` fault).

How runs move in such a listing: ``created`` never changes, so a run only
changes place when runs *before* it come or go.  An insert slides everything
down one place (the next page repeats a run: a duplicate); a deletion slides
everything up one place (the first run of the next page lands on the page the
reader already has and is skipped).  :meth:`Listings.drop_before` is that
deletion, which is what the ``shift`` fault does for these vendors: it is the
realistic way a run "moves to an earlier page" between two page requests.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from yarl import URL

from watcher.core.timestamps import parse_ts
from watcher.simulator.accounts import Account
from watcher.simulator.world import SimRun, World

#: cached listings kept at most (a thousand accounts polled in turn each keep theirs)
CACHED = 4096


def created(run: SimRun) -> tuple[float, str]:
    return (run.created, run.id)


class Listings:
    """One vendor's listings, per account and query, valid while its runs do not change."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._cache: dict[Hashable, tuple[int, list[SimRun]]] = {}
        #: the listing most recently served, for :meth:`drop_before`
        self.last: list[SimRun] = []

    def get(self, account: Account, query: Hashable, keep: Callable[[SimRun], bool] | None,
            key: Callable[[SimRun], Any], *, reverse: bool = False) -> list[SimRun]:
        """``account``'s runs that pass ``keep``, sorted by ``key``; ``query`` names both."""
        ck = (account.name, query)
        hit = self._cache.get(ck)
        if hit is not None and hit[0] == account.version:
            self.last = hit[1]
            return hit[1]
        runs = account.runs.values()
        out = sorted(runs if keep is None else filter(keep, runs), key=key, reverse=reverse)
        if len(self._cache) > CACHED:
            self._cache.clear()
        self._cache[ck] = (account.version, out)
        self.last = out
        return out

    def newest_first(self, account: Account, query: Hashable,
                     keep: Callable[[SimRun], bool] | None = None) -> list[SimRun]:
        return self.get(account, query, keep, created, reverse=True)

    def drop_before(self, run: SimRun) -> None:
        """Delete the run listed just before ``run`` (so ``run`` moves up one place)."""
        try:
            i = self.last.index(run)
        except ValueError:
            return
        if i > 0:
            self.world.delete(self.last[i - 1])


#: a listing's filters: query parameter -> whether a run passes with the parameter's value
#: (a time bound's value is the time it names)
Filters = dict[str, Callable[[SimRun, Any], bool]]
#: the filters a query sets, as (name, value), and whether a run passes them all
Asked = tuple[tuple[tuple[str, Any], ...], Callable[[SimRun], bool]]


def matching(table: Filters, filters: tuple[tuple[str, Any], ...]) -> Callable[[SimRun], bool]:
    """A ``keep`` for :meth:`Listings.get`: every one of ``filters`` (name, value) holds."""
    return lambda run: all(table[name](run, value) for name, value in filters)


def asked(q: Any, table: Filters) -> Asked:
    """The filters of ``table`` the query sets (an empty value is unset)."""
    filters = tuple((name, q[name]) for name in table if q.get(name))
    return filters, matching(table, filters)


def times(q: Any, table: Filters) -> Asked | str:
    """The time bounds of ``table`` the query sets, or the name of the first that is no time."""
    given, _ = asked(q, table)
    bounds = []
    for name, raw in given:
        if (t := parse_ts(raw)) is None:
            return name
        bounds.append((name, t))
    return tuple(bounds), matching(table, tuple(bounds))


def serial(run: SimRun) -> int:
    """A GitHub or GitLab run's serial id (0 for an id a test chose freely)."""
    return int(run.id) if run.id.isdigit() else 0


class Desc:
    """Sorts its value in reverse inside an ascending sort key."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v

    def __lt__(self, other: Desc) -> bool:
        return bool(other.v < self.v)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Desc) and bool(self.v == other.v)


def page_count(total: int, size: int) -> int:
    return max(1, -(-total // size))


def numbered(q: Any, per_page: int) -> tuple[int, int] | str:
    """Page-number paging, as GitHub and GitLab take it: ``per_page`` (1-100, default
    ``per_page``) and ``page`` (from 1), or the name of the one that is not a number."""
    size, page = int_param(q, "per_page", per_page), int_param(q, "page", 1)
    if size is None:
        return "per_page"
    if page is None:
        return "page"
    return min(max(size, 1), 100), max(page, 1)


def links(url: URL, page: int, last: int) -> dict[str, str]:
    """``Link: <...page=2>; rel="next", ...`` for page ``page`` of ``last`` (none for one page)."""
    def at(n: int) -> str:
        return f'<{url.update_query({"page": str(n)})}>'
    rels = []
    if page > 1:
        rels += [f'{at(page - 1)}; rel="prev"', f'{at(1)}; rel="first"']
    if page < last:
        rels += [f'{at(page + 1)}; rel="next"', f'{at(last)}; rel="last"']
    return {"Link": ", ".join(rels)} if rels else {}


def int_param(q: Any, name: str, default: int) -> int | None:
    """A whole-number query parameter (``default`` when absent), or None when not a number."""
    raw = q.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        return None
