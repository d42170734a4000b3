"""Events: deterministic ids, construction from run state, CloudEvents 1.0 JSON.

An id is a hash of what was observed (source, run, type, statuses and the
vendor's version stamp, or for vendors without one the time the previous
status began), so the same observation gets the same id after a restart or a
retried delivery, and a consumer can drop duplicates by id alone.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from watcher.core.timestamps import format_ts
from watcher.model import TERMINAL, Event, RunDetails, Status

RUN_CREATED = "watcher.run.created"
RUN_STATUS_CHANGED = "watcher.run.status_changed"
RUN_STUCK = "watcher.run.stuck"
SOURCE_FAILING = "watcher.source.failing"
SOURCE_RECOVERED = "watcher.source.recovered"
#: a sink's ``repeat_interval`` went by and the source is still failing / the run still stuck
SOURCE_REMINDER = "watcher.source.reminder"
RUN_REMINDER = "watcher.run.reminder"
#: a workflow health rule's episode began / ended (:mod:`watcher.core.rules`)
WORKFLOW_DEGRADED = "watcher.workflow.degraded"
WORKFLOW_RECOVERED = "watcher.workflow.recovered"

EVENT_TYPES = (RUN_CREATED, RUN_STATUS_CHANGED, RUN_STUCK, SOURCE_FAILING, SOURCE_RECOVERED,
               SOURCE_REMINDER, RUN_REMINDER, WORKFLOW_DEGRADED, WORKFLOW_RECOVERED)
#: reminder type -> the type it reminds of: routing and silences treat it as that type too
REMINDS = {SOURCE_REMINDER: SOURCE_FAILING, RUN_REMINDER: RUN_STUCK}

_RUN_DATA = ("source", "provider", "run_id", "workflow_id", "workflow_name", "status",
             "previous_status", "raw_status", "previous_raw_status", "terminal", "created_at",
             "updated_at", "url", "error", "run")
_FAILING_DATA = ("source", "provider", "error", "kind", "consecutive_failures",
                 "failing_since")
#: what a reminder adds to the data of the event it reminds of
REMINDER_DATA = ("reminds", "episode_id", "reminder", "repeat_interval_s", "open_for_s")
#: what a health rule's events say (the figures depend on the rule's kind)
_WORKFLOW_DATA = ("rule", "kind", "source", "provider", "workflow_id", "workflow_name",
                  "window_s", "finished", "failed", "rate", "threshold", "recover_below",
                  "min_finished", "without_success_s", "last_success_at", "stuck",
                  "episode_started_at", "samples")
#: the keys of ``data`` each event type has (templates are checked against them)
DATA_KEYS: dict[str, tuple[str, ...]] = {
    RUN_CREATED: _RUN_DATA,
    RUN_STATUS_CHANGED: _RUN_DATA,
    RUN_STUCK: (*_RUN_DATA, "stuck_for_s"),
    SOURCE_FAILING: _FAILING_DATA,
    SOURCE_RECOVERED: ("source", "provider", "failing_since", "consecutive_failures",
                       "down_for_s"),
    SOURCE_REMINDER: (*_FAILING_DATA, *REMINDER_DATA),
    RUN_REMINDER: (*_RUN_DATA, "stuck_for_s", *REMINDER_DATA),
    WORKFLOW_DEGRADED: _WORKFLOW_DATA,
    WORKFLOW_RECOVERED: (*_WORKFLOW_DATA, "degraded_for_s", "reason", "inhibited"),
}

#: plain-str values of the statuses (Enum's ``.value`` is a slow descriptor)
_VALUE: dict[Status, str] = {s: s.value for s in Status}


def full_type(name: str) -> str | None:
    """``run.failed``-style short names and full names to the full type, else ``None``."""
    full = name if name.startswith("watcher.") else f"watcher.{name}"
    return full if full in EVENT_TYPES else None


def event_id(*parts: object) -> str:
    raw = "\x1f".join(["" if p is None else str(p) for p in parts])
    return hashlib.blake2b(raw.encode(), digest_size=8).hexdigest()


def run_event(type_: str, *, source: str, provider: str, run_id: str, status: Status,
              raw_status: str, previous: tuple[Status, str] | None, details: RunDetails | None,
              now: float, id_key: object, extra: dict[str, Any] | None = None) -> Event:
    """An event about one run; ``id_key`` is the version stamp that makes the id unique."""
    d = details or RunDetails()
    prev_status = _VALUE[previous[0]] if previous else None
    data: dict[str, Any] = {
        "source": source,
        "provider": provider,
        "run_id": run_id,
        "workflow_id": d.workflow_id,
        "workflow_name": d.workflow_name,
        "status": _VALUE[status],
        "previous_status": prev_status,
        "raw_status": raw_status,
        "previous_raw_status": previous[1] if previous else None,
        "terminal": status in TERMINAL,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "url": d.url,
        "error": d.error,
        "run": d.run if d.run is not None else {},
    }
    if extra:
        data.update(extra)
    return Event(
        id=event_id(source, run_id, type_, prev_status, _VALUE[status], id_key),
        type=type_, source=source, subject=run_id, time=now, data=data,
    )


def source_event(type_: str, *, source: str, provider: str, now: float, since: float,
                 data: dict[str, Any]) -> Event:
    """``source.failing`` / ``source.recovered``: one per outage, keyed by its start."""
    body = {"source": source, "provider": provider, **data}
    return Event(id=event_id(source, "", type_, since), type=type_, source=source,
                 subject=source, time=now, data=body)


def to_json(event: Event) -> bytes:
    """The event as one line of CloudEvents structured JSON (no trailing newline)."""
    return orjson.dumps({
        "specversion": "1.0",
        "id": event.id,
        "source": f"/watcher/sources/{event.source}",
        "type": event.type,
        "subject": event.subject,
        "time": format_ts(event.time),
        "datacontenttype": "application/json",
        "data": event.data,
    })


def parsed(raw: bytes | None) -> dict[str, Any]:
    """A JSON object (an event's CloudEvent, a lease's info), else ``{}``."""
    try:
        ev = orjson.loads(raw or b"")
    except orjson.JSONDecodeError:
        return {}
    return ev if isinstance(ev, dict) else {}


def data_of(ev: dict[str, Any]) -> dict[str, Any]:
    """A CloudEvent's ``data``, or ``{}`` where it is no object."""
    d = ev.get("data")
    return d if isinstance(d, dict) else {}
