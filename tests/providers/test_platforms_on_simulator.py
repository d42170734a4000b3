"""The built-ins ``github``, ``gitlab``, ``airflow`` and ``prefect`` against the simulator's
copies of their APIs: silent baseline, one event per transition, a live run that left the
first page, idle cost, auth, paging and hostile items."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Harness, statuses
from watcher.simulator import Simulator, World
from watcher.simulator.app import APIS
from watcher.testing import FrozenClock

pytestmark = [pytest.mark.anyio,
              pytest.mark.parametrize("vendor", ["github", "gitlab", "airflow", "prefect"])]
KEYS: dict[str, dict[str, Any]] = {"github": {"repository": "acme/api"},
                                   "gitlab": {"project": "acme/api"}, "airflow": {},
                                   "prefect": {}}
#: the filter an idle cycle asks with, by vendor (GitHub: If-None-Match instead)
WATERMARK = {"gitlab": "updated_after", "airflow": "updated_at_gte"}
#: requests a cycle costs with nothing changed
IDLE = {"github": 1, "gitlab": 1, "airflow": 1, "prefect": 2}


def raw(vendor: str, stage: str) -> str:
    return APIS[vendor].stages[stage][0]


def harness(sim: Simulator, vendor: str, clock: FrozenClock, **kw: Any) -> Harness:
    return Harness(sim, vendor, clock=clock, **{**KEYS[vendor], "interval": "15s", **kw})


async def test_silent_baseline_then_one_event_per_transition(
        vendor: str, sim: Simulator, world: World, clock: FrozenClock) -> None:
    """Runs there at the first poll make no event; pending -> running -> failed make one
    each, with the canonical status and the platform's own value as raw_status."""
    for i in range(3):
        world.add_run(vendor, raw(vendor, "succeeded"), created=clock() - 900 + i)
    async with harness(sim, vendor, clock) as h:
        assert await h.poll() == []
        clock.advance(15)
        run = world.add_run(vendor, raw(vendor, "pending"), created=clock())
        assert statuses(await h.poll()) == [("run.created", "pending", None)]
        clock.advance(15)
        world.set_status(run, raw(vendor, "running"))
        assert statuses(await h.poll()) == [("run.status_changed", "running", "pending")]
        clock.advance(15)
        world.set_status(run, raw(vendor, "failed"))
        [event] = await h.poll()
        assert (event["data"]["status"], event["data"]["previous_status"]) == ("failed",
                                                                               "running")
        assert event["data"]["raw_status"] == raw(vendor, "failed")


async def test_live_run_that_left_the_first_page_and_fails_is_reported(
        vendor: str, sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A run started two hours ago, pushed off the first page by 250 newer runs while still
    running, is reported when it fails."""
    old = world.add_run(vendor, raw(vendor, "running"), created=clock() - 7200)
    async with harness(sim, vendor, clock, lookback="7d") as h:
        await h.poll()
        clock.advance(15)
        for i in range(250):
            world.add_run(vendor, raw(vendor, "succeeded"), created=clock() - 10 + i * 0.01)
        await h.poll()
        clock.advance(15)
        world.set_status(old, raw(vendor, "failed"))
        [event] = await h.poll()
        # Airflow's run id is dag_id/dag_run_id: a dag_run_id is unique within its DAG only
        assert event["subject"].endswith(old.id) and event["data"]["status"] == "failed"


async def test_idle_cycle_cost(vendor: str, sim: Simulator, world: World,
                               clock: FrozenClock) -> None:
    """With nothing changed a cycle costs one request (Prefect two: its two feeds); GitHub
    asks with If-None-Match and is answered 304, GitLab and Airflow ask with the watermark."""
    for i in range(40):
        world.add_run(vendor, raw(vendor, "succeeded"), created=clock() - 3600 + i * 60)
    world.add_run(vendor, raw(vendor, "running"), created=clock() - 60)
    async with harness(sim, vendor, clock) as h:
        await h.poll()
        for _ in range(3):
            clock.advance(15)
            before = len(world.requests)
            assert await h.poll() == []
            sent = world.requests[before:]
            assert len(sent) == IDLE[vendor]
            if vendor == "github":
                assert sent[0].status == 304
            if vendor in WATERMARK:
                assert WATERMARK[vendor] in sent[0].query


async def test_rejected_credentials_are_source_failing_naming_the_401(
        vendor: str, sim: Simulator, world: World, clock: FrozenClock) -> None:
    """A wrong token fails the poll; at the threshold source.failing names the 401."""
    async with harness(sim, vendor, clock, token="wrong-token", failure_threshold=1) as h:
        [failing] = await h.poll()
        assert failing["type"] == "watcher.source.failing"
        assert failing["data"]["error"].startswith("401")


async def test_first_poll_pages_across_several_pages(vendor: str, sim: Simulator,
                                                     world: World, clock: FrozenClock) -> None:
    """450 runs within lookback are all read on the first poll, over several pages."""
    for i in range(450):
        world.add_run(vendor, raw(vendor, "succeeded"), created=clock() - 7200 + i * 10)
    async with harness(sim, vendor, clock, baseline="emit") as h:
        events = await h.poll()
        assert len({e["subject"] for e in events}) == 450
        assert h.provider.requests >= 3


async def test_hostile_items_are_skipped_and_counted(vendor: str, sim: Simulator,
                                                     world: World, clock: FrozenClock) -> None:
    """A run served with a number for its status and one served with no id are skipped and
    counted; the good ones are read and the poll succeeds."""
    status_key = {"github": "status", "gitlab": "status", "airflow": "state",
                  "prefect": "state_type"}[vendor]
    id_key = "dag_run_id" if vendor == "airflow" else "id"
    good = world.add_run(vendor, raw(vendor, "running"), created=clock() - 30)
    world.add_run(vendor, raw(vendor, "running"), created=clock() - 20,
                  overrides={status_key: 12345, "conclusion": None})
    world.add_run(vendor, raw(vendor, "running"), created=clock() - 10, drop=(id_key,))
    async with harness(sim, vendor, clock, baseline="emit") as h:
        events = await h.poll()
        assert h.ok
        assert len(events) == 1 and good.id in events[0]["subject"]
        assert dict(h.provider.skipped) == {"bad_id": 1, "bad_status": 1}

