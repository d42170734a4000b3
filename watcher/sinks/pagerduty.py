"""pagerduty: incidents through PagerDuty's Events API v2, triggered and resolved.

What each event routed here does, and its ``dedup_key``:

- ``workflow.degraded`` triggers, ``workflow.recovered`` resolves
  (``watcher/workflow/<rule>/<source>/<workflow>``);
- ``source.failing`` triggers, ``source.recovered`` resolves (``watcher/source/<source>``);
- a run now ``failed``, ``rejected`` or ``cancelled``, or ``run.stuck``, triggers; a run
  that moved to ``succeeded`` (a stuck run that finished) resolves
  (``watcher/run/<source>/<run id>``);
- anything else is acknowledged, and nothing is sent.

A ``dedup_key`` names the incident, not one episode of it: PagerDuty applies
a trigger to the open alert of its key, and once that is resolved the next
trigger opens a new alert, so each episode of a rule gets an incident of its
own and a resolve always finds the trigger it answers.  Keys longer than
PagerDuty's 255 characters end in a hash instead.

Delivery is one POST per event, in journal order (a resolve never overtakes
its trigger).  PagerDuty answers 202; a 400 is a malformed event (its
``message`` and ``errors`` are kept with the dead letter); 429 and 5xx are
retried with backoff, never sooner than a ``Retry-After``, which pauses
every request to the endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated

import aiohttp
import orjson
import structlog

from watcher.config.options import Check, Secret, Table
from watcher.config.settings import SinkConfig
from watcher.config.toml_text import toml_value
from watcher.model import JournalEntry
from watcher.sinks.base import BaseSink, Rejected, SinkContext
from watcher.sinks.http import (
    USER_AGENT,
    Gate,
    RetryOptions,
    RetryPolicy,
    check_http_url,
    reaches,
)
from watcher.sinks.pagerduty_event import (
    DEFAULT_SEVERITY,
    SEVERITIES,
    incident_of,
    payload_of,
    post_event,
)


def _check_severity(table: Mapping[str, str]) -> str | None:
    for key, value in table.items():
        if key not in DEFAULT_SEVERITY:
            return f"{key}: not one of {', '.join(DEFAULT_SEVERITY)}"
        if value not in SEVERITIES:
            return f"{key}: {toml_value(value)} is not one of {', '.join(SEVERITIES)}"
    return None


class PagerDutyOptions(RetryOptions):
    #: the Events API v2 integration key of a service (a secret)
    routing_key: Secret
    #: PagerDuty's events endpoint host (tests point it elsewhere)
    base_url: Annotated[str, Check(check_http_url)] = 'https://events.pagerduty.com'
    #: severity by short event type or run status, over DEFAULT_SEVERITY
    severity: Annotated[Table, Check(_check_severity)] = {}
    #: ``payload.source``; unset: the watcher source the event is about
    source: str | None = None


class PagerDutySink(BaseSink[PagerDutyOptions]):
    kind = "pagerduty"
    Options = PagerDutyOptions

    def __init__(self, config: SinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        opts = self.options
        self.url = opts.base_url.rstrip("/") + "/v2/enqueue"
        self.severity = {**DEFAULT_SEVERITY, **opts.severity}
        self.timeout = aiohttp.ClientTimeout(total=opts.timeout)
        self.policy = RetryPolicy.from_options(opts, clock=context.clock)
        self.gate = Gate(context.clock)
        self.headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        self.log = structlog.get_logger("watcher.sink").bind(sink=self.name)
        self._session: aiohttp.ClientSession | None = None

    async def deliver(self, batch: Sequence[JournalEntry]) -> Sequence[Rejected]:
        rejected: list[Rejected] = []
        for e in batch:  # in order: a resolve must not overtake its trigger
            ev = orjson.loads(e.body)
            incident = incident_of(e, ev)
            if incident is None:
                continue  # nothing PagerDuty acts on: acknowledged, not sent
            action, key = incident
            body: dict[str, object] = {"routing_key": self.options.routing_key,
                                       "event_action": action, "dedup_key": key}
            if action == "trigger":
                body |= payload_of(e, ev, severity=self.severity, source=self.options.source)
            why, attempts = await self._send(orjson.dumps(body))
            if why is not None:
                rejected.append((e, why, attempts))
        return rejected

    async def _send(self, body: bytes) -> tuple[str | None, int]:
        """POST one event until PagerDuty takes it; ``(why, attempts)`` if given up."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        started = self.context.clock()
        attempt = 0
        while True:
            await self.gate.wait()
            attempt += 1
            outcome = await post_event(self._session, self.url, body, self.headers,
                                       limits=self.timeout,
                                       secrets=(self.options.routing_key,),
                                       clock=self.context.clock)
            if outcome.ok:
                self.context.health.succeeded()
                return None, attempt
            delay = self.policy.delay(attempt, outcome.retry_after)
            if outcome.retry_after:  # capped: a bogus "wait a year" must not stall the sink
                self.gate.hold(min(outcome.retry_after, self.policy.max_age))
            why = self.policy.give_up(outcome, attempt, self.context.clock() - started, delay)
            self.context.health.refused(outcome.reason, retryable=outcome.retryable,
                                        retry=why is None)
            if why is not None:
                self.log.error("pagerduty refused the event; kept as a dead letter"
                               if not outcome.retryable else
                               "pagerduty unreachable; giving up on the event",
                               reason=outcome.reason)
                return why, attempt
            self.log.debug("pagerduty did not take the event, retrying",
                             reason=outcome.reason, attempt=attempt, retry_in=round(delay, 3))
            await self.context.clock.sleep(delay)

    async def probe(self) -> str:
        return await reaches(self.url, within=self.options.timeout)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

