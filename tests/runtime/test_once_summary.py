"""``watcher once`` says on stderr what each source's cycle did."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from tests.http_support import free_port
from tests.support import ROOT, SimThread, run_cli, sim_source, toml


def summary(stderr: bytes) -> dict[str, dict[str, object]]:
    """The summaries per source, from the JSON log lines stderr gets off a terminal."""
    out = {}
    for raw in stderr.splitlines():
        e = orjson.loads(raw)
        if e["event"] == "once summary":
            out[e.pop("source")] = {k: e[k] for k in ("polls", "failed_polls", "new_runs",
                                                      "events", "failed_runs", "error")}
    return out


def test_once_prints_a_line_per_source_with_polls_new_runs_events_and_failures(
        sim_thread: SimThread, tmp_path: Path) -> None:
    """Each `once` tells, per source, its polls (and failed ones), new runs, events and
    failed runs (as log lines where logs are JSON); a source that failed shows its error."""
    for _ in range(3):
        sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    cfg = tmp_path / "watcher.toml"
    dead = sim_source(sim_thread.url, sim_thread.world, "extend", name="gone",
                      base_url=f"http://127.0.0.1:{free_port()}", timeout="2s")
    cfg.write_text(toml({"state_path": str(tmp_path / "state.db"), "http_listen": ""},
                        [sim_source(sim_thread.url, sim_thread.world, "extend"), dead],
                        [{"name": "out", "type": "stdout"}]))
    first = run_cli("once", "-c", str(cfg))
    assert first.returncode == 75  # one source failed
    lines = summary(first.stderr)
    assert lines["extend-test"] == {"polls": 1, "failed_polls": 0, "new_runs": 3, "events": 0,
                                    "failed_runs": 0, "error": None}
    gone = lines["gone"]
    assert (gone["polls"], gone["failed_polls"], gone["new_runs"]) == (1, 1, 0)
    assert isinstance(gone["error"], str) and gone["error"]

    run = sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    sim_thread.call(lambda w: w.set_status(run, "FAILED"))
    cfg.write_text(toml({"state_path": str(tmp_path / "state.db"), "http_listen": ""},
                        [sim_source(sim_thread.url, sim_thread.world, "extend")],
                        [{"name": "out", "type": "stdout"}]))
    second = run_cli("once", "-c", str(cfg))
    assert second.returncode == 0, second.stderr
    assert summary(second.stderr) == {"extend-test": {
        "polls": 1, "failed_polls": 0, "new_runs": 1, "events": 1, "failed_runs": 1,
        "error": None}}


def test_once_on_a_terminal_prints_the_summary_as_plain_lines(
        sim_thread: SimThread, tmp_path: Path) -> None:
    """With stderr on a terminal the summary is one plain line per source."""
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(toml({"state_path": ":memory:", "http_listen": ""},
                        [sim_source(sim_thread.url, sim_thread.world, "extend")],
                        [{"name": "out", "type": "stdout"}]))
    master, slave = os.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "watcher", "once", "-c", str(cfg)],
                          stdout=subprocess.DEVNULL, stderr=slave, env=env, timeout=60)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    assert proc.returncode == 0
    assert b"watcher once: extend-test: 1 poll (0 failed), 0 new runs, 0 events " \
        b"(0 runs failed)" in seen
