"""The few shared types every stage speaks: canonical statuses, run state, events.

Hot-path note: a provider turns each vendor item into an *observation*, a
plain tuple ``(run_id, raw_status, status, version, item)``.  Tuples cost a
fraction of an object with attributes, and on a poll where nothing changed
they are all the diff ever looks at; the richer :class:`RunDetails` is built
only for runs that produce an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from operator import itemgetter
from typing import Any, ClassVar, TypeAlias


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PAUSED = "paused"
    NEEDS_REVIEW = "needs_review"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"


#: the longest run id kept: a longer "id" is no run (a hostile or broken vendor)
MAX_RUN_ID = 256

TERMINAL: frozenset[Status] = frozenset(
    {Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.REJECTED, Status.SKIPPED}
)
#: the terminal statuses that are a failure (a rule counts some or all of them as failed)
FAILURE_STATUSES = ("failed", "rejected", "cancelled")

#: ``(run_id, raw_status, status, version, item)``: one vendor item as the diff sees it.
#: ``version`` is the vendor's last-update stamp (``updatedAt``) or ``None`` when the
#: vendor has none; ``item`` is the parsed vendor object, described only on change.
Observation: TypeAlias = tuple[str, str, Status, "str | None", Any]


class SkipItem(Exception):
    """Raised by a provider's ``describe`` (or ``changed_at``) for an item that is no
    usable run after all: the diff skips it, and the run's state does not move.
    The provider has logged and counted it."""


@dataclass(slots=True, kw_only=True, eq=False)
class RunDetails:
    """What an event says about a run beyond its status, built only on change."""

    #: vendor time of the last change (epoch seconds), when the vendor gives one
    changed_at: float | None = None
    created_at: str | None = None
    error: str | None = None
    run: dict[str, Any] | None = None
    updated_at: str | None = None
    url: str | None = None
    workflow_id: str | None = None
    workflow_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunDetails:
        return cls(**{k: d.get(k) for k in cls.__slots__})


@dataclass(slots=True, eq=False, repr=False)
class RunState:
    """The last known state of one run; one per tracked run, so kept small.

    ``since`` is when the run entered ``status`` (vendor time when known, else
    when first observed); ``detail`` is kept only while the run is live, so
    stuck events can describe a run the current poll did not return.
    """

    status: Status
    raw_status: str
    version: str | None
    since: float
    stuck: bool = False
    detail: RunDetails | None = None

    def __repr__(self) -> str:
        return (f"RunState({self.status.value!r}, {self.raw_status!r}, {self.version!r}, "
                f"since={self.since}, stuck={self.stuck})")


class Settled(tuple[Status, str, float]):
    """The state of a run in a terminal status, which keeps nothing else: a bare
    ``(status, raw_status, since)`` tuple.

    Most tracked runs are finished, and a finished run never changes again, so it
    needs no version stamp, stuck flag or details.  As a tuple it costs 64 bytes
    instead of a :class:`RunState`'s 80 and is made in two thirds of the time (a
    first sync makes a hundred thousand); it reads like a :class:`RunState`.
    """

    __slots__ = ()
    status: Status = property(itemgetter(0))  # type: ignore[assignment]
    raw_status: str = property(itemgetter(1))  # type: ignore[assignment]
    since: float = property(itemgetter(2))  # type: ignore[assignment]
    version: ClassVar[None] = None
    stuck: ClassVar[bool] = False
    detail: ClassVar[None] = None

    def __repr__(self) -> str:
        return f"Settled({self[0].value!r}, {self[1]!r}, since={self[2]})"


#: what a source keeps per tracked run: a finished run's :class:`Settled`, else a
#: :class:`RunState`
Tracked: TypeAlias = RunState | Settled


@dataclass(slots=True, kw_only=True, eq=False, repr=False)
class Event:
    """One event, before it is given a journal sequence number."""

    id: str
    type: str
    source: str
    subject: str
    time: float
    data: dict[str, Any]

    def __repr__(self) -> str:
        return f"Event({self.type}, {self.subject}, {self.data.get('status')!r})"


@dataclass(slots=True, eq=False, repr=False)
class JournalEntry:
    """One journaled event: its sequence number, routing fields and JSON body."""

    seq: int
    id: str
    time: float
    type: str
    source: str
    run_id: str | None
    status: str | None
    workflow_id: str | None
    workflow_name: str | None
    body: bytes

    def row(self) -> tuple[Any, ...]:
        return (self.seq, self.id, self.time, self.type, self.source, self.run_id, self.status,
                self.workflow_id, self.workflow_name, self.body)

    def __repr__(self) -> str:
        return f"JournalEntry({self.seq}, {self.type}, {self.run_id}, {self.status})"
