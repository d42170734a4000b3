"""Prometheus metrics, read from the daemon's own state at scrape time.

Nothing in the hot path knows about Prometheus: pollers, sink runners and
the journal keep plain counters (``PollStats``, ``DeliveryStats``,
``Journal.counts``) and this collector turns them into metric families
when ``/metrics`` is scraped.  A per-daemon registry (not the global one)
keeps two daemons in one process, e.g. in tests, from sharing series.
The families of each source, sink, heartbeat and push-enabled source are
declared in tables of :class:`Row`: one family per row, one sample per item.

Counters restart from zero when the daemon restarts, and a source's or
sink's counters when a reload replaces its poller or runner; Prometheus'
``rate()``/``increase()`` treat both as ordinary counter resets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple, cast

from prometheus_client import ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import CollectorRegistry

from watcher.core.events import EVENT_TYPES
from watcher.core.histogram import Histogram
from watcher.core.status import DaemonStatus
from watcher.model import Status
from watcher.version import __version__

#: the classic text format every Prometheus version reads
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

KINDS = {"counter": CounterMetricFamily, "gauge": GaugeMetricFamily,
         "histogram": HistogramMetricFamily}


class Row(NamedTuple):
    """A family with one sample per item: ``value`` of the item is a number, a bool (1 or
    0), a :class:`Histogram`, or None (no sample); with a ``key`` label, (key, value)
    pairs."""

    kind: str
    name: str
    help: str
    value: Callable[[Any], Any]
    key: str | None = None


SOURCE_ROWS = (
    Row("counter", "watcher_polls", "Polls attempted, per source.", lambda s: s.stats.polls),
    Row("counter", "watcher_poll_errors",
        "Failed polls, per source and error kind "
        "(auth, rate_limited, transient, bad_payload, internal, error).",
        lambda s: sorted(s.stats.errors.items()), "kind"),
    Row("histogram", "watcher_poll_duration_seconds",
        "Duration of polls (failed ones too), per source.", lambda s: s.stats.duration),
    Row("gauge", "watcher_last_successful_poll_timestamp_seconds",
        "Unix time of the last successful poll, per source.", lambda s: s.stats.last_success),
    Row("gauge", "watcher_source_failing",
        "1 while a source is failing (failure_threshold "
        "consecutive failed polls, as watcher.source.failing).", lambda s: s.failing),
    Row("gauge", "watcher_source_consecutive_failures", "Failed polls in a row, per source.",
        lambda s: s.failures),
    Row("counter", "watcher_state_write_failures",
        "Poll cycles whose changes could not be saved to the state file (a full disk, "
        "an I/O error); they are saved by the next cycle that can write.",
        lambda s: s.stats.store_failures),
    Row("gauge", "watcher_state_write_failing",
        "1 while a source's last save to the state file failed.", lambda s: s.store_failing),
    Row("counter", "watcher_items_skipped",
        "Vendor run items skipped as unusable, per source and "
        "reason (not_an_object, bad_id, bad_status, undescribable).",
        lambda s: sorted(s.skipped.items()), "reason"),
    Row("gauge", "watcher_runs_tracked", "Runs held in memory, per source and canonical status.",
        lambda s: [(status.value, s.runs.get(status, 0)) for status in Status], "status"),
)

SINK_ROWS = (
    Row("counter", "watcher_sink_deliveries", "Events delivered (acknowledged), per sink.",
        lambda k: k.stats.delivered),
    Row("counter", "watcher_sink_retries",
        "Failed delivery attempts that will be retried, per sink.", lambda k: k.stats.retries),
    Row("counter", "watcher_sink_dead_letters",
        "Events given up on and kept as dead letters, per sink.", lambda k: k.stats.dead),
    Row("gauge", "watcher_sink_backlog", "Journaled events a sink has not acknowledged yet.",
        lambda k: k.backlog),
    Row("gauge", "watcher_sink_failing",
        "1 from a sink's failed delivery (or connection) attempt "
        "until one succeeds, retries inside the sink included.", lambda k: k.failing),
    Row("counter", "watcher_events_silenced",
        "Events held back from a sink by a silence (its id) or maintenance window "
        "(its name); journaled, never dead-lettered.", lambda k: sorted(k.stats.silenced.items()),
        "silence"),
    Row("counter", "watcher_events_inhibited",
        "Events held back from a sink by an [[inhibit]] rule while an episode was "
        "open; journaled, never dead-lettered.", lambda k: sorted(k.stats.inhibited.items()),
        "rule"),
)

#: the event-bus sinks (NATS, Redis): connection, publish round trips, duplicates
BUS_ROWS = (
    Row("gauge", "watcher_bus_connected", "1 while an event-bus sink is connected to its server.",
        lambda k: k.bus.connected),
    Row("histogram", "watcher_bus_publish_seconds",
        "Time from a batch's first publish to its last "
        "acknowledgement by the server, per bus sink.", lambda k: k.bus),
    Row("counter", "watcher_bus_duplicates",
        "Events the bus already held (a re-delivery after a crash "
        "or a retried batch) and dropped, per bus sink.", lambda k: k.bus.duplicates),
)

#: labelled by heartbeat name, never by URL: it is a secret
HEARTBEAT_ROWS = (
    Row("gauge", "watcher_heartbeat_last_ping_timestamp_seconds",
        "When this replica last pinged the heartbeat's monitor (Unix time; absent: never).",
        lambda h: h.stats.last_ping),
    Row("counter", "watcher_heartbeat_failures",
        "Requests to the heartbeat's monitor that it did not take (timed out, refused, "
        "not 2xx).", lambda h: h.stats.failures),
    Row("counter", "watcher_heartbeat_fail_signals",
        "Fail signals sent to the heartbeat's monitor: the watcher was unwell.",
        lambda h: h.stats.fail_signals),
    Row("gauge", "watcher_heartbeat_healthy",
        "1 while this replica pings the heartbeat and judges the watcher well, else 0.",
        lambda h: bool(h.healthy)),
)

def push_rows(now: float) -> tuple[Row, ...]:
    """A push-enabled source's (``push_secret``) counters and whether its pushes are live."""
    return (
        Row("counter", "watcher_push_received",
            "Pushes to /hooks/<source> answered by this replica, by result: stored, duplicate "
            "(a delivery id seen before), refused (bad or missing signature, old timestamp), "
            "too_large, malformed, unstored (the store could not keep it).",
            lambda p: sorted(p.received.items()), "result"),
        Row("counter", "watcher_push_missed",
            "Changes a poll found while pushes were arriving that no push had announced.",
            lambda p: p.missed),
        Row("histogram", "watcher_push_lag_seconds",
            "From the platform's signed send time (else this watcher's receipt) to the push "
            "being applied, per source (on the replica holding its lease).", lambda p: p.lag),
        Row("gauge", "watcher_push_live",
            "1 while verified pushes arrive and the source polls at push_interval.",
            lambda p: p.live(now)),
    )


