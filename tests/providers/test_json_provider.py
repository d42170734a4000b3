"""``provider = "json"``: a run listing described by config, in each pagination mode."""

from __future__ import annotations

from typing import Any

import pytest
import structlog

from tests.providers.json_support import JsonHarness
from tests.providers.platforms import Platforms
from tests.support import parse_config, statuses, toml
from watcher.config.render import render
from watcher.errors import ConfigError
from watcher.providers.json.paging import Pager
from watcher.testing import FrozenClock

pytestmark = pytest.mark.anyio

FIELDS = {"items": "data", "id": "id", "status": "state", "updated_at": "updated",
          "workflow_name": "pipeline.name"}
STATUS_MAP = {"queued": "pending", "running": "running", "ok": "succeeded", "error": "failed"}
PAGING: dict[str, dict[str, Any]] = {
    "none": {"mode": "none"},
    "link": {"mode": "link"},
    "cursor": {"mode": "cursor", "cursor": "next", "param": "cursor"},
    "page": {"mode": "page", "size": 10, "size_param": "limit"},
    "offset": {"mode": "offset", "size": 10, "size_param": "limit"},
}


def run(rid: str, updated_ms: int, state: str = "ok") -> dict[str, Any]:
    return {"id": rid, "state": state, "updated": updated_ms, "pipeline": {"name": "nightly"}}


def source(mode: str, **extra: Any) -> dict[str, Any]:
    return {"path": "/api/runs", "auth": "header:X-Api-Key", "fields": FIELDS,
            "status_map": STATUS_MAP,
            "pagination": {**PAGING[mode], "max_pages": 10, "stop_at": "watermark"},
            "params": {"limit": "10"}, **extra}


@pytest.mark.parametrize("mode", ["link", "cursor", "page", "offset"])
async def test_each_paging_mode_reads_every_page_then_stops_at_the_watermark(
        mode: str, platforms: Platforms, clock: FrozenClock) -> None:
    """35 runs over four pages are all read on the first poll; afterwards a cycle stops
    at the first page reaching below the watermark: one request when idle, and a new
    failure is one event (epoch-millisecond times)."""
    ms = int(clock() * 1000)
    platforms.generic += [run(f"r{i}", ms - 600_000 * i) for i in range(35)]
    async with JsonHarness(platforms, "json", clock=clock, baseline="emit",
                           **source(mode)) as h:
        assert len({e["subject"] for e in await h.poll()}) == 35
        assert h.provider.requests == 4
        clock.advance(600)
        assert await h.poll() == []
        assert h.provider.requests == 5
        new = run("fresh", int(clock() * 1000), "running")
        platforms.generic.append(new)
        clock.advance(15)
        [created] = await h.poll()
        assert created["data"]["workflow_name"] == "nightly"
        assert created["data"]["updated_at"].startswith("2027-01-15T08:")
        clock.advance(15)
        new.update(state="error", updated=int(clock() * 1000))
        assert statuses(await h.poll()) == [("run.status_changed", "failed", "running")]


async def test_mode_none_is_one_request_and_max_pages_bounds_the_rest(
        platforms: Platforms, clock: FrozenClock, caplog: pytest.LogCaptureFixture) -> None:
    """Mode none sends one request a cycle; a listing longer than max_pages is read to
    max_pages and no further (ten times that on a first poll), with a warning, never an
    endless loop."""
    ms = int(clock() * 1000)
    platforms.generic += [run(f"r{i}", ms - i) for i in range(100)]
    async with JsonHarness(platforms, "json", clock=clock, baseline="emit",
                           **source("none")) as h:
        assert len(await h.poll()) == 10 and h.provider.requests == 1
    table = source("offset")
    table["pagination"] = {**table["pagination"], "max_pages": 3, "stop_at": None}
    table["pagination"] = {k: v for k, v in table["pagination"].items() if v is not None}
    with structlog.testing.capture_logs() as logs:
        async with JsonHarness(platforms, "json", clock=clock, baseline="emit", **table) as h:
            assert len(await h.poll()) == 100  # a first poll may read ten times as far
            assert not any("max_pages" in e["event"] for e in logs)
            clock.advance(15)
            platforms.generic += [run(f"n{i}", ms + 1000 + i) for i in range(100)]
            assert len(await h.poll()) == 30 and h.provider.requests == 11 + 3  # 11: the end
    assert any("max_pages" in e["event"] for e in logs)


async def test_hostile_items_of_a_generic_listing_are_skipped_and_counted(
        platforms: Platforms, clock: FrozenClock) -> None:
    """Wrong types and missing fields skip just that item, counted; a status outside the
    map is unknown, kept raw; the poll succeeds."""
    ms = int(clock() * 1000)
    platforms.generic += [run("ok1", ms), {"state": "ok", "updated": ms}, None, "text",
                          {"id": ["x"], "state": "ok", "updated": ms},
                          {"id": "s1", "state": {"a": 1}, "updated": ms},
                          {"id": "u1", "state": "weird", "updated": "yesterday"}]
    table = source("none")
    async with JsonHarness(platforms, "json", clock=clock, baseline="emit", **table) as h:
        events = await h.poll()
        assert h.ok
        assert {e["subject"]: e["data"]["status"] for e in events} == {"ok1": "succeeded",
                                                                       "u1": "unknown"}
        assert dict(h.provider.skipped) == {"bad_id": 4, "bad_status": 1}


