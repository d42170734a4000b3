"""The daemon says at start which rate-limit bucket cannot serve its sources at their
intervals, and what interval they can actually get."""

from __future__ import annotations

from pathlib import Path

from tests.support import DaemonProc, toml


def test_the_daemon_warns_at_start_of_a_bucket_too_small_for_its_sources(
        tmp_path: Path) -> None:
    """Twelve Extend sources of one key every second need 12 GET/s of Extend's 10: the
    daemon logs a warning naming the bucket by its sources (not its key) and the interval
    they get; a source of another key is in no warning."""
    sources = [{"name": f"s{i:02d}", "provider": "extend", "token": "KEY-ONE-SECRET",
                "base_url": "http://127.0.0.1:9", "interval": "1s"} for i in range(12)]
    sources.append({"name": "alone", "provider": "extend", "token": "KEY-TWO-SECRET",
                    "base_url": "http://127.0.0.1:9"})
    cfg = tmp_path / "w.toml"
    cfg.write_text(toml({"state_path": str(tmp_path / "s.db"), "http_listen": ""}, sources,
                        [{"name": "out", "type": "stdout"}]))
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
