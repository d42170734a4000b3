"""What a Slack alert says: events grouped into messages, rendered as Block Kit with a
plain ``text`` fallback, always within Slack's limits.

Grouping: events that say the same thing about one workflow (runs now in one
status, stuck runs) or about sources (failing, recovered) become one message,
"7 runs failed in Invoice Processing", detailing the first :data:`LISTED`
runs and naming the rest, so a storm of failures is one notification rather
than a wall of them.  A lone event gets a detailed message of its own.

Each message's headline (its header and the start of its notification text)
is a template per event type, :mod:`watcher.sinks.slack.words`, which the
operator may override.  The blocks themselves, each within Slack's limits, come from
:mod:`watcher.sinks.slack.blocks`.  ``text`` may hold 40,000 characters, but
notifications show far less, so the fallback is kept to :data:`FALLBACK`.
This module is pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
from watcher.model import JournalEntry
from watcher.sinks.slack.blocks import (
    ERROR_LINE_MAX,
    FALLBACK,
    SECTION_MAX,
    Block,
    button,
    code_block,
    context,
    cut,
    duration,
    esc,
    header,
    link,
    safe_url,
    section,
    section_fields,
    when,
)
from watcher.sinks.slack.health import health_payload
from watcher.sinks.slack.words import DEFAULT, Headlines, workflow_of

#: runs a summary message details; the rest are named in one line
LISTED = 10
#: types whose messages read as a stuck run's / a failing or recovered source's
STUCK_TYPES = (RUN_STUCK, RUN_REMINDER)
SOURCE_TYPES = (SOURCE_FAILING, SOURCE_RECOVERED, SOURCE_REMINDER)


@dataclass
class Message:
    """One Slack message and the journal entries it carries."""

    entries: list[JournalEntry]
    payload: dict[str, Any]


def compose(batch: Sequence[JournalEntry], headlines: Headlines = DEFAULT) -> list[Message]:
    """Group a batch into messages, in the order each group first appears; ``headlines``:
    the sink's templates."""
    groups: dict[tuple[str | None, ...], list[tuple[JournalEntry, dict[str, Any]]]] = {}
    for e in batch:
        ev = orjson.loads(e.body)
        groups.setdefault(group_key(ev), []).append((e, ev))
    return [Message([e for e, _ in items], render([ev for _, ev in items], headlines))
            for items in groups.values()]


def group_key(ev: dict[str, Any]) -> tuple[str | None, ...]:
    t = ev.get("type", "")
    d = ev.get("data") or {}
    if not t.startswith("watcher.run."):
        return (t,)
    workflow = d.get("workflow_id") or d.get("workflow_name")
    if t in STUCK_TYPES:
        return (t, workflow)
    return ("status", d.get("status"), workflow)


def render(events: Sequence[dict[str, Any]], headlines: Headlines = DEFAULT
           ) -> dict[str, Any]:
    """The payload (``text`` + ``blocks``) for events of one group."""
    t = events[0].get("type", "")
    if t in (WORKFLOW_DEGRADED, WORKFLOW_RECOVERED):
        return health_payload(events)
    head = headlines(events)
    if head is None:
        return _other(events)
    if t in SOURCE_TYPES:
        return _source(events[0], head) if len(events) == 1 else _sources(events, head)
    if t.startswith("watcher.run."):
        return _run(events[0], head) if len(events) == 1 else _runs(events, head)
    return _other(events)


# -- runs -------------------------------------------------------------------------------

def _run(ev: dict[str, Any], head: str) -> dict[str, Any]:
    d = ev.get("data") or {}
    status = d.get("status") or "unknown"
    stuck = ev.get("type") in STUCK_TYPES
    run_id = _run_id(ev)
    url = safe_url(d.get("url"))
    prev = d.get("previous_status")
    fields = [
        ("Status", f"`{esc(str(status))}`" + (f" (was `{esc(str(prev))}`)" if prev else "")),
        ("Workflow", esc(workflow_of(d) or "unknown")),
        ("Run", link(url, run_id) if url else f"`{esc(run_id)}`"),
        ("Source", esc(f"{d.get('source', '?')} ({d.get('provider', '?')})")),
    ]
    ran = run_duration(ev)
    if ran is not None:
        fields.append(("Duration" if d.get("terminal") else "Running for", duration(ran)))
    if stuck and isinstance(d.get("stuck_for_s"), int | float):
        fields.append(("Stuck for", duration(d["stuck_for_s"])))
    if d.get("raw_status"):
        fields.append(("Vendor status", f"`{esc(str(d['raw_status']))}`"))
    blocks = [header(head), section_fields(fields)]
    error = d.get("error")
    if error:
        blocks.append(section(f"*Error*\n{code_block(str(error))}"))
    if url:
        blocks.append({"type": "actions", "elements": [button("Open run", url)]})
    event_id = esc(str(ev.get("id", "")))
    blocks.append(context(f"watcher · {when(ev.get('time'))} · event `{event_id}`"))
    text = f"{head}: {run_id} ({d.get('source', '?')}"
    text += f", {duration(ran)})" if ran is not None else ")"
    if error:
        text += f": {error}"
    return {"text": cut(esc(text), FALLBACK), "blocks": blocks}


