"""The diff: last known state + one poll's observations -> events and state changes.

Pure: no I/O, no clock reads (``now`` is a parameter), no logging, and it never
mutates the state it is given.  It returns a :class:`Changeset` that the
poller commits to the journal together with its events in one transaction
and only then applies to memory, so a failed commit leaves state untouched
and the next poll reproduces the same events with the same ids.

Rules (the event contract of docs/events.md, the README's Guarantees):

* absence from a poll is never a transition (runs are only ever *seen*);
* a run seen twice in one poll counts once: the newer version wins, and
  without versions a terminal status wins over a live one, else the later read;
* a run seen for the first time gets ``run.created`` (silent in a ``silent``
  baseline), whatever its status; a terminal run last changed before the
  retention horizon is treated as already forgotten rather than new;
* a change of canonical status gets ``run.status_changed``; a new version
  stamp or raw value with the same canonical status is recorded silently
  (for live runs: a terminal run keeps no version, see below);
* a live run that stays in one status past ``stuck_after`` gets ``run.stuck``
  once per episode (a new status starts a new episode), baseline included;
* a poll's transitions come out oldest change first (vendors list newest
  first), then its stuck events;
* a run whose item ``describe`` refuses (:class:`~watcher.model.SkipItem`) is
  left as it was; a version stamp that is no short string counts as none.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from watcher.core.baseline import settle_page
from watcher.core.events import RUN_CREATED, RUN_STATUS_CHANGED, RUN_STUCK, run_event
from watcher.core.timestamps import parse_ts
from watcher.model import (
    MAX_RUN_ID,
    TERMINAL,
    Event,
    Observation,
    RunDetails,
    RunState,
    Settled,
    SkipItem,
    Status,
    Tracked,
)

Describe = Callable[[Any], RunDetails]
#: the vendor time of an item's last change, without describing it (cheap)
ChangedAt = Callable[[Any], "float | None"]
#: a transition's sort key: when the run changed, then the order it was met in
_BY_TIME = itemgetter(0, 1)

#: raw statuses shared by every run holding them (a parsed string per run would cost
#: ~60 bytes each across a million tracked runs)
_RAW: dict[str, str] = {}
#: a version stamp longer than this is no stamp (timestamps are ~30 characters)
MAX_VERSION = 128


def _stamp(version: Any) -> str | None:
    """The version as kept and hashed into event ids: a short string, else none.

    Checked here, where a run changes, rather than per item in the hot loop.
    """
    return version if isinstance(version, str) and len(version) <= MAX_VERSION else None


@dataclass(slots=True, kw_only=True)
class Policy:
    """Per-source settings the diff needs."""

    source: str
    provider: str
    stuck_after: float | None = None
    #: terminal runs last changed longer ago than this are forgotten
    horizon: float = 7 * 86400.0
    emit_baseline: bool = False


@dataclass(slots=True)
class Changeset:
    """What one poll changes: events to journal, run states to write."""

    events: list[Event]
    upserts: dict[str, Tracked]


class Session:
    """One poll's diff, fed page by page.

    Feeding each page as it arrives lets the page's parsed items be dropped
    once it is processed instead of holding a whole multi-page scan in memory.
    A run met again on a later page is resolved by the same rule as within a
    page (see :func:`_prefer`): its earlier outcome is replaced, never doubled.
    """

    def __init__(self, runs: Mapping[str, Tracked], live: Collection[str], *, now: float,
                 policy: Policy, describe: Describe, changed_at: ChangedAt,
                 baseline: bool = False, version_time: bool = False) -> None:
        self.runs = runs
        self.live = live
        self.now = now
        self.policy = policy
        self.describe = describe
        self.changed_at = changed_at
        self.emit_new = not baseline or policy.emit_baseline
        self.forget_before = now - policy.horizon
        self.upserts: dict[str, Tracked] = {}
        #: observations' versions are their change times (the silent baseline reads those)
        self.version_time = version_time
        #: run id -> (sort key, event): at most one transition per run per poll
        self._events: dict[str, tuple[float, int, Event]] = {}
        #: runs met on the pages fed so far, so one met again on a later page is resolved
        #: against what was made of it (its upsert, else its known state)
        self._seen: AbstractSet[str] | None = None

    def feed(self, observations: Iterable[Observation]) -> None:
        latest = _collapse(observations)
        seen = self._seen
        if seen is None:
            # The usual poll has one page: its collapsed dict's keys are the record, free.
            self._seen = latest.keys()
        else:
            if not isinstance(seen, set):  # a second page: ids only, the first page goes
                seen = self._seen = set(seen)
            for rid in latest.keys() & seen:
                used = self._used(rid)
                if used is not None and _prefer(used, latest[rid]) is used:
                    del latest[rid]  # the copy already used is the newer one
                else:
                    self.upserts.pop(rid, None)
                    self._events.pop(rid, None)
            seen.update(latest)
        self._observe(self._settle(latest.values()) if not self.emit_new else latest.values())

    def _used(self, rid: str) -> Observation | None:
        """The earlier page's copy of a run met again, as far as it is kept."""
        st = self.upserts.get(rid) or self.runs.get(rid)
        return None if st is None else (rid, st.raw_status, st.status, st.version, None)

    def _settle(self, observations: Collection[Observation]) -> list[Observation]:
        """A silent baseline's new finished runs: a :class:`Settled` each, from the time
        they changed, at the cost of a tuple (a first sync is mostly these); a page of
        them in bulk when nothing is known yet (:mod:`watcher.core.baseline`).  Returns
        the other observations, for :meth:`_observe`."""
        known, upserts, raws, terminal = self.runs, self.upserts, _RAW, TERMINAL
        if not known and self.version_time:
            page = list(observations)
            live = settle_page(page, upserts, floor=self.forget_before, raws=raws)
            if live is not None:
                return live
            observations = page
        by_version, changed_at, floor = self.version_time, self.changed_at, self.forget_before
        rest: list[Observation] = []
        for o in observations:
            rid, raw, status, version, item = o
            if status not in terminal or rid in known or not 0 < len(rid) <= MAX_RUN_ID:
                rest.append(o)
                continue
            try:
                at = parse_ts(version) if by_version else changed_at(item)
            except SkipItem:
                continue
            since = self.now if at is None else at
            if since >= floor:
                upserts[rid] = Settled((status, raws.setdefault(raw, raw), since))
        return rest

    def _observe(self, observations: Iterable[Observation]) -> None:
        upserts, events = self.upserts, self._events
        policy, now = self.policy, self.now
        known, terminal = self.runs.get, TERMINAL  # locals: this loop runs once per run
        for rid, raw, status, version, item in observations:
            st = known(rid)
            if st is not None and st.status is status:
                # The common case on a busy source: nothing new about this run.  A terminal
                # run never changes again, so its version stamp is not even kept (memory).
                if (st.version != version or st.raw_status != raw) and status not in terminal:
                    version = _stamp(version)
                    if st.version != version or st.raw_status != raw:
                        upserts[rid] = RunState(status, _RAW.setdefault(raw, raw), version,
                                                st.since, st.stuck, st.detail)
                continue
            live_now = status not in TERMINAL
            raw = _RAW.setdefault(raw, raw)
            version = _stamp(version)
            kept = version if live_now else None
            try:
                if st is None and not live_now and not self.emit_new:
                    # a silent baseline of a finished run needs nothing but when it changed
                    at = self.changed_at(item)
                    since = at if at is not None else now
                    if since >= self.forget_before:
                        upserts[rid] = Settled((status, raw, since))
                    continue
                details = self.describe(item)
            except SkipItem:
                continue
            since = details.changed_at if details.changed_at is not None else now
            if st is None and not live_now and since < self.forget_before:
                continue
            upserts[rid] = RunState(status, raw, kept, since, False, details) if live_now \
                else Settled((status, raw, since))
            if st is None and not self.emit_new:
                continue
            events[rid] = (since, len(events), run_event(
                RUN_CREATED if st is None else RUN_STATUS_CHANGED, source=policy.source,
                provider=policy.provider, run_id=rid, status=status, raw_status=raw,
                previous=None if st is None else (st.status, st.raw_status), details=details,
                now=now, id_key=version if version is not None else "" if st is None else st.since))

    def finish(self) -> Changeset:
        out = Changeset([e for _, _, e in sorted(self._events.values(), key=_BY_TIME)],
                        self.upserts)
        if self.policy.stuck_after is not None:
            _stuck(self.runs, self.live, out, now=self.now, policy=self.policy,
                   stuck_after=self.policy.stuck_after)
        return out


