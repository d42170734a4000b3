"""``watcher status [--json]``: the replicas, and who polls and delivers what, read from
the state store (:mod:`watcher.server.cluster`'s document, without a process of its own).

When there is no state where the config points (``state_path`` unset in a shell
whose directory is not the daemon's, or ``":memory:"``), the running daemon is
asked instead (``GET /status`` at the config's ``http_listen``,
:mod:`watcher.cli.remote`), and says what it really uses.  On a terminal both
documents are plain tables (the daemon's with relative ages).
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import orjson

from watcher.cli.daemon_state import beside_daemon
from watcher.cli.remote import daemon_get
from watcher.config.settings import Config
from watcher.config.urls import is_postgres
from watcher.core.timestamps import parse_ts
from watcher.server import cluster as status
from watcher.state.backends import open_store
from watcher.state.cluster import ReplicaRow
from watcher.state.lock import read_holder
from watcher.state.view import read_view


def command(config: Config, *, as_json: bool) -> int:
    def local() -> int:
        _print(anyio.run(_document, config), render, as_json=as_json)
        return 0

    def remote() -> int | None:
        answered = daemon_get(config, "/status")
        if answered is None:
            return None
        url, doc = answered
        print(f"watcher: no state where the config points; this is the daemon at {url}",
              file=sys.stderr)
        _print(doc, render_status_table, as_json=as_json)
        return 0

    return beside_daemon(config, local, remote, "the state lives only inside the running "
                         "daemon, and none answers at http_listen")


def _print(doc: dict[str, Any], as_text: Callable[[dict[str, Any]], str], *,
           as_json: bool) -> None:
    if as_json:
        sys.stdout.buffer.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    else:
        sys.stdout.write(as_text(doc))


async def _document(config: Config) -> dict[str, Any]:
    path = config.watcher.state_path
    async with await open_store(path, existing=True) as store:  # no writer: it only reads
        view = await read_view(store, config.watcher.lease_ttl, runs=store.cluster is None)
        shown = store.path
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
    head = [title] + [k.upper().replace("_", " ") for k in keys[1:]]
    cells = [[_cell(r.get(k), every=k == "owner" and bool(r.get("local"))) for k in keys]
             for r in rows]
    return [*table(head, cells), ""]


def _cell(value: object, *, every: bool = False) -> str:
    if value is None:
        return "every replica" if every else "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def age(iso: object, now: float | None) -> str:
    """``12s ago``, ``in 3s``, ``5m ago``, ``2h ago``; ``-`` for never."""
    t = parse_ts(iso)
    if t is None or now is None:
        return "-"
    s = round(t - now)
    a = abs(s)
    text = (f"{a}s" if a < 90 else f"{round(a / 60)}m" if a < 5400
            else f"{round(a / 3600)}h" if a < 172800 else f"{round(a / 86400)}d")
    return f"in {text}" if s > 0 else f"{text} ago"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Columns padded to their widest cell; numbers right-aligned."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    numeric = [all(isinstance(r[i], int) for r in rows) and bool(rows)
               for i in range(len(header))]
    return ["  ".join(c.rjust(w) if n else c.ljust(w)
                      for c, w, n in zip(r, widths, numeric, strict=True)).rstrip()
            for r in cells]


#: a sink's (or another replica's source's) state as its holder reported it; None: no
#: replica that reports holds it now
_STATE: dict[object, str] = {True: "failing", False: "ok"}


def _health(s: Mapping[str, Any], now: float | None) -> str:
    since = age(s.get("health_since"), now)
    said = s.get("health") or _STATE.get(s.get("failing"), "?")
    text = f"{said} ({since})" if since != "-" else str(said)
    sync = s.get("first_sync")
    if sync:
        text += f", first sync: {sync['pages']} pages, {sync['runs']} runs"
    return text


def _tracked(s: Mapping[str, Any]) -> int:
    """Runs tracked; a source another replica polls has its owner's count in ``runs``."""
    runs = s.get("runs")
    return int(s.get("tracked") or (runs if isinstance(runs, int) else 0))


def render_status_table(status: Mapping[str, Any]) -> str:
    """The daemon's ``/status`` JSON as text for a terminal."""
    now = parse_ts(status.get("now"))
    sources = status.get("sources") or []
    sinks = status.get("sinks") or []
    out = table(["SOURCE", "PROVIDER", "HEALTH", "LAST OK POLL", "RUNS", "LIVE", "STUCK",
                 "OWNER"],
                [[s["name"], s.get("provider", ""), _health(s, now),
                  age(s.get("last_success"), now), _tracked(s),
                  int(s.get("live") or 0), int(s.get("stuck") or 0), s.get("owner") or "-"]
                 for s in sources])
    out.append("")
    out += table(["SINK", "TYPE", "STATE", "BACKLOG", "LAST DELIVERY", "DEAD LETTERS",
                  "SILENCED"],
                 [[k["name"], k.get("type", ""), _STATE.get(k.get("failing"), "?"),
                   int(k.get("backlog", 0)), age(k.get("last_delivery"), now),
                   int(k.get("dead_letters", 0)), int(k.get("silenced", 0))] for k in sinks])
    replicas = status.get("replicas") or []
    if replicas:
        out += ["", "replicas: " + ", ".join(str(r.get("id")) for r in replicas)]
    return "\n".join(out) + "\n"
