"""Slack's wording as templates: the defaults say exactly what the messages said before
templates existed, an operator's template changes the headline, and a bad template is a
config error naming its key."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.sinks.slack_cases import batches, digest
from watcher.sinks.slack_message import compose

GOLDEN = Path(__file__).with_name("slack_golden.json")


def test_default_templates_give_exactly_the_messages_of_before() -> None:
    """120 varied batches render byte for byte as the builder rendered them before
    templates (digests recorded from that code)."""
    expected = orjson.loads(GOLDEN.read_bytes())
    got = [digest([m.payload for m in compose(b)]) for b in batches()]
    assert got == expected
