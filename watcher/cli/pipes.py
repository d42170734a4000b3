"""A reader that went away (``watcher demo | head -1``): end quietly with exit 0, as
``yes | head`` does, never with a traceback or a loop of write errors.

One-shot commands let ``BrokenPipeError`` reach :func:`watcher.cli.main.main`,
which calls :func:`stdout_gone`.  ``demo`` (a daemon inside) writes its events
through a :class:`Guarded` stream that asks it to stop instead.  ``run`` does
neither: there a closed stdout is its stdout sink failing, like any outage.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import IO, Any


def stdout_gone() -> None:
    """Point stdout at /dev/null, so nothing (the flush at exit) writes to the dead pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)


class Guarded:
    """Stands in for the binary stream events are written to: once its reader is gone,
    ``closed()`` is called (once, from whichever thread wrote) and every write after
    that is dropped, as if written."""

    def __init__(self, stream: IO[bytes] | Any, closed: Callable[[], object]) -> None:
        self.stream = stream
        self._closed = closed
        self.gone = False

    def write(self, data: bytes) -> int:
        self._guarded(self.stream.write, data)
        return len(data)

    def flush(self) -> None:
        self._guarded(self.stream.flush)

    def _guarded(self, call: Callable[..., object], *args: object) -> None:
        if self.gone:
            return
        try:
            call(*args)
        except BrokenPipeError:
            self.gone = True
            stdout_gone()
            self._closed()
