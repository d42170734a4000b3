"""Webhook sink against a real receiver on loopback: signatures, retries, order, limits."""

from __future__ import annotations

import base64
import itertools
import os
import socket
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

import orjson
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.sinks.receiver import Hit, Receiver, Reply, failing_for
from tests.sinks.runs import failures, run_changes, sink_runner
from tests.support import (
    DaemonProc,
    Harness,
    SimThread,
    run_cli,
    sim_source,
    toml,
)
from watcher.simulator import Simulator
from watcher.testing import FrozenClock

pytestmark = pytest.mark.anyio

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
FAST = {"backoff": "10ms", "max_backoff": "200ms"}


def webhook(url: str, **kw: object) -> dict[str, object]:
    return {"type": "webhook", "url": url, **FAST, **kw}


async def test_signatures_verify_with_the_standard_webhooks_library(
        sim: Simulator, clock: FrozenClock, receiver: Receiver) -> None:
    """Each event is POSTed byte for byte, signed so that Standard Webhooks verifies it."""
    async with Harness(sim, clock=clock) as h:
        runner = await sink_runner(h, webhook(receiver.url, secret=SECRET,
                                              headers={"X-Team": "data"}))
        entries = await failures(h, 3)
        await runner.run(until_idle=True)
        await runner.sink.aclose()
    assert len(receiver.hits) == 3
    by_id = {e.id: e for e in entries}
    for hit in receiver.hits:
        event = Webhook(SECRET).verify(hit.body, hit.headers)
        assert hit.headers["webhook-id"] == event["id"]
        assert hit.body == by_id[event["id"]].body  # the CloudEvent, byte for byte
        assert hit.headers["Content-Type"] == "application/cloudevents+json"
        assert hit.headers["X-Team"] == "data"


