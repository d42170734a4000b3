"""Events grouped into notices, each built once and rendered by every notifier its own way.

Grouping: events that say the same thing about one workflow (runs now in one
status, stuck runs) or about sources (failing, recovered) become one notice,
"7 runs failed in Invoice Processing", detailing the first :data:`LISTED`
runs and naming the rest, so a storm of failures is one notification rather
than a wall of them.  A lone event gets a detailed notice of its own.  The
title is a template per event type (:mod:`watcher.sinks.notice.words`).  Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from watcher.core.events import (
    RUN_REMINDER,
    RUN_STUCK,
    SOURCE_FAILING,
    SOURCE_RECOVERED,
    SOURCE_REMINDER,
    WORKFLOW_DEGRADED,
    WORKFLOW_RECOVERED,
)
from watcher.core.timestamps import parse_ts
from watcher.model import FAILURE_STATUSES, JournalEntry
from watcher.sinks.notice import (
    Code,
    Excerpt,
    Fields,
    Link,
    Links,
    Note,
    Notice,
    Paragraph,
    Part,
    Preformatted,
    Said,
    Span,
    Strong,
    Text,
    Time,
    footer,
    run_ref,
    squashed,
)
from watcher.sinks.notice.health import health_notice
from watcher.sinks.notice.words import DEFAULT, Headlines, duration, workflow_of

#: runs a grouped notice details; the rest are named in one line
LISTED = 10
#: types whose notices read as a stuck run's / a failing or recovered source's
STUCK_TYPES = (RUN_STUCK, RUN_REMINDER)
SOURCE_TYPES = (SOURCE_FAILING, SOURCE_RECOVERED, SOURCE_REMINDER)


def notices(batch: Sequence[JournalEntry], headlines: Headlines = DEFAULT, *,
            grouped: bool = True) -> list[Notice]:
    """The batch as notices, grouped (in the order each group first appears) or one per
    event; ``headlines``: the sink's title templates."""
    groups: dict[object, list[tuple[JournalEntry, dict[str, Any]]]] = {}
    for n, e in enumerate(batch):
        ev = orjson.loads(e.body)
        groups.setdefault(group_key(ev) if grouped else n, []).append((e, ev))
    return [Notice([e for e, _ in items], severity(items[0][0]),
                   *said([ev for _, ev in items], headlines)) for items in groups.values()]


def group_key(ev: dict[str, Any]) -> tuple[str | None, ...]:
    t = ev.get("type", "")
    d = ev.get("data") or {}
    if not t.startswith("watcher.run."):
        return (t,)
    workflow = d.get("workflow_id") or d.get("workflow_name")
    if t in STUCK_TYPES:
        return (t, workflow)
    return ("status", d.get("status"), workflow)


def severity(e: JournalEntry) -> str:
    if e.type in (SOURCE_FAILING, WORKFLOW_DEGRADED) or e.status in FAILURE_STATUSES:
        return "failure"
    if e.type == RUN_STUCK:
        return "warning"
    if e.type.endswith(".recovered") or e.status == "succeeded":
        return "success"
    return "info"


def said(events: Sequence[dict[str, Any]], headlines: Headlines) -> Said:
    """What a notice about events of one group says."""
    t = events[0].get("type", "")
    if t in (WORKFLOW_DEGRADED, WORKFLOW_RECOVERED):
        return health_notice(events)
    head = headlines(events)
    if head is None:
        return _other(events)
    if t in SOURCE_TYPES:
        return _source(events[0], *head) if len(events) == 1 else _sources(events, *head)
    if t.startswith("watcher.run."):
        return _run(events[0], *head) if len(events) == 1 else _runs(events, *head)
    return _other(events)


# -- runs -------------------------------------------------------------------------------

def _run(ev: dict[str, Any], emoji: str, title: str) -> Said:
    d = ev.get("data") or {}
    run_id = _run_id(ev)
    ref = run_ref(run_id, d.get("url"))
    prev = d.get("previous_status")
    status = Code(str(d.get("status") or "unknown"))
    fields: list[tuple[str, Text]] = [
        ("Status", (status, " (was ", Code(str(prev)), ")") if prev else status),
        ("Workflow", workflow_of(d) or "unknown"),
        ("Run", ref),
        ("Source", f"{d.get('source', '?')} ({d.get('provider', '?')})"),
    ]
    ran = run_duration(ev)
    if ran is not None:
        fields.append(("Duration" if d.get("terminal") else "Running for", duration(ran)))
    if ev.get("type") in STUCK_TYPES and isinstance(d.get("stuck_for_s"), int | float):
        fields.append(("Stuck for", duration(d["stuck_for_s"])))
    if d.get("raw_status"):
        fields.append(("Vendor status", Code(str(d["raw_status"]))))
    parts: list[Part] = [Fields(fields)]
    error = d.get("error")
    if error:
        parts.append(Preformatted("Error", str(error)))
    if isinstance(ref, Link):
        parts.append(Links([Link(ref.url, "Open run")]))
    parts.append(footer(ev))
    detail = f"{run_id} ({d.get('source', '?')}"
    detail += f", {duration(ran)})" if ran is not None else ")"
    return emoji, title, detail + (f": {error}" if error else ""), parts


