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

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from watcher.config.settings import Config, SinkConfig, SourceConfig
from watcher.server.status import ts
from watcher.sinks import sink_class
from watcher.state.cluster import LeaseRow, ReplicaRow
from watcher.state.view import ClusterView


def document(config: Config, view: ClusterView, *, store: Mapping[str, Any] | None = None,
             replica: str | None = None, polling: Collection[str] = (),
             replicas: Sequence[ReplicaRow] = ()) -> dict[str, Any]:
    """The document; ``replica``: this process (the daemon's /status, which keeps its own
    view of what it works on), the owner of the sources it is ``polling``; ``replicas``:
    who runs when the store keeps no registry (SQLite)."""
    rows = view.replicas if view.clustered else replicas
    # without leases the one process that writes the store does everything
    solo = None if view.clustered else replica or next((r.id for r in rows if r.alive), None)
    return {
        "replica": None,
        "replicas": [_replica(r) for r in rows],
        "sources": [_source(s, view, replica if s.name in polling else solo)
                    for s in config.sources],
        "sinks": [_sink(k, view, replica, solo) for k in config.sinks],
        "heartbeats": [{"name": h.name, "kind": h.kind,
                        **_lease(view.leases.get(f"heartbeat:{h.name}"), solo)}
                       for h in config.heartbeats],
        "store": {**(store or {}), "journal_head": view.head},
    }


def _replica(r: ReplicaRow) -> dict[str, Any]:
    return {"id": r.id, "host": r.host, "pid": r.pid, "version": r.version,
            "started_at": ts(r.started), "heartbeat": ts(r.heartbeat), "alive": r.alive}


def _lease(row: LeaseRow | None, owner: str | None) -> dict[str, Any]:
    """The lease's holder, epoch and expiry; ``owner``: who owns it whatever the lease
    says (the one process, or this replica polling it)."""
    if row is None:
        lease: dict[str, Any] = {"owner": None, "epoch": None, "expires": None}
    else:
        lease = {"owner": row.holder if row.live else None, "epoch": row.epoch,
                 "expires": ts(row.expires)}
    return lease if owner is None else {**lease, "owner": owner}


def _source(cfg: SourceConfig, view: ClusterView, owner: str | None) -> dict[str, Any]:
    row = view.leases.get(f"source:{cfg.name}")
    info: Mapping[str, Any] = row.info if row is not None and row.live else {}
    stored = view.sources.get(cfg.name)
    if stored is not None:
        info = {"runs": stored.runs, "live": stored.live, **info}
    return {"name": cfg.name, "provider": cfg.provider, **_lease(row, owner),
            "last_success": ts(info.get("last_success")), "runs": info.get("runs"),
            "live": info.get("live"), "failing": info.get("failing")}


def _sink(cfg: SinkConfig, view: ClusterView, replica: str | None,
          solo: str | None) -> dict[str, Any]:
    local = sink_class(cfg.type).local and view.clustered
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
        row = view.leases.get(f"sink:{cfg.name}")
        # what its holder last reported: None when no replica holds it now
        info: Mapping[str, Any] = row.info if row is not None and row.live else {}
        out.update(_lease(row, solo))
        out.update(backlog=view.backlog(cfg.name) or 0,
                   dead_letters=view.dead.get(cfg.name, 0), failing=info.get("failing"),
                   delivered=info.get("delivered"))
    return out
