"""Workflow health rules: what a rule says, and what it remembers per workflow.

A :class:`Rule` (``[[rules]]`` in the config) watches the runs of each
workflow, per source or, with ``across_sources``, per workflow name across
every source, and says when that workflow is *degraded*:

- ``failure_rate_above``: over the sliding ``window``, at least
  ``min_finished`` runs finished (reached a terminal status) and more than the
  threshold of them failed (``failed``, and ``rejected``/``cancelled`` when the
  rule counts them);
- ``no_success_for``: no run succeeded for this long, while at least
  ``min_finished`` runs finished otherwise;
- ``stuck_count_above``: more than N runs are stuck at once.

Hysteresis, so a rate hovering at the threshold does not flap: an episode
begins when the figure goes *above* the threshold and ends only once it is
at or below ``recover_below`` (default: 0.8 x the threshold, rounded down for a
count).  ``no_success_for`` ends with the next success, and cannot begin
again before another full period without one.

What a rule remembers about one workflow is a :class:`Track`, kept in the
store as one record (namespace :data:`NAMESPACE`) so a restart or another
replica carries on with the same windows and the same open episode; what an
episode's events say is :func:`episode_event`.  The evaluation itself is
:mod:`watcher.core.episodes`.  Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from watcher.core.events import WORKFLOW_RECOVERED, data_of, event_id, parsed
from watcher.core.matching import ALL, Match
from watcher.core.timestamps import format_ts
from watcher.model import Event, JournalEntry

FAILURE_RATE = "failure_rate_above"
NO_SUCCESS = "no_success_for"
STUCK_COUNT = "stuck_count_above"
KINDS = (FAILURE_RATE, NO_SUCCESS, STUCK_COUNT)

#: the source of a rule that spans every source
ACROSS = "*"
#: sample runs an event carries
SAMPLES = 10
#: outcomes one workflow's window keeps at most (the oldest go first beyond it)
MAX_OUTCOMES = 10_000
#: store namespace of the tracks
NAMESPACE = "rules"
#: characters of a sample run's error kept
ERROR_MAX = 300

#: ``(rule, source or ACROSS, workflow)``: one track
Key = tuple[str, str, str]


@dataclass(frozen=True)
class Rule:
    """One ``[[rules]]`` entry, validated."""

    name: str
    kind: str
    #: the rate (0-1), the seconds without success, or the count of stuck runs
    threshold: float
    #: an episode ends once the rate or count is at or below this
    recover_below: float = 0.0
    #: the sliding window of ``failure_rate_above`` (seconds)
    window: float = 0.0
    min_finished: int = 1
    #: statuses counted as failed by ``failure_rate_above``
    failed: frozenset[str] = frozenset({"failed"})
    across_sources: bool = False
    #: which runs count (the keys of a sink's ``match``)
    match: Match = ALL

    def key(self, source: str, workflow_id: str | None, workflow_name: str | None) -> Key | None:
        """The track a run of this workflow belongs to; ``None`` for a run of no workflow."""
        if self.across_sources:
            workflow = workflow_name or workflow_id
            return (self.name, ACROSS, workflow) if workflow else None
        workflow = workflow_id or workflow_name
        return (self.name, source, workflow) if workflow else None


@dataclass(slots=True, eq=False)
class Track:
    """What one rule remembers about one workflow (of one source, or of all)."""

    kind: str
    source: str
    workflow_id: str | None = None
    workflow_name: str | None = None
    #: the source's provider (None across sources)
    provider: str | None = None
    #: the last instant evaluated: time never goes back within a track
    at: float = 0.0
    #: when the open episode began, else None
    episode: float | None = None
    #: failure_rate: ``[time, failed, run]`` of runs finished in the window, oldest first
    #: (``run``: :func:`run_key`)
    outcomes: list[list[Any]] = field(default_factory=list)
    #: no_success: since when no run succeeded (the last success, or the first finish
    #: seen), how many finished meanwhile, and whether the anchor is a success
    anchor: float | None = None
    streak: int = 0
    succeeded: bool = False
    #: stuck_count: run (:func:`run_key`) -> when it was reported stuck
    stuck: dict[str, float] = field(default_factory=dict)
    #: recent failed (or stuck) runs, oldest first, at most SAMPLES
    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing worth keeping: no open episode, no window, no stuck run, no anchor."""
        return (self.episode is None and not self.outcomes and not self.stuck
                and self.anchor is None)

    def copy(self) -> Track:
        return replace(self, outcomes=[list(o) for o in self.outcomes], stuck=dict(self.stuck),
                       samples=[dict(s) for s in self.samples])

    def sample(self, run: dict[str, Any]) -> None:
        """Keep ``run`` as the newest sample (replacing an older one of the same run)."""
        self.forget(f"{run['source']}/{run['run_id']}")
        self.samples.append(run)
        del self.samples[:-SAMPLES]

    def forget(self, run: str) -> None:
        """Drop the samples of ``run`` (a :func:`run_key`)."""
        self.samples = [s for s in self.samples if f"{s['source']}/{s['run_id']}" != run]

    def to_bytes(self) -> bytes:
        return orjson.dumps(self)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Track:
        d = orjson.loads(raw)
        return cls(**{name: d[name] for name in cls.__slots__ if name in d})


