"""A stand-in for PagerDuty's Events API v2 (``POST /v2/enqueue``) on loopback.

It checks each request as PagerDuty documents the schema (developer.pagerduty.com,
"Send an Alert Event"): a JSON object; ``routing_key`` a 32-character string;
``event_action`` one of trigger/acknowledge/resolve; ``dedup_key`` a string of at
most 255 characters, required to acknowledge or resolve; a trigger's ``payload``
with ``summary`` (at most 1024 characters), ``source`` and ``severity`` (critical,
error, warning, info), an ISO 8601 ``timestamp`` if any, ``custom_details`` an
object; ``links`` objects with an ``href``; the whole body at most 512 KB.  It
answers as PagerDuty does: 202 ``{"status": "success", "message": "Event
processed", "dedup_key": ...}``, 400 ``{"status": "invalid event", "message":
"Event object is invalid", "errors": [...]}``, and 429 or 500 when told to (``busy``,
``errors``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from tests.sinks.receiver import Hit, Receiver, Reply

KEY = "0123456789abcdef0123456789abcdef"
SEVERITIES = ("critical", "error", "warning", "info")
ACTIONS = ("trigger", "acknowledge", "resolve")


def problems(body: bytes) -> list[str]:
    """What PagerDuty would say is wrong with an enqueue request (empty: nothing)."""
    if len(body) > 512 * 1024:
        return ["Event payload is larger than 512KB"]
    try:
        ev = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ["Event object is not valid JSON"]
    if not isinstance(ev, dict):
        return ["Event object must be a JSON object"]
    out = []
    key = ev.get("routing_key")
    if not isinstance(key, str) or len(key) != 32:
        out.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = ev.get("event_action")
    if action not in ACTIONS:
        out.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    dedup = ev.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > 255):
        out.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup:
        out.append("'dedup_key' is required for acknowledge and resolve")
    if action == "trigger":
        out += _payload_problems(ev.get("payload"))
    for link in ev.get("links") or []:
        if not isinstance(link, dict) or not isinstance(link.get("href"), str):
            out.append("links: each link needs an 'href'")
    return out


def _payload_problems(p: Any) -> list[str]:
    if not isinstance(p, dict):
        return ["'payload' is missing or not an object"]
    out = []
    summary = p.get("summary")
    if not isinstance(summary, str) or not summary:
        out.append("'payload.summary' is missing or blank")
    elif len(summary) > 1024:
        out.append("'payload.summary' is longer than 1024 characters")
    if not isinstance(p.get("source"), str) or not p["source"]:
        out.append("'payload.source' is missing or blank")
    if p.get("severity") not in SEVERITIES:
        out.append("'payload.severity' is invalid (must be one of critical, error, warning, info)")
    if "timestamp" in p:
        try:
            datetime.fromisoformat(str(p["timestamp"]).replace("Z", "+00:00"))
        except ValueError:
            out.append("'payload.timestamp' is not a valid ISO 8601 timestamp")
    if "custom_details" in p and not isinstance(p["custom_details"], dict):
        out.append("'payload.custom_details' must be an object")
    return out


class FakePagerDuty(Receiver):
    """The Events API v2 on loopback; ``accepted`` holds the events it took, in order."""

    def __init__(self, *, port: int = 0) -> None:
        super().__init__(self._answer, path="/v2/enqueue", port=port)
        self.accepted: list[dict[str, Any]] = []
        #: answer 429 to this many requests first, then 500 to this many
        self.busy = 0
        self.retry_after: str | None = None
        self.errors = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _answer(self, hit: Hit) -> Reply:
        if hit.path != "/v2/enqueue" or hit.method != "POST":
            return Reply(404, b'{"status":"not found"}')
        if self.busy > 0:
            self.busy -= 1
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return Reply(429, b'{"status":"throttle event","message":"Requests for this '
                              b'service are arriving too quickly."}', headers)
        if self.errors > 0:
            self.errors -= 1
            return Reply(500, b'{"status":"error","message":"Internal Server Error"}')
        wrong = problems(hit.body)
        if wrong:
            return Reply(400, orjson.dumps({"status": "invalid event",
                                            "message": "Event object is invalid",
                                            "errors": wrong}))
        ev = orjson.loads(hit.body)
        self.accepted.append(ev)
        return Reply(202, orjson.dumps({"status": "success", "message": "Event processed",
                                        "dedup_key": ev.get("dedup_key") or "generated"}))

    def actions(self) -> list[tuple[str, str]]:
        """``(event_action, dedup_key)`` of every accepted event."""
        return [(ev["event_action"], ev["dedup_key"]) for ev in list(self.accepted)]
