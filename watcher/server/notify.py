"""sd_notify: tell systemd we are ready, alive, or stopping (``Type=notify``).

A datagram to ``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract
namespace).  Without the variable every call is a no-op, so the daemon runs
the same outside systemd.  Once ``STOPPING=1`` is sent, ``READY=1`` and
``RELOADING=1`` never are: systemd would take the stopping service for a
running one again.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping


class Notifier:
    def __init__(self, env: Mapping[str, str] = os.environ) -> None:
        addr = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + addr[1:] if addr.startswith("@") else addr
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        ours = not pid or pid == str(os.getpid())
        #: how often to send WATCHDOG=1: half the timeout systemd gave us, or None
        self.watchdog_interval = int(usec) / 2e6 if usec.isdigit() and int(usec) and ours else None
        self._stopping = False

    def send(self, *fields: str) -> bool:
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                # Called from the event loop: if systemd's queue is full, drop this
                # datagram (the next ping follows) rather than block the loop.
                s.setblocking(False)
                s.sendto("\n".join(fields).encode(), self.address)
            return True
        except OSError:
            return False

    def ready(self, status: str = "") -> bool:
        fields = [f"STATUS={status}"] if status else []
        return not self._stopping and self.send("READY=1", *fields)

    def status(self, text: str) -> bool:
        return self.send(f"STATUS={text}")

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        self._stopping = True
        return self.send("STOPPING=1")

    def reloading(self) -> bool:
        return not self._stopping and self.send("RELOADING=1")
