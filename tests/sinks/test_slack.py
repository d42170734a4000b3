"""Slack sink against a fake Slack on loopback: grouping, pacing, Block Kit validity, errors."""

from __future__ import annotations

import itertools
from typing import Any

import anyio
import orjson
import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from tests.sinks.receiver import Hit, Receiver, Reply
from tests.sinks.runs import failures, run_changes, sink_runner
from tests.support import Harness
from watcher.core.events import EVENT_TYPES, RUN_STUCK, SOURCE_FAILING, SOURCE_RECOVERED
from watcher.model import JournalEntry, Status
from watcher.runtime.delivery import SinkRunner
from watcher.simulator import Simulator
from watcher.sinks.slack.message import compose
from watcher.testing import FrozenClock

pytestmark = pytest.mark.anyio

FAST = {"backoff": "10ms", "max_backoff": "100ms"}


class FakeSlack:
    """Answers like an incoming webhook: ``ok``, or 429 when posted to faster than once a
    second (with a little slack for network jitter)."""

    def __init__(self, min_gap: float = 0.95) -> None:
        self.min_gap = min_gap
        self.last: float | None = None
        self.limited = 0

    def __call__(self, hit: Hit) -> Reply:
        if self.last is not None and hit.at - self.last < self.min_gap:
            self.limited += 1
            return Reply(429, b"rate_limited", {"Retry-After": "1"})
        self.last = hit.at
        return Reply(200, b"ok")


