"""GitHub, GitLab, Airflow and Prefect sources in the real daemon (``watcher once``), with
a sink's match: nothing of theirs in the runtime or sink layers."""

from __future__ import annotations

from pathlib import Path

from tests.support import SimThread, lines_of, run_cli, sim_source, toml

PLATFORMS = {"github": ("in_progress", "failure"), "gitlab": ("running", "failed"),
             "airflow": ("running", "failed"), "prefect": ("RUNNING", "CRASHED")}


def test_once_reports_each_platforms_failure_to_a_matching_sink(
        tmp_path: Path, sim_thread: SimThread) -> None:
    """Two `once` runs over a state file: the first is a silent baseline, the second
    delivers one failed event per platform to a file sink matching failures only."""
    runs = {v: sim_thread.call(lambda w, v=v: w.add_run(v, PLATFORMS[v][0]))
            for v in PLATFORMS}
    out = tmp_path / "failures.jsonl"
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(toml({"state_path": str(tmp_path / "state.db"), "http_listen": ""},
                        [sim_source(sim_thread.url, sim_thread.world, v, name=f"{v}-src")
                         for v in PLATFORMS],
                        [{"name": "f", "type": "file", "path": str(out),
                          "match": {"status": ["failed"]}}]))
    first = run_cli("once", "-c", str(cfg))
    assert first.returncode == 0, first.stderr[-2000:]
    for v, run in runs.items():
        sim_thread.call(lambda w, run=run, v=v: w.set_status(run, PLATFORMS[v][1]))
    second = run_cli("once", "-c", str(cfg))
    assert second.returncode == 0, second.stderr[-2000:]
    events = list(lines_of(out.read_bytes()))
    got = {e["data"]["provider"]: (e["data"]["status"], e["data"]["raw_status"])
           for e in events}
    assert got == {v: ("failed", PLATFORMS[v][1]) for v in PLATFORMS}
    assert len(events) == 4
