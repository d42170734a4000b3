"""The poller: one source's cadence, its failure policy, and the commit of each cycle.

A cycle is: provider.poll -> diff -> (enrich) -> journal.commit -> apply to memory.
Nothing reaches memory before the commit succeeded, so a failed poll, a discarded
payload or a full disk leaves state exactly as it was and the next cycle reproduces
the same events with the same ids.

Cadence is drift-free (the next poll is due ``interval`` after the last was due).  Each
source starts at a random phase within its interval: sources of one vendor share its
rate limit, and a hundred of them firing together would queue behind it for seconds.
Errors back off from ``interval`` doubling to ``max_backoff`` with jitter, never sooner
than a vendor's ``Retry-After``.  A source is *failing* after ``failure_threshold``
failed polls in a row (the event, the metric, ``/status`` and ``STATUS=`` agree); fewer
are a retry.  A cycle that ends in an unexpected exception (a bug, a plugin) is a
failed poll of kind ``internal``, logged once with its traceback by the source's
:class:`~watcher.runtime.supervisor.Boundary`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

import anyio
import structlog

from watcher.config.settings import SourceConfig
from watcher.core.backoff import Backoff
from watcher.core.diff import Changeset, Policy, Session, expired
from watcher.core.status import PollStats, SourceStatus, source_health
from watcher.errors import (
    Fenced,
    InternalError,
    PollError,
    ProviderError,
    RateLimited,
    StoreError,
)
from watcher.infra.clock import Clock
from watcher.model import Event, Tracked
from watcher.providers.base import PollView, Provider
from watcher.runtime import poll_health, progress
from watcher.runtime.claim import Claim
from watcher.runtime.push import PushDesk, PushIntake
from watcher.runtime.supervisor import Boundary
from watcher.runtime.tracking import SourceState as SourceState
from watcher.state.journal import Journal
from watcher.state.store import SourceRow

#: how often terminal runs past the retention horizon are forgotten
PRUNE_EVERY = 600.0

class Poller:
    def __init__(self, config: SourceConfig, provider: Provider, state: SourceState,
                 journal: Journal, *, retention: float, emit_baseline: bool,
                 clock: Clock, claim: Claim | None = None,
                 phase: float | None = None, push: PushDesk | None = None) -> None:
        self.config = config
        #: its lease (None: no other replica) and the wait before the first poll (None: random)
        self.claim, self.phase = claim, phase
        self.provider = provider
        self.state = state
        self.journal = journal
        self.clock = clock
        self.policy = Policy(source=config.name, provider=config.provider,
                             stuck_after=config.stuck_after,
                             horizon=max(retention, config.lookback), emit_baseline=emit_baseline)
        #: a diff of the source's state (runs, live, now=...), fed by a poll or by pushes
        self.diff = partial(Session, policy=self.policy, describe=provider.describe,
                            changed_at=provider.changed_at,
                            version_time=getattr(provider, "versions_are_times", False))
        self.stats = PollStats(health_since=clock())
        #: set at the first successful poll (the baseline, for a new source)
        self.watching = anyio.Event()
        self.log = structlog.get_logger("watcher.poller").bind(source=config.name)
        self._backoff = Backoff(config.interval, config.max_backoff, rng=clock.random)
        self.boundary = Boundary(f"source:{config.name}")
        self._retry_after: float | None = None
        #: the last cycle failed to save (disk full...): the vendor is fine, keep the cadence
        self.store_failing = False
        self._next_prune = 0.0
        #: its pushes, applied between polls (None: the source takes none)
        self.push = PushIntake(self, push) if push is not None and config.push_secret else None

    @property
    def failing(self) -> bool:
        return source_health(self.state.row.failures, self.config.failure_threshold) == "failing"

    def status(self, owner: str | None = None) -> SourceStatus:
        """This source as /metrics, /status and ``STATUS=`` show it."""
        cfg, st = self.config, self.state
        progress.sync_progress(self.provider, self.stats.sync, self.clock)
        return SourceStatus(
            name=cfg.name, provider=cfg.provider, interval=cfg.interval,
            failure_threshold=cfg.failure_threshold, stats=self.stats,
            failures=st.row.failures, store_failing=self.store_failing, runs=st.counts,
            skipped=self.provider.skipped, internal_errors=self.boundary.errors,
            live=len(st.live), stuck=st.stuck, owner=owner,
            push=self.push.stats if self.push else None,
            push_live=self.push is not None and self.push.stats.live(self.clock()))

    async def run(self) -> None:
        cfg, clock = self.config, self.clock
        phase = clock.random.uniform(0, cfg.interval) if self.phase is None else self.phase
        self.stats.next_poll = clock() + phase
        await clock.sleep(phase)
        due = clock.monotonic()
        while True:
            if self.push is not None:  # what was pushed first: a poll then finds it known
                await self.push.apply()
            if await self.poll_once() or self.store_failing:
                if not self.store_failing:
                    self._backoff.reset()
                due += self.push.period(clock()) if self.push is not None else cfg.interval
                delay = due - clock.monotonic()
                if delay < 0:  # fell behind: start a fresh cadence rather than burst
                    due, delay = clock.monotonic(), 0.0
            else:
                delay = self._backoff.next()
                if self._retry_after:
                    delay = max(delay, self._retry_after)
                due = clock.monotonic() + delay
            self.stats.next_poll = clock() + delay
            await (clock.sleep(delay) if self.push is None else self.push.wait(delay))

    async def poll_once(self) -> bool:
        """One cycle; True if it polled and committed."""
        now = self.clock()
        started = self.clock.monotonic()
        self.stats.polls += 1
        try:
            ok = await self._cycle(now, started)
        except Exception as e:  # a bug or a plugin: this cycle failed, the source carries on
            self.stats.duration.observe(self.clock.monotonic() - started)
            what = self.boundary.caught(e)
            await self._failed(InternalError(what), now)
            ok = False
        self.stats.note_health(self.state.row.failures, self.config.failure_threshold, now)
        return ok

    async def _cycle(self, now: float, started: float) -> bool:
        st = self.state
        baseline = not st.row.baselined
        session = self.diff(st.runs, st.live, now=now, baseline=baseline)
        view = PollView(runs=st.runs, live=st.live, cursor=st.row.cursor, baseline=baseline,
                        now=now, feed=session.feed)
        try:
            result = await progress.poll(self.provider, view, self.stats, self.log,
                                         clock=self.clock)
        except ProviderError as e:
            self.stats.duration.observe(self.clock.monotonic() - started)
            await self._failed(e, now)
            return False
        if result.observations:
            session.feed(result.observations)
        changes = await self.finish(session)
        events = changes.events
        row = st.row
        recovered = self.failing
        if recovered and row.failing_since is not None:
            events.append(poll_health.recovered(self.config, row, now=now))
        removals: list[str] = []
        if now >= self._next_prune:
            removals = [r for r in expired(st.runs, now=now, horizon=self.policy.horizon)
                        if r not in changes.upserts]
        new_row = SourceRow(cursor=result.cursor, baselined=True)
        if not (events or changes.upserts or removals) and new_row == row:
            # Nothing to record: the usual idle cycle costs no write at all.
            self._succeeded(now, started, baseline=False)
            return True
        if not await self._record(new_row, events, changes.upserts, removals):
            return False
        if self.push is not None and not baseline:
            self.push.polled(events, changes.upserts, now)
        if removals or now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY
        if row.failures:
            self.log.info("source recovered" if recovered else "poll succeeded again",
                          failures=row.failures)
        self._succeeded(now, started, baseline=baseline)
        if baseline and self.push is not None:
            await self.push.apply()  # what was pushed before there was a baseline, at once
        return True

    async def finish(self, session: Session) -> Changeset:
        """The diff's changes, their events enriched where the provider can."""
        changes = session.finish()
        if changes.events:
            try:
                await self.provider.enrich(changes.events)
            except ProviderError as e:
                self.log.debug("enrichment failed", error=str(e))
        return changes

    async def _record(self, row: SourceRow, events: list[Event],
                      upserts: Mapping[str, Tracked], removals: Sequence[str]) -> bool:
        """Commit a cycle, then apply it to memory; False (memory untouched) if the store
        could not take it: the next cycle reproduces the same events with the same ids."""
        st = self.state
        # Shielded: a cycle that reached the journal must reach memory too, or a reload
        # cancelling us here would make the next poll journal the same events again.
        with anyio.CancelScope(shield=True):
            try:
                await self.journal.commit(self.config.name, row, events=events, fence=self.claim,
                                          upserts=upserts, removals=removals, base=st.runs)
            except Fenced as e:
                return self._fenced(e)
            except StoreError as e:
                if not self.store_failing:
                    self.log.error("STATE STORE WRITE FAILED: events are not being recorded; "
                                   "polling continues and will record them once it can write",
                                   error=str(e), state=self.journal.path)
                self.store_failing = True
                self.stats.store_failures += 1
                return False
            st.apply(upserts, removals)
            st.row = row
        if self.store_failing:
            self.store_failing = False
            self.log.warning("state store writable again; recorded the pending changes")
        return True

    def _fenced(self, e: Fenced) -> bool:
        """Another replica took the source over: the cycle is discarded, the claim ends."""
        self.log.warning("commit refused: another replica holds this source now", error=str(e))
        if self.claim is not None:
            self.claim.lose("fenced")
        return False

    def _succeeded(self, now: float, started: float, *, baseline: bool) -> None:
        self.watching.set()
        if baseline:
            self.log.info("baseline recorded", runs=len(self.state.runs),
                          live=len(self.state.live))
        self.stats.last_success = now
        self.stats.duration.observe(self.clock.monotonic() - started)
        self._retry_after = None
        self.boundary.cleared()

    async def _failed(self, e: PollError, now: float) -> None:
        st = self.state
        old = st.row
        failures = old.failures + 1
        self.stats.errors[e.kind] += 1
        self.stats.last_error = str(e)
        self._retry_after = e.retry_after if isinstance(e, RateLimited) else None
        since = old.failing_since if old.failing_since is not None else now
        events: list[Event] = []
        poll_health.log_failure(self.log, e, failures, self.config.failure_threshold)
        if failures == self.config.failure_threshold:
            events.append(poll_health.failing(self.config, e, failures, since=since, now=now))
        row = SourceRow(cursor=old.cursor, baselined=old.baselined, failures=failures,
                        failing_since=since)
        with anyio.CancelScope(shield=True):
            try:  # refused under a lost lease (Fenced) like any failed write
                await self.journal.commit(self.config.name, row, events=events, fence=self.claim)
            except StoreError as err:
                self.log.error("could not save poll failure", error=str(err))
                self.stats.store_failures += 1
                if events:
                    return  # keep the old count so the failing event is attempted again
            st.row = row
