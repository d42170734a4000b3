"""``watcher once`` says on stderr what each source's cycle did."""

from __future__ import annotations

from pathlib import Path

from tests.http_support import free_port
from tests.support import SimThread, run_cli, sim_source, toml


def summary(stderr: bytes) -> dict[str, str]:
    out = {}
    for line in stderr.decode().splitlines():
        if line.startswith("watcher once: "):
            name, _, rest = line.removeprefix("watcher once: ").partition(": ")
            out[name] = rest
    return out


def test_once_prints_a_line_per_source_with_polls_new_runs_events_and_failures(
        sim_thread: SimThread, tmp_path: Path) -> None:
    """Each `once` prints, per source, its polls (and failed ones), new runs, events and
    failed runs; a source that cannot be polled shows its error."""
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
    assert lines["extend-test"] == "1 poll (0 failed), 3 new runs, 0 events (0 runs failed)"
    assert lines["gone"].startswith("1 poll (1 failed), 0 new runs, 0 events (0 runs failed); "
                                    "error: ")

    run = sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    sim_thread.call(lambda w: w.set_status(run, "FAILED"))
    cfg.write_text(toml({"state_path": str(tmp_path / "state.db"), "http_listen": ""},
                        [sim_source(sim_thread.url, sim_thread.world, "extend")],
                        [{"name": "out", "type": "stdout"}]))
    second = run_cli("once", "-c", str(cfg))
    assert second.returncode == 0, second.stderr
    assert summary(second.stderr) == {
        "extend-test": "1 poll (0 failed), 1 new run, 1 event (1 run failed)"}
