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
its trigger: once one is to be retried, the rest wait with it).  PagerDuty
answers 202; a 400 is a malformed event (its ``message`` and ``errors`` are
kept with the dead letter); 429 and 5xx are retried by the runner, never
sooner than a ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Annotated

import orjson

from watcher.config.options import Check, Secret, Table
from watcher.config.settings import SinkConfig
from watcher.config.toml_text import toml_value
from watcher.model import JournalEntry
from watcher.sinks.base import Outcomes, RetryOptions, SinkContext
from watcher.sinks.http import HttpSink, Outcome, check_http_url, in_turn
from watcher.sinks.pagerduty.event import (
    DEFAULT_SEVERITY,
    SEVERITIES,
    incident_of,
    payload_of,
    refusal,
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


class PagerDutySink(HttpSink[PagerDutyOptions]):
    kind = "pagerduty"
    Options = PagerDutyOptions

    def __init__(self, config: SinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        opts = self.options
        self.url = opts.base_url.rstrip("/") + "/v2/enqueue"
        self.severity = {**DEFAULT_SEVERITY, **opts.severity}
        self.secrets = (opts.routing_key,)
        self.explain = partial(refusal, secrets=self.secrets)

    async def deliver(self, batch: Sequence[JournalEntry]) -> Outcomes:
        # in order: a resolve must not overtake its trigger
        return await in_turn(batch, lambda e: (e,), self._post)

    async def _post(self, e: JournalEntry) -> Outcome | None:
        ev = orjson.loads(e.body)
        incident = incident_of(e, ev)
        if incident is None:
            return None  # nothing PagerDuty acts on: acknowledged, not sent
        action, key = incident
        body: dict[str, object] = {"routing_key": self.options.routing_key,
                                   "event_action": action, "dedup_key": key}
        if action == "trigger":
            body |= payload_of(e, ev, severity=self.severity, source=self.options.source)
        return await self.send(orjson.dumps(body), explain=self.explain)
