"""apprise: notifications to Teams, Discord, Telegram, email and a hundred more, through Apprise.

Apprise is an optional extra (``pip install "workflow-watcher[apprise]"``): it
is imported only when a config names this sink, and a config that does
without it installed is refused (exit 78) with the command that fixes it.
Each of ``urls`` is in Apprise's own syntax and a secret; one Apprise cannot
read is a config error naming its index, never quoting it.

* **Words**: a title and a plain-text body per notification, from
  :mod:`watcher.sinks.notice` (what Slack says, grouped as Slack groups it);
  the notify type (info, success, warning, failure) follows the event.
* **Grouping**: with ``group_wait`` the runner lets a batch gather that long
  and events of one group (7 runs failed in Invoice Processing) are one
  notification; without it, one notification per event.
* **Threads**: Apprise is synchronous, so each notify runs in a worker thread,
  at most :data:`THREADS` of this sink at once; one that outlasts ``timeout``
  is abandoned (its thread ends on its own) and counts as failed.
* **Failures**: Apprise says only whether a service took the notification, so
  a failure is retried with backoff until ``max_attempts`` or ``max_age``,
  then dead-lettered with what Apprise logged.  Each URL is tried apart, so
  a retry never repeats a notification to a service that took it.  Apprise's
  own log lines quote URLs: they are kept off stderr and used, scrubbed of
  the URLs' secrets, only as a dead letter's reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import anyio
import anyio.to_thread
import structlog

from watcher.config.options import Check, Duration, SecretList
from watcher.config.settings import SinkConfig
from watcher.infra.secrets import Masker
from watcher.model import JournalEntry
from watcher.sinks.apprise_urls import check_urls, http_target, load, secrets_of, send
from watcher.sinks.base import BaseSink, Rejected, SinkContext
from watcher.sinks.http import Outcome, RetryOptions, RetryPolicy, reaches
from watcher.sinks.notice import Notice, notices

#: notify calls of one sink running at once (an abandoned call keeps its place until it ends)
THREADS = 2


class AppriseOptions(RetryOptions):
    #: Apprise URLs (each a secret): "msteams://...", "discord://...", "mailto://..."
    urls: Annotated[SecretList, Check(check_urls)]
    #: events arriving within this window become one notification (0: one per event)
    group_wait: Annotated[float, Duration(min=0.0)] = 0.0


class AppriseSink(BaseSink[AppriseOptions]):
    kind = "apprise"
    Options = AppriseOptions

    def __init__(self, config: SinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self.targets: list[Any] = [load(url) for url in self.options.urls]
        self.linger = self.options.group_wait
        self.policy = RetryPolicy.from_options(self.options, clock=context.clock)
        self.masker = Masker(secrets_of(self.options.urls))
        self.log = structlog.get_logger("watcher.sink").bind(sink=self.name)
        self._threads: anyio.CapacityLimiter | None = None

    async def deliver(self, batch: Sequence[JournalEntry]) -> Sequence[Rejected]:
        rejected: list[Rejected] = []
        for notice in notices(batch, grouped=self.linger > 0):
            why, attempts = await self._send(notice)
            if why is not None:
                rejected += [(e, why, attempts) for e in notice.entries]
        return rejected

    async def _send(self, notice: Notice) -> tuple[str | None, int]:
        """Notify every URL until each took it; ``(why, attempts)`` once given up."""
        pending = list(range(len(self.targets)))
        started = self.context.clock()
        attempt = 0
        while True:
            attempt += 1
            failed = []
            for i in pending:
                said = await self._notify(i, notice)
                if said is not None:
                    failed.append((i, said))
            if not failed:
                self.context.health.succeeded()
                return None, attempt
            pending = [i for i, _ in failed]
            reason = "; ".join(f"urls[{i}]: {said}" for i, said in failed)
            outcome = Outcome(False, reason, retryable=True)
            delay = self.policy.delay(attempt)
            why = self.policy.give_up(outcome, attempt, self.context.clock() - started, delay)
            self.context.health.failed(reason, retry=why is None)
            if why is not None:
                self.log.error("apprise could not notify; the events are kept as dead letters",
                               reason=reason, events=len(notice.entries))
                return why, attempt
            self.log.debug("apprise could not notify, retrying", reason=reason,
                             attempt=attempt, retry_in=round(delay, 3))
            await self.context.clock.sleep(delay)

    async def _notify(self, i: int, notice: Notice) -> str | None:
        """One URL notified in a worker thread; ``None`` once it took it, else why not."""
        if self._threads is None:
            self._threads = anyio.CapacityLimiter(THREADS)
        said: list[str | None] = [f"timed out after {self.options.timeout:g}s"]
        async with anyio.create_task_group() as tg:
            async def call() -> None:
                said[0] = await anyio.to_thread.run_sync(
                    send, self.targets[i], notice.title, notice.body, notice.severity,
                    abandon_on_cancel=True, limiter=self._threads)
                tg.cancel_scope.cancel()

            async def timer() -> None:
                await self.context.clock.sleep(self.options.timeout)
                tg.cancel_scope.cancel()
            tg.start_soon(call)
            tg.start_soon(timer)
        return self.masker.redact(said[0]) if said[0] is not None else None

    async def probe(self) -> str:
        """Connect to the HTTP host of each URL whose host can be told, sending nothing;
        OSError naming the first one unreachable."""
        found = []
        for i, target in enumerate(self.targets):
            where = http_target(target)
            if where is None:
                found.append(f"urls[{i}]: not an HTTP host it can tell, unchecked")
                continue
            try:
                found.append(f"urls[{i}]: " + await reaches(where, within=self.options.timeout))
            except OSError as e:
                raise OSError(f"urls[{i}]: {e}") from None
        if all(line.endswith("unchecked") for line in found):
            raise NotImplementedError("; ".join(found))
        return "; ".join(found)
