"""What a notice's title says: a template per event type (see
:mod:`watcher.sinks.templates`), and the words those templates use.

The title is a notification's headline (Slack's header and the start of its
notification text); the parts below it (status, workflow, run, error ...)
stay as they are.  An operator overrides the headline of a type in a Slack
sink's config::

    templates = { "run.status_changed" = "{emoji} {data.workflow_name}: run {data.run_id} {data.status}" }

A notice about several events renders the template with its first event's
fields; the words count them.  A default title comes with an emoji
(:data:`ICONS`, or the run status's); an operator's template writes its own.
Pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from watcher.core.events import (
    RUN_CREATED,
    RUN_REMINDER,
    RUN_STATUS_CHANGED,
    RUN_STUCK,
    SOURCE_FAILING,
    SOURCE_RECOVERED,
    SOURCE_REMINDER,
    full_type,
)
from watcher.sinks.templates import Template, compile_templates

EMOJI = {
    "failed": ":x:",
    "rejected": ":no_entry:",
    "cancelled": ":no_entry_sign:",
    "succeeded": ":white_check_mark:",
    "skipped": ":fast_forward:",
    "running": ":arrow_forward:",
    "pending": ":hourglass_flowing_sand:",
    "paused": ":double_vertical_bar:",
    "needs_review": ":eyes:",
    "cancelling": ":octagonal_sign:",
    "unknown": ":grey_question:",
}

#: status -> (one run ..., several runs ...); any other: "is <status>", "are <status>"
VERBS = {
    "failed": ("failed", "failed"),
    "rejected": ("was rejected", "were rejected"),
    "cancelled": ("was cancelled", "were cancelled"),
    "succeeded": ("succeeded", "succeeded"),
    "skipped": ("was skipped", "were skipped"),
    "needs_review": ("needs review", "need review"),
    "unknown": ("is in an unknown status", "are in an unknown status"),
}

#: the words Slack's templates may use besides the event's fields
WORDS = {
    "count": "how many events the message is about",
    "runs": '"Run", or "7 runs"',
    "sources": '"Source extend-prod", or "3 sources"',
    "are": '"is", or "are" for several',
    "emoji": "the run status's emoji (:x: for failed ...)",
    "verb": '"failed", "was rejected", "needs review" ... (plural for several)',
    "workflow": "the workflow's name, else its id, else nothing",
    "where": '" in <workflow>", or nothing when the run has no workflow',
    "open_for": "a reminder: how long the source has failed / the run been stuck",
}

_RUN = "{runs} {verb}{where}"
DEFAULTS = {
    RUN_CREATED: _RUN,
    RUN_STATUS_CHANGED: _RUN,
    RUN_STUCK: "{runs} {are} stuck{where}",
    SOURCE_FAILING: "{sources} {are} failing",
    SOURCE_RECOVERED: "{sources} recovered",
    RUN_REMINDER: "Reminder: {runs} {are} still stuck{where} ({open_for})",
    SOURCE_REMINDER: "Reminder: {sources} {are} still failing ({open_for})",
}
#: the emoji before a default title (a run's status change: its status's)
ICONS = {RUN_STUCK: ":hourglass:", SOURCE_FAILING: ":rotating_light:",
         SOURCE_RECOVERED: ":large_green_circle:", RUN_REMINDER: ":alarm_clock:",
         SOURCE_REMINDER: ":alarm_clock:"}


def words(events: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """The words of a message about ``events`` (the first one's fields, and how many)."""
    ev = events[0]
    d = ev.get("data") or {}
    n = len(events)
    status = d.get("status") or "unknown"
    one, many = VERBS.get(status, (f"is {status}", f"are {status}"))
    workflow = workflow_of(d) or ""
    name = str(d.get("source") or ev.get("subject") or "?")
    open_for = d.get("open_for_s")
    return {
        "count": str(n), "runs": "Run" if n == 1 else f"{n} runs",
        "sources": f"Source {name}" if n == 1 else f"{n} sources",
        "are": "is" if n == 1 else "are", "emoji": EMOJI.get(status, EMOJI["unknown"]),
        "verb": one if n == 1 else many, "workflow": workflow,
        "where": f" in {workflow}" if workflow else "",
        "open_for": duration(open_for) if isinstance(open_for, int | float) else "",
    }


def workflow_of(d: Mapping[str, Any]) -> str | None:
    wf = d.get("workflow_name") or d.get("workflow_id")
    return str(wf) if wf else None


def duration(seconds: float) -> str:
    """``45s``, ``4m 41s``, ``1h 5m``, ``2d 3h``."""
    s = int(max(0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


class Headlines:
    """The title templates of one sink: the defaults, with its own over them."""

    def __init__(self, templates: Mapping[str, str]) -> None:
        self.templates: dict[str, Template] = compile_templates(templates, DEFAULTS, WORDS)
        self.own = {full_type(t) for t in templates}

    def __call__(self, events: Sequence[Mapping[str, Any]]) -> tuple[str, str] | None:
        """The ``(emoji, title)`` of a notice about ``events`` (None: no template for the
        type); an operator's template has no emoji but its own."""
        t = str(events[0].get("type", ""))
        template = self.templates.get(t)
        if template is None:
            return None
        said = words(events)
        return "" if t in self.own else ICONS.get(t, said["emoji"]), \
            template.render(events[0], said)


DEFAULT = Headlines({})
