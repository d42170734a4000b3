"""A notice (:mod:`watcher.sinks.notice`) as the plain text Apprise sends: each field as
``Label: value``, links spelled out as ``label (url)``, one part a line.  Pure."""

from __future__ import annotations

from watcher.sinks.notice.model import (
    EXCERPT_MAX,
    Code,
    Excerpt,
    Fields,
    Link,
    Links,
    Listing,
    Note,
    Notice,
    Paragraph,
    Preformatted,
    Span,
    Strong,
    Text,
    Time,
    spans,
)


def body(notice: Notice) -> str:
    """The notice's parts, a line each (a list, several), or its title when it has none."""
    lines: list[str] = []
    for part in notice.parts:
        match part:
            case Fields(pairs):
                lines += [_labelled(label, plain(value)) for label, value in pairs]
            case Listing(label, items):
                lines.append(_labelled(label, "\n".join(plain(x) for x in items)))
            case Preformatted(label, text):
                lines.append(_labelled(label, text.strip()))
            case Links(links):
                lines += [f"{x.label}: {x.url}" for x in links]
            case Paragraph(text) | Note(text):
                lines.append(plain(text).strip())
    return "\n".join(line for line in lines if line) or notice.title


def _labelled(label: str, value: str) -> str:
    return f"{label}:{chr(10) if chr(10) in value else ' '}{value}"


def plain(text: Text) -> str:
    return "".join(map(_span, spans(text)))


def _span(span: Span) -> str:
    match span:
        case str():
            return span
        case Code(text) | Strong(text):
            return text
        case Link(url, label):
            return f"{label} ({url})"
        case Time(ts):
            return str(ts or "")
        case Excerpt(text, quoted):
            short = text if len(text) <= EXCERPT_MAX else text[:EXCERPT_MAX - 1] + "…"
            return ("\n> " if quoted else "") + short
