"""The vendor HTTP edge reads at most ``max_response_size`` of any answer: a peer that
announces or streams more is cut off at the cap and the poll fails as a bad payload."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator

import aiohttp
import pytest
import structlog

from tests.support import Harness, statuses
from watcher.errors import BadPayload, ProviderError, TransientError
from watcher.infra.clock import wall
from watcher.infra.ratelimit import RateLimiter
from watcher.providers import http as http_module
from watcher.providers.http import VendorHttp, _reset_in
from watcher.simulator import Fault, Simulator, World
from watcher.testing import FrozenClock

pytestmark = pytest.mark.anyio
LIST = "/workflow_runs"
CAP = 1024**2


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def edge(sim: Simulator, world: World, session: aiohttp.ClientSession) -> VendorHttp:
    return VendorHttp(session, base_url=sim.url("extend"),
                      headers={"Authorization": f"Bearer {world.tokens['extend']}",
                               "x-extend-api-version": "2026-02-09"},
                      timeout=20.0, limiter=RateLimiter(1000.0, clock=wall), max_size=CAP,
                      clock=wall)


@pytest.mark.parametrize("reset", ["inf", "9" * 400, "nan", "soon"])
def test_a_rate_limit_reset_that_is_no_finite_time_asks_no_wait(reset: str) -> None:
    """An ``X-RateLimit-Reset`` float() reads as infinite held the bucket for ever; like
    such a Retry-After it now asks no wait (backoff applies); a finite one is honoured."""
    assert _reset_in({"X-RateLimit-Reset": reset}, 100.0) is None
    assert _reset_in({"X-RateLimit-Reset": "130"}, 100.0) == 30.0


async def test_a_content_length_over_the_cap_is_refused_before_reading_the_body(
        sim: Simulator, world: World, session: aiohttp.ClientSession) -> None:
    """A 100 MB Content-Length fails at the headers, naming the limit and the length."""
    fault = world.faults.add("extend", Fault("huge", size=100 * 1000**2, path=LIST))
    with pytest.raises(BadPayload) as exc:
        await edge(sim, world, session).get(LIST)
    assert str(exc.value) == ("response larger than max_response_size (1MiB): "
                              "Content-Length is 100000000")
    # what the server got written is what loopback socket buffers take, not the body
    assert fault.fired == 1 and fault.sent < fault.size // 4


async def test_an_endless_chunked_body_is_cut_off_at_the_cap_with_flat_memory(
        sim: Simulator, world: World, session: aiohttp.ClientSession) -> None:
    """A body streamed without end is refused once the cap is read; memory never exceeds it much."""
    world.faults.add("extend", Fault("endless", path=LIST))
    tracemalloc.start()
    try:
        with pytest.raises(BadPayload) as exc:
            await edge(sim, world, session).get(LIST)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(exc.value) == "response larger than max_response_size (1MiB)"
    assert peak < 3 * CAP


def body_held_by(error: BaseException) -> int:
    """Bytes an error keeps through the frames of its traceback and of the errors it chains."""
    held, todo, seen = 0, [error], set()
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        todo += [e.__context__, e.__cause__]
        tb = e.__traceback__
        while tb is not None:
            for value in tb.tb_frame.f_locals.values():
                for v in value if isinstance(value, list) else [value]:
                    held += len(v) if isinstance(v, bytes | bytearray) else 0
            tb = tb.tb_next
    return held


async def test_the_error_of_a_refused_body_holds_none_of_it(
        sim: Simulator, world: World, session: aiohttp.ClientSession) -> None:
    """An error can outlive its poll (a retry's sleep, a log, a cycle the GC has not reached):
    the bad payload of a refused body keeps none of the body through its frames."""
    world.faults.add("extend", Fault("endless", path=LIST))
    with pytest.raises(BadPayload) as exc:
        await edge(sim, world, session).get(LIST)
    assert exc.value.__traceback__ is not None and body_held_by(exc.value) == 0


async def test_a_refused_connection_is_not_reused_for_the_next_request(
        sim: Simulator, world: World, session: aiohttp.ClientSession) -> None:
    """After a cut-off the next GET on the same session gets a clean, parseable answer."""
    world.add_run("extend", "PROCESSING")
    world.faults.add("extend", Fault("endless", path=LIST))
    http = edge(sim, world, session)
    with pytest.raises(BadPayload):
        await http.get(LIST)
    body, _ = await http.get(LIST)
    assert [run["status"] for run in body["data"]] == ["PROCESSING"]


@pytest.mark.parametrize("size", [CAP, CAP - 1])
async def test_a_body_up_to_the_cap_is_accepted(
        size: int, sim: Simulator, world: World, session: aiohttp.ClientSession) -> None:
    """A legitimate page as large as the cap is read and parsed whole."""
    world.faults.add("extend", Fault("huge", size=size, path=LIST))
    body, headers = await edge(sim, world, session).get(LIST)
    assert int(headers["Content-Length"]) == size
    assert len(body["data"]) > 10_000 and body["data"][0]["id"] == "run_flood"


async def test_one_byte_over_the_cap_is_refused(
        sim: Simulator, world: World, session: aiohttp.ClientSession) -> None:
    """The cap is inclusive: a body of cap + 1 bytes is a bad payload."""
    world.faults.add("extend", Fault("huge", size=CAP + 1, path=LIST))
    with pytest.raises(BadPayload, match=r"max_response_size \(1MiB\)"):
        await edge(sim, world, session).get(LIST)


async def test_an_error_answer_with_an_endless_body_keeps_its_status_kind(
        sim: Simulator, world: World, session: aiohttp.ClientSession,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A 5xx whose body never ends is still a transient failure, not a hang or a bad payload."""
    fault = world.faults.add("extend", Fault("endless", status=503, times=3, path=LIST))
    monkeypatch.setattr(http_module, "RETRIES", 0)  # one attempt: no real backoff sleeps
    with pytest.raises(TransientError, match=r"^503 Service Unavailable$"):
        await edge(sim, world, session).get(LIST)
    assert fault.fired == 1


async def test_a_single_run_get_is_capped_too(sim: Simulator, world: World,
                                              clock: FrozenClock) -> None:
    """An endless answer to enrichment's single-run GET is cut off; the event goes out without it."""
    run = world.add_run("extend", "PROCESSING")
    async with Harness(sim, clock=clock, max_response_size="1MiB", timeout="5s") as h:
        await h.poll()
        clock.advance(15)
        world.set_status(run, "FAILED", error="boom")
        fault = world.faults.add("extend", Fault("endless", path=f"{LIST}/{run.id}"))
        with structlog.testing.capture_logs() as logs:
            events = await h.poll()
    assert h.ok and fault.fired == 1
    assert statuses(events) == [("run.status_changed", "failed", "running")]
    assert events[0]["data"].get("error") is None
    [skipped] = [e for e in logs if e["event"] == "could not fetch failure details"]
    assert skipped["error"] == "response larger than max_response_size (1MiB)"


async def test_a_long_vendor_error_message_is_quoted_short(
        sim: Simulator, world: World, session: aiohttp.ClientSession) -> None:
    """A 400 whose message is 50 KB long fails the poll with a message of a few hundred
    characters, so logs and ``source.failing`` stay readable."""
    world.faults.add("extend", Fault("status", status=400, message="m" * 50_000, path=LIST))
    with pytest.raises(ProviderError) as exc:
        await edge(sim, world, session).get(LIST)
    assert str(exc.value).startswith("400 Bad Request: mmm")
    assert len(str(exc.value)) < 600
