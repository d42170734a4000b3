"""Small HTTP helpers for tests that talk to a daemon subprocess's listener."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import TypeVar

T = TypeVar("T")


def free_port() -> int:
    """A loopback port nobody listens on right now (the daemon binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
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
