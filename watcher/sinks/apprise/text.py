"""A notice (:mod:`watcher.sinks.notice`) as the plain text Apprise sends: each field as
``Label: value``, links spelled out as ``label (url)``, one part a line.  Pure."""

from __future__ import annotations

from watcher.sinks import notice
from watcher.sinks.notice import EXCERPT_MAX


def body(n: notice.Notice) -> str:
    """The notice's parts, a line each (a list, several), or its title when it has none."""
    lines: list[str] = []
    for part in n.parts:
        match part:
            case notice.Fields(pairs):
                lines += [_labelled(label, plain(value)) for label, value in pairs]
            case notice.Listing(label, items):
                lines.append(_labelled(label, "\n".join(plain(x) for x in items)))
            case notice.Preformatted(label, text):
                lines.append(_labelled(label, text.strip()))
            case notice.Links(links):
                lines += [f"{x.label}: {x.url}" for x in links]
            case notice.Paragraph(text) | notice.Note(text):
                lines.append(plain(text).strip())
    return "\n".join(line for line in lines if line) or n.title


def _labelled(label: str, value: str) -> str:
    return f"{label}:{chr(10) if chr(10) in value else ' '}{value}"


def plain(text: notice.Text) -> str:
    return "".join(map(_span, notice.spans(text)))


def _span(span: notice.Span) -> str:
    match span:
        case str():
            return span
        case notice.Code(text) | notice.Strong(text):
            return text
        case notice.Link(url, label):
            return f"{label} ({url})"
        case notice.Time(ts):
            return str(ts or "")
        case notice.Excerpt(text, quoted):
            cut = text if len(text) <= EXCERPT_MAX else text[:EXCERPT_MAX - 1] + "…"
            return ("\n> " if quoted else "") + cut