def run_key(e: JournalEntry) -> str:
    """One run among every source's: run ids are unique only within a vendor."""
    return f"{e.source}/{e.run_id}"


def record_key(key: Key) -> str:
    """A track's record key; rule and source names cannot hold ``/``, a workflow may."""
    return "/".join(key)


def load_tracks(records: dict[str, bytes]) -> dict[Key, Track]:
    """Tracks from the store's records; a record that cannot be read is left out (a rule
    then starts afresh for that workflow rather than never again)."""
    out: dict[Key, Track] = {}
    for text, raw in records.items():
        parts = text.split("/", 2)
        try:
            track = Track.from_bytes(raw)
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            continue
        if len(parts) == 3:
            out[parts[0], parts[1], parts[2]] = track
    return out


def provider_of(e: JournalEntry) -> str | None:
    p = data_of(parsed(e.body)).get("provider")
    return p if isinstance(p, str) else None


def sample_of(e: JournalEntry, t: float) -> dict[str, Any]:
    """A failed or stuck run as an event's ``samples`` list shows it."""
    d = data_of(parsed(e.body))
    error = d.get("error")
    return {"run_id": e.run_id, "source": e.source, "status": e.status,
            "error": str(error)[:ERROR_MAX] if error else None,
            "url": d.get("url") if isinstance(d.get("url"), str) else None, "at": t}


def _figures(rule: Rule, track: Track, t: float) -> dict[str, Any]:
    """The counts behind the verdict, as the event states them."""
    if rule.kind == FAILURE_RATE:
        n = len(track.outcomes)
        k = sum(1 for o in track.outcomes if o[1])
        return {"window_s": rule.window, "finished": n, "failed": k,
                "rate": round(k / n, 4) if n else 0.0, "threshold": rule.threshold,
                "recover_below": rule.recover_below, "min_finished": rule.min_finished}
    if rule.kind == NO_SUCCESS:
        anchor = track.anchor if track.anchor is not None else t
        return {"window_s": rule.threshold, "finished": track.streak, "failed": track.streak,
                "without_success_s": round(t - anchor, 3),
                "last_success_at": format_ts(anchor) if track.succeeded else None,
                "threshold": rule.threshold, "min_finished": rule.min_finished}
    return {"stuck": len(track.stuck), "threshold": rule.threshold,
            "recover_below": rule.recover_below}


def episode_event(type_: str, key: Key, rule: Rule | None, track: Track, t: float,
                  extra: dict[str, Any] | None = None) -> Event:
    """``workflow.degraded`` / ``.recovered`` of ``track``'s episode, as of ``t``; its id
    names the rule, source, workflow and the instant the episode began."""
    started = track.episode if track.episode is not None else t
    data: dict[str, Any] = {
        "rule": key[0], "kind": track.kind, "source": None if key[1] == ACROSS else key[1],
        "provider": track.provider, "workflow_id": track.workflow_id, "workflow_name": track.workflow_name,
        **(_figures(rule, track, t) if rule is not None else {}),
        "episode_started_at": format_ts(started),
    }
    if type_ == WORKFLOW_RECOVERED:
        data["degraded_for_s"] = round(t - started, 3)
    data["samples"] = [{**{k: v for k, v in s.items() if k != "at"}, "time": format_ts(s["at"])}
                       for s in track.samples]
    data.update(extra or {})
    return Event(id=event_id("rule", *key, type_, started), type=type_, source=key[1],
                 subject=key[2], time=t, data=data)
