"""The status page in real headless Chromium (Debian's), driven by Playwright.

A daemon subprocess watches all four simulated vendors while a scenario plays;
the test logs in with the daemon's token, reads the sources and sinks, makes a
run fail at the vendor and waits for it in the live feed.  It saves a
screenshot (``$WATCHER_SCREENSHOT`` names a copy to keep, e.g. for the README).
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.http_support import eventually, free_port, http_get, polled
from tests.support import DaemonProc, SimThread, sim_source, toml
from watcher.core.timestamps import format_ts
from watcher.infra.clock import wall
from watcher.simulator import World
from watcher.simulator.scenario import Scenario

CHROMIUM = "/usr/bin/chromium"
#: no traffic beyond loopback: Chromium's own background connections are switched off
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN = "status-page-token-3b9c41d2"
#: a replica name as long as real ones get (a cloud host's FQDN and a pid)
LONG_OWNER = "watcher-7f9c2b.eu-west-1.compute.internal.example.com:4194303"


def browser_or_skip() -> Any:
    """Playwright's sync API, or a skip (a failure under CI) saying what is missing."""
    why = None
    if not Path(CHROMIUM).exists():
        why = f"{CHROMIUM} missing (apt-get install chromium)"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        why = "playwright is not installed (the dev extra)"
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    return sync_playwright


#: the page is shown with the four seed platforms' sources
SEEDS = ("extend", "noxus", "cortex", "knock")

class Watched:
    """A daemon with a token file, four sources, two sinks and a lively simulated world."""

    def __init__(self, sim: SimThread, tmp_path: Path, **watcher: Any) -> None:
        self.sim = sim
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        (tmp_path / "http-token").write_text(TOKEN + "\n")
        self.sources = [sim_source(sim.url, sim.world, v, name=f"{v}-prod")
                        for v in SEEDS]
        self.sinks = [{"name": "out", "type": "stdout"},
                      {"name": "archive", "type": "file", "path": str(tmp_path / "ev.jsonl")}]
        cfg = tmp_path / "watcher.toml"
        cfg.write_text(toml({"state_path": str(tmp_path / "state.db"),
                             "http_listen": f"127.0.0.1:{self.port}",
                             "http_token_file": "http-token", **watcher},
                            self.sources, self.sinks))
        self.proc = DaemonProc("run", "-c", str(cfg))
        eventually(lambda: polled(self.base, len(self.sources)), what="every source polled")


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[Watched]:
    world = World(clock=wall, seed=11)
    scenario = Scenario(world, vendors=SEEDS, spawn_every=2.0)
    scenario.setup()
    sim = SimThread(world).start()
    w = Watched(sim, tmp_path)
    scenario.begin()
    play = sim.spawn(scenario.run)
    try:
        yield w
    finally:
        play.cancel()
        code = w.proc.stop(signal.SIGTERM)
        sim.stop()
        assert code == 0, w.proc.err_text()[-2000:]


def test_the_status_page_shows_every_source_and_sink_and_a_failure_arrives_in_its_feed(
        watched: Watched, tmp_path: Path) -> None:
    """Logged in with the token, the page lists every source and sink, and a run failing
    at the vendor appears highlighted in the live feed within seconds, linked to its run."""
    sync_playwright = browser_or_skip()
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, args=FLAGS, headless=True,
            viewport={"width": 1280, "height": 860})
        try:
            page = context.pages[0] if context.pages else context.new_page()
            first = page.goto(watched.base + "/")
            assert first is not None and first.status == 401  # the login form, not the data
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            page.wait_for_selector("#sources tbody tr")

            cookie, = context.cookies()
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            assert TOKEN not in cookie["value"]

            names = [s["name"] for s in watched.sources]
            page.wait_for_function(
                f"document.querySelectorAll('#sources tbody tr').length == {len(names)}")
            text = page.inner_text("main")
            for name in names + [k["name"] for k in watched.sinks]:
                assert name in text

            run = watched.sim.call(lambda w: w.add_run("extend", "PROCESSING"))
            page.wait_for_selector(f"#feed a[title='{run.id}']", timeout=15_000)
            watched.sim.call(lambda w: w.set_status(run, "FAILED",
                                                    error="Extraction failed: page 3"))
            failed = page.wait_for_selector(f"#feed li.bad a[title='{run.id}']",
                                            timeout=10_000)
            assert failed is not None
            href = failed.get_attribute("href") or ""
            assert href.startswith("https://") and run.id in href
            item = page.inner_text(f"#feed li.bad:has(a[title='{run.id}'])")
            assert "running → failed" in item and "Extraction failed: page 3" in item

            page.wait_for_timeout(5500)  # one more /status refresh (every 5 s) for the screenshot
            shot = tmp_path / "status-page.png"
            page.screenshot(path=str(shot), full_page=False)
            assert shot.stat().st_size > 10_000
            keep = os.environ.get("WATCHER_SCREENSHOT")
            if keep:
                shutil.copy(shot, keep)
        finally:
            context.close()