def family(kind: str, name: str, help: str, labels: Sequence[str],
           samples: Iterable[tuple[list[str], Any]]) -> Metric:
    """A family of ``samples``, (label values, value) pairs valued as in :class:`Row`."""
    metric: Any = KINDS[kind](name, help, labels=labels)  # add_metric differs per kind
    for values, value in samples:
        if isinstance(value, Histogram):
            metric.add_metric(values, value.cumulative(), value.sum)
        elif value is not None:
            metric.add_metric(values, float(value) if isinstance(value, bool) else value)
    return cast(Metric, metric)


def per_item(label: str, items: Sequence[tuple[str, Any]], rows: Iterable[Row]
             ) -> Iterator[Metric]:
    """The rows' families over ``items``, (label value, item) pairs."""
    for row in rows:
        if row.key is None:
            samples = [([name], row.value(item)) for name, item in items]
            yield family(row.kind, row.name, row.help, [label], samples)
        else:
            samples = [([name, key], n) for name, item in items for key, n in row.value(item)]
            yield family(row.kind, row.name, row.help, [label, row.key], samples)


class DaemonCollector:
    """One scrape = one walk over a snapshot of the daemon's sources, sinks and journal."""

    def __init__(self, snapshot: Callable[[], DaemonStatus], *,
                 sse_clients: Callable[[], int]) -> None:
        self.snapshot = snapshot
        #: how many clients follow /events right now
        self.sse_clients = sse_clients

    def collect(self) -> Iterator[Metric]:
        d = self.snapshot()
        sinks = [(sink.name, sink) for sink in d.sinks]
        yield from per_item("source", [(src.name, src) for src in d.sources], SOURCE_ROWS)
        yield from per_item("sink", sinks, SINK_ROWS)
        yield family("gauge", "watcher_silences_active",
                     "Silences and maintenance windows holding events back "
                     "now, by kind (silence, window).", ["kind"],
                     [([kind], sum(1 for s in d.silences if s.kind == kind))
                      for kind in ("silence", "window")])
        yield from per_item("sink", [s for s in sinks if s[1].bus is not None], BUS_ROWS)
        yield from self._journal(d)
        yield from _config(d)
        yield family("counter", "watcher_internal_errors",
                     "Unexpected exceptions (a bug, a plugin that raised) contained by a task, "
                     "which carried on with backoff; task is source:<name>, sink:<name>, http, "
                     "signals, housekeeping, status, watchdog or failures.", ["task"],
                     [([f"source:{src.name}"], src.internal_errors) for src in d.sources]
                     + [([f"sink:{sink.name}"], sink.internal_errors) for sink in d.sinks]
                     + [([task], n) for task, n in d.chores.items()])
        yield from _replica(d)
        yield from per_item("heartbeat", [(h.name, h) for h in d.heartbeats], HEARTBEAT_ROWS)
        yield from per_item("source", sorted(d.push.items()), push_rows(d.now))

    def _journal(self, d: DaemonStatus) -> Iterator[Metric]:
        # every event type present from the start, so rate() works
        yield family("counter", "watcher_events", "Events journaled by this process, per type.",
                     ["type"], [([t], d.events.get(t, 0)) for t in EVENT_TYPES])
        yield family("gauge", "watcher_journal_head_sequence",
                     "Sequence number of the newest journaled event "
                     "(the SSE id of /events).", [], [([], d.journal_head)])
        yield family("gauge", "watcher_build_info", "Always 1; the version as a label.",
                     ["version"], [([__version__], 1)])
        yield family("gauge", "watcher_start_time_seconds", "Unix time the daemon started.", [],
                     [([], d.started_at)])
        yield family("gauge", "watcher_sse_clients", "Clients connected to /events.", [],
                     [([], self.sse_clients())])


