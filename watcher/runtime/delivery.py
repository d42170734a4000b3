"""Delivery: one runner per sink moves events from the journal to the sink.

Each runner has its own task, cursor and retry state, so a sink that hangs or fails
holds back only itself; its backlog waits in the journal.  The cursor moves only once
every entry of a batch is delivered or dead-lettered: at-least-once.

The runner is the one delivery policy (:mod:`watcher.sinks.base`): the sink makes one
attempt and says what became of each entry; the runner hands the entries to retry back
after a backoff (never sooner than a ``Retry-After``, capped by ``max_age``), gives up
on them after ``max_attempts`` or ``max_age`` (the sink's :class:`RetryOptions`; none:
never), and keeps what was refused or given up as dead letters.

Before a batch is handed over, what a silence (by the event's time) or an open
episode holds back from this sink is taken out and counted, never for a complete
record nor the end of what it got the start of (:mod:`~.told`); reminders for another ``repeat_interval`` are passed over (:func:`~.screen`).

A sink with a ``linger`` (Slack's ``group_wait``) gets its batch that long after the
batch's first event, so events arriving together are delivered together.  Every few
seconds the runner also re-delivers the dead letters an operator queued again
(``watcher deadletters retry``); those still refused stay, their attempts added up.
Both paths share one lock: a sink never sees two ``deliver`` calls at once.

A sink raising other than a ``DeliveryError`` (a bug, a plugin) is an internal error,
contained by the reader (:mod:`~watcher.runtime.reader`) and retried with backoff like
any failed delivery.  With several replicas a network sink is delivered under its
lease: nothing is handed to the sink once the claim ran out, and the cursor moves only
while the lease is held.  A local sink (stdout, file) runs on every replica, with a
cursor of its own per replica (``<sink>@<replica>``).
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import structlog

from watcher.config.settings import SinkConfig
from watcher.core.backoff import Backoff
from watcher.core.status import DeliveryStats, SinkStatus
from watcher.errors import DeliveryError, Fenced, Retryable, StoreError
from watcher.infra.clock import Clock
from watcher.infra.permit import checkpoint
from watcher.model import JournalEntry
from watcher.runtime.claim import Claim
from watcher.runtime.reader import JournalReader
from watcher.runtime.silencing import Silencer, screen
from watcher.runtime.supervisor import describe
from watcher.runtime.told import Told
from watcher.sinks.base import Rejected, Retry, Sink, policy_of
from watcher.sinks.health import SinkHealth
from watcher.state.journal import Journal

#: how often queued dead letters are looked for
DEAD_RETRY_EVERY = 2.0
#: ``(entry, reason, attempts)``: a dead letter as the store keeps it
Dead = tuple[JournalEntry, str, int]


class SinkRunner(JournalReader):
    def __init__(self, sink: Sink, config: SinkConfig, journal: Journal, *,
                 clock: Clock, claim: Claim | None = None,
                 consumer: str | None = None, silencer: Silencer | None = None) -> None:
        #: whose cursor and dead letters in the journal: the sink's, or ``<sink>@<replica>``
        super().__init__(journal, consumer or config.name, clock=clock, claim=claim,
                         task=f"sink:{config.name}",
                         log=structlog.get_logger("watcher.sink").bind(sink=config.name))
        self.sink = sink
        #: a complete record of the journal: no silence applies, every reminder does
        self.record = bool(getattr(sink, "record", False))
        self.silencer = silencer
        self.config = config
        self.name = config.name
        #: the incidents a notification sink was handed the start of (None: a record)
        self.told = None if self.record else Told(journal, self.consumer, self.name)
        #: failing or not, and the last error
        self.health = SinkHealth(config.name, lambda: journal.backlog(self.consumer), clock=clock)
        self.stats: DeliveryStats = self.health.stats
        #: the sink's retry keys (its RetryOptions; else retried forever)
        self.policy = policy_of(sink)
        self.backoff = Backoff(self.policy.backoff, self.policy.max_backoff, rng=clock.random)
        self._delivering = anyio.Lock()
        self._once = False
        self._lingered = 0  # the first entry of the batch we already let gather
        self.linger = sink.linger

    @property
    def failing(self) -> bool:
        """The last delivery attempt (or journal read) failed: until one succeeds."""
        return self.health.failing or self.trouble is not None

    def status(self) -> SinkStatus:
        """This sink as /metrics and ``STATUS=`` show it."""
        return SinkStatus(name=self.name, type=self.config.type, stats=self.stats,
                          backlog=self.journal.backlog(self.consumer), failing=self.failing,
                          last_error=self.health.last_error, failing_since=self.health.since,
                          internal_errors=self.boundary.errors, record=self.record,
                          repeat_interval=self.config.repeat_interval, bus=self.sink.bus)

    async def close(self) -> None:
        try:
            await self.sink.aclose()
        except Exception as e:  # a plugin's bug must not stop a reload or a clean exit
            self.boundary.caught(e)

    def reopen(self) -> None:
        try:
            self.sink.reopen()
        except Exception as e:
            self.boundary.caught(e)

    async def run(self, *, until_idle: bool = False) -> None:
        """Deliver forever (or, with ``until_idle``, until caught up with the journal)."""
        self._once = until_idle
        if until_idle:
            await super().run(until_idle=True)
            return
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._retry_dead_every)
            await super().run()

    async def start(self) -> bool:
        await super().start()
        if self.told is not None:
            await self.told.load()
        await self._open()
        if self._once:  # the dead letters queued for retry go before what is new
            await self.retry_dead()
        return True

    async def _open(self) -> None:
        """Let the sink connect before the first batch, so a server that is down, wrong
        credentials or a missing stream show at start; retried with backoff (the
        backlog waits in the journal meanwhile)."""
        while True:
            try:
                await self.sink.open()
            except Exception as e:
                internal = not isinstance(e, DeliveryError)
                if internal:
                    self.boundary.caught(e)
                await self._retry_later(e, internal=internal)
                continue
            self.health.succeeded("sink connected")
            self.backoff.reset()
            return

    async def failed(self, e: Exception, *, internal: bool) -> None:
        """A bug around the sink is retried like a failed delivery; a journal that cannot be
        read (a damaged or vanished state file) is read again after a backoff."""
        if internal:
            await self._retry_later(e, internal=True)
            return
        if self.trouble is None:
            self.trouble = str(e)
            self.log.error("could not read the journal, will retry", error=str(e),
                           backlog=self.journal.backlog(self.consumer))
        await super().failed(e, internal=False)

    async def step(self) -> None:
        """Deliver and acknowledge the next batch (or let it gather)."""
        entries = await self.journal.read(self.cursor, self.batch)
        if not entries:
            return
        match = self.config.match
        wanted = entries if match.everything else [e for e in entries if match(e)]
        holds = () if self.record or self.silencer is None else self.silencer.for_sink(self.name)
        told = None if self.told is None else self.told.draft(entries, wanted, self.silencer)
        inhibited = {} if self.told is None else self.told.inhibited
        wanted, held, stopped = screen(wanted, holds, told=told,
                                       repeat=self.config.repeat_interval, inhibited=inhibited)
        if (wanted and self.linger > 0 and wanted[0].seq != self._lingered
                and len(entries) < self.batch):
            self._lingered = wanted[0].seq
            # from the event's time, so a backlog after a restart is not held again
            wait = min(self.linger, wanted[0].time + self.linger - self.clock())
            if wait > 0:
                await self.clock.sleep(wait)
                return  # read again: the batch now holds what arrived meanwhile
        if wanted and not await self._deliver(wanted):
            return
        self.stats.silenced.update(held)
        self.stats.inhibited.update(inhibited[seq][0] for seq in stopped)
        await self._ack(entries[-1].seq, told, stopped)

    async def _deliver(self, batch: Sequence[JournalEntry]) -> bool:
        """Attempt ``batch`` until each entry is delivered or dead; False when the sink
        raised an internal error (nothing acknowledged: the batch is read again)."""
        pending, attempts, started = list(batch), 0, self.clock()
        while pending:
            outcomes = await self._attempt(pending)
            if outcomes is None:
                return False
            attempts += 1
            retry = [o for o in outcomes if isinstance(o, Retry)]
            dead: list[Dead] = [(o.entry, o.reason, attempts) for o in outcomes
                                if isinstance(o, Rejected)]
            if dead:  # a 4xx: the event's dead letter, not the sink's failure
                self.log.error("the destination refused events for good; kept as dead letters",
                               reason=dead[0][1], events=len(dead))
            self.stats.delivered += len(pending) - len(outcomes)
            delay = self.backoff.next() if retry else 0.0
            after = max((o.after or 0.0 for o in retry), default=0.0)
            delay = max(delay, min(after, self.policy.max_age))  # a bogus year must not stall it
            why = self._give_up(attempts, self.clock() - started + delay)
            if why:
                dead += [(o.entry, f"{o.reason} ({why})", attempts) for o in retry]
            if dead:
                await self._dead(sorted(dead, key=lambda d: d[0].seq))
            if not retry:
                self.backoff.reset()
                self.health.succeeded()
                break
            self.health.failed(retry[0].reason, retry=not why, retry_in=round(delay, 3))
            if why:
                break
            pending = [o.entry for o in retry]
            await self.clock.sleep(delay)
        self.stats.last_delivery = self.clock()
        return True

    def _give_up(self, attempts: int, age: float) -> str:
        """Why entries to retry after ``attempts`` are dead at ``age`` ("": not yet)."""
        if attempts >= self.policy.max_attempts:
            return f"gave up after {attempts} attempts"
        if age > self.policy.max_age:
            return f"gave up after {attempts} attempts: max_age reached"
        return ""

    async def _attempt(self, batch: Sequence[JournalEntry]) -> Sequence[Rejected | Retry] | None:
        """One attempt: the sink's outcomes (raising Retryable: a retry of every entry);
        None after an internal error, counted and backed off from."""
        await checkpoint()  # past its claim this replica hands the sink nothing more
        try:
            async with self._delivering:
                outcomes = await self.sink.deliver(batch)
            if not all(isinstance(o, Rejected | Retry) for o in outcomes):
                raise TypeError(f"deliver returned {outcomes!r:.200}, not Rejected or Retry")
        except DeliveryError as e:
            after = e.retry_after if isinstance(e, Retryable) else None
            return [Retry(entry, str(e) or repr(e), after) for entry in batch]
        except Exception as e:  # a bug in the sink: contained, retried like a failure
            self.boundary.caught(e, events=len(batch))
            await self._retry_later(e, internal=True)
            return None
        self.boundary.cleared()
        return outcomes

    async def _retry_later(self, e: Exception, *, internal: bool) -> None:
        """Count a failed attempt and back off before the batch is tried again."""
        delay = self.backoff.next()
        if isinstance(e, Retryable) and e.retry_after:
            delay = max(delay, e.retry_after)
        error = describe(e) if internal else str(e) or repr(e)
        self.health.failed(error, retry_in=round(delay, 3))
        await self.clock.sleep(delay)

    async def _dead(self, rejected: Sequence[Dead]) -> None:
        self.stats.dead += len(rejected)
        for entry, reason, attempts in rejected:
            self.log.warning("gave up delivering an event, kept as dead letter",
                             event_id=entry.id, run_id=entry.run_id, reason=reason,
                             attempts=attempts)
        try:
            await self.journal.add_dead(self.consumer, rejected, self.clock())
        except StoreError as e:
            self.log.error("could not record dead letters", error=str(e))

    async def _retry_dead_every(self) -> None:
        while True:
            await self.clock.sleep(DEAD_RETRY_EVERY)
            try:
                await self.retry_dead()
            except Exception as e:  # the next pass tries again; new events keep flowing
                self.boundary.caught(e)

    async def retry_dead(self) -> int:
        """Re-deliver dead letters queued for retry; returns how many were delivered."""
        journal = self.journal
        try:
            # a pass takes one batch; the rest wait for the next pass
            letters = await journal.dead_letters(self.consumer, limit=self.batch)
        except Exception as e:  # a state file in trouble must not stop new deliveries
            self.log.error("could not read dead letters", error=str(e))
            return 0
        if not letters:
            return 0
        await checkpoint()
        before = {d.entry.seq: d.attempts for d in letters}
        batch = [d.entry for d in letters]
        self.log.info("re-delivering dead letters", count=len(batch))
        try:  # one attempt: those not delivered stay, with the flag cleared
            async with self._delivering:
                outcomes = list(await self.sink.deliver(batch))
        except Exception as e:  # nothing delivered: keep them all
            if not isinstance(e, DeliveryError):
                self.boundary.caught(e, events=len(batch))
            outcomes = [Retry(entry, str(e) or repr(e)) for entry in batch]
        kept = {o.entry.seq for o in outcomes}
        delivered = [entry.seq for entry in batch if entry.seq not in kept]
        again = [(o.entry, o.reason, before[o.entry.seq] + 1) for o in outcomes]
        try:
            if delivered:
                await journal.resolve_dead(self.consumer, delivered)
            if again:
                await journal.add_dead(self.consumer, again, self.clock())
        except Exception as e:  # kept queued: they are offered again on the next pass
            self.log.error("could not update dead letters", error=str(e))
        self.stats.delivered += len(delivered)
        self.stats.dead += len(again)
        self.log.info("dead letters re-delivered", delivered=len(delivered), kept=len(again))
        return len(delivered)

    async def _ack(self, seq: int, told: set[str] | None, stopped: Sequence[int]) -> None:
        self.cursor = seq
        records = None if told is None or self.told is None else self.told.settle(told, stopped)
        try:
            await self.journal.ack(self.consumer, seq, fence=self.claim, records=records)
            if records is not None:
                self.told.committed()  # type: ignore[union-attr]  # records come from it
        except Fenced:  # delivered, and the new holder delivers them again (same ids)
            raise
        except StoreError as e:
            # Delivered but not recorded: after a restart these are sent again (same ids).
            self.journal.cursors[self.consumer] = seq
            self.log.error("could not save the delivery cursor", error=str(e))
