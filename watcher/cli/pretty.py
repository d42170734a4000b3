"""Readable terminals: one short line per event.

``--format auto`` (the default of ``demo`` and ``tail``) is pretty on a
terminal and JSON when piped, so ``| jq`` never changes.  A pretty line is
time, source, workflow, run id shortened, what happened and the error
shortened, coloured (red: a failed run, a failing source, a degraded
workflow; yellow: stuck or waiting for review; green: succeeded, recovered)
unless ``NO_COLOR`` is set or the output is no terminal.  Every event type
has its own words: ``previous -> status`` for a run, ``DEGRADED`` /
``RECOVERED`` with the rule's figures for a workflow, and ``reminder #n`` in
front of what a reminder reminds of.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import datetime
from typing import IO, Any

import orjson

RED, YELLOW, GREEN, RESET = "\x1b[31m", "\x1b[33m", "\x1b[32m", "\x1b[0m"
BAD = frozenset({"failed", "rejected"})
WAITING = frozenset({"needs_review", "paused"})


def is_tty(stream: IO[Any]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def wants_pretty(fmt: str, stream: IO[Any]) -> bool:
    """``pretty``, ``json``, or ``auto``: pretty on a terminal, JSON when piped."""
    return fmt == "pretty" or (fmt == "auto" and is_tty(stream))


def wants_color(stream: IO[Any], env: Mapping[str, str] = os.environ) -> bool:
    """Colour on a terminal, unless ``NO_COLOR`` is set to anything (no-color.org)."""
    return is_tty(stream) and not env.get("NO_COLOR")


def shorten(text: str, width: int) -> str:
    text = " ".join(text.split())  # one line, whatever the vendor's message held
    return text if len(text) <= width else text[:width - 1] + "…"


#: a vendor's constant id prefix (``workflow_run_``, ``run_``): lowercase words and ``_``
_PREFIX = re.compile(r"^(?:[a-z]+_)+")
#: the id column: Extend's ``workflow_run_`` and nine characters of the id itself
ID_WIDTH = 22


def short_id(run_id: str) -> str:
    """``workflow_run_xKm9pNv3qWsYtmXHdg`` -> ``workflow_run_xKm9…XHdg``: the constant
    prefix stays whole and readable, what tells runs apart (both ends of the rest) is
    shortened to 9 characters; an id without such a prefix (a UUID) to 13."""
    prefix = _PREFIX.match(run_id)
    head, rest = (run_id[:prefix.end()], run_id[prefix.end():]) if prefix else ("", run_id)
    width = 9 if head else 13
    if len(rest) <= width + 1:  # an ellipsis for one character would hide, not save
        return run_id
    tail = (width - 1) // 2
    return head + rest[:width - 1 - tail] + "…" + rest[-tail:]


def clock_time(iso: object) -> str:
    """An event's RFC 3339 ``time`` as local ``HH:MM:SS``."""
    try:
        return datetime.fromisoformat(str(iso).replace("Z", "+00:00")).astimezone().strftime(
            "%H:%M:%S")
    except ValueError:
        return str(iso)[:8]


def span(seconds: object) -> str:
    """``890`` -> ``14m50s``; what it was given when it is not a number."""
    if not isinstance(seconds, int | float):
        return "?"
    s = int(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            rest = s % size
            return f"{s // size}{unit}" + (span(rest) if rest and unit != "d" else "")
    return f"{s}s"


def _figures(d: Mapping[str, Any]) -> str:
    """What a health rule saw, as its kind counts it."""
    kind = d.get("kind")
    if kind == "failure_rate_above":
        rate = d.get("rate")
        share = f" ({rate:.0%})" if isinstance(rate, int | float) else ""
        return (f"{d.get('failed')} of {d.get('finished')} failed{share} "
                f"in {span(d.get('window_s'))}")
    if kind == "no_success_for":
        return f"no success for {span(d.get('without_success_s'))}"
    return f"{d.get('stuck')} stuck"


def _what(kind: str, d: Mapping[str, Any]) -> tuple[str, str | None]:
    """The event's middle part and the colour it deserves."""
    status = str(d.get("status") or "")
    if kind.endswith(".reminder"):
        again, hue = _what(str(d.get("reminds") or "").removeprefix("watcher."), d)
        return f"reminder #{d.get('reminder')}: {again}, open {span(d.get('open_for_s'))}", hue
    if kind == "source.failing":
        return f"source failing ({d.get('consecutive_failures')} polls)", RED
    if kind == "source.recovered":
        return f"source recovered after {span(d.get('down_for_s'))}", GREEN
    if kind == "run.stuck":
        return f"stuck in {status} for {span(d.get('stuck_for_s'))}", YELLOW
    if kind == "workflow.degraded":
        return f"DEGRADED ({d.get('rule')}): {_figures(d)}", RED
    if kind == "workflow.recovered":
        return (f"RECOVERED ({d.get('rule')}) after {span(d.get('degraded_for_s'))}: "
                f"{_figures(d)}", GREEN)
    color = (RED if status in BAD else YELLOW if status in WAITING
             else GREEN if status == "succeeded" else None)
    return f"{d.get('previous_status') or 'new'} -> {status}", color


def line(event: Mapping[str, Any], *, color: bool = False) -> str:
    """One CloudEvent as one line, without a newline."""
    d = event.get("data") or {}
    kind = str(event.get("type", "")).removeprefix("watcher.")
    what, hue = _what(kind, d)
    workflow = str(d.get("workflow_name") or d.get("workflow_id") or "-")
    parts = [clock_time(event.get("time")),
             f"{shorten(str(d.get('source') or '*'), 18):<18}"]  # *: a rule across sources
    if kind.startswith("source."):
        parts.append(what)
    else:
        run = short_id(str(d.get("run_id") or "")) if kind.startswith("run.") else ""
        parts += [f"{shorten(workflow, 22):<22}", f"{run:<{ID_WIDTH}}", what]
    error = d.get("error")
    text = "  ".join(parts) + (f"  {shorten(str(error), 72)}" if error else "")
    return f"{hue}{text}{RESET}" if color and hue else text


class PrettyWriter:
    """Stands in for a binary stream of CloudEvent JSON lines (what the stdout sink and
    ``tail`` write) and writes each event as one pretty line instead."""

    def __init__(self, out: IO[str], *, color: bool) -> None:
        self.out = out
        self.color = color

    def write(self, data: bytes) -> int:
        for raw in data.splitlines():
            if not raw.strip():
                continue
            try:
                text = line(orjson.loads(raw), color=self.color)
            except (orjson.JSONDecodeError, AttributeError, TypeError):
                text = raw.decode(errors="replace")
            self.out.write(text + "\n")
        return len(data)

    def flush(self) -> None:
        self.out.flush()


def writer_for(fmt: str, binary: IO[bytes], text: IO[str]) -> IO[bytes] | PrettyWriter:
    """Where events go: the binary stream for JSON, a :class:`PrettyWriter` on ``text``."""
    if wants_pretty(fmt, text):
        return PrettyWriter(text, color=wants_color(text))
    return binary
