"""GitLab CI, Airflow and Prefect sources over loopback copies of their list calls: the
watermark each asks with, transitions, paging, auth, hostile items."""

from __future__ import annotations

import pytest

from tests.providers.json_support import JsonHarness
from tests.providers.platform_routes import JWT
from tests.providers.platforms import Platforms, dag_run, flow_run, gitlab_pipeline, iso
from tests.support import statuses
from watcher.core.timestamps import parse_ts
from watcher.testing import FrozenClock

pytestmark = pytest.mark.anyio
PROJECT = "25157276"


async def test_gitlab_transitions_and_an_idle_cycle_asked_with_the_watermark(
        platforms: Platforms, clock: FrozenClock) -> None:
    """GitLab: silent baseline, one event per transition (canonical + raw), and every cycle
    asks updated_after = newest update seen minus the overlap: one request when idle."""
    pipes = [gitlab_pipeline(100 + i, clock() - 600 + i, "success") for i in range(3)]
    live = gitlab_pipeline(200, clock() - 100, "running")
    platforms.gitlab += [*pipes, live]
    async with JsonHarness(platforms, "gitlab", clock=clock, project=PROJECT) as h:
        assert await h.poll() == []
        clock.advance(15)
        before = len(platforms.requests)
        assert await h.poll() == []
        [(_, path, query, headers)] = platforms.requests[before:]
        assert path == f"/api/v4/projects/{PROJECT}/pipelines"
        assert parse_ts(query["updated_after"]) == parse_ts(live["updated_at"]) - 300
        assert query["order_by"] == "updated_at" and headers["PRIVATE-TOKEN"]
        clock.advance(15)
        platforms.touch(live, status="canceling")
        clock.advance(1)
        platforms.touch(live, status="canceled")
        events = await h.poll()
        assert statuses(events) == [("run.status_changed", "cancelled", "running")]
        assert events[0]["data"]["raw_status"] == "canceled"
        assert events[0]["data"]["workflow_name"] == "master"


async def test_gitlab_pages_by_x_next_page_and_reports_an_old_run_that_fails(
        platforms: Platforms, clock: FrozenClock) -> None:
    """250 pipelines are read over three pages (X-Next-Page); a pipeline created days ago
    that fails today comes back through updated_after and is reported."""
    old = gitlab_pipeline(1, clock() - 3 * 86400, "running")
    old["updated_at"] = iso(clock() - 3600)
    platforms.gitlab += [old] + [gitlab_pipeline(10 + i, clock() - 3000 + i, "success")
                                 for i in range(249)]
    async with JsonHarness(platforms, "gitlab", clock=clock, project=PROJECT,
                           baseline="emit") as h:
        assert len(await h.poll()) == 250
        assert h.provider.requests == 3
        clock.advance(15)
        platforms.touch(old, status="failed")
        assert statuses(await h.poll()) == [("run.status_changed", "failed", "running")]


async def test_gitlab_wrong_token_is_source_failing(platforms: Platforms,
                                                    clock: FrozenClock) -> None:
    """A wrong PRIVATE-TOKEN: source.failing naming the 401."""
    async with JsonHarness(platforms, "gitlab", clock=clock, project=PROJECT,
                           token="nope", failure_threshold=1) as h:
        [failing] = await h.poll()
        assert failing["type"] == "watcher.source.failing"
        assert failing["data"]["error"].startswith("401")


async def test_airflow_jwt_login_and_request_time_watermark(platforms: Platforms,
                                                            clock: FrozenClock) -> None:
    """Airflow 3 with username + password: one /auth/token exchange, then dagRuns with
    updated_at_gte = the previous request time minus the overlap; run ids are
    dag_id/dag_run_id; a failed run is one event."""
    run = dag_run("etl", "scheduled__1", clock() - 60, "running")
    platforms.airflow += [run, dag_run("report", "scheduled__1", clock() - 50, "success")]
    async with JsonHarness(platforms, "airflow", clock=clock, token=None, username="admin",
                           password="pw") as h:
        assert await h.poll() == []
        polled_at = clock()
        clock.advance(15)
        assert await h.poll() == []
        query, headers = platforms.requests[-1][2], platforms.requests[-1][3]
        assert parse_ts(query["updated_at_gte"]) == polled_at - 300
        assert headers["Authorization"] == f"Bearer {JWT}"
        assert h.asked("/auth/token") == 1
        clock.advance(15)
        platforms.touch(run, "_updated", state="failed")
        [event] = await h.poll()
        assert (event["subject"], event["data"]["status"]) == ("etl/scheduled__1", "failed")
        assert event["data"]["raw_status"] == "failed"


async def test_airflow2_basic_auth_and_wrong_password(platforms: Platforms,
                                                      clock: FrozenClock) -> None:
    """Airflow 2 (api v1) sends username + password as basic auth; a wrong one fails with
    the 401 named."""
    platforms.airflow.append(dag_run("etl", "manual__1", clock() - 60, "queued"))
    async with JsonHarness(platforms, "airflow", clock=clock, token=None, username="admin",
                           password="pw", api_version="v1", baseline="emit") as h:
        assert statuses(await h.poll()) == [("run.created", "pending", None)]
    async with JsonHarness(platforms, "airflow", clock=clock, token=None, username="admin",
                           password="bad", api_version="v1", failure_threshold=1) as h:
        [failing] = await h.poll()
        assert "401" in failing["data"]["error"]


async def test_prefect_active_and_ended_feeds(platforms: Platforms, clock: FrozenClock) -> None:
    """Prefect: a cycle asks for the active runs and for those ended since the watermark;
    a run that crashed is reported failed with CRASHED as raw status."""
    run = flow_run("a1", clock() - 100, "RUNNING")
    platforms.prefect += [run, flow_run("b2", clock() - 90, "SCHEDULED")]
    async with JsonHarness(platforms, "prefect", clock=clock, token=None) as h:
        assert await h.poll() == []
        clock.advance(15)
        platforms.touch(run, "updated", state_type="CRASHED", end_time=iso(clock()))
        events = await h.poll()
        assert statuses(events) == [("run.status_changed", "failed", "running")]
        assert events[0]["data"]["raw_status"] == "CRASHED"
        assert h.provider.requests == 4  # two feeds a cycle


async def test_prefect_hostile_items_are_skipped_and_counted(platforms: Platforms,
                                                             clock: FrozenClock) -> None:
    """A flow run with no id, one with a list for a state and a bare string are skipped and
    counted; the good run is read."""
    good = flow_run("ok", clock() - 10, "PENDING")
    no_id, bad_state = flow_run("x", clock(), "RUNNING"), flow_run("y", clock(), "RUNNING")
    del no_id["id"]
    bad_state["state_type"] = ["RUNNING"]
    platforms.prefect += [good, no_id, bad_state]
    async with JsonHarness(platforms, "prefect", clock=clock, token=None, baseline="emit") as h:
        assert [e["subject"] for e in await h.poll()] == ["ok"]
        assert dict(h.provider.skipped) == {"bad_id": 1, "bad_status": 1}
