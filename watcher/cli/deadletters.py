"""``watcher deadletters list|retry``: events a sink gave up on, read from the state file."""

from __future__ import annotations

import sys

import orjson

from watcher.config.settings import Config
from watcher.core.timestamps import format_ts
from watcher.errors import StoreUnavailable
from watcher.state.sqlite import Store, StoreError


def command(config: Config, action: str, *, sink: str | None = None) -> int:
    path = config.watcher.state_path
    if path == ":memory:":
        print("watcher: state_path is \":memory:\": dead letters live only inside the "
              "running daemon", file=sys.stderr)
        return 69
    try:
        return _act(Store.open_sync(path), action, sink)
    except (StoreUnavailable, StoreError) as e:
        print(f"watcher: {e}", file=sys.stderr)
        return 69


def _act(store: Store, action: str, sink: str | None) -> int:
    # No state lock: listing only reads, and a retry only raises a flag on rows the
    # running daemon (the one writer of journal, state and cursors) acts on.
    if action == "list":
        for d in store.dead_letters_sync(sink):
            ent = d.entry
            sys.stdout.buffer.write(orjson.dumps({
                "sink": d.sink, "seq": ent.seq, "id": ent.id, "type": ent.type,
                "source": ent.source, "run_id": ent.run_id, "status": ent.status,
                "reason": d.reason,
                "attempts": d.attempts, "failed_at": format_ts(d.time),
                "retry_requested": d.retry}) + b"\n")
        return 0
    n = store.mark_retry_sync(sink)
    print(f"{n} dead letter{'s' if n != 1 else ''} queued for delivery again "
          "(the running daemon picks them up within seconds)", file=sys.stderr)
    return 0
