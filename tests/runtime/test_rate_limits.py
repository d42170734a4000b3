"""The daemon says at start which rate-limit bucket cannot serve its sources at their
intervals, and what interval they can actually get."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.support import DaemonProc, toml


def _write(cfg: Path, tmp_path: Path, n: int) -> None:
    """``n`` Extend sources of one key every second, and one of another key."""
    sources = [{"name": f"s{i:02d}", "provider": "extend", "token": "KEY-ONE-SECRET",
                "base_url": "http://127.0.0.1:9", "interval": "1s"} for i in range(n)]
    sources.append({"name": "alone", "provider": "extend", "token": "KEY-TWO-SECRET",
                    "base_url": "http://127.0.0.1:9"})
    cfg.write_text(toml({"state_path": str(tmp_path / "s.db"), "http_listen": ""}, sources,
                        [{"name": "out", "type": "stdout"}]))


def test_the_daemon_warns_at_start_of_a_bucket_too_small_for_its_sources(
        tmp_path: Path) -> None:
    """Twelve Extend sources of one key every second need 12 GET/s of Extend's 10: the
    daemon logs a warning naming the bucket by its sources (not its key) and the interval
    they get; a source of another key is in no warning."""
    cfg = tmp_path / "w.toml"
    _write(cfg, tmp_path, 12)
    d = DaemonProc("run", "-c", str(cfg))
    try:
        entry = d.wait_log("rate limit below what the sources need")
    finally:
        d.stop()
    assert entry["level"] == "warning"
    assert entry["bucket"] == "extend bucket of s00, s01, s02 (+9 more)"
    assert "can poll only every 1.2 s instead of every 1 s" in entry["detail"]
    assert "alone" not in entry["sources"] and "SECRET" not in d.err_text()
    assert len([e for e in d.logs() if e.get("event") == entry["event"]]) == 1


def test_a_reload_that_oversubscribes_a_bucket_warns_as_the_start_would(
        tmp_path: Path) -> None:
    """Nine sources of one key fit Extend's 10 GET/s and start without a warning; a
    reload to twelve logs the warning after ``config reloaded``, as a start would."""
    cfg = tmp_path / "w.toml"
    _write(cfg, tmp_path, 9)
    d = DaemonProc("run", "-c", str(cfg))
    try:
        d.wait_log("watcher running")  # its signals followed from here on
        _write(cfg, tmp_path, 12)
        d.proc.send_signal(signal.SIGHUP)
        entry = d.wait_log("rate limit below what the sources need")
    finally:
        d.stop()
    events = [e.get("event") for e in d.logs()]
    assert events.index("config reloaded") < events.index(entry["event"])
    assert entry["bucket"] == "extend bucket of s00, s01, s02 (+9 more)"
