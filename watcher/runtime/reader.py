"""A journal reader: a task that follows the journal from a cursor of its own.

The sink runners (:mod:`~watcher.runtime.delivery`), the rule engine
(:mod:`~watcher.runtime.rules`) and the reminder stream (:mod:`~watcher.runtime.reminders`)
are each one; a subclass says what one step does.  :class:`JournalReader` owns the
rest: waiting for an entry past the cursor or the reader's next deadline; a store that
cannot be read or written (logged once, backed off, "recovered" when it can again); a
bug in a step (counted and logged once by the reader's
:class:`~watcher.runtime.supervisor.Boundary`, then backed off like a failure); and a
commit refused because another replica holds the reader's lease now
(:class:`~watcher.errors.Fenced`: the claim is given up and the lease keeper stops it).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import structlog

from watcher.core.backoff import Backoff
from watcher.errors import Fenced, StoreError
from watcher.infra.clock import Clock, move_on_after
from watcher.runtime.claim import Claim
from watcher.runtime.supervisor import Boundary, describe
from watcher.state.journal import Journal

#: entries a reader takes in one step
BATCH = 1000
T = TypeVar("T")


class JournalReader:
    """Follows ``journal`` from the cursor ``consumer``; :meth:`step` is one batch."""

    #: what the reader does, for its log lines ("rule evaluation", ...)
    doing = "reading the journal"

    def __init__(self, journal: Journal, consumer: str, *, clock: Clock, task: str,
                 log: structlog.typing.FilteringBoundLogger, claim: Claim | None = None) -> None:
        self.journal = journal
        #: the reader's cursor in the journal
        self.consumer = consumer
        self.clock = clock
        #: the reader's lease with several replicas (None: the only process)
        self.claim = claim
        self.batch = BATCH
        #: the last entry the reader is done with
        self.cursor = 0
        self.boundary = Boundary(task)
        self.log = log
        self.backoff = Backoff(1.0, 60.0, rng=clock.random)
        #: why the last step failed (None: it did not)
        self.trouble: str | None = None

    @property
    def failing(self) -> bool:
        """The last step failed and the reader is backing off."""
        return self.trouble is not None

    async def run(self, *, until_idle: bool = False) -> None:
        """Follow the journal forever (or, with ``until_idle``, until caught up with it)."""
        while (started := await self.attempt(self.start)) is None:
            pass  # attempt() backed off: start again
        if not started:
            return
        while True:
            if until_idle and self.cursor >= self.journal.head:
                await self.attempt(self.idle)
                return
            await self.wait()
            await self.attempt(self.step)

    # -- what a subclass says ----------------------------------------------------------

    async def start(self) -> bool:
        """Take up the cursor (and what the reader keeps beside it); False: nothing to do."""
        self.cursor = await self.journal.attach(self.consumer)
        return True

    async def take_up(self) -> None:
        """Before any event, so none is skipped: the cursor as stored under a claim
        (another replica may have moved it), or a new one at the head."""
        if self.claim is not None:
            await self.journal.refresh(self.consumer)
        await self.journal.attach(self.consumer)

    async def step(self) -> None:
        """Take in the next batch (or what came due); StoreError/Fenced: nothing kept."""
        raise NotImplementedError

    async def idle(self) -> None:
        """Caught up, with ``until_idle``: what is left to do before returning."""

    def deadline(self) -> float | None:
        """Wall time at which the reader has something to do without a new entry."""
        return None

    # -- following, waiting, failing ---------------------------------------------------

    async def wait(self) -> None:
        """Until the journal has entries past the cursor, or the reader's deadline."""
        deadline = self.deadline()
        with move_on_after(self.clock, math.inf if deadline is None else deadline - self.clock()):
            await self.journal.wait(self.cursor)

    async def attempt(self, fn: Callable[[], Awaitable[T]]) -> T | None:
        """``fn()``, or None after its failure was handled (and backed off)."""
        try:
            result = await fn()
        except Fenced as e:
            await self.fenced(e)
        except StoreError as e:
            await self.failed(e, internal=False)
        except Exception as e:  # a bug: contained, tried again after a backoff
            self.boundary.caught(e)
            await self.failed(e, internal=True)
        else:
            self.recovered()
            return result
        return None

    async def fenced(self, e: Fenced) -> None:
        """Another replica holds the reader's lease now: nothing of the step was kept."""
        self.log.warning("commit refused: another replica holds this lease now",
                         lease=e.lease, error=str(e))
        if self.claim is not None:
            self.claim.lose("fenced")
        await anyio.sleep_forever()  # the lease keeper stops this reader

    async def failed(self, e: Exception, *, internal: bool) -> None:
        """A step failed: say so once, back off; the next step tries the same again."""
        if self.trouble is None:
            what = "internal error" if internal else "could not read or write the state"
            self.log.error(f"{self.doing} failing ({what}), will retry", error=str(e))
        self.trouble = describe(e) if internal else str(e) or repr(e)
        await self.clock.sleep(self.backoff.next())

    def recovered(self) -> None:
        """A step went through: the failing episode (if any) is over."""
        if self.trouble is not None:
            self.trouble = None
            self.log.info(f"{self.doing} recovered")
            self.backoff.reset()
            self.boundary.cleared()
