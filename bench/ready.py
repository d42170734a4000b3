"""Start to READY: process start to the READY=1 datagram on $NOTIFY_SOCKET.

    python -m bench.ready [--runs 5]

A real unix datagram socket stands in for systemd; the daemon watches one
source on the simulator (its own process) with a state file; the median of
several starts is reported.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from bench._daemon import source
from bench._sim import ROOT, SimProcess


def once(sim: SimProcess, tmp: Path, i: int) -> float:
    sock_path = tmp / f"notify{i}.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(20)
    cfg = tmp / "watcher.toml"
    cfg.write_text(f'[watcher]\nstate_path = "{tmp}/state.db"\nhttp_listen = "127.0.0.1:0"\n'
                   + source(sim.url("extend"), sim.token("extend"), "src")
                   + '[[sinks]]\nname = "out"\ntype = "stdout"\n')
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "watcher", "run", "-c", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(ROOT),
                                 "NOTIFY_SOCKET": str(sock_path)})
    try:
        while True:
            msg = sock.recv(4096).decode()
            if "READY=1" in msg.split("\n"):
                return time.monotonic() - started
    finally:
        proc.terminate()
        proc.wait(20)
        sock.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    with SimProcess() as sim, tempfile.TemporaryDirectory() as tmp:
        times = [once(sim, Path(tmp), i) for i in range(a.runs)]
    if a.json:
        print(orjson.dumps({"median": statistics.median(times), "max": max(times)}).decode())
        return
    print(f"start to READY=1: median {statistics.median(times):.2f} s, "
          f"max {max(times):.2f} s over {a.runs} starts   (target <= 1 s)")


if __name__ == "__main__":
    main()
