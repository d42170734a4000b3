"""Sink registry: built-ins by name, third parties via the ``watcher.sinks`` entry-point
group (``my-sink = "my_pkg.module:MySink"``)."""

from __future__ import annotations

from watcher.infra.plugins import Registry
from watcher.sinks.base import Sink, accept

BUILTIN = {
    "stdout": "watcher.sinks.stdout:StdoutSink",
    "file": "watcher.sinks.file:FileSink",
    "webhook": "watcher.sinks.webhook:WebhookSink",
    "slack": "watcher.sinks.slack.sink:SlackSink",
    "pagerduty": "watcher.sinks.pagerduty.sink:PagerDutySink",
    "apprise": "watcher.sinks.apprise.sink:AppriseSink",
    "nats": "watcher.sinks.nats:NatsSink",
    "redis": "watcher.sinks.redis:RedisSink",
}

GROUP = "watcher.sinks"
SINKS: Registry[type[Sink]] = Registry(GROUP, BUILTIN, accept)
sink_class = SINKS.known
