"""Reminders: while a source stays failing or a run stays stuck, say so again every
``repeat_interval``.

An *episode* opens with a ``watcher.source.failing`` or ``watcher.run.stuck``
event and closes with the source's ``watcher.source.recovered`` or any status
change of the run (it moved).  Each distinct ``repeat_interval`` of the sinks
has its own stream of reminders for an episode: the n-th is due ``n``
intervals after the episode opened (by the opening event's time), and is a
``watcher.source.reminder`` / ``watcher.run.reminder`` carrying the opening
event's data plus ``reminds`` (its type), ``episode_id`` (its id),
``reminder`` (n), ``repeat_interval_s`` and ``open_for_s``.  Its id is a hash of
the episode, the interval and n, so a replica or a restart that makes the
same reminder makes the same id.  After a long pause only the latest due
reminder is made, not every one missed.

Pure: time is a parameter; the runtime reads the journal and commits.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import orjson

from watcher.core.events import (
    RUN_REMINDER,
    RUN_STATUS_CHANGED,
    RUN_STUCK,
    SOURCE_FAILING,
    SOURCE_RECOVERED,
    SOURCE_REMINDER,
    event_id,
)
from watcher.core.incidents import run_incident, source_incident
from watcher.model import Event, JournalEntry


@dataclass(frozen=True)
class Episode:
    """A failing source or a stuck run, and the reminders made for it so far."""

    source: str
    #: the opening event's time
    start: float
    #: the opening event (CloudEvents JSON)
    event: dict[str, Any]
    #: interval (``f"{seconds:g}"``) -> the last reminder made
    sent: dict[str, int] = field(default_factory=dict)

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, raw: bytes) -> Episode:
        return cls(**orjson.loads(raw))


def episode_key(e: JournalEntry) -> str | None:
    """The episode an entry opens or closes: one per source, one per run."""
    if e.type in (SOURCE_FAILING, SOURCE_RECOVERED):
        return source_incident(e.source)
    if e.type in (RUN_STUCK, RUN_STATUS_CHANGED) and e.run_id is not None:
        return run_incident(e.source, e.run_id)
    return None


def take(episodes: dict[str, Episode], e: JournalEntry) -> str | None:
    """Apply one journal entry to ``episodes``; the key it changed, if any.  Applying
    the same entry twice changes nothing the second time."""
    key = episode_key(e)
    if key is None:
        return None
    if e.type in (SOURCE_FAILING, RUN_STUCK):
        current = episodes.get(key)
        if current is not None and current.event.get("id") == e.id:
            return None
        episodes[key] = Episode(e.source, e.time, orjson.loads(e.body))
        return key
    return key if episodes.pop(key, None) is not None else None


def _interval_key(interval: float) -> str:
    return f"{interval:g}"


#: a reminder due within this many seconds is due now (``start + n * interval``, summed
#: in floating point, may land a hair after the instant a wait for it ended)
EPSILON = 0.001


def due(ep: Episode, intervals: Collection[float], now: float) -> list[tuple[float, int]]:
    """``(interval, n)`` of each reminder due at ``now`` and not made yet."""
    out = []
    for interval in sorted(intervals):
        n = int((now - ep.start + EPSILON) // interval)
        if n >= 1 and n > ep.sent.get(_interval_key(interval), 0):
            out.append((interval, n))
    return out


def sent(ep: Episode, made: Collection[tuple[float, int]]) -> Episode:
    """``ep`` with these reminders made."""
    return replace(ep, sent={**ep.sent, **{_interval_key(i): n for i, n in made}})


def next_due(ep: Episode, intervals: Collection[float]) -> float | None:
    """When the next reminder of ``ep`` is due (None: no interval)."""
    return min((ep.start + (ep.sent.get(_interval_key(i), 0) + 1) * i for i in intervals),
               default=None)


def reminder(ep: Episode, interval: float, n: int, now: float) -> Event:
    """The ``n``-th reminder of ``ep`` for sinks reminded every ``interval`` seconds."""
    opened = ep.event
    kind = opened.get("type")
    data = dict(opened.get("data") or {})
    open_for = int(now - ep.start)
    data.update(reminds=kind, episode_id=opened.get("id"), reminder=n,
                repeat_interval_s=interval, open_for_s=open_for)
    stuck_for = data.get("stuck_for_s")
    if isinstance(stuck_for, int | float):
        data["stuck_for_s"] = int(stuck_for) + open_for
    return Event(id=event_id(opened.get("id"), "reminder", _interval_key(interval), n),
                 type=SOURCE_REMINDER if kind == SOURCE_FAILING else RUN_REMINDER,
                 source=ep.source, subject=str(opened.get("subject") or ep.source),
                 time=now, data=data)
