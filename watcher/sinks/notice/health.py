"""What a notice says about workflow health: ``workflow.degraded`` and ``.recovered``.

One event is a detailed notice: the workflow, what the rule saw (the counts
behind it), since when, and the sample failed runs with their errors and
links.  Several arriving together are one notice listing each workflow.
Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from watcher.config.units import format_duration
from watcher.core.events import WORKFLOW_DEGRADED
from watcher.sinks import notice
from watcher.sinks.notice.words import duration

DEGRADED_EMOJI = ":warning:"
RECOVERED_EMOJI = ":large_green_circle:"
#: workflows a grouped notice details
LISTED = 20


def headline(ev: dict[str, Any]) -> str:
    """``Invoice Processing is degraded on prod`` / ``Invoice Processing recovered``."""
    d = ev.get("data") or {}
    wf = str(d.get("workflow_name") or d.get("workflow_id") or ev.get("subject") or "?")
    where = f" on {d['source']}" if d.get("source") else ""
    return f"{wf} is degraded{where}" if ev.get("type") == WORKFLOW_DEGRADED \
        else f"{wf} recovered{where}"


def health_line(ev: dict[str, Any]) -> str:
    """What the rule saw, in one sentence."""
    d = ev.get("data") or {}
    degraded = ev.get("type") == WORKFLOW_DEGRADED
    if d.get("reason"):
        return f"the rule {d.get('rule')} is gone ({d['reason']})"
    kind = d.get("kind")
    if kind == "failure_rate_above":
        bound = (f"above {_pct(d.get('threshold'))}" if degraded
                 else f"at or below {_pct(d.get('recover_below'))}")
        return (f"{d.get('failed')} of {d.get('finished')} runs failed in the last "
                f"{_span(d.get('window_s'))} ({_pct(d.get('rate'))}, {bound})")
    if kind == "no_success_for":
        if not degraded:
            return "a run succeeded again"
        return (f"no run succeeded for {_span(d.get('without_success_s'))}; "
                f"{d.get('finished')} finished otherwise")
    bound = (f"more than {_count(d.get('threshold'))}" if degraded
             else f"at most {_count(d.get('recover_below'))}")
    return f"{d.get('stuck')} runs stuck at once ({bound})"


def health_notice(events: Sequence[dict[str, Any]]) -> notice.Said:
    """What a notice about health events of one group (same type) says."""
    degraded = events[0].get("type") == WORKFLOW_DEGRADED
    emoji = DEGRADED_EMOJI if degraded else RECOVERED_EMOJI
    if len(events) == 1:
        return emoji, headline(events[0]), health_line(events[0]), _one(events[0])
    said = [(headline(ev), health_line(ev)) for ev in events]
    parts: list[notice.Part] = [notice.Paragraph((notice.Strong(what), f": {line}"))
                                for what, line in said[:LISTED]]
    if len(said) > LISTED:
        parts.append(notice.Note(f"…and {len(said) - LISTED} more"))
    title = f"{len(events)} workflows {'degraded' if degraded else 'recovered'}"
    return emoji, title, "; ".join(f"{w}: {line}" for w, line in said), parts


def _one(ev: dict[str, Any]) -> list[notice.Part]:
    d = ev.get("data") or {}
    fields: list[tuple[str, notice.Text]] = [
        ("Rule", notice.Code(str(d.get("rule", "?")))),
        ("Source", str(d.get("source") or "every source"))]
    if d.get("episode_started_at"):
        fields.append(("Degraded since", notice.Time(d["episode_started_at"])))
    if isinstance(d.get("degraded_for_s"), int | float):
        fields.append(("Degraded for", duration(d["degraded_for_s"])))
    parts: list[notice.Part] = [notice.Paragraph(health_line(ev)), notice.Fields(fields)]
    samples = d.get("samples") or []
    if samples and ev.get("type") == WORKFLOW_DEGRADED:
        parts.append(notice.Listing("Recent runs", [_sample(s) for s in samples]))
    parts.append(notice.footer(ev))
    return parts


def _sample(s: dict[str, Any]) -> notice.Text:
    line: tuple[notice.Span, ...] = (
        notice.run_ref(str(s.get("run_id") or "?"), s.get("url")),
        f" · {s.get('source', '?')} · ", notice.Code(str(s.get("status"))))
    if s.get("error"):
        line += (" · ", notice.Excerpt(notice.squashed(s["error"])))
    return line


def _span(v: object) -> str:
    """A rule's period as it was configured (``30m``), else as a duration (``1h 5m``)."""
    seconds = float(v) if isinstance(v, int | float) else 0.0
    return format_duration(seconds) if seconds == int(seconds) else duration(seconds)


def _pct(v: object) -> str:
    return f"{float(v) * 100:.0f}%" if isinstance(v, int | float) else "?"


def _count(v: object) -> str:
    return f"{int(v)}" if isinstance(v, int | float) else "?"
