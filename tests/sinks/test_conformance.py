"""The sink conformance kit (:mod:`watcher.testing.conformance`) against every built-in sink,
each with its real destination: loopback HTTP receivers (webhook, Slack, PagerDuty,
Apprise's json://), a file, a stream for stdout, real NATS and Redis servers."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.sinks.buses import NatsBus, RedisBus
from tests.sinks.receiver import Hit, Receiver, Reply
from tests.sinks.runs import sink_config
from watcher.sinks import sink_class
from watcher.sinks.base import Sink, SinkContext
from watcher.sinks.notice.words import EMOJI
from watcher.testing import FakeClock
from watcher.testing.conformance import check_sink

pytestmark = pytest.mark.anyio

Pairs = list[tuple[str, str]]
EVERY = {"at_least_once", "retry_after", "dead_letter", "give_up"}
RETRIES = {"backoff": "1s", "max_backoff": "8s", "max_attempts": 3}


def built(table: Mapping[str, Any], clock: FakeClock, **context: Any) -> Sink:
    cfg = sink_config(table)
    cls = sink_class(cfg.type)
    assert cls is not None
    return cls(cfg, SinkContext(clock=clock, **context))


class HttpPeer:
    """A loopback receiver answering as told: ``ok`` normally, refusals when asked."""

    def __init__(self, parse: Any, *, ok: int = 200, says_retry_after: bool = True,
                 refuses: bool = True) -> None:
        self.parse, self.ok, self.says_retry_after = parse, ok, says_retry_after
        self.refuses = refuses
        self.failing, self.retry_after, self.refusing = 0, None, False
        self.receiver = Receiver(self.reply, path="/")

    def reply(self, hit: Hit) -> Reply:
        if self.refusing:
            self.refusing = False
            return Reply(400, b'{"message": "refused"}')
        if self.failing:
            self.failing -= 1
            ra = {} if self.retry_after is None else {"Retry-After": f"{self.retry_after:g}"}
            return Reply(503, b"busy", ra)
        return Reply(self.ok, b"ok")

    async def received(self) -> Pairs:
        return [pair for hit in self.receiver.hits if hit.status == self.ok
                for pair in self.parse(orjson.loads(hit.body))]

    def fail_next(self, attempts: int, retry_after: float | None = None) -> bool:
        if retry_after is not None and not self.says_retry_after:
            return False
        self.failing, self.retry_after = attempts, retry_after
        return True

    def refuse_next(self) -> bool:
        self.refusing = self.refuses
        return self.refuses


class Stream(io.BytesIO):
    """stdout that can be made to break for a few writes."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = 0

    def write(self, data: Any) -> int:
        if self.failing:
            self.failing -= 1
            raise BrokenPipeError(32, "Broken pipe")
        return super().write(data)

    async def received(self) -> Pairs:
        return cloudevents(self.getvalue().splitlines())

    def fail_next(self, attempts: int, retry_after: float | None = None) -> bool:
        self.failing = attempts
        return retry_after is None  # a stream cannot ask for a pause

    def refuse_next(self) -> bool:
        return False


class FilePeer:
    def __init__(self, path: Path) -> None:
        self.path = path

    async def received(self) -> Pairs:
        return cloudevents(self.path.read_bytes().splitlines() if self.path.exists() else [])

    def fail_next(self, attempts: int, retry_after: float | None = None) -> bool:
        return False

    def refuse_next(self) -> bool:
        return False


class BusPeer:
    def __init__(self, bus: NatsBus | RedisBus) -> None:
        self.bus = bus

    async def received(self) -> Pairs:
        return cloudevents([m.body for m in await self.bus.read()])

    def fail_next(self, attempts: int, retry_after: float | None = None) -> bool:
        return False

    def refuse_next(self) -> bool:
        return False


def cloudevents(bodies: list[bytes]) -> Pairs:
    return [(ev["subject"], ev["data"]["status"]) for ev in map(orjson.loads, bodies)]


