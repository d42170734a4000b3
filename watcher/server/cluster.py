"""The cluster's status document: ``watcher status --json``, and what ``GET /status``
adds to this replica's own view (:mod:`watcher.server.status`).

Top-level keys: ``replica`` (this process: id, started_at, version; null from
the command line), ``replicas`` (every replica with its last heartbeat and
whether it is alive; with SQLite the one process), ``sources`` and ``sinks``
(lists of objects, each with its ``name``) and ``store``.  A source shows its
owner (the replica polling it), the lease's epoch and expiry (null with
SQLite), its last successful poll, runs tracked and live; a sink its owner
(null for a local sink, which every replica delivers from its own cursor),
backlog and dead letters; ``heartbeats`` each heartbeat's kind and owner (the
replica pinging it; never its URL).  What this replica works on comes from its own
status snapshot; the rest from the store (what each owner last reported with
its lease).  Times are RFC 3339 UTC strings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from watcher.config.settings import Config, SinkConfig, SourceConfig
from watcher.core.status import DaemonStatus, SinkStatus, SourceStatus
from watcher.model import TERMINAL
from watcher.server.status import ts
from watcher.sinks import sink_class
from watcher.state.cluster import LeaseRow, ReplicaRow
from watcher.state.view import ClusterView
from watcher.version import __version__


def document(config: Config, view: ClusterView, *, store: Mapping[str, Any],
             snapshot: DaemonStatus | None = None, replica: str | None = None,
             replicas: Sequence[ReplicaRow] = ()) -> dict[str, Any]:
    """The document; ``snapshot`` and ``replica``: this process (the daemon's /status),
    ``replicas``: who runs when the store keeps no registry (SQLite)."""
    mine = {s.name: s for s in snapshot.sources} if snapshot else {}
    delivering = {k.name: k for k in snapshot.sinks} if snapshot else {}
    me = None
    if snapshot is not None and replica is not None:
        me = {"id": replica, "started_at": ts(snapshot.started_at), "version": __version__}
    rows = view.replicas if view.clustered else replicas
    # without leases the one process that writes the store does everything
    solo = None if view.clustered else replica or next((r.id for r in rows if r.alive), None)
    return {
        "replica": me,
        "replicas": [_replica(r) for r in rows],
        "sources": [_source(s, view, mine.get(s.name), replica, solo) for s in config.sources],
        "sinks": [_sink(k, view, delivering.get(k.name), replica, solo) for k in config.sinks],
        "heartbeats": [{"name": h.name, "kind": h.kind,
                        **_lease(view.leases.get(f"heartbeat:{h.name}"), solo)}
                       for h in config.heartbeats],
        "store": {**store, "journal_head": view.head},
    }


def _replica(r: ReplicaRow) -> dict[str, Any]:
    return {"id": r.id, "host": r.host, "pid": r.pid, "version": r.version,
            "started_at": ts(r.started), "heartbeat": ts(r.heartbeat), "alive": r.alive}


def _lease(row: LeaseRow | None, solo: str | None) -> dict[str, Any]:
    """The lease's holder, epoch and expiry; ``solo``: the one process that owns all."""
    if row is None:
        lease: dict[str, Any] = {"owner": None, "epoch": None, "expires": None}
    else:
        lease = {"owner": row.holder if row.live else None, "epoch": row.epoch,
                 "expires": ts(row.expires)}
    return lease if solo is None else {**lease, "owner": solo}


def _source(cfg: SourceConfig, view: ClusterView, here: SourceStatus | None,
            replica: str | None, solo: str | None) -> dict[str, Any]:
    row = view.leases.get(f"source:{cfg.name}")
    out: dict[str, Any] = {"name": cfg.name, "provider": cfg.provider, **_lease(row, solo)}
    if here is not None:  # this replica polls it: its own numbers, now
        runs = sum(here.runs.values())
        live = sum(n for status, n in here.runs.items() if status not in TERMINAL)
        out.update(owner=replica, last_success=ts(here.stats.last_success), runs=runs,
                   live=live, failing=here.failing)
        return out
    info: Mapping[str, Any] = row.info if row is not None and row.live else {}
    stored = view.sources.get(cfg.name)
    if stored is not None:
        info = {"runs": stored.runs, "live": stored.live, **info}
    out.update(last_success=ts(info.get("last_success")), runs=info.get("runs"),
               live=info.get("live"), failing=info.get("failing"))
    return out


def _sink(cfg: SinkConfig, view: ClusterView, here: SinkStatus | None,
          replica: str | None, solo: str | None) -> dict[str, Any]:
    cls = sink_class(cfg.type)
    local = bool(cls is not None and cls.local) and view.clustered
    out: dict[str, Any] = {"name": cfg.name, "type": cfg.type, "local": local}
    if local:  # every replica delivers it from <sink>@<replica>
        consumers = [c for c in view.cursors if c.startswith(f"{cfg.name}@")]
        if replica is not None:
            consumers = [f"{cfg.name}@{replica}"]
        backlogs = [b for c in consumers if (b := view.backlog(c)) is not None]
        out.update(owner=None, epoch=None, expires=None,
                   backlog=max(backlogs, default=0),
                   dead_letters=sum(view.dead.get(c, 0) for c in consumers))
    else:
        out.update(_lease(view.leases.get(f"sink:{cfg.name}"), solo))
        out.update(backlog=view.backlog(cfg.name) or 0,
                   dead_letters=view.dead.get(cfg.name, 0))
    if here is not None:
        out.update(backlog=here.backlog, failing=here.failing,
                   delivered=here.stats.delivered)
    return out
