"""PostgreSQL state: what SQLite keeps in a file, in a database several replicas share.

Beside the modules SQLite has too (:mod:`.connection`, here a pool; :mod:`.schema`,
:mod:`.runs`, :mod:`.journal`, :mod:`.sinks`, :mod:`.inbox`): the replicas' registry and
leases (:mod:`.leases`), and following the others' journaling (:mod:`.listen`).
:class:`.store.PostgresStore` puts them behind the Store protocol and the Cluster of leases."""
