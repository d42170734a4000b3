"""Vendor push in-process: a real listener route on loopback, the real store and poller,
the simulator as the vendor.  A push goes through the poll's diff, once."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import anyio
import orjson
import pytest
from aiohttp import web

from tests.support import Harness
from watcher.runtime.push import GRACE, PushDesk, PushIntake
from watcher.server.hooks.receiver import MAX_PUSH, Receiver
from watcher.simulator import Simulator
from watcher.simulator.app import APIS
from watcher.simulator.extend import ExtendApi
from watcher.simulator.webhooks import Subscription
from watcher.simulator.world import SimRun
from watcher.testing import FrozenClock

pytestmark = pytest.mark.anyio
SECRET = "wss_push_test"
SOURCE = "extend-test"


class Hooked:
    """A harness whose source takes pushes, its ``/hooks/`` route served on loopback."""

    def __init__(self, h: Harness, url: str, desk: PushDesk) -> None:
        self.h, self.url, self.desk = h, url, desk
        assert h.poller is not None and h.poller.push is not None
        self.intake: PushIntake = h.poller.push
        self.n = 0

    def body(self, run: SimRun | dict[str, Any], event: str = "workflow_run.completed",
             event_id: str | None = None) -> bytes:
        payload = ExtendApi(self.h.world).render(run) if isinstance(run, SimRun) else run
        self.n += 1
        return orjson.dumps({"eventId": event_id or f"evt_{self.n}", "eventType": event,
                             "payload": payload})

    async def post(self, body: bytes, *, secret: str = SECRET, ts: float | None = None,
                   source: str = SOURCE, headers: dict[str, str] | None = None
                   ) -> tuple[int, dict[str, Any]]:
        t = str(int(self.h.clock() if ts is None else ts))
        sig = hmac.new(secret.encode(), f"v0:{t}:".encode() + body, hashlib.sha256).hexdigest()
        sent = {"x-extend-request-timestamp": t, "x-extend-request-signature": sig}
        async with aiohttp.ClientSession() as s, s.post(
                f"{self.url}/hooks/{source}", data=body,
                headers=sent if headers is None else headers) as r:
            return r.status, await r.json()

    async def pushed(self, body: bytes) -> list[dict[str, Any]]:
        """Post ``body`` signed, let the poller apply it: the events it journaled."""
        status, _ = await self.post(body)
        assert status == 200
        return await self.apply()

    async def apply(self) -> list[dict[str, Any]]:
        before = self.h.journal.head
        await self.intake.apply()
        return [orjson.loads(e.body) for e in await self.h.journal.read(before, 1000)]


async def hooked(sim: Simulator, clock: FrozenClock, vendor: str = "extend", **kw: Any
                 ) -> AsyncIterator[Hooked]:
    async with Harness(sim, vendor, clock=clock, push_secret=SECRET, interval="15s",
                       **kw) as h:
        desk = PushDesk()
        assert h.poller is not None
        h.poller.push = PushIntake(h.poller, desk)
        app = web.Application()
        cfg = h.source_config()
        Receiver(lambda: [cfg], lambda: h.store, desk, clock=clock).routes(app)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            yield Hooked(h, f"http://127.0.0.1:{port}", desk)
        finally:
            await runner.cleanup()


@pytest.fixture
async def hk(sim: Simulator, clock: FrozenClock) -> AsyncIterator[Hooked]:
    async for x in hooked(sim, clock):
        yield x


def transition(events: list[dict[str, Any]]) -> list[tuple[str, str, str | None]]:
    return [(e["subject"], e["data"]["status"], e["data"]["previous_status"]) for e in events]


async def test_push_then_poll_gives_the_one_event_a_poll_alone_gives(
        hk: Hooked, sim: Simulator, clock: FrozenClock) -> None:
    """A pushed change is journaled at once with the id a poll would give it; the poll
    after it adds nothing."""
    run = sim.world.add_run("extend", "PROCESSING")
    async with Harness(sim, clock=clock) as polled:
        await hk.h.poll()
        await polled.poll()
        clock.advance(5)
        sim.world.set_status(run, "PROCESSED")
        pushed = await hk.pushed(hk.body(run))
        assert transition(pushed) == [(run.id, "succeeded", "running")]
        assert await hk.h.poll() == []
        (by_poll,) = await polled.poll()
    assert pushed[0]["id"] == by_poll["id"]


async def test_poll_then_push_of_one_change_gives_one_event(
        hk: Hooked, sim: Simulator, clock: FrozenClock) -> None:
    """A push arriving after the poll found its change adds nothing (and is applied)."""
    run = sim.world.add_run("extend", "PROCESSING")
    await hk.h.poll()
    clock.advance(5)
    sim.world.set_status(run, "FAILED")
    assert transition(await hk.h.poll()) == [(run.id, "failed", "running")]
    assert await hk.pushed(hk.body(run, "workflow_run.failed")) == []
    assert await hk.h.store.pushes(SOURCE, 10) == []


async def test_a_repeated_delivery_is_acknowledged_and_adds_nothing(
        hk: Hooked, sim: Simulator, clock: FrozenClock) -> None:
    """The same delivery id twice: both answered 200, the second as a duplicate, one event."""
    await hk.h.poll()
    run = sim.world.add_run("extend", "PROCESSED")
    body = hk.body(run, event_id="evt_same")
    assert await hk.post(body) == (200, {"status": "stored"})
    assert await hk.post(body) == (200, {"status": "duplicate"})
    assert len(await hk.h.store.pushes(SOURCE, 10)) == 1
    assert [e["type"] for e in await hk.apply()] == ["watcher.run.created"]
    assert await hk.post(body) == (200, {"status": "duplicate"})  # applied: still known
    assert await hk.apply() == []
    assert dict(hk.desk.stats[SOURCE].received) == {"stored": 1, "duplicate": 2}


async def test_a_stale_push_changes_nothing(hk: Hooked, sim: Simulator,
                                            clock: FrozenClock) -> None:
    """A push older than the known state (an earlier updatedAt, or any state of a finished
    run) changes nothing: no event, the run stays as polled."""
    live = sim.world.add_run("extend", "PENDING")
    done = sim.world.add_run("extend", "PROCESSING")
    await hk.h.poll()
    old_live, old_done = hk.body(live), hk.body(done)  # as they were
    clock.advance(5)
    sim.world.set_status(live, "PROCESSING")
    sim.world.set_status(done, "PROCESSED")
    assert len(await hk.h.poll()) == 2
    assert await hk.pushed(old_live) == []
    assert await hk.pushed(old_done) == []
    assert hk.h.state.runs[live.id].raw_status == "PROCESSING"
    assert hk.h.state.runs[done.id].raw_status == "PROCESSED"


async def test_a_push_for_an_unseen_run_creates_it(hk: Hooked, sim: Simulator) -> None:
    """A run the polls never saw, pushed, is created with run.created, and then known."""
    await hk.h.poll()
    run = sim.world.add_run("extend", "NEEDS_REVIEW")
    (created,) = await hk.pushed(hk.body(run, "workflow_run.needs_review"))
    assert (created["type"], created["subject"]) == ("watcher.run.created", run.id)
    assert await hk.h.poll() == []


async def test_a_push_naming_only_its_run_makes_the_watcher_fetch_it(
        hk: Hooked, sim: Simulator, clock: FrozenClock) -> None:
    """A push that does not carry the whole run (a signed-URL payload, a step run) makes
    the watcher fetch that run at once and diff it like a poll's."""
    run = sim.world.add_run("extend", "PROCESSING")
    await hk.h.poll()
    clock.advance(5)
    sim.world.set_status(run, "REJECTED")
    gets = sim.world.count("extend", f"/workflow_runs/{run.id}")
    events = await hk.pushed(hk.body({"id": run.id, "url": "https://signed.example/x"}))
    assert transition(events) == [(run.id, "rejected", "running")]
    assert sim.world.count("extend", f"/workflow_runs/{run.id}") == gets + 1


