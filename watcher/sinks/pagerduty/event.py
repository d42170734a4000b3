"""PagerDuty Events API v2: which incident an event is, what its alert says, a refusal's words.

The alert's ``payload`` follows PagerDuty's Common Event Format: ``summary``
(the notification's one line, at most 1024 characters), ``source`` (the
watcher source, or the configured one), ``severity``, ``timestamp`` (when
watcher observed it), ``component`` (the workflow), ``group`` (the vendor),
``class`` (what happened: ``workflow.degraded``, ``run.failed``,
``source.failing``...), ``custom_details`` (the event's data without the
vendor's run object); ``links`` go to the run, or to a degraded workflow's
sample runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from watcher.core.events import (
    RUN_STATUS_CHANGED,
    RUN_STUCK,
    SOURCE_FAILING,
    SOURCE_RECOVERED,
    WORKFLOW_DEGRADED,
    WORKFLOW_RECOVERED,
)
from watcher.infra.secrets import Masker
from watcher.model import FAILURE_STATUSES, JournalEntry
from watcher.sinks.notice.compose import notices

SEVERITIES = ("critical", "error", "warning", "info")
#: severity of a trigger unless the sink's ``severity`` says otherwise (short type or status)
DEFAULT_SEVERITY = {"workflow.degraded": "error", "source.failing": "error",
                    "run.stuck": "warning", "failed": "error", "rejected": "warning",
                    "cancelled": "warning"}
MAX_KEY = 255
MAX_SUMMARY = 1024
MAX_LINKS = 10
#: how much of PagerDuty's refusal a dead letter keeps
REFUSAL_MAX = 500


def dedup_key(*parts: object) -> str:
    """``watcher/<parts...>``, within PagerDuty's 255 characters."""
    key = "watcher/" + "/".join(str(p) for p in parts)
    if len(key) <= MAX_KEY:
        return key
    digest = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    return key[:MAX_KEY - len(digest) - 1] + "#" + digest


def incident_of(e: JournalEntry, ev: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(event_action, dedup_key)`` of an event, or ``None`` for one PagerDuty ignores."""
    if e.type in (WORKFLOW_DEGRADED, WORKFLOW_RECOVERED):
        rule = (ev.get("data") or {}).get("rule")
        key = dedup_key("workflow", rule, e.source, ev.get("subject"))
        return ("trigger" if e.type == WORKFLOW_DEGRADED else "resolve"), key
    if e.type in (SOURCE_FAILING, SOURCE_RECOVERED):
        key = dedup_key("source", e.source)
        return ("trigger" if e.type == SOURCE_FAILING else "resolve"), key
    if not e.type.startswith("watcher.run.") or not e.run_id:
        return None
    key = dedup_key("run", e.source, e.run_id)
    if e.type == RUN_STUCK or e.status in FAILURE_STATUSES:
        return "trigger", key
    # only a run that moved to succeeded can have had an incident to resolve
    return ("resolve", key) if e.status == "succeeded" and e.type == RUN_STATUS_CHANGED \
        else None


def payload_of(e: JournalEntry, ev: Mapping[str, Any], *, severity: Mapping[str, str],
               source: str | None) -> dict[str, Any]:
    """The ``payload``, ``links`` and ``client`` of a trigger."""
    data: dict[str, Any] = dict(ev.get("data") or {})
    short = e.type.removeprefix("watcher.")
    klass = f"run.{e.status}" if short in ("run.created", "run.status_changed") else short
    payload = {
        "summary": notices([e])[0].summary[:MAX_SUMMARY],
        "source": source or data.get("source") or "watcher",
        "severity": severity.get(short) or severity.get(e.status or "") or "error",
        "timestamp": ev.get("time"),
        "component": e.workflow_name or e.workflow_id,
        "group": data.get("provider") or data.get("source"),
        "class": klass,
        "custom_details": {"event_id": e.id, "event_type": e.type,
                           **{k: v for k, v in data.items() if k != "run"}},
    }
    body: dict[str, Any] = {"payload": {k: v for k, v in payload.items() if v is not None},
                            "client": "watcher"}
    links = _links(data)
    if links:
        body["links"] = links
    return body


def _links(data: Mapping[str, Any]) -> list[dict[str, str]]:
    runs = [data] if data.get("run_id") else list(data.get("samples") or [])
    links = []
    for run in runs[:MAX_LINKS]:
        url = run.get("url")
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            links.append({"href": url, "text": f"Run {run.get('run_id')} ({run.get('status')})"})
    return links


def refusal(status: int, answer: bytes, secrets: Iterable[str]) -> str | None:
    """A 400's reason in PagerDuty's words: ``400 Event object is invalid: Length of
    'routing_key' is incorrect ...``; None for any other answer."""
    if status != 400:
        return None
    try:
        said = orjson.loads(answer)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(said, dict):
        return None
    errors = said.get("errors") if isinstance(said.get("errors"), list) else []
    text = "400 " + str(said.get("message") or said.get("status") or "Bad Request")
    if errors:
        text += ": " + "; ".join(str(x) for x in errors)
    return Masker(secrets).redact(text)[:REFUSAL_MAX]
