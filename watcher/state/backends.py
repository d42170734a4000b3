"""Which store a ``state_path`` names: a file path or ``:memory:`` is SQLite.

A URL (``scheme://...``) names a database server; a scheme no store here
serves is refused as an unusable store, naming only the scheme (the rest may
hold a password).
"""

from __future__ import annotations

import re

from watcher.errors import StoreUnavailable
from watcher.state.snapshots import Layout
from watcher.state.sqlite import SqliteStore
from watcher.state.store import Store

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


async def open_store(state_path: str, *, writer: str | None = None,
                     layout: Layout | None = None, create: bool = True) -> Store:
    """Open the store at ``state_path``; StoreUnavailable (exit 69) if impossible.

    ``writer``: the command that will write the state (``watcher run``): the store
    makes sure it is the only writer, and refuses with StateHeld if another process
    is.  Read-only and flag-raising commands pass none.  ``layout``: the snapshot
    thresholds (tests make them small).  ``create=False`` (``watcher check
    --connect``): open only to read, never creating, migrating or writing anything;
    StoreAbsent when there is nothing yet."""
    url = _URL.match(state_path)
    if url:
        raise StoreUnavailable(f"state_path: no state store serves {url[1]}:// URLs "
                               "(give a file path or \":memory:\")")
    return await SqliteStore.open(state_path, writer=writer, layout=layout, create=create)