def test_config_errors_name_the_key() -> None:
    """A bad JMESPath, an unknown mode and a non-canonical status are config errors at
    their keys, each listed."""
    table = {"name": "b", "provider": "json", "token": "t", "path": "/r",
             "fields": {"items": "data[", "id": "id", "status": "s"},
             "pagination": {"mode": "pages"}, "status_map": {"ok": "fine"}}
    with pytest.raises(ConfigError) as e:
        parse_config(toml({}, [table]))
    text = "\n".join(e.value.problems)
    assert "sources[0].fields.items" in text and "JMESPath" in text
    assert "sources[0].pagination.mode" in text
    assert "sources[0].status_map.ok" in text


async def test_post_body_carries_since_and_the_cursor(platforms: Platforms,
                                                      clock: FrozenClock) -> None:
    """A POST query API (Prefect's filter) gets {since} filled in the body and the paging
    keys added to it."""
    platforms.prefect.append({"id": "p1", "state_type": "COMPLETED", "end_time": "x"})
    body = '{"flow_runs": {"end_time": {"after_": "{since}"}}}'
    async with JsonHarness(platforms, "json", clock=clock, path="/api/flow_runs/filter",
                           method="POST", body=body, token=None, auth="none",
                           fields={"items": "@", "id": "id", "status": "state_type"},
                           pagination={"mode": "offset", "size": 5, "size_param": "limit"},
                           baseline="emit") as h:
        [event] = await h.poll()
        assert event["data"]["raw_status"] == "COMPLETED"


def test_every_readme_config_of_a_json_made_source_is_valid() -> None:
    """Each TOML block of the README from GitHub Actions to the Jenkins recipe loads."""
    from tests.support import ROOT

    text = (ROOT / "README.md").read_text()
    section = text.split("### GitHub Actions", 1)[1].split("### Rate limits", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```toml\n")[1:]]
    env = {k: "x" for k in ("GITHUB_TOKEN", "GITLAB_TOKEN", "AIRFLOW_TOKEN", "PREFECT_API_KEY",
                            "CI_TOKEN", "DAGSTER_CLOUD_API_TOKEN", "ARGO_TOKEN",
                            "JENKINS_BASIC")}
    assert len(blocks) == 8
    for block in blocks:
        [src] = parse_config("[watcher]\n" + block, env=env).sources
        assert src.options is not None


async def test_a_link_to_another_host_is_not_followed(clock: FrozenClock) -> None:
    """A Link rel="next" outside base_url is not followed (the token would go with it):
    the page read counts, the poll succeeds, nothing is sent elsewhere."""
    from aiohttp import web

    from tests.providers.platforms import page_json, serving

    other = Platforms(clock)
    async with serving(other):
        async def runs(request: web.Request) -> web.Response:
            return page_json({"data": [run("a", 1_800_000_000_000)]},
                             headers={"Link": f'<{other.url}/api/runs?page=2>; rel="next"'})

        app = web.Application()
        app.router.add_get("/api/runs", runs)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.2", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            here = Platforms(clock)
            here.url = f"http://127.0.0.2:{port}"
            async with JsonHarness(here, "json", clock=clock, baseline="emit",
                                   **source("link")) as h:
                assert [e["subject"] for e in await h.poll()] == ["a"] and h.ok
        finally:
            await runner.cleanup()
    assert other.requests == []


def test_a_json_source_needs_its_base_url() -> None:
    """The json provider has no default host: a source without base_url is a config error."""
    table = {"name": "b", "provider": "json", "token": "t", "path": "/r",
             "fields": {"items": "data", "id": "id", "status": "s"}}
    with pytest.raises(ConfigError) as e:
        parse_config(toml({}, [table]))
    assert e.value.problems == ["sources[0].base_url: is required for provider json"]


def test_a_source_without_auth_needs_no_token_and_check_shows_none() -> None:
    """``auth = "none"``: no token is required, and ``watcher check`` prints no token line
    (an empty one masked as ``***`` would claim a credential that is not there)."""
    table = {"name": "b", "provider": "json", "base_url": "http://127.0.0.1:1", "path": "/r",
             "auth": "none", "fields": {"items": "data", "id": "id", "status": "s"}}
    text = render(parse_config(toml({}, [table])))
    assert "token" not in text and 'auth = "none"' in text


def test_a_built_in_that_overrides_auth_or_pagination_still_checks_it() -> None:
    """GitLab's and Airflow's own ``auth`` default, and Airflow's ``pagination``, keep the
    json provider's checks: a typo there is a config error at its key."""
    tables = [{"name": "g", "provider": "gitlab", "token": "t", "project": "1",
               "auth": "header"},
              {"name": "a", "provider": "airflow", "token": "t", "auth": "basic",
               "pagination": {"mode": "pages"}}]
    with pytest.raises(ConfigError) as e:
        parse_config(toml({}, tables))
    assert sorted(p.split(":")[0] for p in e.value.problems) == [
        "sources[0].auth", "sources[1].auth", "sources[1].pagination.mode"]


@pytest.mark.parametrize("value", ["²", "9" * 5000])
def test_a_next_page_header_int_refuses_ends_the_listing(value: str) -> None:
    """A next-page header of digits ``int`` refuses (a superscript, 5,000 digits) is no
    next page, as a missing one is, rather than an error out of the poll."""
    pager = Pager({"mode": "page", "header": "X-Next-Page"})
    assert pager.next(1, [], {"X-Next-Page": value}, 0) is None
    assert pager.next(1, [], {"X-Next-Page": "3"}, 0) == 3
