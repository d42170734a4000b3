"""``watcher demo``: the simulator, a lively scenario and the daemon, in one process."""

from __future__ import annotations

import subprocess
import warnings
from typing import Any

import orjson
import pytest

from tests.support import DaemonProc, lines_of
from watcher.cli.demo import demo_vendors
from watcher.core.timestamps import parse_ts
from watcher.simulator import available_vendors


def shown(events: list[dict[str, Any]]) -> bool:
    """Whether the demo has shown all the tests below look for: a failure and a stuck run,
    events of every vendor, new runs on three, and the burst's episode to its end."""
    types = {e["type"] for e in events}
    return ({"watcher.run.stuck", "watcher.workflow.recovered"} <= types
            and any(e["type"] == "watcher.run.status_changed"
                    and e["data"]["status"] == "failed" for e in events)
            and {e["data"]["provider"] for e in events} >= set(demo_vendors())
            and any(e["data"]["provider"] == "github" and e["data"].get("status") == "failed"
                    for e in events)
            and {e["data"]["provider"] for e in events
                 if e["type"] == "watcher.run.created"} >= {"extend", "noxus", "knock"})


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[bytes]:
    """One demo run, until it has shown what the tests look for (its scenario takes about
    half a minute once every source has its baseline, later on a loaded machine), then
    stopped as a user stops it; shared by the tests of what it shows."""
    d = DaemonProc("demo")
    try:
        d.wait_for(shown, timeout=100)
    finally:
        code = d.stop()
    assert code == 0, d.err_text()[-2000:]
    return subprocess.CompletedProcess(d.proc.args, code, b"".join(d.stdout),
                                       d.err_text().encode())


def test_demo_prints_a_failure_as_valid_cloudevents_from_every_platform(
        demo: subprocess.CompletedProcess[bytes]) -> None:
    """watcher demo prints failed and stuck runs of all eight platforms (a GitHub workflow
    failing among them), each a valid CloudEvent."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from cloudevents.v1.http import from_json
    r = demo
    events = list(lines_of(r.stdout))
    assert any(e["type"] == "watcher.run.status_changed" and e["data"]["status"] == "failed"
               for e in events)
    assert any(e["type"] == "watcher.run.stuck" for e in events)
    assert demo_vendors() == available_vendors() == (
        "extend", "noxus", "cortex", "knock", "github", "gitlab", "airflow", "prefect")
    assert {e["data"]["provider"] for e in events} == set(available_vendors())
    assert any(e["data"]["provider"] == "github" and e["data"].get("status") == "failed"
               and e["data"]["url"].startswith("https://github.com/acme/api/actions/runs/")
               for e in events)
    # new runs appear on three vendors within seconds; the Cortex source watches the
    # workflow with the stuck run, which is stuck already when watching starts
    created = {e["data"]["provider"] for e in events if e["type"] == "watcher.run.created"}
    assert {"extend", "noxus", "knock"} <= created
    for line in r.stdout.splitlines():
        ce = from_json(line)
        assert ce["specversion"] == "1.0"
        assert ce["id"] == orjson.loads(line)["id"]
        assert ce["source"].startswith("/watcher/sources/")


def test_demo_shows_a_workflow_degrade_and_recover_within_its_first_minute(
        demo: subprocess.CompletedProcess[bytes]) -> None:
    """The scripted burst of failures in "Payment Sync" is one workflow.degraded, then one
    workflow.recovered of the same episode, both within a minute of the first event."""
    events: list[dict[str, Any]] = list(lines_of(demo.stdout))
    health = [e for e in events if e["type"].startswith("watcher.workflow.")]
    assert [e["type"] for e in health] == ["watcher.workflow.degraded",
                                           "watcher.workflow.recovered"]
    degraded, recovered = health
    assert degraded["data"]["workflow_name"] == "Payment Sync"
    assert degraded["data"]["failed"] >= 3 and degraded["data"]["samples"]
    assert recovered["data"]["episode_started_at"] == degraded["time"]
    first = min(parse_ts(e["time"]) or 0.0 for e in events)
    assert (parse_ts(recovered["time"]) or 0.0) - first < 60
