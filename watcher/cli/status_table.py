"""``watcher status`` on a terminal: the ``/status`` document as two plain tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any


def _epoch(iso: object) -> float | None:
    if not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def age(iso: object, now: float | None) -> str:
    """``12s ago``, ``in 3s``, ``5m ago``, ``2h ago``; ``-`` for never."""
    t = _epoch(iso)
    if t is None or now is None:
        return "-"
    s = round(t - now)
    a = abs(s)
    text = (f"{a}s" if a < 90 else f"{round(a / 60)}m" if a < 5400
            else f"{round(a / 3600)}h" if a < 172800 else f"{round(a / 86400)}d")
    return f"in {text}" if s > 0 else f"{text} ago"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """Columns padded to their widest cell; numbers right-aligned."""
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    numeric = [all(isinstance(r[i], int) for r in rows) and bool(rows)
               for i in range(len(header))]
    return ["  ".join(c.rjust(w) if n else c.ljust(w)
                      for c, w, n in zip(r, widths, numeric, strict=True)).rstrip()
            for r in cells]


def _health(s: Mapping[str, Any], now: float | None) -> str:
    since = age(s.get("health_since"), now)
    text = f"{s.get('health', '?')} ({since})" if since != "-" else str(s.get("health", "?"))
    sync = s.get("first_sync")
    if sync:
        text += f", first sync: {sync['pages']} pages, {sync['runs']} runs"
    return text


def render_status_table(status: Mapping[str, Any]) -> str:
    """The ``/status`` JSON (also ``watcher status --json``) as text for a terminal."""
    now = _epoch(status.get("now"))
    sources = status.get("sources") or []
    sinks = status.get("sinks") or []
    out = table(["SOURCE", "PROVIDER", "HEALTH", "LAST OK POLL", "RUNS", "LIVE", "STUCK",
                 "OWNER"],
                [[s["name"], s.get("provider", ""), _health(s, now),
                  age(s.get("last_success"), now), int(s.get("tracked", 0)),
                  int(s.get("live", 0)), int(s.get("stuck", 0)), s.get("owner") or "-"]
                 for s in sources])
    out.append("")
    out += table(["SINK", "TYPE", "STATE", "BACKLOG", "LAST DELIVERY", "DEAD LETTERS",
                  "SILENCED"],
                 [[k["name"], k.get("type", ""), "failing" if k.get("failing") else "ok",
                   int(k.get("backlog", 0)), age(k.get("last_delivery"), now),
                   int(k.get("dead_letters", 0)), int(k.get("silenced", 0))] for k in sinks])
    replicas = status.get("replicas") or []
    if replicas:
        out += ["", "replicas: " + ", ".join(str(r.get("id")) for r in replicas)]
    return "\n".join(out) + "\n"