def expired(runs: Mapping[str, Tracked], *, now: float, horizon: float) -> list[str]:
    """Terminal runs whose last change is older than ``horizon``: safe to forget."""
    before = now - horizon
    return [rid for rid, st in runs.items() if st.since < before and st.status in TERMINAL]


def _collapse(observations: Iterable[Observation]) -> dict[str, Observation]:
    obs = observations if isinstance(observations, list) else list(observations)
    latest = {o[0]: o for o in obs}
    if len(latest) == len(obs):
        return latest
    # Rare: the same run on two pages (offset paging shifting under inserts).
    latest = {}
    for o in obs:
        seen = latest.get(o[0])
        latest[o[0]] = o if seen is None else _prefer(seen, o)
    return latest


def _prefer(first: Observation, later: Observation) -> Observation:
    a, b = first[3], later[3]
    if a is not None and b is not None and a != b:
        ta, tb = parse_ts(a), parse_ts(b)
        if ta is not None and tb is not None:
            return first if ta > tb else later
    if (first[2] in TERMINAL) != (later[2] in TERMINAL):
        # runs never leave a terminal status, so the terminal copy is the newer one
        return first if first[2] in TERMINAL else later
    return later


def _stuck(runs: Mapping[str, Tracked], live: Collection[str], out: Changeset, *,
           now: float, policy: Policy, stuck_after: float) -> None:
    upserts = out.upserts
    candidates = set(live)
    candidates.update(upserts)
    for rid in candidates:
        st = upserts.get(rid) or runs.get(rid)
        if (st is None or st.stuck or st.status in TERMINAL or st.status is Status.UNKNOWN
                or now - st.since < stuck_after):
            continue
        upserts[rid] = RunState(st.status, st.raw_status, st.version, st.since, True, st.detail)
        out.events.append(run_event(
            RUN_STUCK, source=policy.source, provider=policy.provider, run_id=rid,
            status=st.status, raw_status=st.raw_status, previous=None, details=st.detail,
            now=now, id_key=st.since, extra={"stuck_for_s": int(now - st.since)}))
