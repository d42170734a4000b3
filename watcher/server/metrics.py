"""Prometheus metrics, read from the daemon's own state at scrape time.

Nothing in the hot path knows about Prometheus: pollers, sink runners and
the journal keep plain counters (``PollStats``, ``DeliveryStats``,
``Journal.counts``) and this collector turns them into metric families
when ``/metrics`` is scraped.  A per-daemon registry (not the global one)
keeps two daemons in one process, e.g. in tests, from sharing series.

Counters restart from zero when the daemon restarts, and a source's or
sink's counters when a reload replaces its poller or runner; Prometheus'
``rate()``/``increase()`` treat both as ordinary counter resets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import CollectorRegistry

from watcher.core.events import EVENT_TYPES
from watcher.core.status import DaemonStatus
from watcher.model import Status
from watcher.server.heartbeat_metrics import heartbeat_families
from watcher.server.push_metrics import push_families
from watcher.version import __version__

#: the classic text format every Prometheus version reads
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class DaemonCollector:
    """One scrape = one walk over a snapshot of the daemon's sources, sinks and journal."""

    def __init__(self, snapshot: Callable[[], DaemonStatus], *,
                 sse_clients: Callable[[], int] | None = None) -> None:
        self.snapshot = snapshot
        #: how many clients follow /events right now (None: no listener to ask)
        self.sse_clients = sse_clients

    def collect(self) -> Iterator[Metric]:
        d = self.snapshot()
        yield from self._sources(d)
        yield from self._sinks(d)
        yield from self._silences(d)
        yield from self._buses(d)
        yield from self._journal(d)
        yield from self._config(d)
        yield from self._internal_errors(d)
        yield from self._replica(d)
        yield from heartbeat_families(d)
        yield from push_families(d)

    def _sources(self, d: DaemonStatus) -> Iterator[Metric]:
        families = _source_families()
        (polls, errors, duration, last_ok, failing, consecutive, store_failures, store_failing,
         skipped, runs) = families
        for src in d.sources:
            name, st = src.name, src.stats
            polls.add_metric([name], st.polls)
            for kind, n in sorted(st.errors.items()):
                errors.add_metric([name, kind], n)
            duration.add_metric([name], st.duration.cumulative(), st.duration.sum)
            if st.last_success is not None:
                last_ok.add_metric([name], st.last_success)
            failing.add_metric([name], 1.0 if src.failing else 0.0)
            consecutive.add_metric([name], src.failures)
            store_failures.add_metric([name], st.store_failures)
            store_failing.add_metric([name], 1.0 if src.store_failing else 0.0)
            for reason, n in sorted(src.skipped.items()):
                skipped.add_metric([name, reason], n)
            for status in Status:
                runs.add_metric([name, status.value], src.runs.get(status, 0))
        yield from families


    def _sinks(self, d: DaemonStatus) -> Iterator[Metric]:
        delivered = CounterMetricFamily("watcher_sink_deliveries",
                                        "Events delivered (acknowledged), per sink.",
                                        labels=["sink"])
        retries = CounterMetricFamily("watcher_sink_retries",
                                      "Failed delivery attempts that will be retried, per sink.",
                                      labels=["sink"])
        dead = CounterMetricFamily("watcher_sink_dead_letters",
                                   "Events given up on and kept as dead letters, per sink.",
                                   labels=["sink"])
        backlog = GaugeMetricFamily("watcher_sink_backlog",
                                    "Journaled events a sink has not acknowledged yet.",
                                    labels=["sink"])
        failing = GaugeMetricFamily("watcher_sink_failing",
                                    "1 from a sink's failed delivery (or connection) attempt "
                                    "until one succeeds, retries inside the sink included.",
                                    labels=["sink"])
        for sink in d.sinks:
            name, st = sink.name, sink.stats
            delivered.add_metric([name], st.delivered)
            retries.add_metric([name], st.retries)
            dead.add_metric([name], st.dead)
            backlog.add_metric([name], sink.backlog)
            failing.add_metric([name], 1.0 if sink.failing else 0.0)
        yield from (delivered, retries, dead, backlog, failing)

    def _buses(self, d: DaemonStatus) -> Iterator[Metric]:
        """The event-bus sinks (NATS, Redis): connection, publish round trips, duplicates."""
        connected = GaugeMetricFamily("watcher_bus_connected",
                                      "1 while an event-bus sink is connected to its server.",
                                      labels=["sink"])
        publish = HistogramMetricFamily("watcher_bus_publish_seconds",
                                        "Time from a batch's first publish to its last "
                                        "acknowledgement by the server, per bus sink.",
                                        labels=["sink"])
        dupes = CounterMetricFamily("watcher_bus_duplicates",
                                    "Events the bus already held (a re-delivery after a crash "
                                    "or a retried batch) and dropped, per bus sink.",
                                    labels=["sink"])
        for sink in d.sinks:
            bus = sink.bus
            if bus is None:
                continue
            connected.add_metric([sink.name], 1.0 if bus.connected else 0.0)
            publish.add_metric([sink.name], bus.cumulative(), bus.sum)
            dupes.add_metric([sink.name], bus.duplicates)
        yield from (connected, publish, dupes)

    def _silences(self, d: DaemonStatus) -> Iterator[Metric]:
        silenced = CounterMetricFamily(
            "watcher_events_silenced",
            "Events held back from a sink by a silence (its id) or maintenance window "
            "(its name); journaled, never dead-lettered.", labels=["sink", "silence"])
        for sink in d.sinks:
            for label, n in sorted(sink.silenced.items()):
                silenced.add_metric([sink.name, label], n)
        active = GaugeMetricFamily("watcher_silences_active",
                                   "Silences and maintenance windows holding events back "
                                   "now, by kind (silence, window).", labels=["kind"])
        for kind in ("silence", "window"):
            active.add_metric([kind], sum(1 for s in d.silences if s.kind == kind))
        inhibited = CounterMetricFamily(
            "watcher_events_inhibited",
            "Events held back from a sink by an [[inhibit]] rule while an episode was "
            "open; journaled, never dead-lettered.", labels=["sink", "rule"])
        for sink in d.sinks:
            for rule, n in sorted(sink.stats.inhibited.items()):
                inhibited.add_metric([sink.name, rule], n)
        yield from (silenced, active, inhibited)

    def _journal(self, d: DaemonStatus) -> Iterator[Metric]:
        events = CounterMetricFamily("watcher_events",
                                     "Events journaled by this process, per type.",
                                     labels=["type"])
        head = GaugeMetricFamily("watcher_journal_head_sequence",
                                 "Sequence number of the newest journaled event "
                                 "(the SSE id of /events).")
        for t in EVENT_TYPES:  # every type present from the start, so rate() works
            events.add_metric([t], d.events.get(t, 0))
        head.add_metric([], d.journal_head)
        info = GaugeMetricFamily("watcher_build_info", "Always 1; the version as a label.",
                                 labels=["version"])
        info.add_metric([__version__], 1)
        started = GaugeMetricFamily("watcher_start_time_seconds",
                                    "Unix time the daemon started.")
        started.add_metric([], d.started_at)
        yield from (events, head, info, started)
        if self.sse_clients is not None:
            clients = GaugeMetricFamily("watcher_sse_clients",
                                        "Clients connected to /events.")
            clients.add_metric([], self.sse_clients())
            yield clients


    def _config(self, d: DaemonStatus) -> Iterator[Metric]:
        if d.config is None:
            return
        ok = GaugeMetricFamily("watcher_config_last_reload_success",
                               "1 if the last load of the config (at start or SIGHUP) was "
                               "taken, 0 if a reload was refused as invalid.")
        ok.add_metric([], 1.0 if d.config.last_reload_ok else 0.0)
        yield ok
        if d.config.last_reload_at is not None:
            at = GaugeMetricFamily("watcher_config_last_reload_timestamp_seconds",
                                   "Unix time of the last load of the config, taken or not.")
            at.add_metric([], d.config.last_reload_at)
            yield at
        info = GaugeMetricFamily("watcher_config_info",
                                 "Always 1; a hash of the running config as a label.",
                                 labels=["hash"])
        info.add_metric([d.config.hash], 1)
        yield info

    def _internal_errors(self, d: DaemonStatus) -> Iterator[Metric]:
        errors = CounterMetricFamily(
            "watcher_internal_errors",
            "Unexpected exceptions (a bug, a plugin that raised) contained by a task, which "
            "carried on with backoff; task is source:<name>, sink:<name>, http, signals, "
            "housekeeping, status, watchdog or failures.", labels=["task"])
        for src in d.sources:
            errors.add_metric([f"source:{src.name}"], src.internal_errors)
        for sink in d.sinks:
            errors.add_metric([f"sink:{sink.name}"], sink.internal_errors)
        for task, n in d.chores.items():
            errors.add_metric([task], n)
        yield errors


    def _replica(self, d: DaemonStatus) -> Iterator[Metric]:
        """Leases and database round trips: only for a replica among several."""
        stats = d.lease_stats
        if stats is None or d.leases_held is None:
            return
        held = GaugeMetricFamily("watcher_leases_held",
                                 "Leases this replica holds, per kind (source, sink, reader).",
                                 labels=["kind"])
        takeovers = CounterMetricFamily(
            "watcher_lease_takeovers",
            "Leases taken over from a replica that stopped renewing them, per kind.",
            labels=["kind"])
        fenced = CounterMetricFamily(
            "watcher_fenced_commits",
            "Commits and cursor moves the store refused because another replica had taken "
            "the lease over, per kind.", labels=["kind"])
        for kind in ("source", "sink", "reader"):
            held.add_metric([kind], d.leases_held.get(kind, 0))
            takeovers.add_metric([kind], stats.takeovers[kind])
            fenced.add_metric([kind], stats.fenced[kind])
        renew = CounterMetricFamily("watcher_lease_renew_failures",
                                    "Lease renewals that failed (the database away or slow).")
        renew.add_metric([], stats.renew_failures)
        yield from (held, takeovers, fenced, renew)
        if d.db is not None:
            trips = HistogramMetricFamily("watcher_db_round_trip_seconds",
                                          "Round trips to the database server.")
            trips.add_metric([], d.db.cumulative(), d.db.sum)
            yield trips


