"""What Slack says about workflow health: a degraded workflow with what the rule saw and its
failed runs, its recovery, several at once, always within Block Kit's limits."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sinks.test_pagerduty import episode, journaled
from tests.sinks.test_slack import assert_valid_message, nasty
from watcher.model import JournalEntry
from watcher.sinks.slack.message import compose


def test_a_degraded_workflow_says_what_the_rule_saw_and_links_the_failed_runs() -> None:
    """One degraded event: the workflow in the header, the counts in a sentence, the rule,
    the source, since when, and each sample run linked with its error."""
    degraded, recovered = episode()
    [message] = compose(journaled(degraded))
    assert_valid_message(message.payload)
    blocks = message.payload["blocks"]
    assert blocks[0]["text"]["text"] == ":warning: Invoice Processing is degraded on prod"
    assert blocks[1]["text"]["text"] == "3 of 3 runs failed in the last 30m (100%, above 50%)"
    text = orjson.dumps(message.payload).decode()
    assert "<https://dashboard.extend.ai/runs/r0|r0>" in text
    assert "Extraction failed: page 3 is unreadable" in text and "`invoices`" in text
    [back] = compose(journaled(recovered))
    assert_valid_message(back.payload)
    assert back.payload["blocks"][0]["text"]["text"] == \
        ":large_green_circle: Invoice Processing recovered on prod"
    assert "Degraded for" in orjson.dumps(back.payload).decode()


def test_workflows_degrading_together_are_one_message() -> None:
    """Several degraded events in one batch are one message naming each workflow."""
    degraded, _ = episode()
    other = orjson.loads(journaled(degraded)[0].body)
    other["subject"] = "wf2"
    other["data"]["workflow_name"] = "Contract Review"
    twin = JournalEntry(999, "x", 0.0, degraded.type, "prod", None, None, "wf2",
                        "Contract Review", orjson.dumps(other))
    [message] = compose([*journaled(degraded), twin])
    assert_valid_message(message.payload)
    assert message.payload["blocks"][0]["text"]["text"] == ":warning: 2 workflows degraded"
    assert "Contract Review" in message.payload["text"]


@st.composite
def health_events(draw: st.DrawFn) -> dict[str, Any]:
    sample = st.fixed_dictionaries({
        "run_id": nasty, "source": nasty, "status": st.sampled_from(["failed", "running"]),
        "error": st.none() | nasty,
        "url": st.none() | st.just("https://x.test/r?a=1&b=<2>") | nasty})
    data = {"rule": draw(nasty), "kind": draw(st.sampled_from(
                ["failure_rate_above", "no_success_for", "stuck_count_above", "other"])),
            "source": draw(st.none() | nasty), "workflow_id": "wf",
            "workflow_name": draw(st.none() | nasty), "failed": 3, "finished": 4,
            "rate": draw(st.none() | st.floats(0, 1)), "window_s": draw(st.floats(0, 1e7)),
            "threshold": 0.5, "recover_below": 0.4, "stuck": 7, "without_success_s": 9e5,
            "episode_started_at": "2026-11-22T14:02:51.120Z",
            "degraded_for_s": draw(st.none() | st.floats(0, 1e8)),
            "samples": draw(st.lists(sample, max_size=10))}
    return {"id": "0123456789abcdef", "subject": "wf", "time": "2026-11-22T14:03:00Z",
            "type": draw(st.sampled_from(["watcher.workflow.degraded",
                                          "watcher.workflow.recovered"])), "data": data}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(health_events(), min_size=1, max_size=30))
def test_any_health_events_make_valid_block_kit(evs: list[dict[str, Any]]) -> None:
    """However odd the names, errors and links, health messages stay within Block Kit."""
    batch = [JournalEntry(i, ev["id"], 0.0, ev["type"], "prod", None, None, "wf", None,
                          orjson.dumps(ev)) for i, ev in enumerate(evs, 1)]
    for m in compose(batch):
        assert_valid_message(m.payload)
