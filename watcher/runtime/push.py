"""Vendor push on the poller's side: pushes applied through the poll's diff, and the cadence.

The listener (any replica) stores a verified push in the store's inbox and rings the
source's poller here (another replica's, through the store's notifications).  The
poller applies the pending pushes between polls, in its own task, so a push and a poll
never race over the source's state; a push is fed to the same
:class:`~watcher.core.diff.Session` as a poll's page, so both give one event with one
id.  A push older than the known state is dropped (:func:`~watcher.core.push.stale`);
one that only names a run makes the provider fetch that run.  The commit that journals
a push's events marks its deliveries applied, under the poll's fence.

Polling never stops: while push is live (:class:`~watcher.core.push.PushStats`) the
source polls every ``push_interval``, else every ``interval``; a poll that finds a
change while push is live counts it missed and drops back to ``interval``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, Protocol

import anyio
import orjson

from watcher.config.settings import SourceConfig
from watcher.core.diff import Changeset, Session
from watcher.core.events import RUN_CREATED, RUN_STATUS_CHANGED
from watcher.core.push import PushStats, stale
from watcher.errors import Fenced, ProviderError, StoreError
from watcher.infra.clock import Clock, move_on_after
from watcher.model import Event, Observation, Tracked
from watcher.providers.protocol import Provider
from watcher.runtime.claim import Claim
from watcher.runtime.supervisor import Boundary
from watcher.runtime.tracking import SourceState
from watcher.state.inbox import BATCH, KEEP, Push
from watcher.state.journal import Journal


class Host(Protocol):
    """What a push intake uses of its poller (:class:`~watcher.runtime.poller.Poller`)."""

    config: SourceConfig
    clock: Clock
    state: SourceState
    journal: Journal
    provider: Provider
    diff: partial[Session]
    claim: Claim | None
    log: Any
    boundary: Boundary

    async def finish(self, session: Session) -> Changeset: ...
    def _fenced(self, e: Fenced) -> bool: ...


#: a change this recent when a poll began may have its push still on the way: no miss
GRACE = 10.0
#: how often applied deliveries past :data:`~watcher.state.inbox.KEEP` are pruned
PRUNE_EVERY = 3600.0


class PushDesk:
    """The daemon's push counters per source, and the pollers waiting for pushes."""

    def __init__(self) -> None:
        self.stats: dict[str, PushStats] = {}
        self._bells: dict[str, anyio.Event] = {}

    def stats_of(self, cfg: SourceConfig) -> PushStats:
        """The source's counters; push goes quiet after twice its ``push_interval``."""
        quiet = 2 * cfg.push_every
        st = self.stats.setdefault(cfg.name, PushStats(quiet))
        st.quiet = quiet
        return st

    def bell(self, source: str) -> anyio.Event:
        """What the poller of ``source`` waits on: set by :meth:`ring` until :meth:`rearm`."""
        return self._bells.setdefault(source, anyio.Event())

    def rearm(self, source: str) -> None:
        """The poller is about to read the inbox: a push stored from now on rings again."""
        self._bells[source] = anyio.Event()

    def ring(self, source: str) -> None:
        """A push for ``source`` was stored (here or by another replica)."""
        ev = self._bells.get(source)
        if ev is not None:
            ev.set()


