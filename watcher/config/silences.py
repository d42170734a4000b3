"""``[[silences]]``: maintenance windows, validated like every table, with key paths.

::

    [[silences]]
    name = "vendor-migration"
    match = { sources = ["extend-prod"] }
    schedule = "Sat 22:00 - Sun 06:00"     # or starts = "...", ends = "..." (RFC 3339)
    timezone = "Europe/Berlin"
    sinks = ["alerts"]                     # optional; default: every notification sink

``match`` takes a sink's match keys (``types``, ``statuses``, ``sources``,
``workflows``, or the singular ``type``, ``status``, ``source``, ``workflow``),
with ``*`` globs.  A window names only notification sinks:
complete records (stdout, file, buses) are never silenced.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

from watcher.config.hints import hint
from watcher.config.match import parse_match
from watcher.config.options import Options, StrList
from watcher.config.schema import Expanded, Problems
from watcher.config.tables import array_tables
from watcher.core.matching import Match
from watcher.core.silences import Hold, stored_form
from watcher.core.windows import OpenAt, Schedule, local_text, next_opening, parse_schedule


class WindowConfig(Options):
    """One ``[[silences]]`` table: a maintenance window."""

    name: str
    #: key -> patterns (``match`` is parsed apart: its values may be lists)
    match: Mapping[str, tuple[str, ...]] = Field(default_factory=dict, exclude=True)
    sinks: StrList = ()
    schedule: str | None = None
    timezone: str = "UTC"
    starts: str | None = None
    ends: str | None = None
    comment: str | None = None
    #: ``schedule`` parsed, or ``starts``/``ends`` as epoch seconds
    recurring: Schedule | None = Field(default=None, exclude=True)
    span: tuple[float, float] | None = Field(default=None, exclude=True)
    tz: tzinfo | None = Field(default=None, exclude=True)

    def opening(self, now: float) -> tuple[float, float] | None:
        """The opening in force at ``now``, else the next one (None: none in the coming
        weeks); a fixed span as it is."""
        if self.recurring is not None and self.tz is not None:
            return next_opening(self.recurring, self.tz, now)
        return self.span

    def hold(self) -> Hold:
        holds_at: Callable[[float], bool]
        if self.recurring is not None and self.tz is not None:
            holds_at = OpenAt(self.recurring, self.tz)
        else:
            assert self.span is not None
            start, end = self.span
            holds_at = lambda at: start <= at < end  # noqa: E731
        return Hold(self.name, Match(self.match), self.sinks, holds_at, kind="window")

    def times(self, now: float) -> str:
        """When it is next open, in its own time zone: ``open now until ...``,
        ``next: ... to ...`` or ``over (ended ...)``."""
        opening = self.opening(now)
        if opening is None:
            return "never opens in the coming weeks"
        start, end = opening
        tz = self.tz or UTC
        if end <= now:
            return f"over (ended {local_text(end, tz)})"
        if start <= now:
            return f"open now, until {local_text(end, tz)}"
        return f"next: {local_text(start, tz)} to {local_text(end, tz)}"


def parse_windows(data: Mapping[str, Any], r: Expanded, *, sources: Collection[str],
                  sinks: Mapping[str, bool]) -> tuple[WindowConfig, ...]:
    """Every ``[[silences]]`` table; ``sinks``: configured sink name -> is a record."""
    out: list[WindowConfig] = []
    names: set[str] = set()
    for path, raw in array_tables(data, "silences", r.problems):
        before = len(r.problems)
        w = r.validate(WindowConfig, raw, path, apart=("match",))
        name = raw.get("name")
        if isinstance(name, str) and name in names:
            r.problems.add(f"{path}.name", f'"{name}" is already used by another window')
        names.add(name if isinstance(name, str) else "")
        match = _match(raw.get("match"), f"{path}.match", r, sources)
        if w is None:
            continue
        check_sinks(w.sinks, f"{path}.sinks", r.problems, sinks, never="silences never hold")
        when = _when(w, path, r)
        if len(r.problems) == before and when is not None:
            out.append(w.model_copy(update={"match": match, "recurring": when[0],
                                            "span": when[1], "tz": when[2]}))
    return tuple(out)


def _match(raw: object, path: str, r: Expanded, sources: Collection[str]
           ) -> Mapping[str, tuple[str, ...]]:
    if raw is None:
        r.problems.add(path, 'is required (a window of everything: match = { type = "*" })')
        return {}
    if not isinstance(raw, dict) or not raw:
        r.problems.add(path, "must be a table of keys to values")
        return {}
    return stored_form(parse_match(raw, path, r.problems, sources=sources))


def check_sinks(names: Collection[str], path: str, problems: Problems,
                sinks: Mapping[str, bool], *, never: str, suggest: bool = False) -> None:
    """Each name one of ``sinks`` (name -> is a record) and no record, which ``never``
    (e.g. "silences never hold") its events back."""
    for name in names:
        if name not in sinks:
            near = hint(name, sinks) if suggest else ""
            problems.add(path, f'"{name}" is not a configured sink{near} '
                               f"(sinks: {', '.join(sorted(sinks)) or 'none'})")
        elif sinks[name]:
            problems.add(path, f'"{name}" is a complete record (stdout, file, bus): '
                               f"{never} its events back")


def _when(w: WindowConfig, path: str, r: Expanded
          ) -> tuple[Schedule | None, tuple[float, float] | None, tzinfo] | None:
    """The schedule or the fixed span, and the time zone; None (reported) if unusable."""
    tz = _zone(w.timezone, f"{path}.timezone", r)
    if w.schedule is not None:
        if w.starts is not None or w.ends is not None:
            r.problems.add(path, "set schedule, or starts and ends, not both")
            return None
        try:
            recurring = parse_schedule(w.schedule)
        except ValueError as e:
            r.problems.add(f"{path}.schedule", str(e))
            return None
        return (recurring, None, tz) if tz is not None else None
    if w.starts is None or w.ends is None:
        r.problems.add(path, "needs a schedule, or starts and ends")
        return None
    a = _instant(w.starts, f"{path}.starts", r, tz)
    b = _instant(w.ends, f"{path}.ends", r, tz)
    if a is None or b is None or tz is None:
        return None
    if b <= a:
        r.problems.add(f"{path}.ends", f'"{w.ends}" is not after starts ("{w.starts}")')
        return None
    return None, (a, b), tz


def _zone(name: str, path: str, r: Expanded) -> tzinfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        r.problems.add(path, f'"{name}" is not an IANA time zone (e.g. "Europe/Berlin", "UTC")')
        return None


def _instant(text: str, path: str, r: Expanded, tz: tzinfo | None) -> float | None:
    """RFC 3339; a time without an offset is read in the window's time zone."""
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        r.problems.add(path, f'"{text}" is not an RFC 3339 time (e.g. 2026-03-28T22:00:00+01:00)')
        return None
    if dt.tzinfo is None:
        if tz is None:
            return None
        dt = dt.replace(tzinfo=tz)
    return dt.timestamp()
