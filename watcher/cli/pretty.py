"""Readable terminals: one short line per event, and ``watcher status`` as a table.

``--format auto`` (the default of ``demo`` and ``tail``) is pretty on a
terminal and JSON when piped, so ``| jq`` never changes.  A pretty line is
time, source, workflow, run id shortened, ``previous -> status`` and the
error shortened, coloured by status (red failed, yellow stuck or waiting for
review, green succeeded) unless ``NO_COLOR`` is set or the output is no
terminal.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import IO, Any

import orjson

FORMATS = ("auto", "json", "pretty")
RED, YELLOW, GREEN, DIM, RESET = "\x1b[31m", "\x1b[33m", "\x1b[32m", "\x1b[2m", "\x1b[0m"
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


def short_id(run_id: str, width: int = 14) -> str:
    """``workflow_run_xKm9pNv3qWsY`` -> ``workflow…3qWsY``: both ends tell runs apart."""
    if len(run_id) <= width:
        return run_id
    tail = (width - 1) // 2
    return run_id[:width - 1 - tail] + "…" + run_id[-tail:]


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


def _what(kind: str, d: Mapping[str, Any]) -> tuple[str, str | None]:
    """The event's middle part and the colour it deserves."""
    status = str(d.get("status") or "")
    if kind == "source.failing":
        return "source failing", RED
    if kind == "source.recovered":
        return f"source recovered after {span(d.get('down_for_s'))}", GREEN
    if kind == "run.stuck":
        return f"stuck in {status} for {span(d.get('stuck_for_s'))}", YELLOW
    color = (RED if status in BAD else YELLOW if status in WAITING
             else GREEN if status == "succeeded" else None)
    return f"{d.get('previous_status') or 'new'} -> {status}", color


def line(event: Mapping[str, Any], *, color: bool = False) -> str:
    """One CloudEvent as one line, without a newline."""
    d = event.get("data") or {}
    kind = str(event.get("type", "")).removeprefix("watcher.")
    what, hue = _what(kind, d)
    workflow = str(d.get("workflow_name") or d.get("workflow_id") or "-")
    parts = [clock_time(event.get("time")), f"{shorten(str(d.get('source', '')), 18):<18}"]
    if kind.startswith("source."):
        parts.append(what)
    else:
        parts += [f"{shorten(workflow, 22):<22}", f"{short_id(str(d.get('run_id', ''))):<14}",
                  what]
    error = d.get("error")
    text = "  ".join(parts) + (f"  {shorten(str(error), 80)}" if error else "")
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


def writer_for(fmt: str, binary: IO[bytes], text: IO[str],
               env: Mapping[str, str] = os.environ) -> IO[bytes] | PrettyWriter:
    """Where events go: the binary stream for JSON, a :class:`PrettyWriter` on ``text``."""
    if wants_pretty(fmt, text):
        return PrettyWriter(text, color=wants_color(text, env))
    return binary