def _runs(events: Sequence[dict[str, Any]], emoji: str, title: str) -> Said:
    sources = sorted({str((e.get("data") or {}).get("source", "?")) for e in events})
    parts: list[Part] = [Note(f"{'Source' if len(sources) == 1 else 'Sources'}: "
                              + ", ".join(sources))]
    parts += [Paragraph(_run_line(ev)) for ev in events[:LISTED]]
    rest = events[LISTED:]
    if rest:
        named = [x for ev in rest for x in (", ", Code(_run_id(ev)))][1:]
        parts.append(Paragraph((f"…and {len(rest)} more: ", *named)))
    first, last = events[0].get("time"), events[-1].get("time")
    parts.append(Note(("watcher · ", Time(first)) if first == last
                      else ("watcher · ", Time(first), " to ", Time(last))))
    ids = [_run_id(ev) for ev in events]
    return emoji, title, (", ".join(ids[:LISTED])
                          + (f" and {len(rest)} more" if rest else "")), parts


def _run_line(ev: dict[str, Any]) -> Text:
    d = ev.get("data") or {}
    line: list[Span] = [run_ref(_run_id(ev), d.get("url")), f" · {d.get('source', '?')}"]
    ran = run_duration(ev)
    if ran is not None:
        line.append((" · ran " if d.get("terminal") else " · running for ") + duration(ran))
    if ev.get("type") in STUCK_TYPES and isinstance(d.get("stuck_for_s"), int | float):
        line += [f" · stuck for {duration(d['stuck_for_s'])} in ", Code(str(d.get("status")))]
    if d.get("error"):
        line.append(Excerpt(squashed(d["error"]), quoted=True))
    return tuple(line)


def _run_id(ev: dict[str, Any]) -> str:
    return str((ev.get("data") or {}).get("run_id") or ev.get("subject") or "?")


def run_duration(ev: dict[str, Any]) -> float | None:
    """How long the run has been going: created_at to its end (the vendor's updated_at of a
    finished run) or to when the watcher saw it."""
    d = ev.get("data") or {}
    start = parse_ts(d.get("created_at"))
    if start is None:
        return None
    end = (parse_ts(d.get("updated_at")) if d.get("terminal") else None) or parse_ts(ev.get("time"))
    if end is None or end < start:
        return None
    return end - start


# -- sources ----------------------------------------------------------------------------

def _source(ev: dict[str, Any], emoji: str, title: str) -> Said:
    d = ev.get("data") or {}
    failing = ev.get("type") != SOURCE_RECOVERED
    fields: list[tuple[str, Text]] = [("Source", str(d.get("source") or ev.get("subject") or "?")),
                                      ("Provider", str(d.get("provider", "?")))]
    if d.get("failing_since"):
        fields.append(("Failing since", str(d["failing_since"])))
    if failing and d.get("consecutive_failures") is not None:
        fields.append(("Failed polls", str(d["consecutive_failures"])))
    if not failing and isinstance(d.get("down_for_s"), int | float):
        fields.append(("Down for", duration(d["down_for_s"])))
    parts: list[Part] = [Fields(fields)]
    error = d.get("error")
    if error:
        parts.append(Preformatted("Error", str(error)))
    parts.append(Note("Watching this source is broken: its runs are not being checked. "
                      "Polling retries with backoff; a message follows when it recovers."
                      if failing else "Runs that changed meanwhile are caught up on this poll."))
    return emoji, title, (str(error) if error else None), parts


def _sources(events: Sequence[dict[str, Any]], emoji: str, title: str) -> Said:
    parts: list[Part] = []
    for ev in events[:LISTED]:
        d = ev.get("data") or {}
        line: tuple[Span, ...] = (Strong(str(d.get("source", "?"))),
                                  f" ({d.get('provider', '?')})")
        if d.get("error"):
            line += (Excerpt(squashed(d["error"]), quoted=True),)
        parts.append(Paragraph(line))
    names = [str((ev.get("data") or {}).get("source", "?")) for ev in events]
    if len(events) > LISTED:
        parts.append(Paragraph(f"…and {len(events) - LISTED} more: "
                               + ", ".join(names[LISTED:])))
    return emoji, title, ", ".join(names), parts


def _other(events: Sequence[dict[str, Any]]) -> Said:
    """An event type without words of its own yet: still a readable notice."""
    t = str(events[0].get("type", "event"))
    subjects = ", ".join(str(ev.get("subject", "?")) for ev in events)
    title = t + (f" ({len(events)})" if len(events) > 1 else "")
    return ":information_source:", title, subjects, [Paragraph(subjects)]
