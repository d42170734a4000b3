"""``watcher.sinks.http.in_turn``: the order rule Slack, PagerDuty and the webhook share."""

from __future__ import annotations

import pytest

from watcher.model import JournalEntry
from watcher.sinks.base import Rejected, Retry
from watcher.sinks.http import Outcome, in_turn

pytestmark = pytest.mark.anyio


def entry(seq: int) -> JournalEntry:
    return JournalEntry(seq, f"e{seq}", 0.0, "watcher.run.created", "src", f"r{seq}", None,
                        None, None, b"{}")


async def test_once_one_is_to_be_retried_the_rest_wait_unsent_and_a_refusal_does_not_stop_them(
        ) -> None:
    """A refused item is a dead letter and the next is still sent; once one is to be
    retried, it and every later item are Retry with its reason and Retry-After, unsent."""
    items = [entry(n) for n in range(1, 6)]
    said = {1: Outcome(True), 2: Outcome(False, "400 Bad Request", False, None, 400),
            3: None, 4: Outcome(False, "503", True, 7.0, 503)}
    sent: list[int] = []

    async def send(e: JournalEntry) -> Outcome | None:
        sent.append(e.seq)
        return said.get(e.seq)

    outcomes = await in_turn(items, lambda e: (e,), send)
    assert sent == [1, 2, 3, 4]
    assert outcomes == [Rejected(items[1], "400 Bad Request"),
                        Retry(items[3], "503", 7.0), Retry(items[4], "503", 7.0)]
