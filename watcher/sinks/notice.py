"""What a notification says in plain words: a title and a body per group of events.

Notifiers that are not Slack (Apprise's services, PagerDuty's summary) say
what Slack says, grouped the same way, as plain text: today the words come
from Slack's message builder (:mod:`watcher.sinks.slack.message`), turned from
Block Kit into text here.  :func:`notices` is the one place to repoint when
the message templates give each event type its own wording.  Pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from watcher.core.events import RUN_STUCK, SOURCE_FAILING, WORKFLOW_DEGRADED
from watcher.model import JournalEntry
from watcher.sinks.slack.message import compose

#: Slack's ``<!date^...|fallback>``, ``<url|label>`` and ``<url>``
_DATE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
_LINK = re.compile(r"<([^|>]+)\|([^>]*)>")
_BARE = re.compile(r"<(https?://[^>]+)>")
_EMOJI = re.compile(r"^:[a-z0-9_+-]+: ")
_LABEL = re.compile(r"\*([^*\n]+)\*\n")
FAILING_STATUSES = ("failed", "rejected", "cancelled")


@dataclass
class Notice:
    """One notification: the events it carries, its title, its body and its severity."""

    entries: list[JournalEntry]
    title: str
    body: str
    #: ``info``, ``success``, ``warning`` or ``failure`` (Apprise's notify types)
    severity: str
    #: the title and what matters most, in one line (a phone's notification, PagerDuty's
    #: summary)
    summary: str


def notices(batch: Sequence[JournalEntry], *, grouped: bool = True) -> list[Notice]:
    """The batch as notifications: grouped as Slack groups it, or one per event."""
    messages = compose(batch) if grouped else [m for e in batch for m in compose([e])]
    out = []
    for m in messages:
        title, body = plain(m.payload)
        summary = _EMOJI.sub("", _text(str(m.payload.get("text", "")))) or title
        out.append(Notice(m.entries, title, body, severity(m.entries[0]), summary))
    return out


def severity(e: JournalEntry) -> str:
    if e.type in (SOURCE_FAILING, WORKFLOW_DEGRADED) or e.status in FAILING_STATUSES:
        return "failure"
    if e.type == RUN_STUCK:
        return "warning"
    if e.type.endswith(".recovered") or e.status == "succeeded":
        return "success"
    return "info"


def plain(payload: dict[str, Any]) -> tuple[str, str]:
    """A Slack payload as ``(title, body)`` text: the header, then each block's text."""
    blocks = payload.get("blocks") or []
    title, lines = "", []
    for block in blocks:
        kind = block.get("type")
        if kind == "header" and not title:
            title = _EMOJI.sub("", block["text"]["text"])
        elif kind == "section" and "fields" in block:
            lines += [_labelled(f["text"]) for f in block["fields"]]
        elif kind == "section":
            lines.append(_labelled(block["text"]["text"]))
        elif kind == "context":
            lines += [_text(el.get("text", "")) for el in block.get("elements", [])]
        elif kind == "actions":
            lines += [f"{el['text']['text']}: {el['url']}" for el in block.get("elements", [])
                      if el.get("url")]
    if not title:
        title = _text(str(payload.get("text", "")))[:250]
    return title, "\n".join(line for line in lines if line) or title


def _labelled(mrkdwn: str) -> str:
    """``*Label*\nvalue`` as ``Label: value``; anything else as text."""
    m = _LABEL.match(mrkdwn)
    if m is None:
        return _text(mrkdwn)
    value = _text(mrkdwn[m.end():])
    return f"{m.group(1)}:{chr(10) if chr(10) in value else ' '}{value}"


def _text(mrkdwn: str) -> str:
    """Slack mrkdwn as text a person reads anywhere: links spelled out, no markup."""
    text = _DATE.sub(r"\1", mrkdwn)
    text = _LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    text = _BARE.sub(r"\1", text)
    text = text.replace("```", "").replace("*", "").replace("`", "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()