def _config(d: DaemonStatus) -> Iterator[Metric]:
    yield family("gauge", "watcher_config_last_reload_success",
                 "1 if the last load of the config (at start or SIGHUP) was "
                 "taken, 0 if a reload was refused as invalid.", [],
                 [([], d.config.last_reload_ok)])
    yield family("gauge", "watcher_config_last_reload_timestamp_seconds",
                 "Unix time of the last load of the config, taken or not.", [],
                 [([], d.config.last_reload_at)])
    yield family("gauge", "watcher_config_info",
                 "Always 1; a hash of the running config as a label.", ["hash"],
                 [([d.config.hash], 1)])


def _replica(d: DaemonStatus) -> Iterator[Metric]:
    """Leases and database round trips: only for a replica among several."""
    stats, held = d.lease_stats, d.leases_held
    if stats is None or held is None:
        return
    kinds = ("source", "sink", "reader")
    yield family("gauge", "watcher_leases_held",
                 "Leases this replica holds, per kind (source, sink, reader).", ["kind"],
                 [([kind], held.get(kind, 0)) for kind in kinds])
    yield family("counter", "watcher_lease_takeovers",
                 "Leases taken over from a replica that stopped renewing them, per kind.",
                 ["kind"], [([kind], stats.takeovers[kind]) for kind in kinds])
    yield family("counter", "watcher_fenced_commits",
                 "Commits and cursor moves the store refused because another replica had "
                 "taken the lease over, per kind.", ["kind"],
                 [([kind], stats.fenced[kind]) for kind in kinds])
    yield family("counter", "watcher_lease_renew_failures",
                 "Lease renewals that failed (the database away or slow).", [],
                 [([], stats.renew_failures)])
    if d.db is not None:
        yield family("histogram", "watcher_db_round_trip_seconds",
                     "Round trips to the database server.", [], [([], d.db)])


def registry_for(snapshot: Callable[[], DaemonStatus], *,
                 sse_clients: Callable[[], int]) -> CollectorRegistry:
    """A registry with the daemon's metrics and the process' own (CPU, memory, fds)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(DaemonCollector(snapshot, sse_clients=sse_clients))
    ProcessCollector(registry=reg)
    return reg
