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

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Any, ClassVar

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


@dataclass(eq=False)
class Opened:
    """An open episode as a reader keeps it: the routing fields of the event that opened
    it (what a rule's ``source`` and ``equal`` read), and what it held so far."""

    type: str
    source: str
    time: float
    workflow_id: str | None
    workflow_name: str | None
    #: events held back while it is open, per rule
    held: dict[str, int] = field(default_factory=dict)
    #: a few of their run ids (first come)
    runs: list[str] = field(default_factory=list)
    #: routing fields an episode has none of (a rule's ``source`` may ask)
    status: ClassVar[None] = None
    run_id: ClassVar[None] = None

    @classmethod
    def of(cls, e: JournalEntry) -> Opened:
        return cls(e.type, e.source, e.time, e.workflow_id, e.workflow_name)

    def copy(self) -> Opened:
        return replace(self, held=dict(self.held), runs=list(self.runs))

    def tally(self, rule: str, run_id: str | None) -> None:
        self.held[rule] = self.held.get(rule, 0) + 1
        if run_id and len(self.runs) < SAMPLE_RUNS and run_id not in self.runs:
            self.runs.append(run_id)

    def to_bytes(self) -> bytes:
        return orjson.dumps(self)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Opened:
        """ValueError (or KeyError, TypeError) for a damaged record."""
        d: dict[str, Any] = orjson.loads(raw)
        return cls(str(d["type"]), str(d["source"]), float(d["time"]), d.get("workflow_id"),
                   d.get("workflow_name"),
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
            # sorted: the same episode credited, in whatever order they were read
            for key, ep in sorted(episodes.items()):
                values = values_of(ep)
                if _present(values, rule.equal) and rule.source(ep):
                    table.setdefault(values, []).append(key)
            if table:
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


def _held(entries: Iterable[JournalEntry], episodes: dict[str, Opened],
          rules: Sequence[InhibitRule], wanted: Callable[[JournalEntry], bool]
          ) -> Iterator[tuple[JournalEntry, tuple[InhibitRule, str]]]:
    """Fold ``entries`` (in journal order) into ``episodes``; each one ``wanted`` that an
    open episode holds back, with the rule and the episode's key, before it is folded in."""
    index = Index(episodes, rules)
    for e in entries:
        if not index.empty and wanted(e) and (found := index.find(e)) is not None:
            yield e, found
        if follow(episodes, e) and rules:
            index = Index(episodes, rules)


def judge(entries: Iterable[JournalEntry], wanted: Iterable[int],
          episodes: dict[str, Opened], rules: Sequence[InhibitRule]
          ) -> dict[int, tuple[str, str]]:
    """Fold ``entries`` (a batch, in journal order) into ``episodes``; of the entries whose
    seq is in ``wanted``, those an open episode holds back: seq -> (rule, episode key)."""
    want = set(wanted) if rules else set()
    return {e.seq: (rule.name, key)
            for e, (rule, key) in _held(entries, episodes, rules, lambda e: e.seq in want)}


def exempt(incident: tuple[str, str] | None, told: set[str]) -> bool:
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
    for e, (rule, key) in _held(entries, episodes, rules, lambda e: True):
        if not exempt(incident_of(e), set()):
            episodes[key].tally(rule.name, e.run_id)


def summary(ep: Opened | None) -> dict[str, Any]:
    """``data.inhibited`` of an episode's recovery: how many events it held, some run ids."""
    if ep is None:
        return {"count": 0, "runs": []}
    return {"count": sum(ep.held.values()), "runs": list(ep.runs)}
