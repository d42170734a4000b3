"""Hostile runs in the simulator: a run's item served with fields of any JSON, fields
dropped, or as something that is not an object, in listings and single-run GETs alike,
set through the World or the ``/_sim`` admin API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from tests.support import sim_source
from watcher.simulator import Fault, Simulator, World

pytestmark = pytest.mark.anyio

#: vendor -> (a status, the listing path, the single-run path for an id, the items key)
API = {"extend": ("PROCESSING", "/workflow_runs", "/workflow_runs/{}", "data"),
       "noxus": ("running", "/v1/runs", "/v1/runs/{}", "items"),
       "cortex": ("RUNNING", "/runs", "/runs/{}", None),
       "knock": ("processing", "/v1/workflow_recipient_runs", "/v1/workflow_recipient_runs/{}",
                 "items")}


@pytest.fixture
async def get(sim: Simulator, world: World) -> AsyncIterator[Any]:
    """GET from a vendor's simulated API with its own auth; returns the parsed body."""
    async with aiohttp.ClientSession() as session:
        async def get(vendor: str, path: str) -> Any:
            src = sim_source(sim.url, world, vendor)
            base = src["base_url"]
            if vendor == "cortex":
                base += f"/apps/{src['app_id']}/workflows/{src['workflow_id']}"
            headers = {"Authorization": f"Bearer {src['token']}", "X-API-Key": src["token"],
                       "x-extend-api-version": "2026-02-09"}
            async with session.get(base + path, headers=headers) as r:
                assert r.status == 200, await r.text()
                return orjson.loads(await r.read())
        yield get


def listed(body: Any, key: str | None) -> list[Any]:
    return list(body if key is None else body[key])


@pytest.mark.parametrize("vendor", list(API))
async def test_a_hostile_run_is_served_mangled_in_the_listing_and_by_id(
        vendor: str, world: World, get: Any) -> None:
    """Overrides set any JSON and drop fields wherever the run is served; others stay as is."""
    status, listing, single, key = API[vendor]
    world.add_run(vendor, status)
    bad = world.add_run(vendor, status, overrides={"status": ["x"], "extra": None},
                        drop=["id"])
    items = listed(await get(vendor, listing), key)
    mangled = [i for i in items if "id" not in i]
    assert len(items) == 2 and len(mangled) == 1
    assert mangled[0]["status"] == ["x"] and mangled[0]["extra"] is None
    by_id = await get(vendor, single.format(bad.id))
    assert "id" not in by_id and by_id["status"] == ["x"]
    world.override(bad)  # no arguments: served as it is again
    assert (await get(vendor, single.format(bad.id)))["id"] == bad.id


@pytest.mark.parametrize("vendor", ["extend", "knock"])
async def test_the_admin_api_replaces_a_run_with_a_non_object(
        vendor: str, sim: Simulator, world: World, get: Any) -> None:
    """``/_sim`` makes runs hostile: at creation, later, and back to normal with an empty body."""
    status, listing, _, key = API[vendor]
    admin = f"http://{sim.host}:{sim.port}/_sim"
    async with aiohttp.ClientSession() as session:
        async with session.post(admin + "/runs", data=orjson.dumps(
                {"vendor": vendor, "status": status, "replace": None})) as r:
            first = (await r.json())["id"]
        async with session.post(admin + "/runs", data=orjson.dumps(
                {"vendor": vendor, "status": status})) as r:
            second = (await r.json())["id"]
        async with session.post(f"{admin}/runs/{second}/hostile",
                                data=orjson.dumps({"replace": "not a run"})) as r:
            assert r.status == 200
        items = listed(await get(vendor, listing), key)
        assert sorted(items, key=repr) == sorted([None, "not a run"], key=repr)
        async with session.post(f"{admin}/runs/{first}/hostile", data=b"") as r:
            assert (await r.json())["hostile"] is False
    assert [i["id"] for i in listed(await get(vendor, listing), key) if isinstance(i, dict)] \
        == [first]


async def test_the_hostile_page_fault_replaces_one_item(world: World, get: Any) -> None:
    """The ``hostile`` page fault serves ``value`` in place of a page's first item, once."""
    world.add_run("knock", "processing")
    world.faults.add("knock", Fault("hostile", value=42))
    assert listed(await get("knock", API["knock"][1]), "items") == [42]
    assert isinstance(listed(await get("knock", API["knock"][1]), "items")[0], dict)
