"""The simulated Noxus API against the response shapes in ``providers/noxus.md``
(Noxus ships no Python SDK to check it with)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.simulator.shapes import problems, timestamp_problems
from watcher.simulator import Fault, Simulator, World

pytestmark = pytest.mark.anyio

RUN = {"id": str, "group_id": str, "workflow_id": str, "input": dict, "node_ids": (list, None),
       "status": str, "progress": int, "definitions": dict, "created_at": str,
       "finished_at": (str, None), "workflow": dict, "source": str}
WORKFLOW = {"id": str, "group_id": str, "name": str, "type": str, "definition": dict,
            "last_updated_at": (str, None), "last_run_at": (str, None), "created_at": str,
            "deleted_at": (str, None), "runs_count": int, "author_name": (str, None),
            "description": (str, None), "saved": bool, "error_handler": (str, None)}
PAGE = {"items": list, "total": int, "page": int, "size": int, "pages": int}
RUN_NO_IO = {"id": str, "group_id": str, "workflow_id": str, "workflow_version_id": (str, None),
             "input": dict, "node_ids": (list, None), "status": str, "progress": int,
             "created_at": str, "finished_at": (str, None)}
STATUSES = {"queued", "running", "failed", "completed", "stopped", "awaiting_human_feedback"}


@pytest.fixture
async def get(sim: Simulator, world: World) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession() as session:
        async def get(path: str, key: str | None = world.tokens["noxus"],
                      **params: Any) -> tuple[int, Any]:
            headers = {"X-API-Key": key} if key else {}
            async with session.get(sim.url("noxus") + path, params=params,
                                   headers=headers) as r:
                return r.status, await r.json()
        yield get


def seed(world: World, n: int = 7) -> list[str]:
    now = world.clock()
    statuses = ("queued", "running", "completed", "failed", "stopped", "awaiting_human_feedback")
    return [world.add_run("noxus", statuses[i % 6], created=now - i).id for i in range(n)]


def run_problems(item: dict[str, Any], where: str) -> list[str]:
    out = problems(item, RUN, where) + timestamp_problems(item, ("created_at", "finished_at"),
                                                          where)
    out += problems(item.get("workflow"), WORKFLOW, where + "workflow.")
    if item.get("status") not in STATUSES:
        out.append(f"{where}status {item.get('status')!r} is not a Noxus status")
    if item.get("workflow", {}).get("type") not in ("flow", "handler", "ingestion"):
        out.append(f"{where}workflow.type is not flow/handler/ingestion")
    for name in ("id", "group_id", "workflow_id"):
        try:
            uuid.UUID(str(item.get(name)))
        except ValueError:
            out.append(f"{where}{name} is not a uuid")
    return out


async def test_listing_has_the_documented_page_and_run_shape(get: Any, world: World) -> None:
    """A run listing has the documented page fields and run shape, newest first."""
    ids = seed(world)
    status, body = await get("/v1/runs", page=1, size=3)
    assert status == 200
    assert problems(body, PAGE) == []
    assert (body["total"], body["page"], body["size"], body["pages"]) == (7, 1, 3, 3)
    assert [i["id"] for i in body["items"]] == ids[:3]  # newest created first
    assert [p for i, item in enumerate(body["items"]) for p in run_problems(item, f"[{i}].")] == []
    finished = [i for i in body["items"] if i["status"] in ("completed", "failed", "stopped")]
    assert all(i["finished_at"] for i in finished)


async def test_pages_cover_every_run_once_and_a_page_past_the_end_is_empty(
        get: Any, world: World) -> None:
    """The pages hold every run once, and a page past the end is empty."""
    ids = seed(world, 7)
    seen = []
    for page in (1, 2, 3):
        _, body = await get("/v1/runs", page=page, size=3)
        seen += [i["id"] for i in body["items"]]
    assert seen == ids
    _, past = await get("/v1/runs", page=4, size=3)
    assert past["items"] == [] and past["pages"] == 3


async def test_page_and_size_default_to_1_and_50(get: Any, world: World) -> None:
    """Without paging parameters a listing is page 1 of size 50."""
    seed(world, 60)
    _, body = await get("/v1/runs")
    assert (body["page"], body["size"], len(body["items"])) == (1, 50, 50)


@pytest.mark.parametrize(("params", "loc"), [
    ({"size": 101}, ["query", "size"]), ({"size": 0}, ["query", "size"]),
    ({"page": 0}, ["query", "page"]), ({"size": "many"}, ["query", "size"]),
])
async def test_out_of_range_paging_is_a_fastapi_422(get: Any, params: dict[str, Any],
                                                    loc: list[str]) -> None:
    """An out-of-range page or size is a 422 whose FastAPI detail names the parameter."""
    status, body = await get("/v1/runs", **params)
    assert status == 422
    [problem] = body["detail"]
    assert problem["loc"] == loc and isinstance(problem["msg"], str) and problem["type"]


async def test_single_runs_have_the_documented_shapes(get: Any, world: World) -> None:
    """Both single-run endpoints have their documented shapes; an unknown id is a 404."""
    [rid] = seed(world, 1)
    status, run = await get(f"/v1/runs/{rid}")
    assert status == 200 and problems(run, RUN_NO_IO) == []
    assert "workflow" not in run and "definitions" not in run
    wid = world.runs["noxus"][rid].workflow.id
    status, full = await get(f"/v1/workflows/{wid}/runs/{rid}")
    assert status == 200 and problems(full, {**RUN_NO_IO, "output": (dict, None),
                                             "progress_details": dict}) == []
    status, missing = await get("/v1/runs/7d1c2f0e-5a8b-4c3d-9e10-2b3c4d5e6f70")
    assert status == 404 and isinstance(missing["detail"], str)


async def test_a_wrong_key_is_refused_with_a_fastapi_detail(get: Any) -> None:
    """A wrong or missing key is a 401 with a FastAPI detail."""
    status, body = await get("/v1/runs", key="not-the-key")
    assert status == 401 and isinstance(body["detail"], str)
    status, body = await get("/v1/runs", key=None)
    assert status == 401 and isinstance(body["detail"], str)


async def test_the_shape_check_has_teeth(get: Any, world: World) -> None:
    """The checks above could fail: an item missing a documented field is reported."""
    seed(world, 2)
    world.faults.add("noxus", Fault("missing_field", field="finished_at"))
    _, body = await get("/v1/runs")
    assert run_problems(body["items"][0], "") == ["finished_at is missing"]
