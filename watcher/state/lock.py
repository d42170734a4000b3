"""One writer per state file: an exclusive ``flock`` on ``<state_path>.lock``.

A poller works from the runs it holds in memory, so a second process
writing the same file (``watcher once`` while the service runs, a second
``watcher run``) would poll the same sources from its own idea of them:
both would journal the same changes, and each would deliver the other's
events again.  So the SQLite store takes this lock for a command that
writes (``open_store(..., writer=...)``: ``run`` and ``once``) before opening
the file and keeps it until it is closed or the process exits; whoever
comes second is refused at once, with the holder named.  Read-only commands
(``deadletters list``) take no lock, and ``deadletters retry`` only raises a
flag the running daemon acts on.

Why a file beside the state rather than the database file itself: SQLite
locks the database with POSIX locks, which a process loses as soon as it
closes *any* descriptor on that file; a descriptor of our own on it would be
one more way to get that wrong.  ``flock`` on a separate file cannot touch
SQLite's locks, and the kernel drops it when the process dies, ``kill -9``
included.  The file holds the holder's pid, host and command, for the refusal
message only: it is rewritten by each holder and never deleted (deleting a
lock file lets two processes lock two different files).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from pathlib import Path
from typing import Any

import orjson

from watcher.core.timestamps import format_ts
from watcher.errors import StateHeld, StoreUnavailable

#: how long a refusal waits for a new holder to finish writing its name
_READ_HOLDER_FOR = 0.5


class StateLock:
    """Held from :meth:`acquire` until :meth:`release` or the process ends."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, state_path: str, *, command: str) -> StateLock | None:
        """Lock ``state_path`` for this process (None for ``:memory:``, which no other
        process can open).  Raises StateHeld if another process has it, StoreUnavailable
        if the lock file cannot be opened."""
        if state_path == ":memory:":
            return None
        # beside the real file, so two spellings of it (a symlink) share one lock
        real = Path(state_path).resolve()
        path = real.with_name(real.name + ".lock")
        fd = -1
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if fd >= 0:
                os.close(fd)
            if isinstance(e, BlockingIOError):
                raise StateHeld(state_path, read_holder(path)) from None
            raise StoreUnavailable(f"cannot open state file {state_path}: cannot lock "
                                   f"{path}: {e.strerror or e}") from None
        me = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
              "since": format_ts(time.time())}
        with contextlib.suppress(OSError):  # the name is a courtesy; the lock is what counts
            os.ftruncate(fd, 0)
            os.pwrite(fd, orjson.dumps(me) + b"\n", 0)
        return cls(fd)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor drops the flock


def read_holder(path: Path) -> dict[str, Any] | None:
    """The holder's record; None if unreadable (a holder that has only just locked may
    not have written it yet, so an empty or partial file is read again for a moment)."""
    deadline = time.monotonic() + _READ_HOLDER_FOR
    while True:
        try:
            data = orjson.loads(path.read_bytes())
            if isinstance(data, dict):
                return data
        except (OSError, orjson.JSONDecodeError):
            pass
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)
