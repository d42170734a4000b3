"""The simulated Cortex API against ``RunSchema`` and the paging headers in
``providers/cortex.md`` (Cortex's SDK is for Node, not Python)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.simulator.shapes import problems, timestamp_problems
from watcher.simulator import Simulator, World

pytestmark = pytest.mark.anyio

#: RunSchema's required fields, then its optional ones (all rendered by the simulator)
RUN = {"id": str, "input": dict, "output": dict, "status": str, "origin": str,
       "started_at": (str, None), "ended_at": (str, None), "app_id": str,
       "workflow_app_id": str, "workflow_id": str, "workflow_version_draft": (dict, None),
       "workflow_version": (dict, None), "created_at": (str, None), "updated_at": (str, None),
       "error": (str, None), "collection_id": (str, None), "record_id": (str, None),
       "version": (int, float, None), "usage": (dict, None), "retention": (dict, None),
       "retention_due_at": (str, None)}
STEP = {"status": str, "key": str, "start": (int, float)}
RETENTION = {"max_age_in_seconds": int, "preserve_on_failure": bool}
ERROR = {"status": int, "message": str}
STATUSES = {"PENDING", "RUNNING", "CANCELLED", "COMPLETED", "SKIPPED", "FAILED"}
ORIGINS = {"WORKFLOW", "TRIGGER", "RECORD", "TEST", "ENDPOINT", "WEBHOOK"}


@pytest.fixture
async def get(sim: Simulator, world: World) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession() as session:
        async def get(path: str, key: str | None = world.tokens["cortex"],
                      **params: Any) -> tuple[int, Any, dict[str, str]]:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            async with session.get(sim.url("cortex") + path, params=params,
                                   headers=headers) as r:
                return r.status, await r.json(), dict(r.headers)
        yield get


def seed(world: World, n: int = 7) -> tuple[str, list[str]]:
    """``n`` runs of one workflow in every status; its runs path and the ids, newest first."""
    now = world.clock()
    wf = world.workflow("cortex", "Invoice Processing")
    statuses = ("PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "SKIPPED")
    ids = [world.add_run("cortex", statuses[i % 6], workflow=wf, created=now - i).id
           for i in range(n)]
    return f"/apps/app_sim/workflows/{wf.id}/runs", ids


def run_problems(item: dict[str, Any], where: str) -> list[str]:
    out = problems(item, RUN, where)
    out += timestamp_problems(item, ("started_at", "ended_at", "created_at", "updated_at",
                                     "retention_due_at"), where)
    out += problems(item.get("retention"), RETENTION, where + "retention.")
    for key, step in item.get("output", {}).items():
        out += problems(step, STEP, f"{where}output.{key}.")
    if item.get("status") not in STATUSES or item.get("origin") not in ORIGINS:
        out.append(f"{where}status/origin {item.get('status')}/{item.get('origin')} unknown")
    if item.get("status") == "FAILED" and not item.get("error"):
        out.append(f"{where}a FAILED run has no error message")
    return out


async def test_listing_is_a_bare_array_with_paging_headers(get: Any, world: World) -> None:
    """A run listing is a bare array of RunSchema items, newest first, with pagination headers."""
    path, ids = seed(world)
    status, body, headers = await get(path, page=1, take=3)
    assert status == 200 and isinstance(body, list)
    assert [r["id"] for r in body] == ids[:3]  # newest created first
    assert (headers["pagination-page"], headers["pagination-take"],
            headers["pagination-count"]) == ("1", "3", "7")
    assert [p for i, item in enumerate(body) for p in run_problems(item, f"[{i}].")] == []


async def test_pages_cover_every_run_once(get: Any, world: World) -> None:
    """The pages of a listing hold every run once, newest first."""
    path, ids = seed(world, 7)
    seen = []
    for page in (1, 2, 3, 4):
        _, body, _ = await get(path, page=page, take=3)
        seen += [r["id"] for r in body]
    assert seen == ids  # page 4 is empty


async def test_take_defaults_to_100_and_status_filters_one_value(get: Any, world: World) -> None:
    """take defaults to 100, and status filters to that one status with a matching count."""
    path, _ = seed(world, 130)
    _, body, headers = await get(path)
    assert len(body) == 100 and headers["pagination-take"] == "100"
    _, running, headers = await get(path, status="RUNNING")
    assert {r["status"] for r in running} == {"RUNNING"}
    assert headers["pagination-count"] == str(len(running))


async def test_single_run_has_the_run_schema(get: Any, world: World) -> None:
    """A single run has the RunSchema shape; an unknown id is a 404 with the error body."""
    path, ids = seed(world)
    status, run, _ = await get(f"{path}/{ids[3]}")
    assert status == 200 and run_problems(run, "") == []
    status, missing, _ = await get(f"{path}/run_nope")
    assert status == 404 and problems(missing, ERROR) == []


@pytest.mark.parametrize("params", [{"take": 1001}, {"take": 0}, {"page": "x"},
                                    {"status": "DONE"}])
async def test_bad_parameters_are_a_400_with_the_error_body(get: Any, world: World,
                                                            params: dict[str, Any]) -> None:
    """An out-of-range or malformed parameter is a 400 whose error body names it."""
    path, _ = seed(world, 1)
    status, body, _ = await get(path, **params)
    assert status == 400 and problems(body, {**ERROR, "errors": list}) == []
    assert body["errors"][0]["path"] == [next(iter(params))]


async def test_wrong_key_unknown_app_and_workflow_are_refused(get: Any, world: World) -> None:
    """A wrong key is a 401 with the error body; an unknown app or workflow is a 404."""
    path, _ = seed(world, 1)
    status, body, _ = await get(path, key="nope")
    assert status == 401 and problems(body, ERROR) == []
    status, _, _ = await get(path.replace("app_sim", "app_other"))
    assert status == 404
    status, _, _ = await get("/apps/app_sim/workflows/wf_unknown/runs")
    assert status == 404