def assert_valid_message(payload: dict[str, Any]) -> None:
    """Slack's message limits, and each block through slack_sdk's own models: parsing must
    keep every key (nothing unknown) and validating must pass (lengths, counts)."""
    assert set(payload) == {"text", "blocks"}
    assert 0 < len(payload["text"]) <= 40_000
    assert 1 <= len(payload["blocks"]) <= 50
    for block in payload["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None, block
        assert parsed.to_dict() == block  # to_dict validates, recursively
        for f in block.get("fields", []):  # limits slack_sdk does not check itself
            assert len(f["text"]) <= 2000
        assert len(block.get("fields", [])) <= 10


def messages(receiver: Receiver) -> list[dict[str, Any]]:
    return [orjson.loads(hit.body) for hit in receiver.delivered()]


def slack(url: str, **kw: object) -> dict[str, object]:
    return {"type": "slack", "webhook_url": url, "group_wait": "300ms", **FAST, **kw}


async def run_until_idle(runner: SinkRunner) -> None:
    await runner.run(until_idle=True)
    await runner.sink.aclose()


async def test_a_burst_of_20_failures_inside_group_wait_is_one_message_naming_every_run(
        sim: Simulator, clock: FrozenClock) -> None:
    """Twenty failures of one workflow within group_wait are one valid message naming each run."""
    fake = FakeSlack()
    with Receiver(fake) as receiver:
        async with Harness(sim, clock=clock) as h:
            wf = h.world.workflow("extend", "Invoice Processing")
            ids = [h.world.add_run("extend", "PROCESSING", workflow=wf).id for _ in range(20)]
            await h.poll()
            runner = await sink_runner(h, slack(receiver.url, group_wait="2s"),
                                       clock=FrozenClock(clock()))
            async with anyio.create_task_group() as tg:
                tg.start_soon(runner.run)
                for chunk in (ids[i:i + 5] for i in range(0, 20, 5)):  # four polls
                    clock.advance(15)
                    for rid in chunk:
                        h.world.set_status(rid, "FAILED", error=f"bad scan {rid}")
                    await h.poll()  # ~0.5 s each: the provider fetches each failure's message
                    await anyio.sleep(0.1)
                with anyio.fail_after(5):
                    while runner.cursor < h.journal.head:
                        await h.journal.wait_acked()
                await anyio.sleep(0.3)
                tg.cancel_scope.cancel()
            await runner.sink.aclose()
    [message] = messages(receiver)
    assert_valid_message(message)
    assert message["blocks"][0]["text"]["text"] == ":x: 20 runs failed in Invoice Processing"
    body = orjson.dumps(message).decode()
    assert all(rid in body for rid in ids)
    assert "and 10 more" in message["text"]
    assert fake.limited == 0


async def test_a_single_failure_shows_status_workflow_run_source_duration_error_and_link(
        sim: Simulator, clock: FrozenClock) -> None:
    """A single failure's message shows status, workflow, run, source, duration, error and link."""
    with Receiver(FakeSlack()) as receiver:
        async with Harness(sim, clock=clock) as h:
            runner = await sink_runner(h, slack(receiver.url), clock=FrozenClock(clock()))
            [entry] = await failures(h, 1, error="Page 3: <table> could not be parsed")
            await run_until_idle(runner)
    [message] = messages(receiver)
    assert_valid_message(message)
    event = orjson.loads(entry.body)["data"]
    blocks = message["blocks"]
    assert blocks[0]["text"]["text"] == ":x: Run failed in Invoice Processing"
    fields = "\n".join(f["text"] for f in blocks[1]["fields"])
    assert "`failed` (was `running`)" in fields
    assert "Invoice Processing" in fields and event["run_id"] in fields
    assert "extend-test (extend)" in fields and "*Duration*" in fields
    assert "Page 3: &lt;table&gt; could not be parsed" in blocks[2]["text"]["text"]
    assert blocks[3]["elements"][0]["url"] == event["url"]
    assert message["text"].startswith(":x: Run failed in Invoice Processing: " + event["run_id"])


async def test_fake_slack_enforcing_one_message_a_second_never_has_to_answer_429(
        sim: Simulator, clock: FrozenClock) -> None:
    """Four workflows failing at once are four messages, paced a second apart."""
    fake = FakeSlack()
    with Receiver(fake) as receiver:
        async with Harness(sim, clock=clock) as h:
            runner = await sink_runner(h, slack(receiver.url, match={"status": "failed"}),
                                       clock=FrozenClock(clock()))
            for name in ("Invoices", "Contracts", "Claims", "Receipts"):
                await failures(h, 2, workflow=name)
            await run_until_idle(runner)
    sent = messages(receiver)
    assert len(sent) == 4 and fake.limited == 0
    gaps = [b.at - a.at for a, b in itertools.pairwise(receiver.hits)]
    assert min(gaps) >= 0.95
    for m in sent:
        assert_valid_message(m)


async def test_429_retry_after_is_honoured(sim: Simulator, clock: FrozenClock) -> None:
    """After a 429, the same message is sent again no sooner than its Retry-After."""
    def reply(hit: Hit) -> Reply:
        return Reply(429, b"rate_limited", {"Retry-After": "2"}) if hit.n == 1 else Reply()
    with Receiver(reply) as receiver:
        async with Harness(sim, clock=clock) as h:
            runner = await sink_runner(h, slack(receiver.url), clock=FrozenClock(clock()))
            await failures(h, 3)
            await run_until_idle(runner)
    first, second = receiver.hits
    assert second.at - first.at >= 2.0 and second.body == first.body
    assert runner.stats.dead == 0 and runner.stats.delivered == 3


@pytest.mark.parametrize(("status", "reason"), [
    (400, "invalid_payload"), (400, "no_text"), (403, "action_prohibited"),
    (404, "no_service"), (410, "channel_is_archived")])
async def test_slack_refusals_are_logged_with_the_reason_and_dead_lettered(
        sim: Simulator, clock: FrozenClock, status: int, reason: str) -> None:
    """A refusal from Slack is not retried: logged with its reason, every event dead-lettered."""
    with Receiver(lambda hit: Reply(status, reason.encode())) as receiver:
        async with Harness(sim, clock=clock) as h:
            runner = await sink_runner(h, slack(receiver.url), clock=FrozenClock(clock()))
            entries = await failures(h, 3)
            with structlog.testing.capture_logs() as logs:
                await run_until_idle(runner)
            dead = await h.store.dead_letters("under-test")
    assert len(receiver.hits) == 1  # one grouped message, not retried
    assert sorted(d.entry.id for d in dead) == sorted(e.id for e in entries)
    assert all(d.reason.startswith(f"{status}") and reason in d.reason for d in dead)
    assert any(log["log_level"] == "error" and reason in log.get("reason", "") for log in logs)
    assert runner.stats.dead == 3


async def test_server_errors_are_retried_then_delivered(sim: Simulator, clock: FrozenClock
                                                         ) -> None:
    """A 5xx from Slack is retried, and the message then delivered."""
    with Receiver(lambda hit: Reply(503) if hit.n == 1 else Reply()) as receiver:
        async with Harness(sim, clock=clock) as h:
            runner = await sink_runner(h, slack(receiver.url), clock=FrozenClock(clock()))
            await failures(h, 2)
            await run_until_idle(runner)
    assert [hit.status for hit in receiver.hits] == [503, 200]
    assert runner.stats.dead == 0


async def test_a_server_error_that_never_ends_is_retried_then_delivered(
        sim: Simulator, clock: FrozenClock) -> None:
    """A 500 whose body streams forever neither hangs the sink nor loses the message."""
    def reply(hit: Hit) -> Reply:
        return Reply(500, b"error ", endless=True) if hit.n == 1 else Reply(200, b"ok")
    with Receiver(reply) as receiver:
        async with Harness(sim, clock=clock) as h:
            runner = await sink_runner(h, slack(receiver.url, timeout="3s"),
                                       clock=FrozenClock(clock()))
            await failures(h, 2)
            await run_until_idle(runner)
    assert [hit.status for hit in receiver.hits] == [500, 200]
    assert runner.stats.dead == 0 and len(messages(receiver)) == 1


async def test_source_failing_recovered_and_stuck_runs_read_sensibly(
        sim: Simulator, clock: FrozenClock) -> None:
    """Stuck, failing and recovered events become messages saying so, with their durations."""
    async with Harness(sim, clock=clock, failure_threshold=1, stuck_after="10m") as h:
        run = h.world.add_run("extend", "PROCESSING")
        await h.poll()
        clock.advance(11 * 60)
        await h.poll()  # stuck
        token = h.world.tokens["extend"]
        h.world.tokens["extend"] = "rotated"
        clock.advance(15)
        await h.poll()  # failing
        h.world.tokens["extend"] = token
        clock.advance(120)
        await h.poll()  # recovered
        payloads = [m.payload for m in compose(h.entries)]
    for p in payloads:
        assert_valid_message(p)
    heads = [p["blocks"][0]["text"]["text"] for p in payloads]
    assert heads == [":hourglass: Run is stuck in Invoice Processing",
                     ":rotating_light: Source extend-test is failing",
                     ":large_green_circle: Source extend-test recovered"]
    stuck, failing, recovered = (orjson.dumps(p).decode() for p in payloads)
    assert run.id in stuck and "Stuck for" in stuck and "11m 0s" in stuck
    assert "401" in failing
    assert "Down for" in recovered and "2m 0s" in recovered


async def test_a_run_moving_through_statuses_gets_one_message_per_status(
        sim: Simulator, clock: FrozenClock) -> None:
    """Grouping never merges different statuses: "needs review" and "failed" stay apart."""
    async with Harness(sim, clock=clock) as h:
        await run_changes(h, [["NEEDS_REVIEW"] * 2, ["FAILED", "PROCESSED"]], runs=2,
                          initial="PROCESSING")
        heads = [m.payload["blocks"][0]["text"]["text"] for m in compose(h.entries)]
    assert heads[0] == ":eyes: 2 runs need review in Invoice Processing"
    # the last two changed at the same instant: either may come first
    assert sorted(heads[1:]) == [":white_check_mark: Run succeeded in Invoice Processing",
                                 ":x: Run failed in Invoice Processing"]


# -- every payload within Slack's limits, whatever the events say ----------------------------

nasty = st.text(st.characters(codec="utf-8"), max_size=400) | st.sampled_from(
    ["", "<!channel> & <@U123>", "```", "a" * 5000, "&amp;" * 700, "|>" * 2000])
timestamps = st.sampled_from(["2026-11-22T13:58:10Z", "2026-11-22T14:02:51.120Z", "", "garbage"])


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    etype = draw(st.sampled_from(EVENT_TYPES))
    source = draw(st.sampled_from(["extend-prod", "s" * 64]))
    if etype in (SOURCE_FAILING, SOURCE_RECOVERED):
        data: dict[str, Any] = {"source": source, "provider": "extend", "error": draw(nasty),
                                "consecutive_failures": 3, "failing_since": draw(timestamps),
                                "down_for_s": draw(st.integers(0, 10**7))}
    else:
        data = {"source": source, "provider": "extend", "run_id": draw(nasty) or "r",
                "workflow_id": "wf", "workflow_name": draw(st.sampled_from(
                    ["Invoice Processing", "W" * 300, "<b>&"])),
                "status": draw(st.sampled_from([s.value for s in Status])),
                "previous_status": draw(st.none() | st.just("running")),
                "raw_status": draw(nasty), "terminal": draw(st.booleans()),
                "created_at": draw(timestamps), "updated_at": draw(timestamps),
                "url": draw(st.none() | st.just("https://x.test/r?a=1&b=<2>")
                            | st.just("https://x.test/" + "p" * 3100)),
                "error": draw(st.none() | nasty)}
        if etype == RUN_STUCK:
            data["stuck_for_s"] = draw(st.integers(0, 10**8))
    return {"id": "0123456789abcdef", "type": etype, "subject": data.get("run_id", source),
            "time": draw(timestamps), "data": data}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(events(), min_size=1, max_size=120))
def test_every_payload_passes_block_kit_models_and_limits(evs: list[dict[str, Any]]) -> None:
    """Any batch of events, however odd, becomes messages within Block Kit's models and limits."""
    batch = [JournalEntry(i, ev["id"], 0.0, ev["type"], ev["data"]["source"], ev["data"].get("run_id"),
                   ev["data"].get("status"), "wf", None, orjson.dumps(ev))
             for i, ev in enumerate(evs, 1)]
    out = compose(batch)
    assert sorted(e.seq for m in out for e in m.entries) == [e.seq for e in batch]
    for m in out:
        assert_valid_message(m.payload)
