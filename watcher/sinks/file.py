"""file: appends JSON lines, one write per batch; reopened on SIGHUP for logrotate.

A path that cannot be opened or written raises, which makes the runner back
off and retry the same batch: events wait in the journal until the file is
writable again, none is skipped.  What a failed batch did write is cut off
again (the retry writes it whole), and a last line torn by a crash mid-write
is cut off when the file is opened again (that event is re-delivered whole),
so the file stays valid JSON lines for ``jq``, each line once.

Writes run in a worker thread; ``reopen`` comes from the event loop.  One
lock orders them: a reopen never closes the file under a write, it takes
effect between two batches (at once when none is being written, else just
before the next), and after ``aclose`` nothing is written.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import anyio.to_thread

from watcher.config.options import Options
from watcher.errors import Retryable
from watcher.model import JournalEntry
from watcher.sinks.base import BaseSink, Rejected, SinkContext
from watcher.sinks.stdout import lines

if TYPE_CHECKING:
    from watcher.config.settings import SinkConfig


class FileOptions(Options):
    #: appended to; reopened on SIGHUP
    path: str


class FileSink(BaseSink[FileOptions]):
    kind = "file"
    Options = FileOptions
    record = True
    local = True

    def __init__(self, config: SinkConfig, context: SinkContext) -> None:
        super().__init__(config, context)
        self._fh: io.FileIO | None = None
        self._lock = threading.Lock()
        #: a reopen was asked for while a batch was being written
        self._reopen = False
        self._closed = False

    async def deliver(self, batch: Sequence[JournalEntry]) -> Sequence[Rejected]:
        await anyio.to_thread.run_sync(self._write, lines(batch))
        return ()

    def _write(self, data: bytes) -> None:
        path = self.options.path
        with self._lock:
            if self._closed:
                raise Retryable(f"{path}: the sink is closed")
            if self._reopen:
                self._reopen = False  # before the open: a request made now is honoured
                self._close()
            try:
                if self._fh is None:
                    # read too: _heal_torn_line reads the tail through this descriptor
                    self._fh = open(path, "a+b", buffering=0)  # noqa: SIM115 - kept open
                    _heal_torn_line(self._fh)
                _append(self._fh, data)
            except OSError as e:
                self._close()
                raise Retryable(f"cannot write {path}: {e.strerror or e}") from None

    def _close(self) -> None:
        fh, self._fh = self._fh, None
        if fh is not None:
            with contextlib.suppress(OSError):
                fh.close()

    def reopen(self) -> None:
        # From the event loop, which must not wait for a slow disk: close now if no
        # batch is being written, else let the writer reopen before its next batch.
        self._reopen = True
        if self._lock.acquire(blocking=False):
            try:
                self._reopen = False
                self._close()
            finally:
                self._lock.release()

    async def aclose(self) -> None:
        def close() -> None:
            with self._lock:  # after the batch being written, if any
                self._closed = True
                self._close()
        await anyio.to_thread.run_sync(close)


def _append(fh: io.FileIO, data: bytes) -> None:
    """Write all of ``data``, or raise having written none of it: the batch is retried
    whole, and lines it had already written would be there twice."""
    fd = fh.fileno()
    before = os.fstat(fd).st_size
    view = memoryview(data)
    try:
        while view:
            written = fh.write(view)
            if not written:  # a regular file never does this; do not spin if one does
                raise OSError(errno.EIO, "nothing written")
            view = view[written:]
    except OSError:
        with contextlib.suppress(OSError):
            if os.fstat(fd).st_size > before:
                os.ftruncate(fd, before)
        raise


def _heal_torn_line(fh: io.FileIO) -> None:
    """Truncate a trailing partial line (no newline) left by a crash mid-write.

    Read through the descriptor just opened, not the path: logrotate may have
    renamed the file away since."""
    size = fh.seek(0, 2)
    if size == 0:
        return
    start = max(0, size - 65536)
    tail = os.pread(fh.fileno(), size - start, start)
    if tail.endswith(b"\n"):
        return
    cut = tail.rfind(b"\n")
    keep = size - len(tail) + cut + 1 if cut >= 0 else (0 if size <= 65536 else size)
    if keep != size:
        fh.truncate(keep)
        fh.seek(keep)
