"""Incidents: what a notification sink is told has started, and what ends it.

A silence holds back new notifications only: the end of something a sink was
already told about (``workflow.recovered`` after its ``workflow.degraded``,
``source.recovered`` after ``source.failing``, a stuck run that finished) is
always delivered to it, or an incident opened in PagerDuty, or a "degraded"
in a channel, would stay open for good.  Each event here is given its part in
an incident (``OPENS``, ``RESOLVES`` or ``ENDS``: a stuck run that failed ends
its stuck incident without resolving it) and the incident's key, the same for
the event that opens it and those that end it.

Only incidents that end on their own are tracked, so what a sink was told stays
small: workflow episodes, source outages, stuck runs.  A run's failure is not
one: a failed run is final and would be remembered for ever.

Pure: the runtime keeps, per sink, the keys of what it was told.
"""

from __future__ import annotations

from watcher.core.events import (
    RUN_STATUS_CHANGED,
    RUN_STUCK,
    SOURCE_FAILING,
    SOURCE_RECOVERED,
    WORKFLOW_DEGRADED,
    WORKFLOW_RECOVERED,
    data_of,
    parsed,
)
from watcher.model import TERMINAL, JournalEntry, Status

OPENS, RESOLVES, ENDS = "opens", "resolves", "ends"


def incident_of(e: JournalEntry) -> tuple[str, str] | None:
    """``(part, key)`` of an event in an incident, or ``None`` for one that has none."""
    t = e.type
    if t in (SOURCE_FAILING, SOURCE_RECOVERED):
        return (OPENS if t == SOURCE_FAILING else RESOLVES), source_incident(e.source)
    if t in (WORKFLOW_DEGRADED, WORKFLOW_RECOVERED):
        ev = parsed(e.body)
        key = workflow_incident(data_of(ev).get("rule"), e.source, ev.get("subject"))
        return (OPENS if t == WORKFLOW_DEGRADED else RESOLVES), key
    if not e.run_id:
        return None
    if t == RUN_STUCK:
        return OPENS, run_incident(e.source, e.run_id)
    if t == RUN_STATUS_CHANGED and e.status in TERMINAL:
        part = RESOLVES if e.status == Status.SUCCEEDED.value else ENDS
        return part, run_incident(e.source, e.run_id)
    return None


def source_incident(source: str) -> str:
    """The key of a source's outage (the episode its reminders repeat, too)."""
    return f"source\x1f{source}"


def run_incident(source: str, run_id: str) -> str:
    """The key of a stuck run (the episode its reminders repeat, too)."""
    return f"run\x1f{source}\x1f{run_id}"


def workflow_incident(rule: object, source: str, subject: object) -> str:
    """The key of a health rule's episode on a workflow (of its events' ``data.rule``,
    ``source`` and ``subject``)."""
    return f"workflow\x1f{rule}\x1f{source}\x1f{subject}"
