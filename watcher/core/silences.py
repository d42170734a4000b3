"""Silences: which events are held back from which sinks, and when.

A silence is a matcher (the routing keys ``type``, ``status``, ``source``,
``workflow``; ``workflow`` matches a run's workflow id or name; ``*`` globs in
values; keys ANDed, the values of one key ORed), the sinks it holds events
back from (none named: every sink that is no complete record), and when it
holds: one span for a silence from the command line, the openings of a
schedule for a maintenance window.  An event is judged by its own ``time``.
A reminder is judged as the event it reminds of too (``type=source.failing``
holds ``watcher.source.reminder`` back).

Pure: parsing, matching, the stored form; the runtime keeps the set current.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import orjson

from watcher.core.events import EVENT_TYPES, REMINDS
from watcher.core.routing import Routable
from watcher.model import Status

#: the keys a silence matches on
KEYS = ("type", "status", "source", "workflow")
#: a ``[[silences]]`` match table may name them as a sink's ``match`` does
ALIASES = {"types": "type", "statuses": "status", "sources": "source", "workflows": "workflow"}


def _glob(pattern: str) -> re.Pattern[str]:
    """Only ``*`` is special (any run of characters): names with ``[`` or ``?`` mean
    themselves."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def _type_value(value: str) -> str:
    full = value if value.startswith("watcher.") or value == "*" else f"watcher.{value}"
    if "*" not in full and full not in EVENT_TYPES:
        names = [t.removeprefix("watcher.") for t in EVENT_TYPES]
        raise ValueError(f'type: "{value}" is not an event type{hint(value, names)}')
    return full


def _status_value(value: str) -> str:
    if "*" not in value and value not in Status.__members__.values():
        raise ValueError(f'status: "{value}" is not a canonical status'
                         f"{hint(value, [s.value for s in Status])}")
    return value


def normalise(values: Mapping[str, Sequence[str]], *,
              sources: Collection[str] | None = None) -> dict[str, tuple[str, ...]]:
    """Check a matcher's keys and values; full type names.  ValueError saying what is
    wrong.  With ``sources`` (the configured ones), a source without ``*`` must be one."""
    out: dict[str, tuple[str, ...]] = {}
    for raw_key, vals in values.items():
        key = ALIASES.get(raw_key, raw_key)
        if key not in KEYS:
            raise ValueError(f'"{raw_key}" is not a match key{hint(raw_key, [*KEYS, *ALIASES])} '
                             f"(keys: {', '.join(KEYS)})")
        if not vals or any(not v for v in vals):
            raise ValueError(f"{key}: an empty value matches nothing")
        if key == "type":
            vals = [_type_value(v) for v in vals]
        elif key == "status":
            vals = [_status_value(v) for v in vals]
        elif key == "source" and sources is not None:
            for v in vals:
                if "*" not in v and v not in sources:
                    raise ValueError(f'source: "{v}" is not a configured source'
                                     f"{hint(v, sources)}")
        out[key] = tuple(dict.fromkeys([*out.get(key, ()), *vals]))
    return out


def parse_pairs(items: Iterable[str], *, sources: Collection[str] | None = None
                ) -> dict[str, tuple[str, ...]]:
    """``KEY=VALUE`` arguments as a matcher; a key given twice matches either value."""
    values: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f'"{item}" is not KEY=VALUE (keys: {", ".join(KEYS)})')
        values.setdefault(key.strip(), []).append(value.strip())
    if not values:
        raise ValueError("a silence needs at least one --match KEY=VALUE")
    return normalise(values, sources=sources)


def hint(value: str, choices: Collection[str]) -> str:
    m = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.7)
    return f" (did you mean {m[0]!r}?)" if m else ""


class Matcher:
    """Whether an event (a journal entry) matches a silence's keys."""

    __slots__ = ("_tests", "values")

    def __init__(self, values: Mapping[str, Sequence[str]]) -> None:
        self.values = dict(values)
        #: per key: the exact values (a set lookup) and the globs (regular expressions)
        self._tests = tuple(
            (key, frozenset(p for p in pats if "*" not in p),
             tuple(_glob(p).fullmatch for p in pats if "*" in p))
            for key, pats in values.items())

    def __call__(self, e: Routable) -> bool:
        for key, exact, globs in self._tests:
            if key == "type":
                seen: tuple[str | None, ...] = (e.type, REMINDS.get(e.type))
            elif key == "status":
                seen = (e.status,)
            elif key == "source":
                seen = (e.source,)
            else:
                seen = (e.workflow_id, e.workflow_name)
            if not any(v is not None and (v in exact or any(g(v) for g in globs))
                       for v in seen):
                return False
        return True


@dataclass(frozen=True)
class Silence:
    """A silence from the command line, as stored (one record per silence)."""

    id: str
    match: Mapping[str, tuple[str, ...]]
    starts: float
    ends: float
    #: the sinks it holds events back from; empty: every sink that is no complete record
    sinks: tuple[str, ...] = ()
    author: str = ""
    comment: str = ""
    created: float = 0.0
    #: when ``watcher silence expire`` ended it early (None: it runs to ``ends``)
    expired: float | None = None

    def encode(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def decode(cls, raw: bytes) -> Silence:
        """A stored silence; ValueError (or KeyError/TypeError) for a damaged record."""
        d = orjson.loads(raw)
        d["match"] = {k: tuple(v) for k, v in d["match"].items()}
        d["sinks"] = tuple(d.get("sinks") or ())
        return cls(**d)

    def active(self, at: float) -> bool:
        return self.starts <= at < self.ends


@dataclass(frozen=True)
class Hold:
    """A silence or window ready to judge events: its label (a silence's id, a window's
    name), matcher, sinks, and when it holds."""

    label: str
    matcher: Matcher
    sinks: tuple[str, ...]
    holds_at: Callable[[float], bool] = field(compare=False)
    kind: str = "silence"

    def applies_to(self, sink: str) -> bool:
        return not self.sinks or sink in self.sinks


def held_by(entry: Routable, time: float, holds: Sequence[Hold]) -> Hold | None:
    """The first hold that keeps ``entry`` (of ``time``) back, or None."""
    for h in holds:
        if h.holds_at(time) and h.matcher(entry):
            return h
    return None
