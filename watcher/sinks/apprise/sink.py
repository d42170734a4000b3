"""apprise: notifications to Teams, Discord, Telegram, email and a hundred more, through Apprise.

Apprise is an optional extra (``pip install "workflow-watcher[apprise]"``): it
is imported only when a config names this sink, and a config that does
without it installed is refused (exit 78) with the command that fixes it.
Each of ``urls`` is in Apprise's own syntax and a secret; one Apprise cannot
read is a config error naming its index, never quoting it.

* **Words**: a title and a plain-text body per notification: the notice
  (:mod:`watcher.sinks.notice`) Slack renders too, grouped as Slack groups it,
  as text (:mod:`watcher.sinks.apprise.text`); the notify type (info, success,
  warning, failure) follows the event.
* **Grouping**: with ``group_wait`` the runner lets a batch gather that long
  and events of one group (7 runs failed in Invoice Processing) are one
  notification; without it, one notification per event.
* **Threads**: Apprise is synchronous, so each notify runs in a worker thread,
  at most :data:`THREADS` of this sink at once; one that outlasts ``timeout``
  is abandoned (its thread ends on its own) and counts as failed.
* **Failures**: Apprise says only whether a service took the notification, so
  a failure is a retry (the runner's, until ``max_attempts`` or ``max_age``,
  then dead-lettered with what Apprise logged).  Each URL is tried apart and
  the sink remembers which took a notification, so a retry never repeats it
  to a service that took it.  Apprise's
  own log lines quote URLs: they are kept off stderr and used, scrubbed of
  the URLs' secrets, only as a dead letter's reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import anyio
import anyio.to_thread

from watcher.config.options import Check, Duration, SecretList
from watcher.config.settings import SinkConfig
from watcher.infra.clock import move_on_after
from watcher.infra.http import reaches
from watcher.infra.secrets import Masker
from watcher.model import JournalEntry
from watcher.sinks.apprise.text import body
from watcher.sinks.apprise.urls import check_urls, http_target, load, secrets_of, send
from watcher.sinks.base import BaseSink, Outcomes, Retry, RetryOptions, SinkContext
from watcher.sinks.notice import Notice
from watcher.sinks.notice.compose import notices

#: notify calls of one sink running at once (an abandoned call keeps its place until it ends)
THREADS = 2
#: notifications remembered as partly sent (which URLs took them), for their retries
REMEMBERED = 1000


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
        self.masker = Masker(secrets_of(self.options.urls))
        #: a notification (its event ids) -> the URLs that took it, while others have not
        self.took: dict[tuple[str, ...], set[int]] = {}
        self._threads: anyio.CapacityLimiter | None = None

    async def deliver(self, batch: Sequence[JournalEntry]) -> Outcomes:
        outcomes: list[Retry] = []
        for notice in notices(batch, grouped=self.linger > 0):
            reason = await self._send(notice)
            if reason is not None:
                outcomes += [Retry(e, reason) for e in notice.entries]
        return outcomes

    async def _send(self, notice: Notice) -> str | None:
        """Notify every URL that did not take it yet; ``None`` once all did, else why not."""
        key = tuple(e.id for e in notice.entries)
        took = self.took.pop(key, set())
        failed = []
        text = body(notice)
        for i in range(len(self.targets)):
            if i in took:
                continue
            said = await self._notify(i, notice.title, text, notice.severity)
            if said is None:
                took.add(i)
            else:
                failed.append(f"urls[{i}]: {said}")
        if not failed:
            return None
        if len(self.took) >= REMEMBERED:  # given up on by the runner long ago: forget the oldest
            del self.took[next(iter(self.took))]
        self.took[key] = took
        return "; ".join(failed)

    async def _notify(self, i: int, title: str, text: str, severity: str) -> str | None:
        """One URL notified in a worker thread; ``None`` once it took it, else why not."""
        if self._threads is None:
            self._threads = anyio.CapacityLimiter(THREADS)
        said: str | None = f"timed out after {self.options.timeout:g}s"
        with move_on_after(self.context.clock, self.options.timeout):
            said = await anyio.to_thread.run_sync(send, self.targets[i], title, text, severity,
                                                  abandon_on_cancel=True, limiter=self._threads)
        return self.masker.redact(said) if said is not None else None

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
