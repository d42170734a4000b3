"""Vendor push metrics, per source that takes pushes (``push_secret``)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from watcher.core.status import DaemonStatus


def push_families(d: DaemonStatus) -> Iterator[Metric]:
    received = CounterMetricFamily(
        "watcher_push_received",
        "Pushes to /hooks/<source> answered by this replica, by result: stored, duplicate "
        "(a delivery id seen before), refused (bad or missing signature, old timestamp), "
        "too_large, malformed, unstored (the store could not keep it).",
        labels=["source", "result"])
    missed = CounterMetricFamily(
        "watcher_push_missed",
        "Changes a poll found while pushes were arriving that no push had announced.",
        labels=["source"])
    lag = HistogramMetricFamily(
        "watcher_push_lag_seconds",
        "From the platform's signed send time (else this watcher's receipt) to the push "
        "being applied, per source (on the replica holding its lease).", labels=["source"])
    live = GaugeMetricFamily(
        "watcher_push_live",
        "1 while verified pushes arrive and the source polls at push_interval.",
        labels=["source"])
    for name, st in sorted(d.push.items()):
        for result, n in sorted(st.received.items()):
            received.add_metric([name, result], n)
        missed.add_metric([name], st.missed)
        lag.add_metric([name], st.lag.cumulative(), st.lag.sum)
        live.add_metric([name], 1.0 if st.live(d.now) else 0.0)
    yield from (received, missed, lag, live)
