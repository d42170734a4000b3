"""SQLite state in one file: one connection in WAL mode (:mod:`.connection`), the tables
and their migrations (:mod:`.schema`), a module per kind of state (:mod:`.runs`,
:mod:`.journal`, :mod:`.sinks`, :mod:`.inbox`), and :class:`.store.SqliteStore` over them."""