async def test_pushes_wait_for_the_baseline(hk: Hooked, sim: Simulator) -> None:
    """A push before the source's first poll is kept, and applied after the baseline
    (where it is already known, so silent)."""
    run = sim.world.add_run("extend", "PROCESSED")
    assert await hk.pushed(hk.body(run)) == []
    assert len(await hk.h.store.pushes(SOURCE, 10)) == 1
    assert await hk.h.poll() == []
    assert await hk.apply() == []
    assert await hk.h.store.pushes(SOURCE, 10) == []


def stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_a_push_before_the_baseline_is_applied_by_the_poll_that_sets_it(
        hk: Hooked, sim: Simulator) -> None:
    """A run pushed before the first poll and absent from the listing is created as soon as
    that poll has set the baseline, not a push_interval later."""
    status, _ = await hk.post(hk.body({"id": "wr_pushed_early", "status": "FAILED",
                                       "updatedAt": stamp(hk.h.clock() - 5),
                                       "workflow": {"id": "wf_1", "name": "Early"}},
                                      "workflow_run.failed"))
    assert status == 200
    events = await hk.h.poll()
    assert [(e["type"], e["subject"], e["data"]["status"]) for e in events] == [
        ("watcher.run.created", "wr_pushed_early", "failed")]
    assert await hk.h.store.pushes(SOURCE, 10) == []