async def test_a_tampered_body_or_another_secret_fails_verification(
        sim: Simulator, clock: FrozenClock, receiver: Receiver) -> None:
    """A signature does not verify for a changed body or under another secret."""
    async with Harness(sim, clock=clock) as h:
        runner = await sink_runner(h, webhook(receiver.url, secret=SECRET))
        await failures(h, 1)
        await runner.run(until_idle=True)
        await runner.sink.aclose()
    hit = receiver.hits[0]
    Webhook(SECRET).verify(hit.body, hit.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(hit.body.replace(b'"failed"', b'"succeeded"'), hit.headers)
    other = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(hit.body, hit.headers)


async def test_without_a_secret_events_are_sent_unsigned(
        sim: Simulator, clock: FrozenClock, receiver: Receiver) -> None:
    """Without a secret, events are sent with no signature header."""
    async with Harness(sim, clock=clock) as h:
        runner = await sink_runner(h, webhook(receiver.url))
        await failures(h, 1)
        await runner.run(until_idle=True)
        await runner.sink.aclose()
    headers = {k.lower() for k in receiver.hits[0].headers}
    assert "webhook-signature" not in headers
    assert orjson.loads(receiver.hits[0].body)["data"]["status"] == "failed"


async def test_a_receiver_failing_for_a_while_gets_every_event_in_per_run_order(
        sim: Simulator, clock: FrozenClock) -> None:
    """A receiver failing for a while gets every event once it recovers, each run's in order."""
    steps = [["PROCESSING"] * 6, ["NEEDS_REVIEW"] * 6, ["FAILED"] * 3 + ["PROCESSED"] * 3]
    with Receiver(failing_for(1.5)) as receiver:  # 500s: the "~10 s outage", shortened
        async with Harness(sim, clock=clock) as h:
            runner = await sink_runner(h, webhook(receiver.url, secret=SECRET, concurrency=4,
                                                  max_backoff="400ms", max_attempts=100))
            entries = await run_changes(h, steps, runs=6)
            await runner.run(until_idle=True)
            await runner.sink.aclose()
    assert any(hit.status == 500 for hit in receiver.hits)  # the outage did happen
    assert runner.stats.dead == 0
    delivered = [orjson.loads(hit.body) for hit in receiver.delivered()]
    assert sorted(ev["id"] for ev in delivered) == sorted(e.id for e in entries)
    journal_order: dict[str, list[str]] = defaultdict(list)
    for e in entries:
        journal_order[str(e.run_id)].append(e.id)
    arrival_order: dict[str, list[str]] = defaultdict(list)
    for ev in delivered:
        arrival_order[ev["subject"]].append(ev["id"])
    assert arrival_order == journal_order
    for hit in receiver.hits:  # every attempt, failed or not, names its event the same way
        assert hit.headers["webhook-id"] == orjson.loads(hit.body)["id"]
        Webhook(SECRET).verify(hit.body, hit.headers)


async def test_retry_after_is_honoured_before_the_next_attempt(
        sim: Simulator, clock: FrozenClock) -> None:
    """After a 429, the event is sent again no sooner than its Retry-After."""
    def reply(hit: Hit) -> Reply:
        return Reply(429, b"slow down", {"Retry-After": "2"}) if hit.n == 1 else Reply()
    with Receiver(reply) as receiver:
        async with Harness(sim, clock=clock) as h:
            runner = await sink_runner(h, webhook(receiver.url, concurrency=1))
            await failures(h, 2)
            await runner.run(until_idle=True)
            await runner.sink.aclose()
    first, *rest = receiver.hits
    assert [hit.status for hit in receiver.hits] == [429, 200, 200]
    assert rest[0].body == first.body
    assert min(hit.at for hit in rest) - first.at >= 2.0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
async def test_other_4xx_are_dead_lettered_at_once(sim: Simulator, clock: FrozenClock,
                                                   status: int) -> None:
    """A permanent 4xx is dead-lettered after one attempt, its status and body the reason."""
    with Receiver(lambda hit: Reply(status, b'{"error": "nope"}')) as receiver:
        async with Harness(sim, clock=clock) as h:
            runner = await sink_runner(h, webhook(receiver.url))
            entries = await failures(h, 1)
            await runner.run(until_idle=True)
            await runner.sink.aclose()
            dead = await h.store.dead_letters("under-test")
    assert len(receiver.hits) == 1
    assert runner.stats.dead == 1 and runner.stats.delivered == 0
    assert [d.entry.id for d in dead] == [entries[0].id]
    assert dead[0].reason.startswith(str(status)) and '"error": "nope"' in dead[0].reason
    assert dead[0].attempts == 1


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
async def test_temporary_answers_are_retried(sim: Simulator, clock: FrozenClock,
                                             status: int) -> None:
    """A 408, 429 or 5xx answer is retried, and the retry delivers."""
    with Receiver(lambda hit: Reply(status) if hit.n == 1 else Reply()) as receiver:
        async with Harness(sim, clock=clock) as h:
            runner = await sink_runner(h, webhook(receiver.url))
            await failures(h, 1)
            await runner.run(until_idle=True)
            await runner.sink.aclose()
    assert [hit.status for hit in receiver.hits] == [status, 200]
    assert runner.stats.dead == 0 and runner.stats.delivered == 1


async def test_gives_up_after_max_attempts(sim: Simulator, clock: FrozenClock) -> None:
    """An event refused max_attempts times is dead-lettered, saying so."""
    with Receiver(lambda hit: Reply(503)) as receiver:
        async with Harness(sim, clock=clock) as h:
            runner = await sink_runner(h, webhook(receiver.url, max_attempts=3))
            await failures(h, 1)
            await runner.run(until_idle=True)
            await runner.sink.aclose()
            dead = await h.store.dead_letters("under-test")
    assert len(receiver.hits) == 3
    assert dead[0].attempts == 3 and "gave up after 3 attempts" in dead[0].reason


async def test_gives_up_at_max_age_on_the_sinks_clock(sim: Simulator, clock: FrozenClock
                                                      ) -> None:
    """An event failing for longer than max_age on the sink's clock is dead-lettered."""
    sink_clock = FrozenClock(time.time())

    def reply(hit: Hit) -> Reply:  # each failed attempt takes ten minutes; max_age is an hour
        sink_clock.advance(600)
        return Reply(503)
    with Receiver(reply) as receiver:
        async with Harness(sim, clock=clock) as h:
            runner = await sink_runner(h, webhook(receiver.url, max_age="1h", max_attempts=100),
                                       clock=sink_clock)
            await failures(h, 1)
            await runner.run(until_idle=True)
            await runner.sink.aclose()
            dead = await h.store.dead_letters("under-test")
    assert len(receiver.hits) == 6
    assert "max_age" in dead[0].reason


async def test_a_refused_connection_is_retried_then_dead_lettered_without_the_url(
        sim: Simulator, clock: FrozenClock) -> None:
    """A refused connection is retried, then dead-lettered with a reason that omits the URL."""
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/hooks/secret-path-token"
    async with Harness(sim, clock=clock) as h:
        runner = await sink_runner(h, webhook(url, max_attempts=2))
        await failures(h, 1)
        await runner.run(until_idle=True)
        await runner.sink.aclose()
        dead = await h.store.dead_letters("under-test")
    assert dead[0].reason.startswith("cannot connect") and dead[0].attempts == 2
    assert "secret-path-token" not in dead[0].reason


async def test_a_slow_answer_times_out_and_is_retried(sim: Simulator, clock: FrozenClock
                                                      ) -> None:
    """An answer slower than timeout is given up on, and the event sent again."""
    with Receiver(lambda hit: Reply(delay=2.0) if hit.n == 1 else Reply()) as receiver:
        async with Harness(sim, clock=clock) as h:
            runner = await sink_runner(h, webhook(receiver.url, timeout="200ms"))
            await failures(h, 1)
            await runner.run(until_idle=True)
            await runner.sink.aclose()
    # had the first attempt waited for its answer (200, two seconds later), it would
    # have been the only one
    assert len(receiver.hits) == 2 and receiver.hits[1].body == receiver.hits[0].body


async def test_concurrency_is_bounded_and_connections_are_reused(
        sim: Simulator, clock: FrozenClock) -> None:
    """At most concurrency requests are in flight, over as many reused connections at most."""
    with Receiver(lambda hit: Reply(delay=0.05)) as receiver:
        async with Harness(sim, clock=clock) as h:
            runner = await sink_runner(h, webhook(receiver.url, concurrency=4))
            await failures(h, 24)
            await runner.run(until_idle=True)
            await runner.sink.aclose()
    assert len(receiver.delivered()) == 24
    assert receiver.max_in_flight == 4
    assert len({hit.connection for hit in receiver.hits}) <= 4


async def test_a_2xx_answer_that_never_ends_is_delivered_without_reading_it(
        sim: Simulator, clock: FrozenClock) -> None:
    """A 200 whose body streams forever is delivered at its status line; memory stays flat."""
    with Receiver(lambda hit: Reply(200, b"ok ", endless=True)) as receiver:
        async with Harness(sim, clock=clock) as h:
            runner = await sink_runner(h, webhook(receiver.url, timeout="3s", concurrency=1))
            await failures(h, 3)
            tracemalloc.start()
            try:
                await runner.run(until_idle=True)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            await runner.sink.aclose()
    assert [hit.status for hit in receiver.hits] == [200, 200, 200]  # none retried
    assert runner.stats.delivered == 3 and runner.stats.dead == 0
    assert peak < 8 * 1024**2


async def test_an_error_answer_that_never_ends_is_retried_and_quoted_truncated(
        sim: Simulator, clock: FrozenClock) -> None:
    """A 503 whose body streams forever is a temporary failure; the reason quotes ~200 chars."""
    with Receiver(lambda hit: Reply(503, b"overloaded ", endless=True)) as receiver:
        async with Harness(sim, clock=clock) as h:
            runner = await sink_runner(h, webhook(receiver.url, timeout="3s", max_attempts=2))
            await failures(h, 1)
            await runner.run(until_idle=True)
            await runner.sink.aclose()
            dead = await h.store.dead_letters("under-test")
    assert len(receiver.hits) == 2 and all(hit.status == 503 for hit in receiver.hits)
    reason = dead[0].reason
    assert reason.startswith("503 Service Unavailable: overloaded overloaded ")
    assert reason.endswith(" (gave up after 2 attempts)") and len(reason) < 300


def test_check_masks_the_url_the_secret_and_header_values(tmp_path: Path) -> None:
    """check shows a webhook's URL, secret and header values as ***."""
    cfg = tmp_path / "w.toml"
    cfg.write_text(toml({"state_path": ":memory:"}, sinks=[{
        "name": "ops", "type": "webhook", "url": "https://hooks.example.com/t/abc123xyz",
        "secret": SECRET, "headers": {"Authorization": "Bearer tok-987654"},
        "match": {"status": ["failed"]}}]))
    out = run_cli("check", "-c", str(cfg))
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    assert "abc123xyz" not in text and SECRET not in text and "tok-987654" not in text
    assert 'url = "***"' in text and 'Authorization = "***"' in text


def test_a_bad_secret_or_url_is_a_config_error_that_does_not_echo_it(tmp_path: Path) -> None:
    """A bad URL, secret or reserved header is a config error that does not echo the value."""
    cfg = tmp_path / "w.toml"
    cfg.write_text(toml({"state_path": ":memory:"}, sinks=[{
        "name": "ops", "type": "webhook", "url": "hooks.example.com/t/abc123xyz",
        "secret": "whsec_not*base64!", "headers": {"webhook-id": "x"}}]))
    out = run_cli("check", "-c", str(cfg))
    err = out.stderr.decode()
    assert out.returncode == 78
    assert "sinks[0].url: must be an http:// or https:// URL" in err
    assert "sinks[0].secret: must be a Standard Webhooks secret" in err
    assert "sinks[0].headers: webhook-id: set by the sink itself" in err
    assert "abc123xyz" not in err and "not*base64" not in err


def test_a_hanging_receiver_delays_neither_stdout_nor_polling(tmp_path: Path) -> None:
    """A webhook that never answers delays neither the stdout sink nor the 1 s poll cadence."""
    st = SimThread().start()
    hang = Receiver(lambda hit: Reply(delay=None)).start()
    try:
        cfg = tmp_path / "w.toml"
        cfg.write_text(toml({"state_path": ":memory:", "http_listen": ""},
                            [sim_source(st.url, st.world, "extend", interval="1s")],
                            [{"name": "out", "type": "stdout"},
                             {"name": "hook", "type": "webhook", "url": hang.url,
                              "timeout": "30s"}]))
        d = DaemonProc("run", "-c", str(cfg))
        try:
            d.wait_stderr("baseline recorded")  # the run below must not be part of it
            run = st.call(lambda w: w.add_run("extend", "PROCESSING"))
            d.wait_for(lambda evs: len(evs) >= 1, timeout=5)
            hang.wait_for(lambda r: len(r.hits) >= 1, timeout=5)  # the webhook now hangs
            lags = []
            for status in ("NEEDS_REVIEW", "FAILED", "PROCESSING"):
                n = len(d.events())
                changed = time.monotonic()
                st.call(lambda w, s=status: w.set_status(run.id, s))  # type: ignore[misc]
                d.wait_for(lambda evs, n=n: len(evs) > n, timeout=5)  # type: ignore[misc]
                lags.append(time.monotonic() - changed)
            polls = st.call(lambda w: [r.time for r in w.requests
                                       if r.path.endswith("/workflow_runs")])
        finally:
            d.kill()  # SIGTERM would rightly wait out the drain deadline for the hung sink
    finally:
        hang.stop()
        st.stop()
    assert max(lags) < 1.0 + 1.0  # one interval, plus at most a second
    assert len(hang.hits) == 1  # still waiting on the first event: it really hung
    gaps = [b - a for a, b in itertools.pairwise(polls[2:])]
    assert gaps and max(gaps) < 1.0 + 1.0
