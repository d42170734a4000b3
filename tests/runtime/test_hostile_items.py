"""The daemon against vendor pages that mix good runs with hostile ones (a string where an
object belongs, number and far-future timestamps, an integer id, a list for a status, nulls
everywhere, megabyte strings, an item that is no object): it stays up, reports every good
transition exactly once, says nothing or something sane about the hostile runs, warns
once per run and field, counts the skips in /metrics and still sees runs created later."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.http_support import eventually, free_port, http_get
from tests.support import DaemonProc, SimThread, sim_source, toml
from watcher.simulator import World
from watcher.simulator.app import APIS

BIG = "x" * 1_000_000
FUTURE = "9999-12-30T00:00:00Z"
#: vendor -> (live status, succeeded, failed (+ extra fields), listing path)
STAGES = {"extend": ("PROCESSING", "PROCESSED", ("FAILED", {}), "/workflow_runs"),
          "noxus": ("running", "completed", ("failed", {}), "/v1/runs"),
          "cortex": ("RUNNING", "COMPLETED", ("FAILED", {}), "/runs"),
          "knock": ("processing", "completed", ("completed", {"error_count": 2}),
                    "/v1/workflow_recipient_runs")}
#: vendor -> the field behind data.updated_at
UPDATED = {"extend": "updatedAt", "noxus": "finished_at", "cortex": "updated_at",
           "knock": "updated_at"}
#: vendor -> kind -> field overrides that keep the run describable
DESCRIBABLE = {
    "extend": {"string_for_object": {"workflow": "Invoice Processing", "usage": "9"},
               "number_timestamps": {"createdAt": 1.8e9, "updatedAt": 1.8e9},
               "future_timestamps": {"createdAt": FUTURE, "updatedAt": FUTURE},
               "megabyte_strings": {"dashboardUrl": BIG, "batchId": BIG,
                                    "workflow": {"id": BIG, "name": BIG}}},
    "noxus": {"string_for_object": {"workflow": "Invoice Processing", "input": "q"},
              "number_timestamps": {"created_at": 1.8e9, "finished_at": 1.8e9},
              "future_timestamps": {"created_at": FUTURE},
              "megabyte_strings": {"workflow_id": BIG, "source": BIG,
                                   "workflow": {"id": BIG, "name": BIG}}},
    "cortex": {"string_for_object": {"workflow_version": "v7", "retention": "forever"},
               "number_timestamps": {"created_at": 1.8e9, "updated_at": 1.8e9},
               "future_timestamps": {"created_at": FUTURE, "updated_at": FUTURE},
               "megabyte_strings": {"error": BIG, "origin": BIG,
                                    "workflow_version": {"name": BIG}}},
    "knock": {"string_for_object": {"trigger_source": "api", "recipient": 42},
              "number_timestamps": {"inserted_at": 1.8e9, "updated_at": 1.8e9},
              "future_timestamps": {"inserted_at": FUTURE, "updated_at": FUTURE},
              "megabyte_strings": {"workflow": BIG, "actor": BIG}},
}
for _vendor, _kinds in DESCRIBABLE.items():  # a word where a timestamp belongs
    _kinds["word_timestamp"] = {UPDATED[_vendor]: "yesterday"}
#: kinds that leave no usable run: skipped, never reported
SKIPPED = ("int_id", "list_status", "nulls", "not_an_object")


def hostile(world: World, vendor: str, kind: str, created: float) -> str:
    """A live run served with this kind of nonsense; its id in the world."""
    live = STAGES[vendor][0]
    if kind in DESCRIBABLE[vendor]:
        return world.add_run(vendor, live, created=created,
                             overrides=DESCRIBABLE[vendor][kind]).id
    if kind == "not_an_object":
        return world.add_run(vendor, live, created=created, replace="not a run").id
    run = world.add_run(vendor, live, created=created)
    if kind == "nulls":
        world.override(run, dict.fromkeys(APIS[vendor](world).render(run)))
    else:
        world.override(run, {"id": 12345} if kind == "int_id" else {"status": [live]})
    return run.id


def skipped_metrics(port: int) -> dict[str, float]:
    _, body = http_get(f"http://127.0.0.1:{port}/metrics")
    return {s.labels["reason"]: s.value for fam in text_string_to_metric_families(body.decode())
            for s in fam.samples if s.name == "watcher_items_skipped_total"}


@pytest.mark.parametrize("vendor", list(STAGES))
def test_hostile_items_among_good_ones_never_stop_the_daemon_or_its_good_events(
        vendor: str, tmp_path: Path, sim_thread: SimThread) -> None:
    """Good transitions exactly once, hostile runs sane or silent, later runs still seen."""
    live, done, (failed, failed_extra), listing = STAGES[vendor]
    kinds = [*DESCRIBABLE[vendor], *SKIPPED]

    def setup(w: World) -> tuple[list[str], dict[str, str]]:
        now = w.clock()
        good = [w.add_run(vendor, live, created=now - 60 - i).id for i in range(3)]
        bad = {kind: hostile(w, vendor, kind, now - 30 - i) for i, kind in enumerate(kinds)}
        return good, bad
    good, bad = sim_thread.call(setup)
    port = free_port()
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(toml({"state_path": str(tmp_path / "state.db"),
                         "http_listen": f"127.0.0.1:{port}"},
                        [sim_source(sim_thread.url, sim_thread.world, vendor, name="src")],
                        [{"name": "out", "type": "stdout"}]))
    d = DaemonProc("run", "-c", str(cfg))
    try:
        d.wait_stderr("baseline recorded")

        def change(w: World) -> str:
            w.set_status(good[0], done)
            w.set_status(good[1], failed, **failed_extra)
            for rid in bad.values():
                w.set_status(rid, done)
            # created and finished between two polls: only the listings of new runs show it
            return w.add_run(vendor, done).id
        new = sim_thread.call(change)
        expected = {(good[0], "status_changed", "succeeded"), (good[1], "status_changed", "failed"),
                    (new, "created", "succeeded"),
                    (bad["word_timestamp"], "status_changed", "succeeded")}

        def reported(evs: list[dict[str, Any]]) -> bool:
            return expected <= {(e["subject"], e["type"].removeprefix("watcher.run."),
                                 e["data"]["status"]) for e in evs}
        d.wait_for(reported, timeout=30)
        polls = sim_thread.call(lambda w: w.count(vendor, listing))
        eventually(lambda: sim_thread.call(lambda w: w.count(vendor, listing)) >= polls + 3,
                   what="three more polls")
        skips = skipped_metrics(port)
        assert d.proc.poll() is None
    finally:
        assert d.stop() == 0, d.err_text()[-3000:]

    lines = list(d.stdout)
    events = d.events()
    per_run = Counter(e["subject"] for e in events)
    # every good transition exactly once; nothing about the good run that did not change
    assert per_run[good[0]] == per_run[good[1]] == per_run[new] == 1 and per_run[good[2]] == 0
    for kind, rid in bad.items():
        mine = [e for e in events if e["subject"] == rid]
        assert len(mine) <= (0 if kind in SKIPPED else 1), (kind, mine)
        for e in mine:
            assert e["data"]["status"] == "succeeded" and e["data"]["previous_status"] == "running"
    assert max(len(line) for line in lines) < 64 * 1024
    for e in events:
        for k in ("workflow_id", "workflow_name", "created_at", "updated_at", "url", "error"):
            assert e["data"][k] is None or isinstance(e["data"][k], str)
    # a word for a timestamp: null in the event's field, as received in data.run
    (worded,) = [e["data"] for e in events if e["subject"] == bad["word_timestamp"]]
    assert worded["updated_at"] is None and worded["run"][UPDATED[vendor]] == "yesterday"
    # one warning per run and field (per kind of value, for items with no usable id),
    # however many polls saw it
    warned = Counter((entry.get("run_id") or entry.get("value"), entry.get("field"))
                     for entry in d.logs()
                     if entry.get("event") == "skipped a malformed run item")
    assert warned and max(warned.values()) == 1, warned
    assert warned[(bad["list_status"], "status")] == 1
    assert {"bad_id", "bad_status", "not_an_object"} <= set(skips)
    assert skips["bad_status"] >= 3  # counted on every poll, warned about once
