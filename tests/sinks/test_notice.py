"""One notice, many renderers: the words of a notification are built once from the events,
and Slack, Apprise and PagerDuty each render that notice; none reads another's markup."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from tests.sinks.pagerduty_api import KEY, FakePagerDuty
from tests.sinks.receiver import Receiver
from tests.sinks.runs import sink_config
from tests.sinks.slack_cases import batches
from watcher.core.events import RUN_STATUS_CHANGED, run_event
from watcher.infra.clock import wall
from watcher.model import JournalEntry, RunDetails, Status
from watcher.sinks import sink_class
from watcher.sinks.apprise.text import body
from watcher.sinks.base import Sink, SinkContext
from watcher.sinks.notice import (
    Code,
    Fields,
    Link,
    Links,
    Note,
    Notice,
    Preformatted,
    Time,
)
from watcher.sinks.notice.compose import notices
from watcher.sinks.pagerduty.event import DEFAULT_SEVERITY, payload_of
from watcher.sinks.slack.message import compose, payload
from watcher.state.journal import entry_of

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000.0
#: what Slack's renderer writes: links and dates (``<url|label>``, ``<!date^...>``), bold
#: labels, and its escapes
SLACK_MARKUP = re.compile(r"<[^<>\n]*\|[^<>\n]*>|<!date|\*[^*\n]+\*|&lt;|&gt;")
#: an error a vendor may well write, that looks like markup and must reach people as written
ERROR = "Expected `id` in *payload*, see <https://docs.test/e|docs> & retry"


def failed(error: str = ERROR) -> JournalEntry:
    e = entry_of(run_event(RUN_STATUS_CHANGED, source="prod", provider="extend", run_id="r1",
                           status=Status.FAILED, raw_status="FAILED",
                           previous=(Status.RUNNING, "PROCESSING"),
                           details=RunDetails(workflow_id="wf1", workflow_name="Invoices",
                                              error=error, url="https://x.test/runs/r1"),
                           now=T0, id_key=T0))
    e.seq = 1
    return e


def a_sink(kind: str, **keys: Any) -> Sink:
    cls = sink_class(kind)
    assert cls is not None
    return cls(sink_config({"type": kind, **keys}), SinkContext(clock=wall))


def test_a_notice_made_by_hand_is_all_slack_and_apprise_need() -> None:
    """The renderers read the notice alone: one with no event behind it renders in each."""
    url = "https://x.test/runs/r1"
    n = Notice([], "failure", ":x:", "Run failed in Invoices", "r1 (prod): boom", [
        Fields([("Run", Link(url, "r1")), ("Status", Code("failed"))]),
        Preformatted("Error", "a < b"), Links([Link(url, "Open run")]),
        Note(("watcher · ", Time("2026-11-22T13:58:10Z")))])
    slack = payload(n)
    assert slack["text"] == ":x: Run failed in Invoices: r1 (prod): boom"
    assert slack["blocks"][0]["text"]["text"] == ":x: Run failed in Invoices"
    assert [f["text"] for f in slack["blocks"][1]["fields"]] == [f"*Run*\n<{url}|r1>",
                                                                 "*Status*\n`failed`"]
    assert slack["blocks"][2]["text"]["text"] == "*Error*\n```a &lt; b```"
    assert body(n) == (f"Run: r1 ({url})\nStatus: failed\nError: a < b\nOpen run: {url}\n"
                       "watcher · 2026-11-22T13:58:10Z")
    assert n.summary == "Run failed in Invoices: r1 (prod): boom"


def test_slack_messages_are_the_notices_rendered() -> None:
    """Slack's messages for 120 varied batches are exactly its rendering of the notices
    built from them, one message a notice, carrying the same entries."""
    for batch in batches():
        built = notices(batch)
        messages = compose(batch)
        assert [m.payload for m in messages] == [payload(n) for n in built]
        assert [m.entries for m in messages] == [n.entries for n in built]


def test_apprise_and_pagerduty_words_carry_no_slack_markup() -> None:
    """Titles, bodies and summaries of 120 varied batches have no Slack link, date, bold
    label or escape in them."""
    for batch in batches():
        for n in notices(batch) + notices(batch, grouped=False):
            for text in (n.title, body(n), n.summary):
                assert SLACK_MARKUP.search(text) is None, text
        for e in batch:
            summary = payload_of(e, orjson.loads(e.body), severity=DEFAULT_SEVERITY,
                                 source=None)["payload"]["summary"]
            assert SLACK_MARKUP.search(summary) is None, summary


async def test_one_event_reaches_slack_apprise_and_pagerduty_in_the_same_words(
        receiver: Receiver) -> None:
    """Delivered for real, one failure has one title everywhere; Slack escapes the vendor's
    error, while Apprise and PagerDuty pass it on exactly as written."""
    e = failed()
    with Receiver() as chat, FakePagerDuty() as pd:
        for s in (a_sink("slack", webhook_url=receiver.url),
                  a_sink("apprise", urls=[f"json://127.0.0.1:{chat.port}/hook"]),
                  a_sink("pagerduty", routing_key=KEY, base_url=pd.base_url)):
            assert await s.deliver([e]) == []
            await s.aclose()
        [slack] = [orjson.loads(h.body) for h in receiver.delivered()]
        [note] = [orjson.loads(h.body) for h in chat.delivered()]
        [alert] = pd.accepted
    assert slack["blocks"][0]["text"]["text"] == ":x: Run failed in Invoices"
    assert "&lt;https://docs.test/e|docs&gt; &amp; retry" in orjson.dumps(slack).decode()
    assert note["title"] == "Run failed in Invoices"
    assert f"Error: {ERROR}" in note["message"]
    assert alert["payload"]["summary"] == f"Run failed in Invoices: r1 (prod): {ERROR}"
