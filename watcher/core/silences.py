"""Silences: which events are held back from which sinks, and when.

A silence is a matcher (:mod:`watcher.core.matching`, the keys of a sink's
``match``), the sinks it holds events back from (none named: every sink that
is no complete record), and when it holds: one span for a silence from the
command line, the openings of a schedule for a maintenance window.  An event
is judged by its own ``time``.

Pure: the stored form and the judgement; the runtime keeps the set current.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field

import orjson

from watcher.core.matching import ALIASES, Match, Routable

_SINGULAR = {key: alias for alias, key in ALIASES.items()}


def stored_form(match: Match) -> dict[str, tuple[str, ...]]:
    """A silence's or window's matcher as it is stored and shown: the command line's
    singular keys (``source=extend-prod``), which every version of watcher reads."""
    return {_SINGULAR[key]: values for key, values in match.values.items()}


@dataclass(frozen=True)
class Silence:
    """A silence from the command line, as stored (one record per silence)."""

    id: str
    #: key -> patterns, as :func:`stored_form` spells them
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
        Match(d["match"])  # a key the matcher has not: a damaged record (ValueError)
        d["sinks"] = tuple(d.get("sinks") or ())
        return cls(**d)

    def active(self, at: float) -> bool:
        return self.starts <= at < self.ends


@dataclass(frozen=True)
class Hold:
    """A silence or window ready to judge events: its label (a silence's id, a window's
    name), matcher, sinks, and when it holds."""

    label: str
    matcher: Match
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
