"""Inhibition as users run it: ``watcher once`` subprocesses against the simulator, a real
webhook receiver, a Slack stand-in and a stand-in for PagerDuty's Events API on loopback.

A workflow health rule degrades "Invoice Processing"; an ``[[inhibit]]`` rule holds its
run failures back from the notification sinks while the episode is open, and stdout
keeps every event."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.sinks.pagerduty_api import KEY, FakePagerDuty
from tests.sinks.receiver import Receiver
from tests.support import SimThread, lines_of, run_cli, sim_source, toml

RULE = ('\n[[rules]]\nname = "invoices"\nfailure_rate_above = 0.5\nwindow = "1h"\n'
        'min_finished = 3\n')
INHIBIT = ('\n[[inhibit]]\nname = "degraded-runs"\nsource = { types = ["workflow.degraded"] }\n'
           'target = { types = ["run.created", "run.status_changed"], statuses = ["failed"] }\n'
           'equal = ["source", "workflow_id"]\n')
#: a run first seen failed is created failed; one seen before changes to failed
FAILED = ("watcher.run.created", "watcher.run.status_changed")


class World:
    """The simulator, the three notification receivers and a config naming them."""

    def __init__(self, tmp_path: Path, sim: SimThread, hook: Receiver, chat: Receiver,
                 pd: FakePagerDuty, *, inhibit: str = INHIBIT) -> None:
        self.sim, self.hook, self.chat, self.pd = sim, hook, chat, pd
        self.path = tmp_path / "watcher.toml"
        self.path.write_text(toml(
            {"state_path": str(tmp_path / "state.db"), "http_listen": ""},
            [sim_source(sim.url, sim.world, "extend", name="prod")],
            [{"name": "out", "type": "stdout"},
             {"name": "hook", "type": "webhook", "url": hook.url},
             {"name": "chat", "type": "slack", "webhook_url": chat.url},
             {"name": "pager", "type": "pagerduty", "routing_key": KEY,
              "base_url": pd.base_url}]) + RULE + inhibit)

    def once(self) -> list[dict[str, Any]]:
        done = run_cli("once", "-c", str(self.path))
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        return list(lines_of(done.stdout))

    def runs(self, status: str, n: int, workflow: str = "Invoice Processing") -> list[str]:
        made: list[str] = []

        def make(w: Any) -> None:
            wf = w.workflow("extend", workflow)
            made.extend(w.add_run("extend", status, workflow=wf).id for _ in range(n))
        self.sim.call(make)
        return made

    def hook_failures(self) -> set[str]:
        """Run ids of the failures the webhook received."""
        return {ev["data"]["run_id"] for h in self.hook.delivered()
                if (ev := orjson.loads(h.body))["type"] in FAILED
                and ev["data"]["status"] == "failed"}

    def chat_mentions(self, run_id: str) -> bool:
        return any(run_id.encode() in h.body for h in self.chat.delivered())

    def paged(self) -> set[str]:
        """Run ids PagerDuty got a trigger for."""
        return {key.rsplit("/", 1)[-1] for action, key in self.pd.actions()
                if action == "trigger" and key.startswith("watcher/run/")}


@pytest.fixture
def world(tmp_path: Path, sim_thread: SimThread) -> Iterator[World]:
    with Receiver() as hook, Receiver() as chat, FakePagerDuty() as pd:
        yield World(tmp_path, sim_thread, hook, chat, pd)


def failures(events: list[dict[str, Any]]) -> set[str]:
    return {e["data"]["run_id"] for e in events
            if e["type"] in FAILED and e["data"]["status"] == "failed"}


def test_a_degraded_workflow_s_failures_are_held_from_notifications_until_it_recovers(
        world: World) -> None:
    """Failures of the degraded workflow journaled after its degraded event reach stdout
    but not the webhook, Slack or PagerDuty; another workflow's failures do; a failure
    paged before the episode still gets its resolve; the recovery says how many were
    held; after it nothing is held."""
    world.once()  # the baseline
    early = world.runs("FAILED", 1)
    world.once()
    assert world.paged() == set(early)
    degrading = world.runs("FAILED", 2)
    out = world.once()
    assert [e["type"] for e in out][-1] == "watcher.workflow.degraded"
    held = world.runs("FAILED", 2)
    other = world.runs("FAILED", 1, workflow="Payroll")
    out = world.once()
    assert failures(out) == {*held, *other}  # stdout stays complete
    assert world.hook_failures() == {*early, *degrading, *other}
    assert world.paged() == {*early, *degrading, *other}
    assert not any(world.chat_mentions(r) for r in held)
    assert all(world.chat_mentions(r) for r in other)

    def retry(w: Any) -> None:
        w.set_status(early[0], "PROCESSED")
    world.sim.call(retry)
    world.runs("PROCESSED", 8)
    out = world.once()
    recovered = [e for e in out if e["type"] == "watcher.workflow.recovered"]
    assert len(recovered) == 1
    assert recovered[0]["data"]["inhibited"]["count"] == 2
    assert sorted(recovered[0]["data"]["inhibited"]["runs"]) == sorted(held)
    assert ("resolve", f"watcher/run/prod/{early[0]}") in world.pd.actions()

    after = world.runs("FAILED", 1)
    world.once()
    assert set(after) <= world.hook_failures() and set(after) <= world.paged()
    assert world.chat_mentions(after[0])


def test_an_equal_field_absent_on_both_sides_holds_nothing(tmp_path: Path,
                                                           sim_thread: SimThread) -> None:
    """A rule whose ``equal`` names ``run_id``, which a workflow's episode never carries,
    holds nothing (two missing values are not equal), and ``watcher check`` warns of it."""
    with Receiver() as hook, Receiver() as chat, FakePagerDuty() as pd:
        w = World(tmp_path, sim_thread, hook, chat, pd,
                  inhibit=INHIBIT.replace('["source", "workflow_id"]', '["run_id"]'))
        check = run_cli("check", "-c", str(w.path))
        assert b'carries "run_id", so the rule holds nothing' in check.stdout + check.stderr
        w.once()
        w.runs("FAILED", 3)
        assert [e["type"] for e in w.once()][-1] == "watcher.workflow.degraded"
        later = w.runs("FAILED", 2)
        w.once()
        assert set(later) <= w.hook_failures() and set(later) <= w.paged()
