"""Shared by the benchmarks: a simulator in its own process, so it never shares a core
with what is being measured."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SimProcess:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "simulate", "--port", str(self.port),
             "--quiet-world"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.admin("GET", "/_sim/info")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("simulator did not start")

    def url(self, vendor: str) -> str:
        return f"http://127.0.0.1:{self.port}/{vendor}"

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                     data=orjson.dumps(body) if body is not None else None)
        with urllib.request.urlopen(req, timeout=600) as r:
            return orjson.loads(r.read())

    def token(self, vendor: str) -> str:
        return str(self.admin("GET", "/_sim/info")["vendors"][vendor]["token"])

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
