"""PostgreSQL state: what SQLite keeps in a file, in a database several replicas share.

A pool of connections (:mod:`.connection`), the tables and their migrations
(:mod:`.schema`), one module per kind of state as for SQLite (:mod:`.runs`,
laid out as :mod:`watcher.state.snapshots` decides; :mod:`.journal`;
:mod:`.sinks`), the replicas' registry and leases (:mod:`.leases`), and
following the other replicas' journaling (:mod:`.listen`).
:class:`PostgresStore` puts them behind the :class:`~watcher.state.store.Store`
protocol and the :class:`~watcher.state.cluster.Cluster` of leases.
"""

from __future__ import annotations

from watcher.state.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
