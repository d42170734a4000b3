"""slack: alerts through a Slack incoming webhook, grouped and paced.

What the messages say lives in :mod:`watcher.sinks.slack_message`; this module
is how they get there:

* **Grouping** needs events to gather before a batch is handed over, so the
  sink declares ``linger = group_wait`` and the runner waits that long after
  the first event of a batch; everything journaled meanwhile arrives in the
  same batch and becomes one message per group.
* **Pacing**: Slack allows about one message per second per webhook, so every
  message waits for a token of a process-wide limiter keyed by the webhook
  (two sinks posting to one webhook share it); a 429 holds that limiter for
  ``Retry-After`` seconds before anything else is sent.
* **Errors**: Slack answers a bad message with 4xx and a reason
  (``invalid_payload``, ``no_text``, 403 ``action_prohibited``, 404
  ``no_service``, 410 ``channel_is_archived``...): retrying cannot help, so
  the reason is logged and the message's events become dead letters.  5xx,
  timeouts and dropped connections are retried with backoff, as for webhooks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import aiohttp
import orjson
import structlog

from watcher.config.options import Check, Duration, Secret, Table
from watcher.config.settings import SinkConfig
from watcher.infra.ratelimit import Buckets
from watcher.model import JournalEntry
from watcher.sinks.base import BaseSink, Rejected, SinkContext
from watcher.sinks.http import USER_AGENT, RetryOptions, RetryPolicy, check_http_url, post, reaches
from watcher.sinks.slack_message import Message, compose
from watcher.sinks.slack_words import WORDS, Headlines
from watcher.sinks.templates import check_templates

#: Slack allows one message a second per incoming webhook; a little under it, so requests
#: that leave a second apart but arrive closer (network jitter) still stay within it
MESSAGES_PER_SECOND = 1 / 1.1


class SlackOptions(RetryOptions):
    #: the incoming webhook URL (a secret: its path is the credential)
    webhook_url: Annotated[Secret, Check(check_http_url)]
    #: events arriving within this window become one message
    group_wait: Annotated[float, Duration(min=0.0)] = 10.0
    #: event type -> headline template (see watcher.sinks.slack_words), over the defaults
    templates: Annotated[Table, Check(check_templates(WORDS))] = {}


class SlackSink(BaseSink[SlackOptions]):
    kind = "slack"
    Options = SlackOptions

    def __init__(self, config: SinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self.url = self.options.webhook_url
        #: read by the runner: how long a batch gathers before it is handed over
        self.linger = self.options.group_wait
        self.timeout = aiohttp.ClientTimeout(total=self.options.timeout)
        self.policy = RetryPolicy.from_options(self.options, clock=context.clock)
        buckets = context.buckets or Buckets(clock=context.clock)
        self.pace = buckets.get(f"slack-webhook {self.url}", MESSAGES_PER_SECOND, 1.0)
        self.headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        self.log = structlog.get_logger("watcher.sink").bind(sink=self.name)
        self.headlines = Headlines(self.options.templates)
        self._session: aiohttp.ClientSession | None = None

    async def deliver(self, batch: Sequence[JournalEntry]) -> Sequence[Rejected]:
        rejected: list[Rejected] = []
        for message in compose(batch, self.headlines):  # in order, one at a time: one webhook, one pace
            why, attempts = await self._send(message)
            if why is not None:
                rejected += [(e, why, attempts) for e in message.entries]
        return rejected

    async def _send(self, message: Message) -> tuple[str | None, int]:
        """Post one message; ``(None, attempts)`` once Slack took it, else why it was given up."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        body = orjson.dumps(message.payload)
        started = self.context.clock()
        attempt = 0
        while True:
            await self.pace.acquire()
            attempt += 1
            outcome = await post(self._session, self.url, body, self.headers,
                                 limits=self.timeout, secrets=(self.url,),
                                 clock=self.context.clock)
            if outcome.ok:
                self.context.health.succeeded()
                return None, attempt
            if outcome.status == 429:  # capped: a bogus "wait a year" must not stall the sink
                self.pace.hold(min(outcome.retry_after or 1.0, self.policy.max_age))
            delay = self.policy.delay(attempt, outcome.retry_after)
            why = self.policy.give_up(outcome, attempt, self.context.clock() - started, delay)
            self.context.health.refused(outcome.reason, retryable=outcome.retryable,
                                        retry=why is None)
            if why is not None:
                self.log.error("slack refused the message; its events are kept as dead letters"
                               if not outcome.retryable else
                               "slack unreachable; giving up on the message",
                               reason=outcome.reason, events=len(message.entries))
                return why, attempt
            self.log.debug("slack message not delivered, retrying", reason=outcome.reason,
                             attempt=attempt, retry_in=round(delay, 3))
            await self.context.clock.sleep(delay)

    async def probe(self) -> str:
        return await reaches(self.url, within=self.options.timeout)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
