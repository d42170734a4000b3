"""``/status``: the daemon as JSON, for the status page and ``watcher status --json``.

Built from a :class:`~watcher.core.status.DaemonStatus` snapshot like
``/metrics`` and ``/readyz``, so all three always agree.  Top-level keys:
``replica`` (this process), ``replicas`` (every process sharing the state;
one with SQLite), ``sources``, ``sinks``, ``store``, ``config``,
``failures_24h``, ``event_types``, ``silences`` (active now), ``inhibitions``
(holding now, with what each held per sink), ``heartbeats`` (never their URLs).
Times are RFC 3339 UTC strings, or null for "never".  Vendor error texts are
redacted like logs.
"""

from __future__ import annotations

from typing import Any

from watcher.core.events import EVENT_TYPES
from watcher.core.failures import HOUR, HOURS
from watcher.core.heartbeat import HeartbeatStatus
from watcher.core.status import DaemonStatus, SinkStatus, SourceStatus
from watcher.core.timestamps import format_ts
from watcher.server.logs import redactor

#: what the cluster's document adds to what this replica works on
_LEASE = ("owner", "epoch", "expires", "local")


def ts(t: float | None) -> str | None:
    return format_ts(t) if t is not None else None


def redacted(text: str | None) -> str | None:
    return redactor.redact(text) if text else None


def status_body(d: DaemonStatus) -> dict[str, Any]:
    me = d.replica
    replica = {"id": me.id, "started_at": ts(me.started_at), "version": me.version}
    first_hour = (int(d.now // HOUR) - HOURS + 1) * HOUR
    return {
        "now": ts(d.now),
        "replica": replica,
        "replicas": [{**replica, "alive": not d.stopping, "self": True}],
        "sources": [source_body(s) for s in d.sources],
        "sinks": [sink_body(k) for k in d.sinks],
        "store": {"journal_head": d.journal_head, "writes_failing": redacted(d.store_failing)},
        "config": {"hash": d.config.hash, "last_reload_success": d.config.last_reload_ok,
                   "last_reload_at": ts(d.config.last_reload_at)},
        "failures_24h": {
            "hours": [ts(first_hour + i * HOUR) for i in range(HOURS)],
            "workflows": [{"workflow": w, "counts": list(c), "total": sum(c)}
                          for w, c in sorted(d.failures.items(), key=lambda x: -sum(x[1]))]},
        "event_types": list(EVENT_TYPES),
        "silences": [{"id": x.label, "kind": x.kind, "match": {k: list(v) for k, v in
                                                             x.match.items()},
                      "sinks": list(x.sinks), "starts": ts(x.starts), "ends": ts(x.ends),
                      "author": x.author, "comment": x.comment} for x in d.silences],
        "inhibitions": [{"rule": x.rule, "episode": x.episode, "source": x.source,
                         "workflow": x.workflow, "since": ts(x.since), "held": dict(x.held)}
                        for x in d.inhibitions],
        "heartbeats": [heartbeat_body(h) for h in d.heartbeats],
    }


def heartbeat_body(h: HeartbeatStatus) -> dict[str, Any]:
    """A heartbeat as this replica knows it: ``pinging`` whether it pings it now."""
    st = h.stats
    return {
        "name": h.name, "kind": h.kind, "interval_s": h.interval, "pinging": h.active,
        "healthy": h.healthy, "reason": redacted(st.reason), "failing": st.failing,
        "last_ping": ts(st.last_ping), "pings": st.pings, "fail_signals": st.fail_signals,
        "failures": st.failures, "last_error": redacted(st.last_error),
    }


def source_body(s: SourceStatus) -> dict[str, Any]:
    st = s.stats
    sync = st.sync
    return {
        "name": s.name, "provider": s.provider, "owner": s.owner,
        "health": st.health, "health_since": ts(st.health_since),
        "last_success": ts(st.last_success), "next_poll": ts(st.next_poll),
        "interval_s": s.interval, "consecutive_failures": s.failures,
        "last_error": redacted(st.last_error) if s.failures else None,
        "store_failing": s.store_failing,
        "runs": {str(k): v for k, v in sorted(s.runs.items()) if v},
        "tracked": sum(s.runs.values()), "live": s.live, "stuck": s.stuck,
        "first_sync": None if sync is None else {
            "pages": sync.pages, "runs": sync.runs, "started_at": ts(sync.started_at),
            "runs_per_s": round(sync.per_s, 1)},
        "push": None if s.push is None else {
            "live": s.push_live, "last_push": ts(s.push.last_push), "missed": s.push.missed},
    }


def sink_body(k: SinkStatus) -> dict[str, Any]:
    st = k.stats
    return {
        "name": k.name, "type": k.type, "backlog": k.backlog,
        "last_delivery": ts(st.last_delivery), "delivered": st.delivered,
        "dead_letters": st.dead, "silenced": sum(st.silenced.values()),
        "inhibited": sum(st.inhibited.values()), "failing": k.failing,
        "failing_since": ts(k.failing_since),
        "last_error": redacted(k.last_error) if k.failing else None,
        "retries": st.retries,
    }


def with_cluster(body: dict[str, Any], cluster: dict[str, Any]) -> dict[str, Any]:
    """This replica's ``/status`` completed by the cluster's document: every replica,
    and every source and sink with its owner and lease, those another replica works on
    with what their owner last reported."""
    body = {**body, "replicas": cluster["replicas"]}
    for key in ("sources", "sinks", "heartbeats"):
        body[key] = _completed(body[key], cluster[key])
    return body


def _completed(mine: list[dict[str, Any]], everyone: list[dict[str, Any]]
               ) -> list[dict[str, Any]]:
    here = {x["name"]: x for x in mine}
    return [x if x["name"] not in here  # polled or delivered elsewhere: its owner's report
            else {**here[x["name"]], **{k: x[k] for k in _LEASE if k in x}}
            for x in everyone]