class PushIntake:
    """One push-enabled source's pushes, applied by its poller."""

    def __init__(self, poller: Host, desk: PushDesk) -> None:
        self.poller = poller
        self.desk = desk
        self.stats = desk.stats_of(poller.config)
        self._next_prune = 0.0
        #: the store failed the last read or commit of pushes (logged once)
        self._failing = False

    def period(self, now: float) -> float:
        cfg = self.poller.config
        return cfg.push_every if self.stats.live(now) else cfg.interval

    async def wait(self, delay: float) -> None:
        """Sleep ``delay``, applying pushes as they come meanwhile."""
        clock = self.poller.clock
        until = clock.monotonic() + delay
        while (left := until - clock.monotonic()) > 0:
            bell = self.desk.bell(self.poller.config.name)
            with move_on_after(clock, left):
                await bell.wait()
            if bell.is_set():
                self.desk.rearm(self.poller.config.name)  # before reading, not after
                await self.apply()

    async def apply(self) -> None:
        """Apply the source's pending pushes (once it has a baseline)."""
        p = self.poller
        if not p.state.row.baselined:
            return  # the first poll sets the baseline; the pushes wait for it
        try:
            while len(pushes := await p.journal.pushes(p.config.name, BATCH)) > 0:
                if not await self._apply(pushes) or len(pushes) < BATCH:
                    break
        except StoreError as e:
            self._store_failed("could not read pushed changes; the next poll finds them", e)
        except Exception as e:  # a bug: the source's, counted; its poll loop goes on
            p.boundary.caught(e)

    def _store_failed(self, what: str, e: StoreError) -> None:
        """Logged once until the store works again (every push rings meanwhile)."""
        if not self._failing:
            self.poller.log.warning(what, error=str(e))
        self._failing = True

    async def _apply(self, pushes: Sequence[Push]) -> bool:
        p, clock = self.poller, self.poller.clock
        st, now = p.state, clock()
        obs: list[Observation] = []
        for push in pushes:
            try:
                whole, named = p.provider.pushed(orjson.loads(push.body))
            except orjson.JSONDecodeError:
                continue
            except Exception as e:
                # a plugin's bug: this push is dropped (the poll finds its run), not kept
                # pending to fail every apply after it, the poll loop's included
                p.boundary.caught(e)
                continue
            obs += whole
            obs += await self._fetch(named)
        session = p.diff(st.runs, st.live, now=now)
        session.feed([o for o in obs if not stale(o, st.runs)])
        changes = await p.finish(session)
        prune = now - KEEP if now >= self._next_prune else None
        with anyio.CancelScope(shield=True):  # journaled means applied in memory too
            try:
                await p.journal.commit(p.config.name, st.row, events=changes.events,
                                       upserts=changes.upserts, base=st.runs, fence=p.claim,
                                       applied=[x.delivery for x in pushes], inbox_before=prune)
            except Fenced as e:
                return p._fenced(e)
            except StoreError as e:
                self._store_failed("could not apply pushed changes; trying again at the next "
                                   "push or poll", e)
                return False
            st.apply(changes.upserts, ())
        self._failing = False
        if prune is not None:
            self._next_prune = now + PRUNE_EVERY
        done = clock()
        for x in pushes:
            self.stats.pushed(x.received)
            self.stats.lag.observe(max(0.0, done - (x.sent if x.sent is not None
                                                    else x.received)))
        return True

    async def _fetch(self, run_ids: Sequence[str]) -> list[Observation]:
        """The runs a push only names, fetched now (one that fails waits for the poll)."""
        out: list[Observation] = []
        for rid in dict.fromkeys(run_ids):
            try:
                o = await self.poller.provider.fetch_run(rid)
            except (ProviderError, NotImplementedError) as e:  # no run_path: the poll finds it
                self.poller.log.debug("could not fetch a pushed run", run_id=rid,
                                      error=str(e))
                continue
            if o is not None:
                out.append(o)
        return out

    def polled(self, events: Sequence[Event], upserts: Mapping[str, Tracked],
               now: float) -> None:
        """A poll that began at ``now`` committed ``events``: a change among them that the
        platform's webhooks announce, made over :data:`GRACE` before the poll while push
        was live, was missed by its pushes (a newer one's push may still be on its way,
        or waiting in the inbox while this poller polled)."""
        if not self.stats.live(now):
            return
        told = getattr(self.poller.provider, "push_statuses", None)  # None: every change
        statuses = None if told is None else {s.value for s in told}
        missed = [e for e in events if e.type in (RUN_CREATED, RUN_STATUS_CHANGED)
                  and (statuses is None or e.data.get("status") in statuses)
                  and e.subject in upserts and upserts[e.subject].since <= now - GRACE]
        if missed:
            self.stats.missed += len(missed)
            self.stats.missed_at = now
            self.poller.log.warning("a poll found changes no push announced; polling at "
                                    "interval until pushes arrive again",
                                    missed=len(missed))

