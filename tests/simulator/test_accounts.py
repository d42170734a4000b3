"""The simulator serves many accounts per vendor: each key sees its own runs and spends its
own rate limit, as the vendors' customers do."""

from __future__ import annotations

import aiohttp
import pytest

from watcher.simulator import Simulator, World

pytestmark = pytest.mark.anyio


async def get(sim: Simulator, vendor: str, path: str, key: str) -> tuple[int, object, str]:
    headers = ({"X-API-Key": key} if vendor == "noxus" else {"Authorization": f"Bearer {key}"})
    headers["x-extend-api-version"] = "2026-02-09"
    async with aiohttp.ClientSession() as s, s.get(sim.url(vendor) + path,
                                                   headers=headers) as r:
        return r.status, await r.json(), r.headers.get("Retry-After", "")


@pytest.mark.parametrize(("vendor", "path", "items"), [
    ("extend", "/workflow_runs", "data"), ("noxus", "/v1/runs", "items"),
    ("knock", "/v1/workflow_recipient_runs", "items")])
async def test_each_key_sees_only_its_accounts_runs(sim: Simulator, world: World, vendor: str,
                                                    path: str, items: str) -> None:
    """Runs added to one account are listed to its key only, and a single-run GET of
    another account's run is a 404; the request log names the account."""
    other = world.add_account(vendor, name="other")
    mine = world.add_run(vendor, "PROCESSED" if vendor == "extend" else "completed")
    theirs = world.add_run(vendor, "PROCESSED" if vendor == "extend" else "completed",
                           account=other)
    _, main_page, _ = await get(sim, vendor, path, world.tokens[vendor])
    _, other_page, _ = await get(sim, vendor, path, other.token)
    assert [r["id"] for r in main_page[items]] == [mine.id]  # type: ignore[index]
    assert [r["id"] for r in other_page[items]] == [theirs.id]  # type: ignore[index]
    status, _, _ = await get(sim, vendor, f"{path}/{theirs.id}", world.tokens[vendor])
    assert status == 404
    assert [r.account for r in world.requests] == ["main", "other", "main"]


async def test_each_account_spends_its_own_rate_limit(sim: Simulator, world: World) -> None:
    """An account that spent its own limit gets 429 with Retry-After in whole seconds, while
    the main account, under the vendor's per-account limit, is answered."""
    world.rate_limits["extend"] = 100.0
    slow = world.add_account("extend", rate_limit=0.1)
    assert (await get(sim, "extend", "/workflow_runs", slow.token))[0] == 200  # its one token
    status, body, retry = await get(sim, "extend", "/workflow_runs", slow.token)
    assert status == 429 and body["code"] == "RATE_LIMIT_EXCEEDED"  # type: ignore[index]
    assert retry == "10"
    status, _, _ = await get(sim, "extend", "/workflow_runs", world.tokens["extend"])
    assert status == 200
    assert slow.refused == 1 and world.main["extend"].refused == 0


async def test_accounts_are_made_and_seeded_over_http(sim: Simulator, world: World) -> None:
    """POST /_sim/accounts makes accounts with keys; /_sim/seed spreads runs over them."""
    async with aiohttp.ClientSession() as s:
        async with s.post(f"http://{sim.host}:{sim.port}/_sim/accounts",
                          json={"vendor": "extend", "count": 3, "rate_limit": 10}) as r:
            made = await r.json()
        keys = [a["token"] for a in made]
        async with s.post(f"http://{sim.host}:{sim.port}/_sim/seed",
                          json={"vendor": "extend", "count": 9, "accounts": keys}) as r:
            assert r.status == 201
        async with s.post(f"http://{sim.host}:{sim.port}/_sim/seed",
                          json={"vendor": "extend", "count": 1, "accounts": ["nope"]}) as r:
            assert r.status == 400
    assert len(set(keys)) == 3
    assert [len(world.account("extend", k).runs) for k in keys] == [3, 3, 3]  # type: ignore[union-attr]
    assert {world.account("extend", k).rate_limit for k in keys} == {10}  # type: ignore[union-attr]
