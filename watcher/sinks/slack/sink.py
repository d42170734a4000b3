"""slack: alerts through a Slack incoming webhook, grouped and paced.

What the messages say lives in :mod:`watcher.sinks.slack.message`; this module
is how they get there:

* **Grouping** needs events to gather before a batch is handed over, so the
  sink declares ``linger = group_wait`` and the runner waits that long after
  the first event of a batch; everything journaled meanwhile arrives in the
  same batch and becomes one message per group.
* **Pacing**: Slack allows about one message per second per webhook, so every
  message waits for a token of a process-wide limiter keyed by the webhook
  (two sinks posting to one webhook share it).  Messages go in order: once one
  is to be retried (a 429 and its ``Retry-After``, a 5xx, a timeout) the rest
  wait with it for the runner's next attempt.
* **Errors**: Slack answers a bad message with 4xx and a reason
  (``invalid_payload``, ``no_text``, 403 ``action_prohibited``, 404
  ``no_service``, 410 ``channel_is_archived``...): retrying cannot help, so
  the message's events become dead letters with that reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import orjson

from watcher.config.options import Check, Duration, Secret, Table
from watcher.config.settings import SinkConfig
from watcher.infra.ratelimit import Buckets
from watcher.model import JournalEntry
from watcher.sinks.base import Outcomes, RetryOptions, SinkContext
from watcher.sinks.http import HttpSink, Outcome, check_http_url, in_turn
from watcher.sinks.notice.words import WORDS, Headlines
from watcher.sinks.slack.message import Message, compose
from watcher.sinks.templates import check_templates

#: Slack allows one message a second per incoming webhook; a little under it, so requests
#: that leave a second apart but arrive closer (network jitter) still stay within it
MESSAGES_PER_SECOND = 1 / 1.1


class SlackOptions(RetryOptions):
    #: the incoming webhook URL (a secret: its path is the credential)
    webhook_url: Annotated[Secret, Check(check_http_url)]
    #: events arriving within this window become one message
    group_wait: Annotated[float, Duration(min=0.0)] = 10.0
    #: event type -> headline template (see watcher.sinks.notice.words), over the defaults
    templates: Annotated[Table, Check(check_templates(WORDS))] = {}


class SlackSink(HttpSink[SlackOptions]):
    kind = "slack"
    Options = SlackOptions

    def __init__(self, config: SinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self.url = self.options.webhook_url
        self.linger = self.options.group_wait
        buckets = context.buckets or Buckets(clock=context.clock)
        self.pace = buckets.get(f"slack-webhook {self.url}", MESSAGES_PER_SECOND, 1.0)
        self.headlines = Headlines(self.options.templates)

    async def deliver(self, batch: Sequence[JournalEntry]) -> Outcomes:
        # one at a time: one webhook, one pace
        return await in_turn(compose(batch, self.headlines), lambda m: m.entries, self._post)

    async def _post(self, message: Message) -> Outcome:
        await self.pace.acquire()
        return await self.send(orjson.dumps(message.payload))
