"""A first sync's finished runs, a page at a time in bulk: the floor of a first sync.

A silent baseline of a source with nothing known yet needs, for a finished run,
only its status and when it got there (:class:`~watcher.model.Settled`); when
the provider's version stamps are those times (Extend's ``updatedAt``), that is
a page of columns: every step below is a C-level pass over the page (parse the
stamps, check them, make the tuples, fill the dict), not a Python loop per run,
so a hundred thousand runs cost what parsing their timestamps costs.

Anything unusual on a page (a stamp that is no aware RFC 3339 time, an id out of
bounds, a run older than the horizon) sends the whole page to the careful path
instead: :func:`settle_page` then returns ``None`` and settles nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import compress
from operator import attrgetter

from watcher.core.timestamps import FIRST, LAST
from watcher.model import MAX_RUN_ID, TERMINAL, Observation, Settled, Status, Tracked

_finished = TERMINAL.__contains__
_fromisoformat = datetime.fromisoformat
_timestamp = datetime.timestamp
_tzinfo = attrgetter("tzinfo")


def settle_page(observations: Sequence[Observation], into: dict[str, Tracked], *,
                floor: float, raws: dict[str, str]) -> list[Observation] | None:
    """Put a :class:`Settled` for each finished run of the page ``into`` the upserts and
    return the page's other (live) observations; ``None`` when the page needs the careful
    path (nothing settled then).  ``floor``: runs that changed before it are forgotten
    (whole page to the careful path); ``raws``: the shared raw status strings."""
    if not observations:
        return []
    rids, raw, statuses, versions, _ = zip(*observations, strict=True)
    done = list(map(_finished, statuses))
    rest = [o for o, d in zip(observations, done, strict=True) if not d]
    if rest:
        rids, raw, statuses, versions = (tuple(compress(col, done))
                                         for col in (rids, raw, statuses, versions))
    if not rids:
        return rest
    return rest if _settle(rids, raw, statuses, versions, into, floor, raws) else None


def _settle(rids: Sequence[str], raw: Sequence[str], statuses: Sequence[Status],
            versions: Sequence[object], into: dict[str, Tracked], floor: float,
            raws: dict[str, str]) -> bool:
    lengths = list(map(len, rids))
    if min(lengths) == 0 or max(lengths) > MAX_RUN_ID:
        return False
    try:
        stamps = list(map(_fromisoformat, versions))  # type: ignore[arg-type]
        if None in map(_tzinfo, stamps):  # a naive time: the careful path assumes UTC
            return False
        times = list(map(_timestamp, stamps))
    except (TypeError, ValueError, OverflowError, OSError):
        return False
    if min(times) < max(floor, FIRST) or max(times) > LAST:
        return False
    shared = map(raws.setdefault, raw, raw)
    into.update(zip(rids, map(Settled, zip(statuses, shared, times, strict=True)),
                    strict=True))
    return True