def _runs(events: Sequence[dict[str, Any]], head: str) -> dict[str, Any]:
    sources = sorted({str((e.get("data") or {}).get("source", "?")) for e in events})
    blocks: list[Block] = [header(head),
                           context(esc(f"{'Source' if len(sources) == 1 else 'Sources'}: "
                                       + ", ".join(sources)))]
    blocks += [section(_run_line(ev)) for ev in events[:LISTED]]
    rest = events[LISTED:]
    ids = [_run_id(ev) for ev in events]
    if rest:
        blocks.append(section(cut(f"…and {len(rest)} more: "
                                  + ", ".join(f"`{esc(_run_id(ev))}`" for ev in rest),
                                  SECTION_MAX)))
    first, last = events[0].get("time"), events[-1].get("time")
    span = when(first) if first == last else f"{when(first)} to {when(last)}"
    blocks.append(context(f"watcher · {span}"))
    shown = ", ".join(ids[:LISTED]) + (f" and {len(rest)} more" if rest else "")
    return {"text": cut(esc(f"{head}: {shown}"), FALLBACK), "blocks": blocks}


def _run_line(ev: dict[str, Any]) -> str:
    d = ev.get("data") or {}
    run_id = _run_id(ev)
    url = safe_url(d.get("url"))
    parts = [link(url, run_id) if url else f"`{esc(run_id)}`", esc(str(d.get("source", "?")))]
    ran = run_duration(ev)
    if ran is not None:
        parts.append(("ran " if d.get("terminal") else "running for ") + duration(ran))
    if ev.get("type") in STUCK_TYPES and isinstance(d.get("stuck_for_s"), int | float):
        parts.append(f"stuck for {duration(d['stuck_for_s'])} in `{esc(str(d.get('status')))}`")
    line = " · ".join(parts)
    error = d.get("error")
    if error:
        line += "\n> " + cut(esc(" ".join(str(error).split())), ERROR_LINE_MAX)
    return cut(line, SECTION_MAX)


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

def _source(ev: dict[str, Any], head: str) -> dict[str, Any]:
    d = ev.get("data") or {}
    name = str(d.get("source") or ev.get("subject") or "?")
    failing = ev.get("type") != SOURCE_RECOVERED
    fields = [("Source", esc(name)), ("Provider", esc(str(d.get("provider", "?"))))]
    if d.get("failing_since"):
        fields.append(("Failing since", esc(str(d["failing_since"]))))
    if failing and d.get("consecutive_failures") is not None:
        fields.append(("Failed polls", esc(str(d["consecutive_failures"]))))
    if not failing and isinstance(d.get("down_for_s"), int | float):
        fields.append(("Down for", duration(d["down_for_s"])))
    blocks = [header(head), section_fields(fields)]
    error = d.get("error")
    if error:
        blocks.append(section(f"*Error*\n{code_block(str(error))}"))
    note = ("Watching this source is broken: its runs are not being checked. "
            "Polling retries with backoff; a message follows when it recovers."
            if failing else "Runs that changed meanwhile are caught up on this poll.")
    blocks.append(context(note))
    text = head + (f": {error}" if error else "")
    return {"text": cut(esc(text), FALLBACK), "blocks": blocks}


def _sources(events: Sequence[dict[str, Any]], head: str) -> dict[str, Any]:
    n = len(events)
    blocks: list[Block] = [header(head)]
    for ev in events[:LISTED]:
        d = ev.get("data") or {}
        line = f"*{esc(str(d.get('source', '?')))}* ({esc(str(d.get('provider', '?')))})"
        if d.get("error"):
            line += "\n> " + cut(esc(" ".join(str(d["error"]).split())), ERROR_LINE_MAX)
        blocks.append(section(cut(line, SECTION_MAX)))
    names = [str((ev.get("data") or {}).get("source", "?")) for ev in events]
    if n > LISTED:
        blocks.append(section(cut(f"…and {n - LISTED} more: " + esc(", ".join(names[LISTED:])),
                                  SECTION_MAX)))
    return {"text": cut(esc(f"{head}: {', '.join(names)}"), FALLBACK), "blocks": blocks}


def _other(events: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """An event type this module does not know yet: still a readable message."""
    t = str(events[0].get("type", "event"))
    subjects = [str(ev.get("subject", "?")) for ev in events]
    head = f":information_source: {t}" + (f" ({len(events)})" if len(events) > 1 else "")
    blocks = [header(head), section(cut(esc(", ".join(subjects)), SECTION_MAX))]
    return {"text": cut(esc(f"{head}: {', '.join(subjects)}"), FALLBACK), "blocks": blocks}
