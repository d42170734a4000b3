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
        if not self.gone:
            try:
                self.stream.write(data)
            except BrokenPipeError:
                self._gone()
        return len(data)

    def flush(self) -> None:
        if not self.gone:
            try:
                self.stream.flush()
            except BrokenPipeError:
                self._gone()

    def _gone(self) -> None:
        self.gone = True
        stdout_gone()
        self._closed()
