"""GitHub Actions (``provider = "github"``): workflow runs of one repository, over a loopback
copy of ``GET /repos/{owner}/{repo}/actions/runs``."""

from __future__ import annotations

import orjson
import pytest

from tests.providers.json_support import JsonHarness
from tests.providers.platforms import Platforms, github_run
from tests.support import statuses
from watcher.testing import FrozenClock

pytestmark = pytest.mark.anyio
REPO = "acme/api"


def seed(p: Platforms, n: int, now: float, *, status: str = "completed",
         conclusion: str | None = "success", first: int = 1000) -> list[dict]:
    runs = [github_run(first + i, now - 3600 + i, status, conclusion) for i in range(n)]
    p.github.extend(runs)
    return runs


async def test_first_poll_is_silent_then_each_transition_is_one_event(
        platforms: Platforms, clock: FrozenClock) -> None:
    """Existing runs make no event; queued -> in_progress -> completed/failure make one each,
    with the canonical status and GitHub's own value (the conclusion once completed)."""
    seed(platforms, 5, clock())
    async with JsonHarness(platforms, "github", clock=clock, repository=REPO) as h:
        assert await h.poll() == []
        clock.advance(15)
        run = github_run(2000, clock())
        platforms.github.append(run)
        created = await h.poll()
        assert statuses(created) == [("run.created", "pending", None)]
        assert created[0]["subject"] == "2000" and created[0]["data"]["raw_status"] == "queued"
        clock.advance(15)
        platforms.touch(run, status="in_progress")
        assert statuses(await h.poll()) == [("run.status_changed", "running", "pending")]
        clock.advance(15)
        platforms.touch(run, status="completed", conclusion="failure")
        [failed] = await h.poll()
        assert (failed["data"]["status"], failed["data"]["raw_status"]) == ("failed", "failure")
        assert failed["data"]["url"] == f"https://github.com/{REPO}/actions/runs/2000"
        assert failed["data"]["workflow_name"] == "CI"


async def test_idle_cycle_is_one_conditional_request_answered_304(
        platforms: Platforms, clock: FrozenClock) -> None:
    """With nothing changed a cycle is one request, sent with If-None-Match and answered 304,
    even with live runs on page 1."""
    seed(platforms, 50, clock())
    seed(platforms, 3, clock(), status="in_progress", conclusion=None, first=5000)
    async with JsonHarness(platforms, "github", clock=clock, repository=REPO) as h:
        await h.poll()
        for _ in range(3):
            clock.advance(15)
            before = len(platforms.requests)
            assert await h.poll() == []
            sent = platforms.requests[before:]
            assert len(sent) == 1 and "If-None-Match" in sent[0][3]
        assert h.provider.requests == 4


async def test_live_run_that_left_page_one_and_fails_is_reported(
        platforms: Platforms, clock: FrozenClock) -> None:
    """A run still in progress after 150 newer runs pushed it off page 1 is re-read by id,
    and its failure is reported."""
    [old] = seed(platforms, 1, clock(), status="in_progress", conclusion=None, first=10)
    async with JsonHarness(platforms, "github", clock=clock, repository=REPO) as h:
        await h.poll()
        clock.advance(15)
        seed(platforms, 150, clock() + 3600, first=20_000)
        assert len(await h.poll()) == 150
        clock.advance(15)
        platforms.touch(old, status="completed", conclusion="timed_out")
        events = await h.poll()
        assert statuses(events) == [("run.status_changed", "failed", "running")]
        assert events[0]["data"]["raw_status"] == "timed_out"
        assert h.asked("/actions/runs/10") == 1  # page 2 showed it the cycle before


async def test_first_poll_pages_across_link_headers(platforms: Platforms,
                                                    clock: FrozenClock) -> None:
    """250 runs within lookback are read over three pages following Link rel="next"."""
    seed(platforms, 250, clock())
    async with JsonHarness(platforms, "github", clock=clock, repository=REPO,
                           baseline="emit") as h:
        events = await h.poll()
        assert len({e["subject"] for e in events}) == 250
        assert h.provider.requests == 3


async def test_bad_credentials_make_source_failing_naming_the_401(
        platforms: Platforms, clock: FrozenClock) -> None:
    """A rejected token fails every poll; at the threshold one source.failing says 401."""
    seed(platforms, 2, clock())
    async with JsonHarness(platforms, "github", clock=clock, repository=REPO,
                           token="wrong", failure_threshold=2) as h:
        await h.poll()
        clock.advance(15)
        [failing] = await h.poll()
        assert failing["type"] == "watcher.source.failing"
        assert failing["data"]["error"].startswith("401 Unauthorized: Bad credentials")


async def test_hostile_items_are_skipped_and_counted(platforms: Platforms,
                                                     clock: FrozenClock) -> None:
    """Items without an id or a usable status are skipped and counted; the rest is read."""
    good = seed(platforms, 3, clock())
    bad_id, bad_status = github_run(1, clock()), github_run(2, clock())
    bad_id["id"], bad_status["status"], bad_status["conclusion"] = None, 7, None
    platforms.github += [bad_id, bad_status]
    async with JsonHarness(platforms, "github", clock=clock, repository=REPO,
                           baseline="emit") as h:
        events = await h.poll()
        assert sorted(e["subject"] for e in events) == sorted(str(r["id"]) for r in good)
        assert dict(h.provider.skipped) == {"bad_id": 1, "bad_status": 1}
        assert h.ok


async def test_branch_and_event_filters_reach_the_request(platforms: Platforms,
                                                          clock: FrozenClock) -> None:
    """``branch`` and ``event`` are sent as GitHub's filters."""
    seed(platforms, 2, clock())
    async with JsonHarness(platforms, "github", clock=clock, repository=REPO,
                           branch="main", event="push") as h:
        await h.poll()
        query = platforms.requests[-1][2]
        assert (query["branch"], query["event"], query["per_page"]) == ("main", "push", "100")


async def test_event_run_leaves_out_the_bulky_repository_copies(platforms: Platforms,
                                                               clock: FrozenClock) -> None:
    """data.run keeps the run's own fields but not the two repository copies and the two
    users (``trim``), so a GitHub event stays small; keep_fields brings one back."""
    seed(platforms, 1, clock())
    async with JsonHarness(platforms, "github", clock=clock, repository=REPO,
                           baseline="emit", keep_fields=["actor"]) as h:
        [event] = await h.poll()
        run = event["data"]["run"]
        assert "head_commit" in run and "actor" in run
        assert not {"repository", "head_repository", "triggering_actor"} & set(run)
        assert len(orjson.dumps(event)) < 4096
