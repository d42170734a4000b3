"""What a source shows while it runs: first-sync progress (logged and in the snapshot),
health with since when, and the config reload metrics of a daemon subprocess."""

from __future__ import annotations

import signal
from pathlib import Path

import anyio
import orjson
import pytest
import structlog

from tests.http_support import eventually, free_port, http_get, polled
from tests.support import DaemonProc, Harness, SimThread, sim_source, toml
from watcher.runtime import progress
from watcher.simulator import Fault, Simulator, World
from watcher.testing import FrozenClock

LIST = "/workflow_runs"


@pytest.mark.anyio
async def test_a_first_sync_logs_its_progress_and_shows_it_while_it_pages(
        sim: Simulator, world: World, clock: FrozenClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A slow first sync logs pages, runs and rate every SYNC_PROGRESS_EVERY seconds and
    shows them in the source's status while it runs; none once it is done."""
    monkeypatch.setattr(progress, "SYNC_PROGRESS_EVERY", 0.2)
    now = world.clock()
    for i in range(60):
        world.add_run("extend", "PROCESSED", created=now - 600 - i, updated=now - 600 - i)
    world.faults.add("extend", Fault("slow", delay=0.25, times=6, path=LIST))
    seen: list[tuple[int, int]] = []
    async with Harness(sim, clock=clock, page_size=10) as h:
        assert h.poller is not None
        poller = h.poller
        assert poller.status().stats.health == "waiting"

        async def watch() -> None:
            while True:
                sync = poller.status().stats.sync
                if sync is not None:
                    seen.append((sync.pages, sync.runs))
                await anyio.sleep(0.05)
        with structlog.testing.capture_logs() as logs:
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch)
                await h.poll()
                tg.cancel_scope.cancel()
        assert h.ok and len(h.state.runs) == 60
        after = poller.status()
    lines = [e for e in logs if e["event"] == "first sync in progress"]
    assert len(lines) >= 2
    assert [e["pages"] for e in lines] == sorted(e["pages"] for e in lines)
    assert lines[-1]["runs"] > 0 and lines[-1]["runs_per_s"] > 0
    assert seen and max(seen) > (0, 0)
    assert after.stats.sync is None and after.stats.health == "ok"
    assert after.stats.health_since is not None


def test_reload_metrics_say_whether_the_last_reload_was_taken_and_which_config_runs(
        sim_thread: SimThread, tmp_path: Path) -> None:
    """watcher_config_last_reload_success goes 0 on a refused reload and back to 1 on a
    good one; its timestamp moves each time; watcher_config_info's hash follows the config."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cfg = tmp_path / "watcher.toml"
    good = toml({"state_path": ":memory:", "http_listen": f"127.0.0.1:{port}"},
                [sim_source(sim_thread.url, sim_thread.world, "extend")],
                [{"name": "out", "type": "stdout"}])
    cfg.write_text(good)
    d = DaemonProc("run", "-c", str(cfg))
    try:
        def metrics() -> dict[str, tuple[str, float]]:
            code, body = http_get(base + "/metrics")
            assert code == 200
            out = {}
            for line in body.decode().splitlines():
                if line.startswith("watcher_config_"):
                    name, _, value = line.rpartition(" ")
                    out[name.split("{")[0]] = (name, float(value))
            return out
        start = eventually(lambda: http_get(base + "/healthz")[0] == 200 and metrics())
        assert start["watcher_config_last_reload_success"][1] == 1
        first_hash = start["watcher_config_info"][0]

        cfg.write_text(good + "bogus = 1\n")
        d.send(signal.SIGHUP)
        refused = eventually(lambda: (m := metrics())["watcher_config_last_reload_success"][1]
                             == 0 and m, what="refused reload")
        assert refused["watcher_config_info"][0] == first_hash
        assert (refused["watcher_config_last_reload_timestamp_seconds"][1]
                > start["watcher_config_last_reload_timestamp_seconds"][1])

        cfg.write_text(good.replace('interval = "1s"', 'interval = "2s"'))
        d.send(signal.SIGHUP)
        taken = eventually(lambda: (m := metrics())["watcher_config_last_reload_success"][1]
                           == 1 and m, what="good reload")
        assert taken["watcher_config_info"][0] != first_hash
    finally:
        assert d.stop() == 0, d.err_text()[-2000:]


def test_failures_per_workflow_count_the_last_24_hours_of_the_journal_across_a_restart(
        sim_thread: SimThread, tmp_path: Path) -> None:
    """/status counts failed runs per workflow by hour; a restarted daemon counts the ones
    journaled before it started again, read back from the journal."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(toml({"state_path": str(tmp_path / "state.db"),
                         "http_listen": f"127.0.0.1:{port}"},
                        [sim_source(sim_thread.url, sim_thread.world, "extend")],
                        [{"name": "out", "type": "stdout"}]))

    def failures() -> dict[str, list[int]]:
        code, body = http_get(base + "/status")
        if code != 200:
            return {}
        return {w["workflow"]: w["counts"] for w in
                orjson.loads(body)["failures_24h"]["workflows"]}

    d = DaemonProc("run", "-c", str(cfg))
    try:
        eventually(lambda: polled(base), what="first poll")
        for _ in range(2):
            run = sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
            d.wait_for(lambda evs, r=run: any(e["subject"] == r.id for e in evs))
            sim_thread.call(lambda w, r=run: w.set_status(r, "FAILED"))
        counted = eventually(lambda: sum(failures().get("Invoice Processing", [])) == 2
                             and failures(), what="two failures counted")
    finally:
        assert d.stop() == 0
    counts = counted["Invoice Processing"]
    assert len(counts) == 24 and counts[-1] >= 1

    again = DaemonProc("run", "-c", str(cfg))
    try:
        eventually(lambda: sum(failures().get("Invoice Processing", [])) == 2,
                   what="the same two failures after a restart")
    finally:
        assert again.stop() == 0
