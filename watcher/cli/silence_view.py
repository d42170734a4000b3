"""``watcher silence list``: the silences and windows, and how many events each held back,
counted from the journal (which keeps every event, silenced or not, for its retention)
the way the sink runners judge them: by each event's own time, for each notification
sink the silence applies to whose ``match`` (and ``repeat_interval``, for reminders)
takes the event, the first silence holding it being the one that counts."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from watcher.config.settings import Config, SinkConfig
from watcher.core.silences import Hold, Silence
from watcher.infra.clock import wall
from watcher.runtime.silencing import Silencer, forget_ended, screen
from watcher.sinks import sink_class
from watcher.state.store import Store

PAGE = 5000


async def held_counts(store: Store, config: Config) -> Counter[str]:
    """Events held back by each silence (its id) and window (its name)."""
    silencer = Silencer(store, config.silences, clock=wall)
    await silencer.refresh()
    sinks = [s for s in config.sinks if not sink_class(s.type).record]
    holds = {s.name: silencer.for_sink(s.name) for s in sinks}
    #: per sink, the incidents it was handed the start of (a resolution of one passes)
    told: dict[str, set[str]] = {s.name: set() for s in sinks}
    counts: Counter[str] = Counter()
    after = 0
    while entries := await store.read(after, PAGE):
        for e in entries:
            counts.update({label for s in sinks for label in _held(s, e, holds[s.name],
                                                                   told[s.name])})
        after = entries[-1].seq
    return counts


def _held(sink: SinkConfig, e: Any, holds: Sequence[Hold], told: set[str]) -> list[str]:
    """The silence that held ``e`` back from ``sink`` (none, or one), as its runner judges."""
    if not sink.match(e):
        forget_ended([e], told)
        return []
    return screen([e], holds, repeat=sink.repeat_interval, told=told)[1]


def show(config: Config, silences: Sequence[Silence], counts: Mapping[str, int] | None,
         now: float, *, every: bool, as_json: bool) -> None:
    """The rows; ``counts`` None: what each held back is unknown here (``held``: null)."""
    rows = [_window_row(w, counts, now) for w in config.silences]
    rows += [_silence_row(s, counts, now) for s in silences if every or s.ends > now]
    out = sys.stdout
    if as_json:
        for row in rows:
            out.write(orjson.dumps(row).decode() + "\n")
        return
    if not rows:
        out.write("no active silences\n")
    for row in rows:
        out.write(_text(row))


def _window_row(w: Any, counts: Mapping[str, int] | None, now: float) -> dict[str, Any]:
    return {"id": w.name, "kind": "window", "state": w.times(now),
            "match": w.match, "sinks": list(w.sinks), "schedule": w.recurring and w.recurring.text,
            "timezone": w.timezone, "comment": w.comment or "",
            "held": None if counts is None else counts.get(w.name, 0)}


def _silence_row(s: Silence, counts: Mapping[str, int] | None, now: float) -> dict[str, Any]:
    state = ("expired" if s.expired is not None else "ended") if s.ends <= now else "active"
    return {"id": s.id, "kind": "silence", "state": state, "match": s.match,
            "sinks": list(s.sinks), "starts": _ts(s.starts), "ends": _ts(s.ends),
            "author": s.author, "comment": s.comment, "created": _ts(s.created),
            "expired": _ts(s.expired) if s.expired is not None else None,
            "held": None if counts is None else counts.get(s.id, 0)}


def match_text(match: Mapping[str, Sequence[str]]) -> str:
    return " ".join(f"{k}={'|'.join(v)}" for k, v in match.items())


def sinks_text(sinks: Sequence[str]) -> str:
    return ", ".join(sinks) or "every notification sink"


def _text(row: Mapping[str, Any]) -> str:
    if row["kind"] == "window":
        when = f'window "{row["schedule"] or "fixed"}" ({row["timezone"]}), {row["state"]}'
        by = row["comment"]
    else:
        until = "until" if row["state"] == "active" else f'{row["state"]},'
        when = f'{until} {_local(row["ends"])}'
        by = f'{row["author"]}: {row["comment"]}'
    held = "?" if row["held"] is None else row["held"]
    return (f'{row["id"]}  {when}  held back {held}\n    match  {match_text(row["match"])}\n'
            f'    sinks  {sinks_text(row["sinks"])}\n' + (f"    by     {by}\n" if by else ""))


def _ts(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _local(text: str) -> str:
    return datetime.fromisoformat(text).astimezone().isoformat(timespec="seconds")