@pytest.mark.parametrize("case", ["bad", "missing", "old", "too_large", "unknown source"])
async def test_refused_deliveries_store_nothing(hk: Hooked, sim: Simulator,
                                                clock: FrozenClock, case: str) -> None:
    """A bad or missing signature or an old timestamp is 401, an oversize body 413, an
    unknown source 404; nothing is stored and nothing changes."""
    await hk.h.poll()
    body = hk.body(sim.world.add_run("extend", "FAILED"))
    if case == "bad":
        got = await hk.post(body, secret="not-the-secret")
    elif case == "missing":
        got = await hk.post(body, headers={})
    elif case == "old":
        got = await hk.post(body, ts=clock() - 301)
    elif case == "too_large":
        got = await hk.post(body + b" " * MAX_PUSH)
    else:
        got = await hk.post(body, source="nope")
    want = {"bad": 401, "missing": 401, "old": 401, "too_large": 413, "unknown source": 404}
    assert got[0] == want[case]
    assert await hk.h.store.pushes(SOURCE, 10) == []
    assert await hk.apply() == []


async def test_a_dropped_push_is_caught_by_the_next_poll_and_counted_missed(
        hk: Hooked, sim: Simulator, clock: FrozenClock) -> None:
    """While pushes arrive the source polls at push_interval; a change whose push never
    came is found by the next poll, counted missed, and the source polls at interval."""
    pushed, dropped = (sim.world.add_run("extend", "PROCESSING") for _ in range(2))
    await hk.h.poll()
    cfg, stats = hk.h.source_config(), hk.desk.stats[SOURCE]
    assert hk.intake.period(clock()) == cfg.interval  # no push yet
    clock.advance(1)
    sim.world.set_status(pushed, "PROCESSED")
    assert len(await hk.pushed(hk.body(pushed))) == 1
    assert hk.intake.period(clock()) == cfg.push_every == 4 * cfg.interval
    assert await hk.h.poll() == [] and stats.missed == 0
    clock.advance(1)
    sim.world.set_status(dropped, "FAILED")  # its push is lost
    clock.advance(GRACE)  # and would have come by now
    assert transition(await hk.h.poll()) == [(dropped.id, "failed", "running")]
    assert stats.missed == 1
    assert hk.intake.period(clock()) == cfg.interval
    clock.advance(1)
    await hk.pushed(hk.body(sim.world.add_run("extend", "PROCESSED")))
    assert hk.intake.period(clock()) == cfg.push_every  # pushes arrive again


async def test_a_change_polled_before_its_push_could_arrive_is_no_miss(
        hk: Hooked, sim: Simulator, clock: FrozenClock) -> None:
    """A poll that finds a change made moments before it (its push on the way, or waiting
    while the poller polled) counts no miss and keeps the slow cadence."""
    run = sim.world.add_run("extend", "PROCESSING")
    await hk.h.poll()
    await hk.pushed(hk.body(sim.world.add_run("extend", "PROCESSED")))
    clock.advance(GRACE - 1)
    sim.world.set_status(run, "PROCESSED")
    assert len(await hk.h.poll()) == 1
    assert hk.desk.stats[SOURCE].missed == 0
    assert hk.intake.period(clock()) == hk.h.source_config().push_every
    assert await hk.pushed(hk.body(run)) == []


async def test_a_quiet_spell_returns_the_source_to_its_interval(
        hk: Hooked, sim: Simulator, clock: FrozenClock) -> None:
    """With no push for twice push_interval the source polls at interval again."""
    await hk.h.poll()
    await hk.pushed(hk.body(sim.world.add_run("extend", "PROCESSED")))
    cfg = hk.h.source_config()
    clock.advance(2 * cfg.push_every - 1)
    assert hk.intake.period(clock()) == cfg.push_every
    clock.advance(2)
    assert hk.intake.period(clock()) == cfg.interval


