"""``watcher deadletters list|retry``: events a sink gave up on, read from the state file."""

from __future__ import annotations

import sys

import anyio
import orjson

from watcher.cli.daemon_state import beside_daemon
from watcher.config.settings import Config
from watcher.core.timestamps import format_ts
from watcher.state.backends import open_store
from watcher.state.store import DeadLetter


def command(config: Config, action: str, *, sink: str | None = None) -> int:
    return beside_daemon(config, lambda: anyio.run(_act, config.watcher.state_path, action, sink),
                         lambda: None, "dead letters live only inside the running daemon")


async def _act(path: str, action: str, sink: str | None) -> int:
    # No writer: listing only reads, and a retry only raises a flag on rows the
    # running daemon (the one writer of journal, state and cursors) acts on.
    async with await open_store(path, existing=True) as store:
        if action == "list":
            _print(await store.dead_letters(sink))
            return 0
        n = await store.mark_retry(sink)
    print(f"{n} dead letter{'s' if n != 1 else ''} queued for delivery again "
          "(the running daemon picks them up within seconds)", file=sys.stderr)
    return 0


def _print(letters: list[DeadLetter]) -> None:
    for d in letters:
        ent = d.entry
        sys.stdout.buffer.write(orjson.dumps({
            "sink": d.sink, "seq": ent.seq, "id": ent.id, "type": ent.type,
            "source": ent.source, "run_id": ent.run_id, "status": ent.status,
            "reason": d.reason,
            "attempts": d.attempts, "failed_at": format_ts(d.time),
            "retry_requested": d.retry}) + b"\n")
