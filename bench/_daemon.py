"""Shared by the benchmarks: the daemon as a subprocess, its stdout lines timestamped
on arrival, and its CPU and memory read from /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from bench._sim import ROOT


def source(sim_url: str, token: str, name: str, **kw: Any) -> str:
    lines = [f'name = "{name}"', 'provider = "extend"', f'token = "{token}"',
             f'base_url = "{sim_url}"']
    for k, v in kw.items():
        lines.append(f"{k} = {orjson.dumps(v).decode() if not isinstance(v, dict) else _table(v)}")
    return "[[sources]]\n" + "\n".join(lines) + "\n"


def _table(d: dict[str, str]) -> str:
    return "{ " + ", ".join(f'{k} = "{v}"' for k, v in d.items()) + " }"


class Daemon:
    def __init__(self, config: str, workdir: Path, env: dict[str, str] | None = None, *,
                 root: Path = ROOT) -> None:
        """``root``: the checkout whose daemon runs (another one: an earlier version)."""
        path = workdir / "watcher.toml"
        path.write_text(config)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "run", "-c", str(path)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=root,  # -m: cwd comes first
            env={**os.environ, "PYTHONPATH": str(root), **(env or {})})
        #: (arrival time.time(), event)
        self.events: list[tuple[float, dict[str, Any]]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            self.events.append((time.time(), orjson.loads(line)))

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)
        self._reader.join(5)
