"""A process's memory as the kernel counts it (``/proc/<pid>/status``), for tests that
hold memory flat against a peer sending without end."""

from __future__ import annotations

import threading
from pathlib import Path


def status_kib(pid: int, key: str) -> int | None:
    """``VmRSS``, ``VmHWM``... in KiB, or ``None`` once the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


class PeakMemory:
    """Polls a process's ``VmHWM`` (its peak resident set) in the background until
    stopped or the process ends; ``peak_mib`` is the last value read."""

    def __init__(self, pid: int, every: float = 0.02) -> None:
        self.pid = pid
        self.every = every
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            kib = status_kib(self.pid, "VmHWM")
            if kib is None:
                return
            self.samples.append(kib)
            self._stop.wait(self.every)

    @property
    def peak_mib(self) -> float:
        return max(self.samples, default=0) / 1024
