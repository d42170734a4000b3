"""A bug in one source or sink stays there: with a provider plugin that raises on every poll
and a sink plugin that raises on every batch, both installed through the entry-point
groups, the daemon stays up, the built-in source and sinks keep delivering, the bugs are
counted in /metrics and logged once each, and the broken source says it is failing once."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.event_schema import read_events
from tests.http_support import eventually, free_port, http_get
from tests.support import ROOT, DaemonProc, SimThread, event_types, sim_source, toml

PLUGINS = '''
from watcher import NoOptions


class BrokenProvider:
    """Has a bug: every poll raises, as a plugin reading a field that is not there."""

    kind = "broken"
    default_base_url = "http://127.0.0.1:9"
    Options = NoOptions

    def __init__(self, source, context):
        self.requests = 0

    async def poll(self, view):
        self.requests += 1
        return {}["workflow"]

    def describe(self, item):
        raise AssertionError("never called")

    async def enrich(self, events):
        return None


class BrokenSink:
    """Has a bug: every batch raises."""

    kind = "broken"
    Options = NoOptions

    def __init__(self, config, context):
        pass

    async def deliver(self, batch):
        return len(batch) / 0

    def reopen(self):
        pass

    async def aclose(self):
        pass
'''


def install_plugins(site: Path) -> dict[str, str]:
    """Install both plugins into ``site`` as an installer would; the environment to use them."""
    site.mkdir()
    (site / "brokenplugins.py").write_text(PLUGINS)
    dist = site / "broken_plugins-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugins\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[watcher.providers]\nbroken = brokenplugins:BrokenProvider\n\n"
        "[watcher.sinks]\nbroken = brokenplugins:BrokenSink\n")
    return {"PYTHONPATH": os.pathsep.join([str(ROOT), str(site)])}


def internal_errors(base: str) -> dict[str, float]:
    status, body = http_get(base + "/metrics")
    assert status == 200
    return {s.labels["task"]: s.value for fam in text_string_to_metric_families(body.decode())
            for s in fam.samples if s.name == "watcher_internal_errors_total"}


def test_a_source_and_a_sink_raising_on_every_cycle_stop_nothing_else(
        tmp_path: Path, sim_thread: SimThread) -> None:
    """The daemon outlives both bugs: the simulated source's changes reach stdout and the
    file sink, each bug is counted and logged once with its traceback, and the broken
    source emits one source.failing whose error starts "internal error:"."""
    env = install_plugins(tmp_path / "site")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    out_file = tmp_path / "events.jsonl"
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(toml(
        {"state_path": str(tmp_path / "state.db"), "http_listen": f"127.0.0.1:{port}"},
        [sim_source(sim_thread.url, sim_thread.world, "extend"),
         {"name": "broken", "provider": "broken", "token": "t", "interval": "1s",
          "max_backoff": "1s", "failure_threshold": 2}],
        [{"name": "out", "type": "stdout"},
         {"name": "file", "type": "file", "path": str(out_file)},
         {"name": "bad", "type": "broken"}]))
    daemon = DaemonProc("run", "-c", str(cfg), env=env)
    try:
        daemon.wait_log("baseline recorded", source="extend-test")
        run = sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
        daemon.wait_for(lambda evs: "run.created" in event_types(evs))
        sim_thread.call(lambda w: w.set_status(run, "FAILED", error="boom"))
        evs = daemon.wait_for(lambda evs: "run.status_changed" in event_types(evs))
        eventually(lambda: out_file.exists() and len(out_file.read_bytes().splitlines()) >= 3,
                   what="the file sink to catch up")
        # a few more cycles of both bugs after the source went failing
        def counted() -> dict[str, float] | None:
            e = internal_errors(base)
            return e if e.get("source:broken", 0) >= 4 and e.get("sink:bad", 0) >= 2 else None
        errors = eventually(counted, what="both bugs counted a few times")
        evs = daemon.events()
        assert daemon.proc.poll() is None
    finally:
        code = daemon.stop(signal.SIGTERM)
    assert code == 0, daemon.err_text()[-3000:]

    assert errors["source:extend-test"] == 0 and errors["sink:out"] == 0
    failing = [e for e in evs if e["type"] == "watcher.source.failing"]
    assert [e["subject"] for e in failing] == ["broken"]
    assert failing[0]["data"]["error"] == "internal error: KeyError: 'workflow'"
    assert {"run.created", "run.status_changed"} <= set(event_types(evs))
    in_file = read_events(out_file)
    assert [e["id"] for e in in_file] == [e["id"] for e in evs][:len(in_file)]
    traced: list[dict[str, Any]] = [e for e in daemon.logs() if "exception" in e]
    assert sorted(e["task"] for e in traced) == ["sink:bad", "source:broken"]
    assert "ZeroDivisionError" in next(e["exception"] for e in traced if e["task"] == "sink:bad")
