"""A notice: what one notification says, in no notifier's markup.

A notice is a title (and the emoji shown before it where emoji show), a
one-line ``detail`` that follows the title in a summary, a severity, and
*parts* in order: labelled fields, paragraphs, a labelled list, a block of
preformatted text (an error), notes, and links to open.  Text inside a part
is a sequence of *spans*: plain strings, and a few marked ones (a literal, a
strong word, a link, an instant, an excerpt of a long text) that each
notifier shows its own way: Slack as mrkdwn, Apprise as plain text.  Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from watcher.model import JournalEntry

# -- spans: text marked for each notifier to show its own way --------------------------

@dataclass(frozen=True, slots=True)
class Code:
    text: str  # a literal: a status, a rule, an id


@dataclass(frozen=True, slots=True)
class Strong:
    text: str  # the name a line is about


@dataclass(frozen=True, slots=True)
class Link:
    url: str  # fit to link (see safe_url)
    label: str


@dataclass(frozen=True, slots=True)
class Time:
    ts: object  # an instant as the event gave it; readers may see it in their time zone


@dataclass(frozen=True, slots=True)
class Excerpt:
    """A long text (an error) on one line, shortened to :data:`EXCERPT_MAX`; ``quoted``: on a
    line of its own below the rest."""

    text: str
    quoted: bool = False


Span = str | Code | Strong | Link | Time | Excerpt
#: one span, or several in a row
Text = Span | tuple[Span, ...]
#: characters an excerpt keeps
EXCERPT_MAX = 280


# -- parts: a notice's body, in order --------------------------------------------------

@dataclass(frozen=True, slots=True)
class Fields:
    pairs: list[tuple[str, Text]]  # labelled facts: Status, Workflow, Run ...


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: Text


@dataclass(frozen=True, slots=True)
class Listing:
    label: str
    lines: list[Text]  # one line an item (a degraded workflow's recent runs)


@dataclass(frozen=True, slots=True)
class Preformatted:
    label: str
    text: str  # shown as it is (an error)


@dataclass(frozen=True, slots=True)
class Note:
    text: Text  # small print: where the events come from, when, which event


@dataclass(frozen=True, slots=True)
class Links:
    links: list[Link]  # to open (the run)


Part = Fields | Paragraph | Listing | Preformatted | Note | Links
#: what a notice says besides its entries and severity: emoji, title, detail, parts
Said = tuple[str, str, str | None, list[Part]]


@dataclass(slots=True)
class Notice:
    """One notification and the journal entries it carries."""

    entries: list[JournalEntry]
    #: ``info``, ``success``, ``warning`` or ``failure``
    severity: str
    #: a ``:shortcode:`` shown before the title where emoji show; ``""`` for none
    emoji: str
    title: str
    #: what follows the title in one line (``None``: the title says it all)
    detail: str | None
    parts: list[Part]

    @property
    def summary(self) -> str:
        """The title and what matters most, in one line (a phone's notification)."""
        return self.title if self.detail is None else f"{self.title}: {self.detail}"


def spans(text: Text) -> tuple[Span, ...]:
    return text if isinstance(text, tuple) else (text,)


#: the longest URL a notice links to (Slack's limit)
URL_MAX = 3000


def safe_url(value: object) -> str | None:
    """A URL fit for a link, else ``None`` (no link rather than a broken one)."""
    if (isinstance(value, str) and value.startswith(("https://", "http://"))
            and len(value) <= URL_MAX and not any(c.isspace() or c in "|<>" for c in value)):
        return value
    return None


def run_ref(run_id: str, url: object) -> Link | Code:
    """A run's id, linked to the run when its URL is fit to link."""
    safe = safe_url(url)
    return Link(safe, run_id) if safe else Code(run_id)


def squashed(text: object) -> str:
    """A text on one line."""
    return " ".join(str(text).split())


def footer(ev: dict[str, Any]) -> Note:
    """Who said it, when, and which event."""
    return Note(("watcher · ", Time(ev.get("time")), " · event ", Code(str(ev.get("id", "")))))
