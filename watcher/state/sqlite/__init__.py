"""SQLite state: run state per source, the event journal, sink cursors, dead letters.

One connection in WAL mode (:mod:`.connection`), its tables and migrations
(:mod:`.schema`), and one module per kind of state: sources and runs
(:mod:`.runs`, laid out as :mod:`watcher.state.snapshots` decides), the
journal (:mod:`.journal`), sink cursors and dead letters (:mod:`.sinks`).
:class:`SqliteStore` puts them behind the :class:`~watcher.state.store.Store`
protocol.
"""

from __future__ import annotations

from watcher.state.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
