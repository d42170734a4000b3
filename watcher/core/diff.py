"""The diff: last known state + one poll's observations -> events and state changes.

Pure: no I/O, no clock reads (``now`` is a parameter), no logging, and it never
mutates the state it is given.  It returns a :class:`Changeset` that the
poller commits to the journal together with its events in one transaction
and only then applies to memory, so a failed commit leaves state untouched
and the next poll reproduces the same events with the same ids.

Rules, following SPEC §3-§5:

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
from typing import Any

from watcher.core.events import RUN_CREATED, RUN_STATUS_CHANGED, RUN_STUCK, run_event
from watcher.core.timestamps import parse_ts
from watcher.model import TERMINAL, Event, Observation, RunDetails, RunState, SkipItem, Status

Describe = Callable[[Any], RunDetails]
#: the vendor time of an item's last change, without describing it (cheap)
ChangedAt = Callable[[Any], "float | None"]

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


class Policy:
    """Per-source settings the diff needs."""

    __slots__ = ("emit_baseline", "horizon", "provider", "source", "stuck_after")

    def __init__(self, *, source: str, provider: str, stuck_after: float | None = None,
                 horizon: float = 7 * 86400.0, emit_baseline: bool = False) -> None:
        self.source = source
        self.provider = provider
        self.stuck_after = stuck_after
        #: terminal runs last changed longer ago than this are forgotten
        self.horizon = horizon
        self.emit_baseline = emit_baseline


class Changeset:
    """What one poll changes: events to journal, run states to write."""

    __slots__ = ("events", "upserts")

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.upserts: dict[str, RunState] = {}


class Session:
    """One poll's diff, fed page by page.

    Feeding each page as it arrives lets the page's parsed items be dropped
    once it is processed instead of holding a whole multi-page scan in memory.
    A run met again on a later page is resolved by the same rule as within a
    page (see :func:`_prefer`): its earlier outcome is replaced, never doubled.
    """

    def __init__(self, runs: Mapping[str, RunState], live: Collection[str], *, now: float,
                 policy: Policy, describe: Describe, changed_at: ChangedAt | None = None,
                 baseline: bool = False) -> None:
        self.runs = runs
        self.live = live
        self.now = now
        self.policy = policy
        self.describe = describe
        self.changed_at = changed_at or (lambda item: describe(item).changed_at)
        self.emit_new = not baseline or policy.emit_baseline
        self.forget_before = now - policy.horizon
        self.upserts: dict[str, RunState] = {}
        #: run id -> (sort key, event): at most one transition per run per poll
        self._events: dict[str, tuple[float, int, Event]] = {}
        #: run id -> the observation used (item dropped after the first page), so a run
        #: met again on a later page can be resolved
        self._seen: dict[str, Observation] | None = None

    def feed(self, observations: Iterable[Observation]) -> None:
        latest = _collapse(observations)
        seen = self._seen
        if seen is None:
            # The usual poll has one page: its collapsed dict is the record, at no cost.
            self._seen = latest
        else:
            for rid in [r for r in latest if r in seen]:
                used = seen[rid]
                if _prefer(used, latest[rid]) is used:
                    del latest[rid]  # the copy already used is the newer one
                else:
                    self.upserts.pop(rid, None)
                    self._events.pop(rid, None)
            # later pages keep no items alive: a long scan holds one page at a time
            for o in latest.values():
                seen[o[0]] = (o[0], o[1], o[2], o[3], None)
        self._observe(latest.values())

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
                        upserts[rid] = RunState(status, raw, None, since)
                    continue
                details = self.describe(item)
            except SkipItem:
                continue
            since = details.changed_at if details.changed_at is not None else now
            if st is None:
                if not live_now and since < self.forget_before:
                    continue
                upserts[rid] = RunState(status, raw, kept, since, False,
                                        details if live_now else None)
                if self.emit_new:
                    events[rid] = (since, len(events), run_event(
                        RUN_CREATED, source=policy.source, provider=policy.provider, run_id=rid,
                        status=status, raw_status=raw, previous=None, details=details,
                        now=now, id_key=version or ""))
                continue
            upserts[rid] = RunState(status, raw, kept, since, False,
                                    details if live_now else None)
            events[rid] = (since, len(events), run_event(
                RUN_STATUS_CHANGED, source=policy.source, provider=policy.provider, run_id=rid,
                status=status, raw_status=raw, previous=(st.status, st.raw_status),
                details=details, now=now, id_key=version if version is not None else st.since))

    def finish(self) -> Changeset:
        out = Changeset()
        out.upserts = self.upserts
        out.events = [e for _, _, e in sorted(self._events.values(), key=_by_time)]
        if self.policy.stuck_after is not None:
            _stuck(self.runs, self.live, out, now=self.now, policy=self.policy,
                   stuck_after=self.policy.stuck_after)
        return out


def _by_time(entry: tuple[float, int, Event]) -> tuple[float, int]:
    return entry[0], entry[1]


def diff(runs: Mapping[str, RunState], live: Collection[str],
         observations: Iterable[Observation], *, now: float, policy: Policy,
         describe: Describe, changed_at: ChangedAt | None = None,
         baseline: bool = False) -> Changeset:
    """Compare one poll's observations with the known ``runs`` (``live`` = non-terminal ids)."""
    session = Session(runs, live, now=now, policy=policy, describe=describe,
                      changed_at=changed_at, baseline=baseline)
    session.feed(observations)
    return session.finish()


def expired(runs: Mapping[str, RunState], *, now: float, horizon: float) -> list[str]:
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


def _stuck(runs: Mapping[str, RunState], live: Collection[str], out: Changeset, *,
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
