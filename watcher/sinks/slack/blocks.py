"""Block Kit pieces for Slack messages, each kept within Slack's limit.

Limits (Slack's Block Kit reference): 50 blocks a message, a header's text
150 characters, a section's text 3000, a field 2000 and 10 fields, a
button's text 75, a URL 3000.  Text is cut to its limit *after* escaping, so
an error message full of ``<`` cannot push a block over.  Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from watcher.core.timestamps import parse_ts

Block = dict[str, Any]

HEADER_MAX = 150
SECTION_MAX = 3000
FIELD_MAX = 2000
BUTTON_MAX = 75
URL_MAX = 3000
#: the fallback ``text``: what a phone notification shows, well under Slack's 40,000
FALLBACK = 3000
ERROR_MAX = 2800
ERROR_LINE_MAX = 280


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": cut(text, HEADER_MAX),
                                       "emoji": True}}


def section(mrkdwn: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": cut(mrkdwn, SECTION_MAX)}}


def section_fields(pairs: Sequence[tuple[str, str]]) -> Block:
    return {"type": "section", "fields": [
        {"type": "mrkdwn", "text": cut(f"*{label}*\n{value}", FIELD_MAX)}
        for label, value in pairs[:10]]}


def context(mrkdwn: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": cut(mrkdwn, SECTION_MAX)}]}


def button(label: str, url: str) -> Block:
    return {"type": "button", "text": {"type": "plain_text", "text": cut(label, BUTTON_MAX)},
            "url": url}


def code_block(text: str) -> str:
    """Preformatted text; a fence inside it would end the block early, so it is defused."""
    return "```" + cut(esc(text.replace("```", "\u02cb\u02cb\u02cb")), ERROR_MAX) + "```"


def when(ts: object) -> str:
    """An event time shown in the reader's own time zone (Slack date formatting), with the
    UTC timestamp as the fallback."""
    epoch = parse_ts(ts)
    if epoch is None:
        return esc(str(ts or ""))
    return f"<!date^{int(epoch)}^{{date_short_pretty}} {{time_secs}}|{esc(str(ts))}>"


def link(url: str, label: str) -> str:
    return f"<{esc(url)}|{esc(label).replace('|', '¦')}>"


def safe_url(value: object) -> str | None:
    """A URL fit for a link or a button, else ``None`` (no link rather than a broken one)."""
    if (isinstance(value, str) and value.startswith(("https://", "http://"))
            and len(value) <= URL_MAX and not any(c.isspace() or c in "|<>" for c in value)):
        return value
    return None


def esc(text: str) -> str:
    """Escape the three characters Slack's mrkdwn reserves."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, with an ellipsis when shortened; never ends
    inside an ``&amp;``-style escape."""
    if len(text) <= limit:
        return text
    text = text[:limit - 1]
    amp = text.rfind("&")
    if amp > text.rfind(";"):
        text = text[:amp]
    return text + "…"


def duration(seconds: float) -> str:
    """``45s``, ``4m 41s``, ``1h 5m``, ``2d 3h``."""
    s = int(max(0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"
