"""Which store a ``state_path`` names: a file path or ``:memory:`` is SQLite, a
``postgresql://`` (or ``postgres://``) URL a PostgreSQL database replicas share.

Any other URL (``scheme://...``) is refused as an unusable store, naming only
the scheme (the rest may hold a password).
"""

from __future__ import annotations

import os
import re
import socket

from watcher.config.urls import is_postgres
from watcher.errors import StoreUnavailable
from watcher.state.postgres.store import PostgresStore
from watcher.state.snapshots import Layout
from watcher.state.sqlite.store import SqliteStore
from watcher.state.store import Store

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def default_replica() -> str:
    """A replica's id when the config names none: ``<hostname>:<pid>``."""
    return f"{socket.gethostname()}:{os.getpid()}"


async def open_store(state_path: str, *, writer: str | None = None,
                     layout: Layout | None = None, create: bool = True, existing: bool = False,
                     replica: str | None = None, listen_url: str | None = None) -> Store:
    """Open the store at ``state_path``; StoreUnavailable (exit 69) if impossible.

    ``writer``: the command that will write the state (``watcher run``): a SQLite
    store makes sure it is the only writer, and refuses with StateHeld if another
    process is; PostgreSQL has many writers, kept apart by leases instead.
    Read-only and flag-raising commands pass none.  ``layout``: the snapshot
    thresholds (tests make them small).  ``create=False`` (``watcher check
    --connect``): open only to read, never creating, migrating or writing anything;
    StoreAbsent when there is nothing yet.  ``existing`` (the commands beside a daemon:
    ``silence``, ``status``, ``deadletters``): read and write a state that is there,
    never create one (SQLite: StoreAbsent when the file is missing; PostgreSQL: no
    schema is created or migrated).  A new SQLite file is only ever made in a directory
    that exists.  ``replica``: this process's id among replicas, ``listen_url`` where it
    LISTENs (PostgreSQL only)."""
    if is_postgres(state_path):
        return await PostgresStore.open(state_path, replica=replica or default_replica(),
                                        listen_url=listen_url, layout=layout,
                                        create=create and not existing)
    if url := _URL.match(state_path):
        raise StoreUnavailable(f"state_path: no state store serves {url[1]}:// URLs "
                               "(give a file path, \":memory:\" or a postgresql:// URL)")
    return await SqliteStore.open(state_path, writer=writer, layout=layout, create=create,
                                  existing=existing)
