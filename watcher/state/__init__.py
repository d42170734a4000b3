"""Durable state behind one seam: run state, the event journal, sink cursors, dead letters.

``store`` is the seam (the :class:`~watcher.state.store.Store` protocol and the
types it speaks), ``backends.open_store`` picks an implementation from
``state_path`` (``sqlite/``, ``postgres/``), and ``snapshots`` is the run layout
every implementation shares.  ``journal`` is the in-memory side of the
journal (tail, cursors, wake-ups) over any store; ``lock`` keeps a SQLite
file to one writing process.
"""
