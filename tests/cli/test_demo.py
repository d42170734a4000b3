"""``watcher demo``: the simulator, a lively scenario and the daemon, in one process."""

from __future__ import annotations

import warnings

import orjson

from tests.support import lines_of, run_cli
from watcher.simulator import available_vendors


def test_demo_prints_a_failure_as_valid_cloudevents_from_all_four_platforms() -> None:
    """watcher demo prints failed and stuck runs of all four vendors, each a valid CloudEvent."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from cloudevents.v1.http import from_json
    r = run_cli("demo", "--duration", "20", timeout=60)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    events = list(lines_of(r.stdout))
    assert any(e["type"] == "watcher.run.status_changed" and e["data"]["status"] == "failed"
               for e in events)
    assert any(e["type"] == "watcher.run.stuck" for e in events)
    assert available_vendors() == ("extend", "noxus", "cortex", "knock")
    assert {e["data"]["provider"] for e in events} == set(available_vendors())
    # new runs appear on three vendors within seconds; the Cortex source watches the
    # workflow with the stuck run, which is stuck already when watching starts
    created = {e["data"]["provider"] for e in events if e["type"] == "watcher.run.created"}
    assert {"extend", "noxus", "knock"} <= created
    for line in r.stdout.splitlines():
        ce = from_json(line)
        assert ce["specversion"] == "1.0"
        assert ce["id"] == orjson.loads(line)["id"]
        assert ce["source"].startswith("/watcher/sources/")
