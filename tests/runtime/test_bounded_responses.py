"""A vendor host that answers without end (a proxy gone wrong, a hostile host) costs
its source a failed poll, never the daemon's memory or the other sources' events."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.http_support import eventually, free_port, http_get, polled
from tests.procfs import PeakMemory, status_kib
from tests.support import DaemonProc, Harness, SimThread, sim_source, toml
from watcher.errors import ProviderError
from watcher.simulator import Fault, Simulator, World
from watcher.testing import FrozenClock

CAP = 2 * 1000**2
LIMIT_TEXT = "response larger than max_response_size (2MB)"


def bad_payloads(base: str) -> float:
    _, body = http_get(base + "/metrics")
    for fam in text_string_to_metric_families(body.decode()):
        for s in fam.samples:
            if (s.name == "watcher_poll_errors_total"
                    and s.labels == {"source": "hostile", "kind": "bad_payload"}):
                return s.value
    return 0.0


def source_status(base: str, name: str) -> dict[str, Any]:
    """The source as ``/status`` shows it (its last error while it fails)."""
    _, body = http_get(base + "/status")
    return next((s for s in orjson.loads(body)["sources"] if s["name"] == name), {})


def created(events: list[dict[str, Any]], source: str) -> int:
    return sum(1 for e in events
               if e["type"] == "watcher.run.created" and e["source"].endswith(source))


def test_an_endless_vendor_body_fails_its_poll_with_flat_memory_while_others_report(
        sim_thread: SimThread, tmp_path: Path) -> None:
    """Endless pages to one source: bad payloads naming the cap, flat RSS, the other source on time."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(toml(
        {"state_path": str(tmp_path / "state.db"), "http_listen": f"127.0.0.1:{port}",
         "baseline": "emit"},
        [sim_source(sim_thread.url, sim_thread.world, "extend", name="hostile",
                    max_response_size="2MB", timeout="2s", max_backoff="1s",
                    failure_threshold=2),
         sim_source(sim_thread.url, sim_thread.world, "noxus", name="steady")],
        [{"name": "out", "type": "stdout"}]))
    daemon = DaemonProc("run", "-c", str(cfg))
    try:
        eventually(lambda: polled(base, 2), what="both sources polled")
        before = status_kib(daemon.proc.pid, "VmHWM")
        assert before is not None
        sim_thread.call(lambda w: w.faults.add("extend", Fault("endless", times=10**6)))
        with PeakMemory(daemon.proc.pid) as mem:
            for n in range(1, 4):  # the steady source keeps reporting meanwhile
                sim_thread.call(lambda w: w.add_run("noxus", "running"))
                daemon.wait_for(lambda evs, n=n: created(evs, "steady") >= n)
            eventually(lambda: bad_payloads(base) >= 5, what="several refused bodies")
            hostile = eventually(lambda: source_status(base, "hostile").get("last_error"),
                                 what="the error in /status")
        failed = daemon.wait_log("poll failed", source="hostile", kind="bad_payload")
        failing = daemon.wait_for(lambda evs: any(e["type"] == "watcher.source.failing"
                                                  for e in evs))
    finally:
        assert daemon.stop() == 0, daemon.err_text()[-3000:]
    assert hostile.startswith(LIMIT_TEXT) and failed["error"].startswith(LIMIT_TEXT)
    [event] = [e for e in failing if e["type"] == "watcher.source.failing"]
    assert event["data"]["kind"] == "bad_payload" and LIMIT_TEXT in event["data"]["error"]
    grew_mib = mem.peak_mib - before / 1024
    assert len(mem.samples) > 10 and grew_mib < 3 * CAP / 1024**2, grew_mib


def test_refused_bodies_of_a_never_synced_source_are_freed_at_once(
        sim_thread: SimThread, tmp_path: Path) -> None:
    """Endless answers from a source's first poll on: peak RSS grows by at most 2 x the cap +
    30 MB over many refused bodies (each one freed when refused, not left to the cyclic GC)."""
    cap = 4 * 1024**2
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(toml(
        {"state_path": str(tmp_path / "state.db"), "http_listen": f"127.0.0.1:{port}"},
        [sim_source(sim_thread.url, sim_thread.world, "extend", name="hostile",
                    max_response_size="4MiB", max_backoff="1s", failure_threshold=2)],
        [{"name": "out", "type": "stdout"}]))
    # the same failure path, warmed up on small bodies first, is the baseline
    sim_thread.call(lambda w: w.faults.add("extend", Fault("malformed", times=10**6)))
    daemon = DaemonProc("run", "-c", str(cfg))
    try:
        warm = eventually(lambda: bad_payloads(base) >= 3 and bad_payloads(base),
                          what="malformed answers refused")
        before = status_kib(daemon.proc.pid, "VmHWM")
        assert before is not None
        endless = Fault("endless", times=10**6)
        sim_thread.call(lambda w: (w.faults.clear("extend"), w.faults.add("extend", endless)))
        eventually(lambda: bad_payloads(base) >= warm + 16, timeout=90,
                   what="16 endless bodies refused")
        peak = status_kib(daemon.proc.pid, "VmHWM")
    finally:
        assert daemon.stop() == 0, daemon.err_text()[-3000:]
    assert peak is not None and endless.sent > 16 * cap
    grew = (peak - before) * 1024
    assert grew <= 2 * cap + 30 * 1000**2, f"peak RSS grew {grew / 1e6:.1f} MB"


@pytest.mark.anyio
async def test_a_failed_first_sync_leaves_its_error_in_no_reference_cycle(
        sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A first poll that fails frees its error, and whatever the error's frames held (the page
    read so far), when the poll returns, not whenever the cyclic GC next runs."""
    world.faults.add("extend", Fault("malformed"))
    async with Harness(sim, clock=clock) as h:
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)  # what only the cyclic GC could free lands in gc.garbage
        try:
            await h.poll()
            gc.collect()
            stranded = [o for o in gc.garbage if isinstance(o, ProviderError)]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    assert not h.ok and h.poller is not None and h.poller.state.row.failures == 1
    assert stranded == []
