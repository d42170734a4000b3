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

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from watcher.config.match import parse_match
from watcher.config.options import fields_of, option
from watcher.config.schema import Resolver
from watcher.config.tables import array_tables
from watcher.core.silences import stored_form
from watcher.core.windows import Schedule, parse_schedule


@dataclass(frozen=True, kw_only=True)
class WindowConfig:
    """One ``[[silences]]`` table: a maintenance window."""

    name: str = option("str")
    #: key -> patterns (``match`` is parsed apart: its values may be lists)
    match: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sinks: tuple[str, ...] = option("strlist", ())
    schedule: str | None = option("str", None)
    timezone: str = option("str", "UTC")
    starts: str | None = option("str", None)
    ends: str | None = option("str", None)
    comment: str | None = option("str", None)
    #: ``schedule`` parsed, or ``starts``/``ends`` as epoch seconds
    recurring: Schedule | None = field(default=None, compare=False)
    span: tuple[float, float] | None = None
    tz: tzinfo | None = field(default=None, compare=False)


WINDOW_FIELDS = fields_of(WindowConfig)


def parse_windows(raw_list: object, r: Resolver, *, sources: Collection[str],
                  sinks: Mapping[str, bool]) -> tuple[WindowConfig, ...]:
    """Every ``[[silences]]`` table; ``sinks``: configured sink name -> is a record."""
    out: list[WindowConfig] = []
    names: set[str] = set()
    for path, raw in array_tables(raw_list, "silences", r.problems):
        before = len(r.problems.items)
        common = r.table(raw, WINDOW_FIELDS, path, ignore=("match",))
        if not isinstance(raw, dict):
            continue
        name = common.get("name")
        if isinstance(name, str) and name in names:
            r.problems.add(f"{path}.name", f'"{name}" is already used by another window')
        names.add(name or "")
        match = _match(raw.get("match"), f"{path}.match", r, sources)
        _check_sinks(common.get("sinks") or (), f"{path}.sinks", r, sinks)
        when = _when(common, path, r)
        if len(r.problems.items) == before and when is not None:
            out.append(WindowConfig(**common, match=match, recurring=when[0], span=when[1],
                                    tz=when[2]))
    return tuple(out)


def _match(raw: object, path: str, r: Resolver, sources: Collection[str]
           ) -> Mapping[str, tuple[str, ...]]:
    if raw is None:
        r.problems.add(path, 'is required (a window of everything: match = { type = "*" })')
        return {}
    if not isinstance(raw, dict) or not raw:
        r.problems.add(path, "must be a table of keys to values")
        return {}
    return stored_form(parse_match(raw, path, r.problems, sources=sources))


def _check_sinks(names: Collection[str], path: str, r: Resolver,
                 sinks: Mapping[str, bool]) -> None:
    for name in names:
        if name not in sinks:
            r.problems.add(path, f'"{name}" is not a configured sink '
                                 f"(sinks: {', '.join(sorted(sinks)) or 'none'})")
        elif sinks[name]:
            r.problems.add(path, f'"{name}" is a complete record (stdout, file, bus): '
                                 "silences never hold its events back")


def _when(common: Mapping[str, object], path: str, r: Resolver
          ) -> tuple[Schedule | None, tuple[float, float] | None, tzinfo] | None:
    """The schedule or the fixed span, and the time zone; None (reported) if unusable."""
    tz = _zone(common.get("timezone"), f"{path}.timezone", r)
    schedule, starts, ends = common.get("schedule"), common.get("starts"), common.get("ends")
    if schedule is not None:
        if starts is not None or ends is not None:
            r.problems.add(path, "set schedule, or starts and ends, not both")
            return None
        try:
            recurring = parse_schedule(str(schedule))
        except ValueError as e:
            r.problems.add(f"{path}.schedule", str(e))
            return None
        return (recurring, None, tz) if tz is not None else None
    if starts is None or ends is None:
        r.problems.add(path, "needs a schedule, or starts and ends")
        return None
    a = _instant(str(starts), f"{path}.starts", r, tz)
    b = _instant(str(ends), f"{path}.ends", r, tz)
    if a is None or b is None or tz is None:
        return None
    if b <= a:
        r.problems.add(f"{path}.ends", f'"{ends}" is not after starts ("{starts}")')
        return None
    return None, (a, b), tz


def _zone(name: object, path: str, r: Resolver) -> tzinfo | None:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        r.problems.add(path, f'"{name}" is not an IANA time zone (e.g. "Europe/Berlin", "UTC")')
        return None


def _instant(text: str, path: str, r: Resolver, tz: tzinfo | None) -> float | None:
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
