"""file: appends JSON lines, flushed per batch; reopened on SIGHUP for logrotate.

A path that cannot be opened or written raises, which makes the runner back
off and retry the same batch: events wait in the journal until the file is
writable again, none is skipped.  A last line torn by a crash mid-write is
cut off when the file is opened again (that event is re-delivered whole), so
the file stays valid JSON lines for ``jq``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import IO, ClassVar

import anyio.to_thread

from watcher.errors import Retryable
from watcher.schema import REQUIRED, Field
from watcher.sinks.base import BaseSink, Rejected
from watcher.sinks.stdout import lines
from watcher.store import Entry


class FileSink(BaseSink):
    kind = "file"
    options: ClassVar[dict[str, Field]] = {"path": Field("str", REQUIRED)}

    _fh: IO[bytes] | None = None

    async def deliver(self, batch: Sequence[Entry]) -> Sequence[Rejected]:
        await anyio.to_thread.run_sync(self._write, lines(batch))
        return ()

    def _write(self, data: bytes) -> None:
        path = self.config.options["path"]
        try:
            if self._fh is None:
                self._fh = open(path, "ab")  # noqa: SIM115 - kept open between batches
                _heal_torn_line(self._fh)
            self._fh.write(data)
            self._fh.flush()
        except OSError as e:
            self._close()
            raise Retryable(f"cannot write {path}: {e.strerror or e}") from None

    def _close(self) -> None:
        fh, self._fh = self._fh, None
        if fh is not None:
            with contextlib.suppress(OSError):
                fh.close()

    def reopen(self) -> None:
        self._close()

    async def aclose(self) -> None:
        self._close()


def _heal_torn_line(fh: IO[bytes]) -> None:
    """Truncate a trailing partial line (no newline) left by a crash mid-write."""
    size = fh.seek(0, 2)
    if size == 0:
        return
    with open(fh.name, "rb") as r:
        r.seek(max(0, size - 65536))
        tail = r.read()
    if tail.endswith(b"\n"):
        return
    cut = tail.rfind(b"\n")
    keep = size - len(tail) + cut + 1 if cut >= 0 else (0 if size <= 65536 else size)
    if keep != size:
        fh.truncate(keep)
        fh.seek(keep)