def logged_in(watched: Watched, browser: Any,
              edit: Callable[[dict[str, Any]], None] | None = None) -> Any:
    """A page of ``browser`` logged in to the daemon, each ``/status`` document it reads
    changed by ``edit`` first.  ``page.answers`` collects ``(url, status)`` of every
    response from the browser's network log (Chromium's own, through CDP: Playwright's
    events leave the favicon out, and with ``edit`` routing requests Chromium asks for
    no favicon at all)."""
    def edited(route: Any) -> None:
        st = route.fetch().json()
        edit(st)
        route.fulfill(json=st)
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.answers = []
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.on("Network.responseReceived",
           lambda e: page.answers.append((e["response"]["url"], e["response"]["status"])))
    if edit is not None:
        page.route("**/status", edited)
    page.goto(watched.base + "/")
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_selector(f"#sources tbody tr:nth-child({len(watched.sources)})")
    return page


def test_a_long_owner_stays_inside_its_card(watched: Watched) -> None:
    """A replica name as long as a cloud host's wraps within the Sources card instead of
    spilling out of it."""
    sync_playwright = browser_or_skip()

    def long_owner(st: dict[str, Any]) -> None:
        for s in st["sources"]:
            s["owner"] = LONG_OWNER
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = logged_in(watched, browser, long_owner)
            owner = page.locator("#sources tbody tr td:last-child").first
            assert owner.inner_text().replace("\n", "") == LONG_OWNER
            fits = owner.evaluate("""td => {
                const card = td.closest("section").getBoundingClientRect();
                return td.scrollWidth <= td.clientWidth
                    && td.getBoundingClientRect().right <= card.right
                    && td.closest("table").getBoundingClientRect().right <= card.right;
            }""")
        finally:
            browser.close()
    assert fits, "the owner column spills out of the Sources card"


def test_what_another_replica_works_on_shows_its_owners_report_never_a_made_up_ok(
        watched: Watched) -> None:
    """A source polled elsewhere shows its owner's failing flag and run count, a sink no
    replica reports on shows unknown (not a green ok), and the sinks table still draws."""
    sync_playwright = browser_or_skip()

    def elsewhere(st: dict[str, Any]) -> None:
        src = st["sources"][0]
        for key in ("health", "health_since", "tracked", "first_sync", "stuck", "next_poll"):
            src.pop(key, None)
        src.update(runs=40, live=None, failing=True, owner="other:2")
        st["sinks"][0]["failing"] = None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = logged_in(watched, browser, elsewhere)
            page.wait_for_selector(f"#sinks tbody tr:nth-child({len(watched.sinks)})")
            first = page.locator("#sources tbody tr").first.locator("td")
            health, runs = first.nth(2).inner_text(), first.nth(5).inner_text()
            sink = page.locator("#sinks tbody tr").first.locator("td").nth(2)
            said, cls = sink.inner_text(), sink.get_attribute("class")
        finally:
            browser.close()
    assert health.startswith("failing") and runs == "40"
    assert said == "unknown" and cls == "muted"


