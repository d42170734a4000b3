"""The heartbeats' metrics, labelled by heartbeat name (never by URL: it is a secret)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from watcher.core.status import DaemonStatus


def heartbeat_families(d: DaemonStatus) -> Iterator[Metric]:
    last = GaugeMetricFamily(
        "watcher_heartbeat_last_ping_timestamp_seconds",
        "When this replica last pinged the heartbeat's monitor (Unix time; absent: never).",
        labels=["heartbeat"])
    failures = CounterMetricFamily(
        "watcher_heartbeat_failures",
        "Requests to the heartbeat's monitor that it did not take (timed out, refused, "
        "not 2xx).", labels=["heartbeat"])
    fails = CounterMetricFamily(
        "watcher_heartbeat_fail_signals",
        "Fail signals sent to the heartbeat's monitor: the watcher was unwell.",
        labels=["heartbeat"])
    healthy = GaugeMetricFamily(
        "watcher_heartbeat_healthy",
        "1 while this replica pings the heartbeat and judges the watcher well, else 0.",
        labels=["heartbeat"])
    for h in d.heartbeats:
        if h.stats.last_ping is not None:
            last.add_metric([h.name], h.stats.last_ping)
        failures.add_metric([h.name], h.stats.failures)
        fails.add_metric([h.name], h.stats.fail_signals)
        healthy.add_metric([h.name], 1.0 if h.active and h.stats.healthy else 0.0)
    yield from (last, failures, fails, healthy)