async def test_the_simulator_pushes_signed_webhooks_the_watcher_applies(
        hk: Hooked, sim: Simulator, clock: FrozenClock) -> None:
    """The simulator's webhooks, subscribed to the route, are verified and applied; with
    ``drop`` = 1 none is sent and only the poll sees the change."""
    run = sim.world.add_run("extend", "PROCESSING")
    await hk.h.poll()
    sim.webhooks.subscribe(Subscription("extend", f"{hk.url}/hooks/{SOURCE}", SECRET))
    sim.world.set_status(run, "PROCESSED")
    await _delivered(sim)
    assert transition(await hk.apply()) == [(run.id, "succeeded", "running")]
    sim.webhooks.subscriptions[0].drop = 1.0
    lost = sim.world.add_run("extend", "FAILED")
    assert sim.webhooks.log[-1].outcome == "dropped"
    assert await hk.apply() == []
    assert transition(await hk.h.poll()) == [(lost.id, "failed", None)]


async def _delivered(sim: Simulator) -> None:
    for _ in range(500):  # the simulator posts from its own task
        if all(s.outcome != "pending" for s in sim.webhooks.log):
            break
        await anyio.sleep(0.01)
    assert {s.outcome for s in sim.webhooks.log} == {"delivered"}


@pytest.mark.parametrize("vendor,keys", [("github", {"repository": "acme/api"}),
                                         ("gitlab", {"project": "acme/api"})])
async def test_github_and_gitlab_pushes_make_the_watcher_fetch_the_run(
        sim: Simulator, clock: FrozenClock, vendor: str, keys: dict[str, str]) -> None:
    """A GitHub workflow_run or GitLab Pipeline Hook push, signed as the platform signs it
    (the simulator), names its run: the watcher fetches it and journals the change once."""
    stage = APIS[vendor].stages
    run = sim.world.add_run(vendor, stage["running"][0], created=clock() - 60)
    async for hk in hooked(sim, clock, vendor, name=SOURCE, **keys):
        await hk.h.poll()
        sim.webhooks.subscribe(Subscription(vendor, f"{hk.url}/hooks/{SOURCE}", SECRET))
        clock.advance(5)
        sim.world.set_status(run, stage["failed"][0])
        await _delivered(sim)
        gets = sim.world.count(vendor, f"/{run.id}")
        assert transition(await hk.apply()) == [(run.id, "failed", "running")]
        assert sim.world.count(vendor, f"/{run.id}") == gets + 1
        assert await hk.h.poll() == []


async def test_a_push_the_provider_chokes_on_is_dropped_and_the_others_applied(
        hk: Hooked, sim: Simulator, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
        ) -> None:
    """A provider raising on one push (a plugin's bug) costs that push only: it is counted
    as the source's internal error and marked applied, the push beside it is journaled, and
    nothing escapes to stop the poller."""
    await hk.h.poll()
    p = hk.h.poller
    assert p is not None
    pushed = p.provider.pushed

    def choking(body: Any) -> Any:
        if body.get("eventId") == "evt_bad":
            raise KeyError("workflowRun")
        return pushed(body)
    monkeypatch.setattr(p.provider, "pushed", choking)
    run = sim.world.add_run("extend", "PROCESSED")
    assert (await hk.post(hk.body(run, event_id="evt_bad")))[0] == 200
    assert [e["subject"] for e in await hk.pushed(hk.body(run))] == [run.id]
    assert await hk.h.store.pushes(SOURCE, 10) == []
    assert p.boundary.errors == 1


async def test_a_bug_applying_pushes_is_the_source_s_internal_error_not_the_poll_loop_s(
        hk: Hooked, sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """A provider raising while a push is applied (here fetching the run it names) is
    counted as the source's internal error; apply returns, so the poll loop polls on."""
    await hk.h.poll()
    p = hk.h.poller
    assert p is not None

    async def broken(run_id: str) -> Any:
        raise RuntimeError("a plugin's bug")
    monkeypatch.setattr(p.provider, "fetch_run", broken)
    run = sim.world.add_run("extend", "PROCESSED")
    assert await hk.pushed(hk.body({"id": run.id})) == []
    assert p.boundary.errors == 1
