"""stdout: one CloudEvent JSON object per line, flushed per batch.

Writes happen in a worker thread so a reader that stops reading (a full
pipe) stalls this sink alone, never the event loop.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import anyio.to_thread

from watcher.config.options import NoOptions
from watcher.errors import Retryable
from watcher.model import JournalEntry
from watcher.sinks.base import BaseSink, Outcomes


def lines(batch: Sequence[JournalEntry]) -> bytes:
    return b"\n".join([e.body for e in batch]) + b"\n"


class StdoutSink(BaseSink[NoOptions]):
    kind = "stdout"
    record = True
    local = True

    async def deliver(self, batch: Sequence[JournalEntry]) -> Outcomes:
        data = lines(batch)
        stream = self.context.stdout or sys.stdout.buffer

        def write() -> None:
            stream.write(data)
            stream.flush()
        try:
            await anyio.to_thread.run_sync(write)
        except OSError as e:  # a closed or broken pipe is an outage, not a bug
            raise Retryable(f"cannot write to stdout: {e.strerror or e}") from None
        return ()