def webhook_said(ev: dict[str, Any]) -> Pairs:
    return [(ev["subject"], ev["data"]["status"])]


STATUS_OF = {emoji: status for status, emoji in EMOJI.items()}


def slack_said(payload: dict[str, Any]) -> Pairs:
    """The runs a message names, from its fallback text (``:x: 3 runs failed in X: a, b, c``,
    ``:x: Run failed in X: a (conformance)``)."""
    m = re.match(r"(:[a-z_]+:) [^:]*: (.*)$", payload["text"])
    assert m is not None, payload["text"]
    status = STATUS_OF[m[1]]
    ids = m[2].split(" (", 1)[0].split(", ")
    return [(run_id, status) for run_id in ids]


def pagerduty_said(body: dict[str, Any]) -> Pairs:
    run_id = body["dedup_key"].rsplit("/", 1)[1]
    return [(run_id, "failed" if body["event_action"] == "trigger" else "succeeded")]


def apprise_said(note: dict[str, Any]) -> Pairs:
    run_id = re.search(r"Run: (\S+)", note["message"])
    assert run_id is not None, note
    return [(run_id[1], {"failure": "failed", "success": "succeeded"}[note["type"]])]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def peer(parse: Any, **kw: Any) -> Iterator[HttpPeer]:
    p = HttpPeer(parse, **kw)
    with p.receiver:
        yield p


async def test_webhook_conforms(clock: FakeClock) -> None:
    """The webhook sink passes every conformance check against a real receiver."""
    for p in peer(webhook_said):
        s = built({"type": "webhook", "url": p.receiver.url, **RETRIES}, clock)
        assert await check_sink(s, p, clock=clock) == EVERY


async def test_slack_conforms(clock: FakeClock) -> None:
    """The Slack sink passes every conformance check against a real receiver."""
    for p in peer(slack_said):
        s = built({"type": "slack", "webhook_url": p.receiver.url, "group_wait": "0s",
                   **RETRIES}, clock)
        assert await check_sink(s, p, clock=clock) == EVERY


async def test_pagerduty_conforms(clock: FakeClock) -> None:
    """The PagerDuty sink passes every conformance check against a real receiver."""
    for p in peer(pagerduty_said, ok=202):
        s = built({"type": "pagerduty", "routing_key": "k" * 32,
                   "base_url": p.receiver.url.rstrip("/"), **RETRIES}, clock)
        assert await check_sink(s, p, clock=clock) == EVERY


async def test_apprise_conforms(clock: FakeClock) -> None:
    """The Apprise sink (its json:// service) retries and gives up by the runner's rules;
    Apprise says no Retry-After and refuses nothing for good, so those checks are skipped."""
    pytest.importorskip("apprise")
    for p in peer(apprise_said, says_retry_after=False, refuses=False):
        url = f"json://127.0.0.1:{p.receiver.port}/hook"
        s = built({"type": "apprise", "urls": [url], **RETRIES}, clock)
        assert await check_sink(s, p, clock=clock) == {"at_least_once", "give_up"}


async def test_stdout_conforms(clock: FakeClock) -> None:
    """stdout delivers every event in order and retries a broken stream without end."""
    stream = Stream()
    s = built({"type": "stdout"}, clock, stdout=stream)
    assert await check_sink(s, stream, clock=clock) == {"at_least_once"}


async def test_file_conforms(clock: FakeClock, tmp_path: Path) -> None:
    """The file sink delivers every event, each run's in order."""
    path = tmp_path / "events.jsonl"
    s = built({"type": "file", "path": str(path)}, clock)
    assert await check_sink(s, FilePeer(path), clock=clock) == {"at_least_once"}


async def test_buses_conform(clock: FakeClock, bus: NatsBus | RedisBus) -> None:
    """The NATS and Redis sinks, against real servers, deliver every event in per-run order."""
    s = built(bus.sink(), clock)
    assert await check_sink(s, BusPeer(bus), clock=clock) == {"at_least_once"}
