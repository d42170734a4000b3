"""Evaluating health rules: journal entries and the passing of time become episodes.

:func:`evaluate` takes the rules, their tracks (:mod:`watcher.core.rules`) and
a batch of journal entries, and returns a :class:`Decision`: the
``watcher.workflow.degraded`` / ``.recovered`` events and the tracks that
changed, for the caller to commit together with its journal cursor.  The
tracks it is given are never modified, so a commit that fails leaves the
caller's state as it was and the same batch can simply be evaluated again.

Every decision happens at an *instant*: an entry's journal time, or a
deadline the state implies (the oldest run leaving the window, a period
without success running out), never whenever the caller got round to it.
Deadlines that fall before an entry are settled first, and with ``now`` every
deadline up to it.  An episode's events are named after the rule, the
source, the workflow and the instant the episode began, so evaluating the
same entries from the same committed state again (after a crash, on another
replica) decides the same things with the same ids.  Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from watcher.core.events import (
    RUN_CREATED,
    RUN_STATUS_CHANGED,
    RUN_STUCK,
    WORKFLOW_DEGRADED,
    WORKFLOW_RECOVERED,
)
from watcher.core.rules import (
    ACROSS,
    FAILURE_RATE,
    MAX_OUTCOMES,
    NAMESPACE,
    NO_SUCCESS,
    STUCK_COUNT,
    Key,
    Rule,
    Track,
    episode_event,
    provider_of,
    record_key,
    run_key,
    sample_of,
)
from watcher.model import TERMINAL, Event, JournalEntry

_RUN_TYPES = frozenset({RUN_CREATED, RUN_STATUS_CHANGED, RUN_STUCK})


@dataclass
class Decision:
    """What one evaluation decided: events to journal, tracks to store."""

    events: list[Event] = field(default_factory=list)
    #: tracks that changed; ``None``: the track is gone (its record deleted)
    changed: dict[Key, Track | None] = field(default_factory=dict)

    def records(self) -> dict[tuple[str, str], bytes | None]:
        """The changed tracks as store records."""
        return {(NAMESPACE, record_key(k)): (t.to_bytes() if t is not None else None)
                for k, t in self.changed.items()}

    def apply(self, tracks: dict[Key, Track]) -> None:
        """Take the decision into ``tracks`` (once it is committed)."""
        for key, track in self.changed.items():
            if track is None:
                tracks.pop(key, None)
            else:
                tracks[key] = track


def evaluate(rules: Sequence[Rule], tracks: Mapping[Key, Track],
             entries: Iterable[JournalEntry], *, now: float | None = None) -> Decision:
    """Apply ``entries`` (in journal order) and, with ``now``, every deadline up to it."""
    p = _Pass(rules, tracks)
    for e in entries:
        p.entry(e)
    if now is not None:
        p.until(now)
    return p.decision()


def retire(rules: Sequence[Rule], tracks: Mapping[Key, Track], now: float) -> Decision:
    """Tracks of a rule no longer configured, or now of another kind or scope, go; an
    episode they had open ends with ``workflow.recovered`` (``reason`` says why), so
    nobody is left paged for a rule that no longer exists."""
    by_name = {r.name: r for r in rules}
    out = Decision()
    for key, track in tracks.items():
        rule = by_name.get(key[0])
        if (rule is not None and rule.kind == track.kind
                and (key[1] == ACROSS) == rule.across_sources):
            continue
        if track.episode is not None:
            why = "rule removed" if rule is None else "rule changed"
            out.events.append(episode_event(WORKFLOW_RECOVERED, key, None, track, max(now, track.at),
                                     {"reason": why}))
        out.changed[key] = None
    return out


def due(rule: Rule, track: Track) -> float | None:
    """The next instant at which time alone may change what ``rule`` says of ``track``."""
    if rule.kind == FAILURE_RATE:
        return track.outcomes[0][0] + rule.window if track.outcomes else None
    if (rule.kind == NO_SUCCESS and track.episode is None and track.anchor is not None
            and track.streak >= rule.min_finished):
        return track.anchor + rule.threshold
    return None


def next_deadline(rules: Sequence[Rule], tracks: Mapping[Key, Track]) -> float | None:
    """The soonest :func:`due` of every track, or ``None`` when only entries can change
    anything."""
    by_name = {r.name: r for r in rules}
    times = [d for key, track in tracks.items()
             if (rule := by_name.get(key[0])) is not None and rule.kind == track.kind
             and (d := due(rule, track)) is not None]
    return min(times, default=None)


@dataclass
class _Pass:
    """One evaluation: copies of the tracks it touches, and the events it makes."""

    rules: Sequence[Rule]
    tracks: Mapping[Key, Track]
    work: dict[Key, Track] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    def get(self, key: Key) -> Track | None:
        track = self.work.get(key)
        if track is None and (old := self.tracks.get(key)) is not None:
            track = self.work[key] = old.copy()
        return track

    def entry(self, e: JournalEntry) -> None:
        if e.type not in _RUN_TYPES:
            return
        for rule in self.rules:
            key = rule.key(e.source, e.workflow_id, e.workflow_name)
            if key is None:
                continue
            if rule.kind == STUCK_COUNT and e.type != RUN_STUCK:
                self.unstick(key, rule, e)  # whatever the match: the run moved on
            elif _counts(rule, e) and rule.match(e):
                track = self.get(key) or self.work.setdefault(key, _new(rule, key, e))
                if not rule.across_sources:
                    track.workflow_name = e.workflow_name or track.workflow_name
                t = self.catch_up(key, rule, track, e.time)
                _APPLY[rule.kind](self, key, rule, track, e, t)

    def catch_up(self, key: Key, rule: Rule, track: Track, t: float) -> float:
        """Settle the track's deadlines up to ``t``; the instant of ``t`` in the track
        (never before one already evaluated)."""
        t = max(t, track.at)
        while (d := due(rule, track)) is not None and d <= t:
            self.judge(key, rule, track, d)
        track.at = t
        return t

    def until(self, now: float) -> None:
        for rule in self.rules:
            for key in [k for k in {*self.tracks, *self.work} if k[0] == rule.name]:
                current = self.work.get(key) or self.tracks[key]
                d = due(rule, current) if current.kind == rule.kind else None
                if d is not None and d <= now:
                    track = self.get(key)
                    assert track is not None
                    self.catch_up(key, rule, track, now)

    def judge(self, key: Key, rule: Rule, track: Track, t: float) -> None:
        """Open or close the episode as the figures at ``t`` say."""
        track.at = max(track.at, t)
        if rule.kind == FAILURE_RATE:
            _expire(track, rule, t)
        above, below = _verdict(rule, track, t)
        if track.episode is None and above:
            track.episode = t
            self.events.append(episode_event(WORKFLOW_DEGRADED, key, rule, track, t))
        elif track.episode is not None and below:
            self.close(key, rule, track, t)

    def close(self, key: Key, rule: Rule, track: Track, t: float) -> None:
        self.events.append(episode_event(WORKFLOW_RECOVERED, key, rule, track, t))
        track.episode = None

    def unstick(self, key: Key, rule: Rule, e: JournalEntry) -> None:
        known = self.work.get(key) or self.tracks.get(key)
        run = run_key(e)
        if known is None or run not in known.stuck:
            return
        track = self.get(key)
        assert track is not None
        t = self.catch_up(key, rule, track, e.time)
        del track.stuck[run]
        track.forget(run)
        self.judge(key, rule, track, t)

    def decision(self) -> Decision:
        changed: dict[Key, Track | None] = {}
        for key, track in self.work.items():
            if not track.empty:
                changed[key] = track
            elif key in self.tracks:
                changed[key] = None
        events = sorted(self.events, key=lambda ev: ev.time)  # stable: ties keep their order
        return Decision(events, changed)


def _new(rule: Rule, key: Key, e: JournalEntry) -> Track:
    track = Track(rule.kind, key[1], e.workflow_id, e.workflow_name)
    if not rule.across_sources:  # read once per workflow, not per run
        track.provider = provider_of(e)
    return track


def _counts(rule: Rule, e: JournalEntry) -> bool:
    """Is ``e`` something this kind of rule counts (before its ``match``)?"""
    if rule.kind == STUCK_COUNT:
        return e.type == RUN_STUCK
    return e.type != RUN_STUCK and e.status in TERMINAL


def _rate(p: _Pass, key: Key, rule: Rule, track: Track, e: JournalEntry, t: float) -> None:
    run = run_key(e)
    failed = e.status in rule.failed
    # a run that finished again (retried) counts once, as it ended last
    track.outcomes = [o for o in track.outcomes if o[2] != run]
    track.outcomes.append([t, failed, run])
    del track.outcomes[:-MAX_OUTCOMES]
    if failed:
        track.sample(sample_of(e, t))
    else:
        track.forget(run)
    p.judge(key, rule, track, t)


def _no_success(p: _Pass, key: Key, rule: Rule, track: Track, e: JournalEntry,
                t: float) -> None:
    if e.status == "succeeded":
        if track.episode is not None:
            p.close(key, rule, track, t)
        track.anchor, track.streak, track.succeeded, track.samples = t, 0, True, []
        return
    if track.anchor is None:
        track.anchor = t
    track.streak += 1
    track.sample(sample_of(e, t))
    p.judge(key, rule, track, t)


def _stuck(p: _Pass, key: Key, rule: Rule, track: Track, e: JournalEntry, t: float) -> None:
    track.stuck[run_key(e)] = t
    track.sample(sample_of(e, t))
    p.judge(key, rule, track, t)


_APPLY = {FAILURE_RATE: _rate, NO_SUCCESS: _no_success, STUCK_COUNT: _stuck}


def _expire(track: Track, rule: Rule, t: float) -> None:
    """Runs that finished a whole window before ``t`` leave it (as :func:`due` says)."""
    out = track.outcomes
    n = 0
    while n < len(out) and out[n][0] + rule.window <= t:
        n += 1
    del out[:n]
    track.samples = [s for s in track.samples if s["at"] + rule.window > t]


def _verdict(rule: Rule, track: Track, t: float) -> tuple[bool, bool]:
    """``(above, below)``: whether an episode begins, and whether an open one ends."""
    if rule.kind == FAILURE_RATE:
        n = len(track.outcomes)
        rate = sum(1 for o in track.outcomes if o[1]) / n if n else 0.0
        return n >= rule.min_finished and rate > rule.threshold, rate <= rule.recover_below
    if rule.kind == NO_SUCCESS:
        # the same sum as due(), so the deadline it names always opens the episode
        above = (track.anchor is not None and t >= track.anchor + rule.threshold
                 and track.streak >= rule.min_finished)
        return above, False  # only a success ends it
    count = len(track.stuck)
    return count > rule.threshold, count <= rule.recover_below
