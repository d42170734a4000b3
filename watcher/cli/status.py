"""``watcher status [--json]``: the replicas, and who polls and delivers what, read from
the state store (the same document as ``GET /status``, without a process of its own).

When there is no state where the config points (``state_path`` unset in a shell
whose directory is not the daemon's, or ``":memory:"``), the running daemon is
asked instead (``GET /status`` at the config's ``http_listen``,
:mod:`watcher.cli.remote`), and says what it really uses.

With PostgreSQL: every replica with its last heartbeat, each source's owner, lease
epoch and expiry and what its owner last reported (last successful poll, runs
tracked and live), each sink's owner, backlog and dead letters.  With SQLite:
the one process writing the file (if one runs), and the runs as stored.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import anyio
import orjson

from watcher.cli.daemon_state import absent
from watcher.cli.remote import daemon_get
from watcher.cli.status_table import render_status_table
from watcher.config.settings import Config
from watcher.config.urls import is_postgres
from watcher.core.timestamps import parse_ts
from watcher.errors import StoreAbsent, StoreError, StoreUnavailable
from watcher.server import cluster as status
from watcher.state.backends import open_store
from watcher.state.cluster import ReplicaRow
from watcher.state.lock import read_holder
from watcher.state.view import read_view


def command(config: Config, *, as_json: bool) -> int:
    path = config.watcher.state_path
    if path == ":memory:":
        if _from_daemon(config, as_json=as_json):
            return 0
        print("watcher: state_path is \":memory:\": the state lives only inside the running "
              "daemon, and none answers at http_listen", file=sys.stderr)
        return 69
    try:
        doc = anyio.run(_document, config)
    except StoreAbsent as e:
        return 0 if _from_daemon(config, as_json=as_json) else absent(config, e)
    except (StoreUnavailable, StoreError) as e:
        print(f"watcher: {e}", file=sys.stderr)
        return 69
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        sys.stdout.write(render(doc))
    return 0


def _from_daemon(config: Config, *, as_json: bool) -> bool:
    """The running daemon's own ``/status``, printed; False when none answers."""
    answered = daemon_get(config, "/status")
    if answered is None:
        return False
    url, doc = answered
    print(f"watcher: no state where the config points; this is the daemon at {url}",
          file=sys.stderr)
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        sys.stdout.write(render_status_table(doc))
    return True


async def _document(config: Config) -> dict[str, Any]:
    path = config.watcher.state_path
    store = await open_store(path, existing=True)  # no writer: it only reads
    try:
        view = await read_view(store, config.watcher.lease_ttl, runs=store.cluster is None)
        shown = store.path
    finally:
        await store.close()
    writers = [] if view.clustered else _sqlite_writer(path)
    return status.document(config, view, replicas=writers, store={
        "kind": "postgresql" if is_postgres(path) else "sqlite", "path": shown})


def _sqlite_writer(path: str) -> list[ReplicaRow]:
    """The process holding the SQLite file's one-writer lock, as its lock file names it."""
    real = Path(path).resolve()
    lock = real.with_name(real.name + ".lock")
    holder = read_holder(lock) if lock.exists() else None
    if not holder or not isinstance(holder.get("pid"), int):
        return []
    pid, host = holder["pid"], str(holder.get("host"))
    alive = host == socket.gethostname() and _running(pid)
    since = parse_ts(holder.get("since")) or 0.0
    return [ReplicaRow(f"{host}:{pid}", host, pid, "", since, since, alive)]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def render(doc: dict[str, Any]) -> str:
    """The document as aligned tables, for a terminal."""
    store = doc["store"]
    out = [f"store: {store['kind']} {store['path']}, journal head {store['journal_head']}", ""]
    out += _table("REPLICA", ("id", "host", "pid", "heartbeat", "alive"), doc["replicas"])
    out += _table("SOURCE", ("name", "provider", "owner", "epoch", "expires", "last_success",
                             "runs", "live"), doc["sources"])
    out += _table("SINK", ("name", "type", "owner", "epoch", "backlog", "dead_letters"),
                  doc["sinks"])
    return "\n".join(out) + "\n"


def _table(title: str, keys: Sequence[str], rows: Iterable[dict[str, Any]]) -> list[str]:
    head = [title if i == 0 else k.upper().replace("_", " ") for i, k in enumerate(keys)]
    cells = [head] + [[_cell(r.get(k), every=k == "owner" and bool(r.get("local")))
                       for k in keys] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(keys))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in cells] + [""]


def _cell(value: object, *, every: bool = False) -> str:
    if value is None:
        return "every replica" if every else "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
