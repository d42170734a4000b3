"""The simulated Prefect API, read by prefect-client's ``read_flow_runs``."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import httpx
import pytest

from tests.support import SimThread
from watcher.core.timestamps import format_ts
from watcher.simulator import Fault, World

# prefect keeps a home folder: a fresh one, never the user's
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="watcher-prefect-home-"))
from prefect.client.orchestration import PrefectClient
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterEndTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import PrefectHTTPStatusError

STATES = ("SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "CRASHED",
          "PAUSED")
ACTIVE = [StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING, StateType.PAUSED]

pytestmark = pytest.mark.anyio


def seed(world: World) -> list[str]:
    """40 flow runs of two flows in every state type; those that ended have an end time."""
    now = world.clock()
    wfs = [world.workflow("prefect", "nightly-etl"), world.workflow("prefect", "reports")]
    runs = []
    for i in range(40):
        ended = STATES[i % 8] in ("COMPLETED", "FAILED", "CANCELLED", "CRASHED")
        runs.append(world.add_run("prefect", STATES[i % 8], workflow=wfs[i % 2],
                                  created=now - 900 + i, updated=now - 300 + i,
                                  started=now - 899 + i, finished=now - 300 + i if ended else None,
                                  error="Flow run encountered an exception" if i % 8 == 4
                                  else None))
    return [r.id for r in runs]


def client(st: SimThread, key: str | None = None) -> PrefectClient:
    return PrefectClient(st.url("prefect"), api_key=key or st.world.tokens["prefect"])


async def test_read_flow_runs_reads_the_active_set_and_every_field(
        sim_thread: SimThread) -> None:
    """read_flow_runs with a state-type filter gets exactly the active runs, each a full
    FlowRun (state, flow, deployment, times) as prefect-client parses it."""
    ids = sim_thread.call(seed)
    async with client(sim_thread) as prefect:
        runs = await prefect.read_flow_runs(flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=ACTIVE))))
    want = {i for i, r in sim_thread.world.runs["prefect"].items()
            if r.status in ("SCHEDULED", "PENDING", "RUNNING", "PAUSED")}
    assert {str(r.id) for r in runs} == want and set(want) <= set(ids)
    for run in runs:
        assert set(FlowRun.model_fields) <= set(run.model_fields_set) | {"state_id"}
        assert run.state is not None and run.state.type == run.state_type
        assert run.state_name == run.state_type.value.title()
        assert run.flow_id and run.deployment_id and run.name and run.end_time is None


async def test_ended_since_sorted_by_end_time_with_limit_and_offset(
        sim_thread: SimThread) -> None:
    """end_time after_ with END_TIME_DESC pages (limit, offset) through the runs that ended
    since then, newest end first; a failed run carries its message."""
    sim_thread.call(seed)
    world = sim_thread.world
    mark = min(r.finished for r in world.runs["prefect"].values() if r.finished) + 10
    filt = FlowRunFilter(end_time=FlowRunFilterEndTime(after_=format_ts(mark)))
    got: list[Any] = []
    async with client(sim_thread) as prefect:
        while True:
            page = await prefect.read_flow_runs(flow_run_filter=filt, limit=7,
                                                offset=len(got), sort=FlowRunSort.END_TIME_DESC)
            got += page
            if len(page) < 7:
                break
    want = sorted((r for r in world.runs["prefect"].values()
                   if r.finished is not None and r.finished >= mark),
                  key=lambda r: r.finished or 0, reverse=True)
    assert [str(r.id) for r in got] == [r.id for r in want]
    failed = [r for r in got if r.state_type == StateType.FAILED]
    assert failed and all(r.state.message for r in failed)


async def test_a_wrong_key_is_401_and_no_key_is_a_self_hosted_server(
        sim_thread: SimThread) -> None:
    """A wrong API key is refused with 401; a server without auth answers without a key."""
    sim_thread.call(seed)
    async with client(sim_thread, "pnu_wrong") as prefect:
        with pytest.raises(PrefectHTTPStatusError) as err:
            await prefect.read_flow_runs(limit=1)
    assert err.value.response.status_code == 401
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{sim_thread.url('prefect')}/flow_runs/filter", json={"limit": 5})
    assert r.status_code == 200 and len(r.json()) == 5


def test_limit_over_200_and_an_unknown_sort_are_422(sim_thread: SimThread) -> None:
    """As Prefect's server: limit above 200 or a sort it lacks is a 422."""
    url = f"{sim_thread.url('prefect')}/flow_runs/filter"
    assert httpx.post(url, json={"limit": 201}).status_code == 422
    assert httpx.post(url, json={"sort": "UPDATED_DESC"}).status_code == 422


async def test_faults_apply_to_prefect(sim_thread: SimThread) -> None:
    """An injected 500 reaches prefect-client (its own retries spent)."""
    sim_thread.call(seed)
    sim_thread.call(lambda w: w.faults.add("prefect", Fault("status", status=500, times=99)))
    async with client(sim_thread) as prefect:
        with pytest.raises(PrefectHTTPStatusError) as err:
            await prefect.read_flow_runs(limit=1)
    assert err.value.response.status_code == 500
