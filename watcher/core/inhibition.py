"""Inhibition: while an episode is open, the events it explains are held back from the
notification sinks an ``[[inhibit]]`` rule names.

An *episode* is a ``workflow.degraded`` not yet followed by its
``workflow.recovered``, or a ``source.failing`` not yet followed by its
``source.recovered`` (their incident key, :mod:`watcher.core.incidents`).  Whether
an event is held is a function of the journal alone: an event at position ``n`` is
held when, among the entries before ``n``, an episode that matches a rule's
``source`` opened and has not ended, the event matches the rule's ``target``, and
the two carry the same value of every ``equal`` field (a field either lacks holds
nothing: Alertmanager's trap of two empty labels being "equal" is not ours).  The
episode's own events, and the end of something the sink was already told the start
of, are never held.  Every reader of the journal (each sink runner, the rule engine
counting what its episodes held) folds the same entries in the same order and so
decides the same, on any replica, after any restart.

Pure: the fold and the judgement; the runtime keeps, per sink, the open episodes
with its cursor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import orjson

from watcher.core.events import (
    EVENT_TYPES,
    SOURCE_FAILING,
    SOURCE_RECOVERED,
    WORKFLOW_DEGRADED,
    WORKFLOW_RECOVERED,
)
from watcher.core.incidents import RESOLVES, incident_of
from watcher.core.matching import Match
from watcher.model import JournalEntry

#: the fields ``equal`` may name: an event's routing fields
EQUAL_FIELDS = ("source", "workflow_id", "workflow_name", "run_id")
#: which of them each event type carries (a source's health events name no workflow;
#: a workflow's episode names no run)
CARRIES: Mapping[str, tuple[str, ...]] = {
    t: ("source",) if t.startswith("watcher.source.") else
    ("source", "workflow_id", "workflow_name") if t.startswith("watcher.workflow.") else
    EQUAL_FIELDS for t in EVENT_TYPES}
#: an episode's opening type -> the type that ends it
EPISODES = {WORKFLOW_DEGRADED: WORKFLOW_RECOVERED, SOURCE_FAILING: SOURCE_RECOVERED}
_ENDINGS = frozenset(EPISODES.values())
#: how many run ids an episode's tally keeps as samples
SAMPLE_RUNS = 5


@dataclass(frozen=True)
class InhibitRule:
    """One ``[[inhibit]]`` table, checked."""

    name: str
    source: Match
    target: Match
    equal: tuple[str, ...] = ()
    #: the sinks it holds events back from; empty: every notification sink
    sinks: tuple[str, ...] = ()

    def applies_to(self, sink: str) -> bool:
        return not self.sinks or sink in self.sinks


class Opened:
    """An open episode as a reader keeps it: the routing fields of the event that opened
    it (what a rule's ``source`` and ``equal`` read), and what it held so far."""

    __slots__ = ("held", "run_id", "runs", "source", "status", "time", "type",
                 "workflow_id", "workflow_name")

    def __init__(self, type: str, source: str, workflow_id: str | None,
                 workflow_name: str | None, time: float, *, held: dict[str, int] | None = None,
                 runs: list[str] | None = None) -> None:
        self.type, self.source, self.time = type, source, time
        self.workflow_id, self.workflow_name = workflow_id, workflow_name
        self.status: str | None = None
        self.run_id: str | None = None
        #: events held back while it is open, per rule
        self.held: dict[str, int] = held if held is not None else {}
        #: a few of their run ids (first come)
        self.runs: list[str] = runs if runs is not None else []

    @classmethod
    def of(cls, e: JournalEntry) -> Opened:
        return cls(e.type, e.source, e.workflow_id, e.workflow_name, e.time)

    def copy(self) -> Opened:
        return Opened(self.type, self.source, self.workflow_id, self.workflow_name,
                      self.time, held=dict(self.held), runs=list(self.runs))

    def tally(self, rule: str, run_id: str | None) -> None:
        self.held[rule] = self.held.get(rule, 0) + 1
        if run_id and len(self.runs) < SAMPLE_RUNS and run_id not in self.runs:
            self.runs.append(run_id)

    def to_bytes(self) -> bytes:
        return orjson.dumps({"type": self.type, "source": self.source, "time": self.time,
                             "workflow_id": self.workflow_id,
                             "workflow_name": self.workflow_name, "held": self.held,
                             "runs": self.runs})

    @classmethod
    def from_bytes(cls, raw: bytes) -> Opened:
        """ValueError (or KeyError, TypeError) for a damaged record."""
        d: dict[str, Any] = orjson.loads(raw)
        return cls(str(d["type"]), str(d["source"]), d.get("workflow_id"),
                   d.get("workflow_name"), float(d["time"]),
                   held={str(k): int(v) for k, v in dict(d.get("held") or {}).items()},
                   runs=[str(r) for r in d.get("runs") or []])


def episode_key(e: JournalEntry) -> str | None:
    """The key of the episode ``e`` opens or ends, or ``None``."""
    if e.type in EPISODES or e.type in _ENDINGS:
        incident = incident_of(e)
        return incident[1] if incident is not None else None
    return None


def follow(episodes: dict[str, Opened], e: JournalEntry) -> bool:
    """Take ``e`` into the open episodes (an opening seen again keeps the first); whether
    they changed."""
    key = episode_key(e)
    if key is None:
        return False
    if e.type in EPISODES:
        if key in episodes:
            return False
        episodes[key] = Opened.of(e)
        return True
    return episodes.pop(key, None) is not None


class Index:
    """The open episodes as each rule looks them up: those that match its ``source``, by
    their values of its ``equal`` fields (all present: two missing values are not equal),
    so judging an event is a dict lookup per rule however many episodes are open.  Built
    again whenever an episode opens or ends, which is rare."""

    __slots__ = ("_by_rule", "empty")

    def __init__(self, episodes: Mapping[str, Opened], rules: Sequence[InhibitRule]) -> None:
        self._by_rule: list[tuple[InhibitRule, Callable[[Any], Any], dict[Any, list[str]]]] = []
        for rule in rules:
            values_of = _values_of(rule.equal)
            table: dict[Any, list[str]] = {}
            for key, ep in episodes.items():
                values = values_of(ep)
                if _present(values, rule.equal) and rule.source(ep):
                    table.setdefault(values, []).append(key)
            if table:
                for keys in table.values():
                    keys.sort()  # the same episode credited, in whatever order they were read
                self._by_rule.append((rule, values_of, table))
        #: no rule has an open episode: nothing can be held
        self.empty = not self._by_rule

    def find(self, e: JournalEntry) -> tuple[InhibitRule, str] | None:
        """The first rule, and the key of the open episode, that hold ``e`` back; ``None``
        (an episode never holds its own events)."""
        own: str | None = None
        for rule, values_of, table in self._by_rule:
            # the lookup first: a miss (another workflow) is the common case, and cheaper
            keys = table.get(values_of(e))
            if not keys or not rule.target(e):
                continue
            if own is None:
                own = episode_key(e) or ""
            for key in keys:
                if key != own:
                    return rule, key
        return None


def _values_of(fields: tuple[str, ...]) -> Callable[[Any], Any]:
    """An event's values of ``fields``, as one hashable (every field is an attribute of an
    entry and of :class:`Opened`)."""
    return attrgetter(*fields) if fields else lambda _e: ()


def _present(values: Any, fields: tuple[str, ...]) -> bool:
    return bool(values) if len(fields) == 1 else all(values)


def judge(entries: Iterable[JournalEntry], wanted: Iterable[int],
          episodes: dict[str, Opened], rules: Sequence[InhibitRule]
          ) -> dict[int, tuple[str, str]]:
    """Fold ``entries`` (a batch, in journal order) into ``episodes``; of the entries whose
    seq is in ``wanted``, those an open episode holds back: seq -> (rule, episode key)."""
    out: dict[int, tuple[str, str]] = {}
    want = set(wanted) if rules else set()
    index = Index(episodes, rules)
    for e in entries:
        if not index.empty and e.seq in want:
            found = index.find(e)
            if found is not None:
                out[e.seq] = (found[0].name, found[1])
        if follow(episodes, e) and rules:
            index = Index(episodes, rules)
    return out


def exempt(e: JournalEntry, incident: tuple[str, str] | None, told: set[str]) -> bool:
    """A resolution no inhibition holds back: of an incident the sink was handed the start
    of, or a run's success (a failure is final, so which ones a sink got is not kept: its
    success may be the resolve of a page sent before the episode opened)."""
    if incident is None or incident[0] != RESOLVES:
        return False
    return incident[1] in told or incident[1].startswith("run\x1f")


def tally(entries: Iterable[JournalEntry], episodes: dict[str, Opened],
          rules: Sequence[InhibitRule]) -> None:
    """The rule engine's count of what each open episode holds back from some sink: the
    targets of a rule while it is open, but a run's success (never held), whatever the
    sinks (their ``match``, what each was told) make of them."""
    index = Index(episodes, rules)
    for e in entries:
        if not index.empty:
            found = index.find(e)
            if found is not None and not exempt(e, incident_of(e), set()):
                episodes[found[1]].tally(found[0].name, e.run_id)
        if follow(episodes, e) and rules:
            index = Index(episodes, rules)


def summary(ep: Opened | None) -> dict[str, Any]:
    """``data.inhibited`` of an episode's recovery: how many events it held, some run ids."""
    if ep is None:
        return {"count": 0, "runs": []}
    return {"count": sum(ep.held.values()), "runs": list(ep.runs)}