def _source_families() -> tuple[Any, ...]:  # prometheus_client's families are untyped
    """The per-source families, empty."""
    polls = CounterMetricFamily("watcher_polls", "Polls attempted, per source.",
                                labels=["source"])
    errors = CounterMetricFamily("watcher_poll_errors",
                                 "Failed polls, per source and error kind "
                                 "(auth, rate_limited, transient, bad_payload, internal, error).",
                                 labels=["source", "kind"])
    duration = HistogramMetricFamily("watcher_poll_duration_seconds",
                                     "Duration of polls (failed ones too), per source.",
                                     labels=["source"])
    last_ok = GaugeMetricFamily("watcher_last_successful_poll_timestamp_seconds",
                                "Unix time of the last successful poll, per source.",
                                labels=["source"])
    failing = GaugeMetricFamily("watcher_source_failing",
                                "1 while a source is failing (failure_threshold "
                                "consecutive failed polls, as watcher.source.failing).",
                                labels=["source"])
    consecutive = GaugeMetricFamily("watcher_source_consecutive_failures",
                                    "Failed polls in a row, per source.", labels=["source"])
    store_failures = CounterMetricFamily(
        "watcher_state_write_failures",
        "Poll cycles whose changes could not be saved to the state file (a full disk, "
        "an I/O error); they are saved by the next cycle that can write.",
        labels=["source"])
    store_failing = GaugeMetricFamily("watcher_state_write_failing",
                                      "1 while a source's last save to the state file "
                                      "failed.", labels=["source"])
    skipped = CounterMetricFamily("watcher_items_skipped",
                                  "Vendor run items skipped as unusable, per source and "
                                  "reason (not_an_object, bad_id, bad_status, "
                                  "undescribable).", labels=["source", "reason"])
    runs = GaugeMetricFamily("watcher_runs_tracked",
                             "Runs held in memory, per source and canonical status.",
                             labels=["source", "status"])
    return (polls, errors, duration, last_ok, failing, consecutive, store_failures, store_failing, skipped, runs)


def registry_for(snapshot: Callable[[], DaemonStatus], *,
                 sse_clients: Callable[[], int] | None = None) -> CollectorRegistry:
    """A registry with the daemon's metrics and the process' own (CPU, memory, fds)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(DaemonCollector(snapshot, sse_clients=sse_clients))
    ProcessCollector(registry=reg)
    return reg


def render(registry: CollectorRegistry) -> bytes:
    out: bytes = generate_latest(registry)
    return out