def test_the_browser_gets_a_favicon_and_no_404(watched: Watched) -> None:
    """The icon the browser asks for by itself is answered, and nothing the page loads is
    a 404 or another error, in Chromium's own network log."""
    sync_playwright = browser_or_skip()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = logged_in(watched, browser)
            deadline = time.monotonic() + 15
            while not any("favicon" in url for url, _ in page.answers):
                assert time.monotonic() < deadline, f"no favicon asked for: {page.answers}"
                page.wait_for_timeout(100)  # the browser asks for its icon after the page
            answers = page.answers
        finally:
            browser.close()
    assert [a for a in answers if a[1] >= 400 and a[1] != 401] == []


def test_next_poll_says_due_or_in_so_long_never_ago(watched: Watched) -> None:
    """A poll whose time has come reads "due" (one long past "overdue by"), a future one
    "in N s": never "0 s ago", whatever the /status document says."""
    sync_playwright = browser_or_skip()
    offsets = {"extend-prod": -0.4, "noxus-prod": 0.3, "cortex-prod": -42.0,
               "knock-prod": 42.0}

    def shifted(st: dict[str, Any]) -> None:
        now = datetime.fromisoformat(st["now"])
        for s in st["sources"]:
            s["next_poll"] = format_ts((now + timedelta(seconds=offsets[s["name"]]))
                                       .timestamp())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = logged_in(watched, browser, shifted)
            shown = {row.locator("td").nth(0).inner_text(): row.locator("td").nth(4).inner_text()
                     for row in page.locator("#sources tbody tr").all()}
        finally:
            browser.close()
    assert shown == {"extend-prod": "due", "noxus-prod": "due", "cortex-prod": "overdue by 42 s",
                     "knock-prod": "in 42 s"}


def test_status_json_says_what_the_page_shows_and_needs_the_token(watched: Watched) -> None:
    """/status answers 401 without the token and, with it, every source's health, runs and
    owner and every sink's backlog and deliveries."""
    assert http_get(watched.base + "/status")[0] == 401
    assert http_get(watched.base + "/")[0] == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def settled() -> dict[str, Any] | None:
        code, body = http_get(watched.base + "/status", auth)
        st = orjson.loads(body) if code == 200 else {}
        return st if st and all(s["health"] == "ok" for s in st["sources"]) else None
    st = eventually(settled, what="every source ok")
    me = st["replica"]
    assert [r["id"] for r in st["replicas"]] == [me["id"]]
    assert {s["name"] for s in st["sources"]} == {s["name"] for s in watched.sources}
    for s in st["sources"]:
        assert s["owner"] == me["id"] and s["last_success"] and s["next_poll"]
        assert s["tracked"] == sum(s["runs"].values()) and s["first_sync"] is None
    assert [k["name"] for k in st["sinks"]] == ["out", "archive"]
    assert {"backlog", "last_delivery", "dead_letters", "silenced", "failing"} <= set(
        st["sinks"][0])
    assert len(st["failures_24h"]["hours"]) == 24


def test_a_named_replica_with_one_sqlite_writer_is_one_id_everywhere_in_status(
        tmp_path: Path) -> None:
    """The config's replica name is the id /status gives the process, the replicas list
    and every source's owner, also with SQLite state (one writer, no cluster)."""
    sim = SimThread(World(clock=wall, seed=12)).start()
    try:
        w = Watched(sim, tmp_path, replica="edge-1")
        try:
            st = orjson.loads(http_get(w.base + "/status",
                                       {"Authorization": f"Bearer {TOKEN}"})[1])
        finally:
            assert w.proc.stop(signal.SIGTERM) == 0, w.proc.err_text()[-2000:]
    finally:
        sim.stop()
    assert st["replica"]["id"] == "edge-1"
    assert [r["id"] for r in st["replicas"]] == ["edge-1"]
    assert {s["owner"] for s in st["sources"]} == {"edge-1"}
