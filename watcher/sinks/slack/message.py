"""What a Slack alert says: each notice (:mod:`watcher.sinks.notice`) rendered as Block Kit
with a plain ``text`` fallback, always within Slack's limits.

The header is the notice's emoji and title, each part a block (fields, a
section, a context line, buttons), each span mrkdwn.  Limits (Slack's Block
Kit reference): 50 blocks a message (a notice has at most two dozen parts), a
header's text 150 characters, a section's text 3000, a field 2000 and 10
fields, a button's text 75, a URL 3000 (a notice links no longer one).  Text
is cut to its limit *after* escaping, so an error message full of ``<``
cannot push a block over.  ``text`` may hold 40,000 characters, but
notifications show far less, so the fallback is kept to :data:`FALLBACK`.
Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from watcher.core.timestamps import parse_ts
from watcher.model import JournalEntry
from watcher.sinks import notice
from watcher.sinks.notice.compose import notices
from watcher.sinks.notice.words import DEFAULT, Headlines

Block = dict[str, Any]

HEADER_MAX, SECTION_MAX, FIELD_MAX, BUTTON_MAX = 150, 3000, 2000, 75
#: the fallback ``text``: what a phone notification shows, well under Slack's 40,000
FALLBACK = 3000
#: an error's code block; a listed line (ten fit a section)
CODE_MAX, LINE_MAX = 2800, SECTION_MAX // 10


@dataclass
class Message:
    """One Slack message and the journal entries it carries."""

    entries: list[JournalEntry]
    payload: dict[str, Any]


def compose(batch: Sequence[JournalEntry], headlines: Headlines = DEFAULT) -> list[Message]:
    """The batch as messages, one per notice; ``headlines``: the sink's templates."""
    return [Message(n.entries, payload(n)) for n in notices(batch, headlines)]


def payload(n: notice.Notice) -> dict[str, Any]:
    """A notice as a Slack payload: ``text`` and ``blocks``."""
    head = f"{n.emoji} {n.title}" if n.emoji else n.title
    text = head if n.detail is None else f"{head}: {n.detail}"
    return {"text": cut(esc(text), FALLBACK), "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": cut(head, HEADER_MAX),
                                    "emoji": True}},
        *map(_block, n.parts)]}


def _block(part: notice.Part) -> Block:
    match part:
        case notice.Fields(pairs):
            return {"type": "section", "fields": [
                {"type": "mrkdwn", "text": cut(f"*{label}*\n{mrkdwn(value)}", FIELD_MAX)}
                for label, value in pairs[:10]]}
        case notice.Note(text):
            return {"type": "context", "elements": [_text(mrkdwn(text))]}
        case notice.Links(links):
            return {"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text",
                                            "text": cut(x.label, BUTTON_MAX)}, "url": x.url}
                for x in links]}
        case notice.Listing(label, lines):
            said = f"*{label}*\n" + "\n".join(cut(mrkdwn(x), LINE_MAX) for x in lines)
        case notice.Preformatted(label, text):  # a fence inside would end the block early: defused
            said = (f"*{label}*\n```" + cut(esc(text.replace("```", "\u02cb\u02cb\u02cb")),
                                            CODE_MAX) + "```")
        case notice.Paragraph(text):
            said = mrkdwn(text)
    return {"type": "section", "text": _text(said)}


def _text(mrkdwn: str) -> Block:
    return {"type": "mrkdwn", "text": cut(mrkdwn, SECTION_MAX)}


def mrkdwn(text: notice.Text) -> str:
    return "".join(map(_span, notice.spans(text)))


def _span(span: notice.Span) -> str:
    match span:
        case str():
            return esc(span)
        case notice.Code(text):
            return f"`{esc(text)}`"
        case notice.Strong(text):
            return f"*{esc(text)}*"
        case notice.Link(url, label):
            return f"<{esc(url)}|{esc(label).replace('|', '¦')}>"
        case notice.Time(ts):  # in the reader's own time zone, the timestamp as the fallback
            epoch = parse_ts(ts)
            if epoch is None:
                return esc(str(ts or ""))
            return f"<!date^{int(epoch)}^{{date_short_pretty}} {{time_secs}}|{esc(str(ts))}>"
        case notice.Excerpt(text, quoted):
            return ("\n> " if quoted else "") + cut(esc(text), notice.EXCERPT_MAX)


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
