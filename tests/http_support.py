"""Small HTTP helpers for tests that talk to a daemon subprocess's listener."""

from __future__ import annotations

import random
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import TypeVar

T = TypeVar("T")


def free_port() -> int:
    """A loopback port nobody uses right now, for a daemon to bind a moment later.

    Picked below the kernel's ephemeral range (32768-60999 by default): a port from
    bind(0) is one the kernel also hands to outgoing connections, so while a test
    restarts a daemon, some other connection of a parallel test could take it.
    """
    rng = random.SystemRandom()
    while True:
        port = rng.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port


def http_get(url: str, headers: Mapping[str, str] | None = None, timeout: float = 5.0
             ) -> tuple[int, bytes]:
    """``(status, body)``; a refused connection is status 0, so callers can poll."""
    req = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, b""


def eventually(fn: Callable[[], T | None], timeout: float = 20.0, what: str = "condition"
               ) -> T:
    """Call ``fn`` until it returns something truthy; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def polled(base: str, sources: int = 1) -> bool:
    """Whether ``sources`` sources of the daemon listening at ``base`` have each polled
    successfully (``/readyz`` does not say: it is about the process, not the vendors)."""
    code, body = http_get(base + "/metrics")
    return code == 200 and body.count(b"\nwatcher_last_successful_poll_timestamp_seconds{"
                                      ) >= sources
