"""Memory against a vendor that answers without end: the daemon's peak RSS growth while
one source's every answer is an endless JSON listing, next to its ``max_response_size``.

    python -m bench.endless [--cap 16MiB] [--seconds 15] [--daemon-root DIR]

The simulator runs in its own process; the source polls every second and backs off
at most a second, so it refuses a body about once a second.  It fails from its first
poll on (small malformed answers, then endless ones), so it never syncs.  The baseline
is the daemon's peak resident set (``VmHWM``) after three small bad answers; the
figure is how far that peak rose while the endless bodies streamed, and the target is
2 x the cap + 30 MB (one body being read, one being refused, and the allocator's slack).
``--daemon-root`` runs the daemon of another checkout, to compare with an earlier version.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import orjson

from bench._daemon import Daemon, source
from bench._sim import ROOT, SimProcess, free_port


def _units(text: str) -> int:
    for unit, factor in (("MiB", 1024**2), ("MB", 1000**2)):
        if text.endswith(unit):
            return int(float(text[:-len(unit)]) * factor)
    return int(text)


def _peak_kib(d: Daemon) -> int:
    for line in Path(f"/proc/{d.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("daemon gone")


def _refused(port: int) -> float:
    """``watcher_poll_errors_total{kind="bad_payload"}``: the bodies refused so far."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("watcher_poll_errors_total{") and 'kind="bad_payload"' in line:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def _wait(cond: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if cond():
                return
        except OSError:  # not listening yet
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"not within {timeout:g} s: {what}")
        time.sleep(0.2)


def measure(cap: str, seconds: float, root: Path = ROOT) -> dict[str, float]:
    with SimProcess() as sim, tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        config = (f'[watcher]\nstate_path = "{tmp}/state.db"\n'
                  f'http_listen = "127.0.0.1:{port}"\n'
                  + source(sim.url("extend"), sim.token("extend"), "endless", interval="1s",
                           max_backoff="1s", timeout="30s", max_response_size=cap)
                  + '[[sinks]]\nname = "out"\ntype = "stdout"\n')
        # the source fails from its first poll on, so it never syncs: every poll is a
        # first sync, as for a source whose vendor host breaks before the daemon starts.
        # Small bad answers first: the same failure path, warmed up, is the baseline.
        sim.admin("POST", "/_sim/faults", {"vendor": "extend", "kind": "malformed",
                                           "times": 10**9})
        d = Daemon(config, Path(tmp), root=root)
        try:
            _wait(lambda: _refused(port) >= 3, "three small bad answers refused")
            warm, before = _refused(port), _peak_kib(d)
            sim.admin("DELETE", "/_sim/faults?vendor=extend")
            sim.admin("POST", "/_sim/faults", {"vendor": "extend", "kind": "endless",
                                               "times": 10**9})
            time.sleep(seconds)
            after, refused = _peak_kib(d), _refused(port) - warm
        finally:
            d.stop()
    size = _units(cap)
    growth = (after - before) * 1024
    return {"cap_mb": size / 1e6, "seconds": seconds, "refused": refused,
            "baseline_mb": before * 1024 / 1e6, "growth_mb": growth / 1e6,
            "target_mb": (2 * size + 30e6) / 1e6, "cap_multiple": growth / size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cap", default="16MiB", help='max_response_size, e.g. "16MiB", "4MiB"')
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--daemon-root", type=Path, default=ROOT)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    r = measure(a.cap, a.seconds, root=a.daemon_root)
    if a.json:
        print(orjson.dumps(r).decode())
        return
    print(f"endless body, max_response_size {a.cap}, {r['seconds']:g} s: {r['refused']:.0f} "
          f"bodies refused, peak RSS {r['baseline_mb']:.0f} MB -> +{r['growth_mb']:.1f} MB "
          f"({r['cap_multiple']:.2f}x the cap; target <= {r['target_mb']:.1f} MB)")


if __name__ == "__main__":
    main()
