"""What a Slack alert says about workflow health: ``workflow.degraded`` and ``.recovered``.

One event is a detailed message: the workflow, what the rule saw (the counts
behind it), since when, and the sample failed runs with their errors and
links.  Several arriving together are one message listing each workflow.
:func:`health_line` is the one-sentence reason other notifiers reuse.  Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from watcher.config.units import format_duration
from watcher.core.events import WORKFLOW_DEGRADED
from watcher.sinks.slack.blocks import (
    ERROR_LINE_MAX,
    FALLBACK,
    SECTION_MAX,
    Block,
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

DEGRADED_EMOJI = ":warning:"
RECOVERED_EMOJI = ":large_green_circle:"


def health_headline(ev: dict[str, Any]) -> str:
    """``⚠ Invoice Processing is degraded`` / ``🟢 Invoice Processing recovered``."""
    d = ev.get("data") or {}
    wf = str(d.get("workflow_name") or d.get("workflow_id") or ev.get("subject") or "?")
    where = f" on {d['source']}" if d.get("source") else ""
    if ev.get("type") == WORKFLOW_DEGRADED:
        return f"{DEGRADED_EMOJI} {wf} is degraded{where}"
    return f"{RECOVERED_EMOJI} {wf} recovered{where}"


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


def health_payload(events: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The Slack payload for health events of one group (same type)."""
    if len(events) == 1:
        return _one(events[0])
    degraded = events[0].get("type") == WORKFLOW_DEGRADED
    head = (f"{DEGRADED_EMOJI} {len(events)} workflows degraded" if degraded
            else f"{RECOVERED_EMOJI} {len(events)} workflows recovered")
    said = [(health_headline(ev).split(" ", 1)[1], health_line(ev)) for ev in events]
    blocks: list[Block] = [header(head), *(section(cut(f"*{esc(what)}*: {esc(line)}",
                                                       SECTION_MAX)) for what, line in said[:20])]
    if len(said) > 20:
        blocks.append(context(f"…and {len(said) - 20} more"))
    return {"text": cut(esc(f"{head}: " + "; ".join(f"{w}: {line}" for w, line in said)),
                        FALLBACK), "blocks": blocks}


def _one(ev: dict[str, Any]) -> dict[str, Any]:
    d = ev.get("data") or {}
    head = health_headline(ev)
    fields = [("Rule", f"`{esc(str(d.get('rule', '?')))}`"),
              ("Source", esc(str(d.get("source") or "every source")))]
    if d.get("episode_started_at"):
        fields.append(("Degraded since", when(d["episode_started_at"])))
    if isinstance(d.get("degraded_for_s"), int | float):
        fields.append(("Degraded for", duration(d["degraded_for_s"])))
    blocks: list[Block] = [header(head), section(esc(health_line(ev))), section_fields(fields)]
    samples = d.get("samples") or []
    if samples and ev.get("type") == WORKFLOW_DEGRADED:
        blocks.append(section("*Recent runs*\n" + "\n".join(_sample(s) for s in samples)))
    blocks.append(context(f"watcher · {when(ev.get('time'))} · event `{esc(str(ev.get('id')))}`"))
    return {"text": cut(esc(f"{head}: {health_line(ev)}"), FALLBACK), "blocks": blocks}


def _sample(s: dict[str, Any]) -> str:
    run_id = str(s.get("run_id") or "?")
    url = safe_url(s.get("url"))
    line = " · ".join([link(url, run_id) if url else f"`{esc(run_id)}`",
                       esc(str(s.get("source", "?"))), f"`{esc(str(s.get('status')))}`"])
    if s.get("error"):
        line += " · " + cut(esc(" ".join(str(s["error"]).split())), ERROR_LINE_MAX)
    return cut(line, SECTION_MAX // 10)


def _span(v: object) -> str:
    """A rule's period as it was configured (``30m``), else as a duration (``1h 5m``)."""
    seconds = float(v) if isinstance(v, int | float) else 0.0
    return format_duration(seconds) if seconds == int(seconds) else duration(seconds)


def _pct(v: object) -> str:
    return f"{float(v) * 100:.0f}%" if isinstance(v, int | float) else "?"


def _count(v: object) -> str:
    return f"{int(v)}" if isinstance(v, int | float) else "?"
