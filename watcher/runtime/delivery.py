"""Delivery: one runner per sink moves events from the journal to the sink.

Each runner has its own task, cursor and retry state, so a sink that hangs or fails
holds back only itself; its backlog waits in the journal.  The cursor moves only after
the sink returned for a whole batch (delivered or dead-lettered): at-least-once.

Before a batch is handed over, what an active silence holds back from this
sink is taken out (judged by each event's own time; never for a sink that is
a complete record) and counted per silence, and reminders meant for another
``repeat_interval`` are passed over; the cursor moves past both as if they were
delivered (:func:`~watcher.runtime.silencing.screen`); never the end of what
the sink got the start of (:mod:`~watcher.runtime.told`).

A sink with a ``linger`` (Slack's ``group_wait``) gets its batch that long
after the batch's first event, so events arriving together are delivered
together.  Every few seconds the runner also looks for dead letters an
operator queued again (``watcher deadletters retry``) and re-delivers them:
delivered ones are resolved, the others stay with the retry flag cleared and
their attempts added up (so a receiver still refusing them is not hammered).
Both paths share one lock: a sink never sees two ``deliver`` calls at once.

A sink is failing from a failed attempt until one succeeds (its
:class:`~watcher.sinks.health.SinkHealth`, which a sink retrying inside
``deliver`` reports each attempt to; the runner reports the others' ``deliver``).
A sink raising other than a ``DeliveryError`` (a bug, a plugin) is an internal
error: counted and logged once with its traceback by the runner's
:class:`~watcher.runtime.supervisor.Boundary`, then retried with backoff like
any failed delivery; so is an error anywhere else in the loop: the runner
never dies of it.  Waits are on the injected clock.

With several replicas a network sink is delivered under its lease (a
:class:`~watcher.runtime.claim.Claim`): nothing is handed to the sink once the
claim ran out, and the cursor moves only while the lease is held (fenced).
A local sink (stdout, file) runs on every replica, with a cursor of its own
per replica (``<sink>@<replica>``).
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import structlog

from watcher.config.settings import SinkConfig
from watcher.core.status import DeliveryStats, SinkStatus
from watcher.errors import DeliveryError, Fenced, Retryable, StoreError
from watcher.infra.clock import Clock
from watcher.infra.permit import checkpoint
from watcher.model import JournalEntry
from watcher.runtime.claim import Claim
from watcher.runtime.reader import BATCH, JournalReader
from watcher.runtime.silencing import Silencer, screen
from watcher.runtime.supervisor import describe
from watcher.runtime.told import Told
from watcher.sinks.base import Rejected, Sink
from watcher.sinks.health import SinkHealth
from watcher.state.journal import Journal

#: how often queued dead letters are looked for
DEAD_RETRY_EVERY = 2.0


class SinkRunner(JournalReader):
    doing = "reading the journal"

    def __init__(self, sink: Sink, config: SinkConfig, journal: Journal, *,
                 clock: Clock, batch: int = BATCH, claim: Claim | None = None,
                 consumer: str | None = None, silencer: Silencer | None = None,
                 health: SinkHealth | None = None) -> None:
        #: whose cursor and dead letters in the journal: the sink's, or ``<sink>@<replica>``
        super().__init__(journal, consumer or config.name, clock=clock, claim=claim,
                         batch=batch, task=f"sink:{config.name}",
                         log=structlog.get_logger("watcher.sink").bind(sink=config.name))
        self.sink = sink
        #: a complete record of the journal: no silence applies, every reminder does
        self.record = bool(getattr(sink, "record", False))
        self.silencer = silencer
        self.config = config
        self.name = config.name
        #: the incidents a notification sink was handed the start of (None: a record)
        self.told = None if self.record else Told(journal, self.consumer)
        #: failing or not, the last error; the sink reports to it too (its context's)
        self.health = health or SinkHealth(config.name, clock=clock)
        self.health.backlog = lambda: journal.backlog(self.consumer)
        self.stats: DeliveryStats = self.health.stats
        self._delivering = anyio.Lock()
        self._once = False
        self._lingered = 0  # the first entry of the batch we already let gather
        #: seconds a batch gathers before delivery (the sink's ``linger``)
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

    async def run(self, *, until_idle: bool = False) -> None:
        """Deliver forever (or, with ``until_idle``, until caught up with the journal)."""
        self._once = until_idle
        if until_idle:
            await super().run(until_idle=True)
            return
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._retry_dead_every, DEAD_RETRY_EVERY)
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
            if not self.health.reports:
                self.health.succeeded("sink connected", by_sink=False)
            self.backoff.reset()
            return

    async def failed(self, e: Exception, *, internal: bool) -> None:
        """The journal could not be read (a damaged or vanished state file): nothing to
        deliver, so back off and read again; a bug around the sink is retried like a
        failed delivery.  The cursor stays where it was."""
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
        told = None if self.told is None else self.told.draft(entries, wanted)
        wanted, held = screen(wanted, holds, record=self.record,
                              repeat=self.config.repeat_interval, told=told)
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
        await self._ack(entries[-1].seq, told)

    async def _deliver(self, batch: Sequence[JournalEntry]) -> bool:
        await checkpoint()  # past its claim this replica hands the sink nothing more
        try:
            async with self._delivering:
                rejected = await self.sink.deliver(batch)
        except Exception as e:  # any sink failure: nothing acknowledged, retry the batch
            internal = not isinstance(e, DeliveryError)
            if internal:
                self.boundary.caught(e, events=len(batch))
            await self._retry_later(e, internal=internal)
            return False
        if not self.health.reports:  # else the sink said how its attempts went
            self.health.succeeded(by_sink=False)
        self.backoff.reset()
        self.boundary.cleared()
        if rejected:
            await self._dead(rejected)
        self.stats.delivered += len(batch) - len(rejected)
        self.stats.last_delivery = self.clock()
        return True

    async def _retry_later(self, e: Exception, *, internal: bool) -> None:
        """Count a failed attempt and back off before the batch is tried again."""
        delay = self.backoff.next()
        if isinstance(e, Retryable) and e.retry_after:
            delay = max(delay, e.retry_after)
        error = describe(e) if internal else str(e) or repr(e)
        self.health.failed(error, by_sink=False, retry_in=round(delay, 3))
        await self.clock.sleep(delay)

    async def _dead(self, rejected: Sequence[Rejected]) -> None:
        self.stats.dead += len(rejected)
        for entry, reason, attempts in rejected:
            self.log.warning("gave up delivering an event, kept as dead letter",
                             event_id=entry.id, run_id=entry.run_id, reason=reason,
                             attempts=attempts)
        try:
            await self.journal.add_dead(self.consumer, rejected, self.clock())
        except StoreError as e:
            self.log.error("could not record dead letters", error=str(e))

    async def _retry_dead_every(self, every: float) -> None:
        while True:
            await self.clock.sleep(every)
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
        try:
            async with self._delivering:
                rejected = list(await self.sink.deliver(batch))
        except Exception as e:  # nothing delivered: keep them all, flag cleared
            if not isinstance(e, DeliveryError):
                self.boundary.caught(e, events=len(batch))
            rejected = [(entry, str(e) or repr(e), 1) for entry in batch]
        kept = {entry.seq for entry, _, _ in rejected}
        delivered = [entry.seq for entry in batch if entry.seq not in kept]
        again = [(entry, reason, before[entry.seq] + attempts)
                 for entry, reason, attempts in rejected]
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

    async def _ack(self, seq: int, told: set[str] | None = None) -> None:
        self.cursor = seq
        records = None if told is None or self.told is None else self.told.settle(told)
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
