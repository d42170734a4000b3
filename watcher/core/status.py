"""What the daemon tells the outside about itself: plain counters and a status snapshot.

Pollers and sink runners keep plain counters (:class:`PollStats`,
:class:`DeliveryStats`) that cost nothing on the hot path.  When someone
asks (a Prometheus scrape, ``/readyz``, the ``STATUS=`` line), the runtime
hands over a :class:`DaemonStatus`: a snapshot made of these counters and a
few flags, which the HTTP server reads without knowing the daemon.  That is
what keeps imports one way (server never imports runtime).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from watcher.core.heartbeat import HeartbeatStatus
from watcher.core.histogram import Histogram
from watcher.core.push import PushStats
from watcher.model import Status

#: upper bounds (seconds) of the poll duration histogram
POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: upper bounds (seconds) of the histogram of round trips to a database server
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


@dataclass(slots=True, eq=False)
class PollStats:
    """A source's poll counters."""

    polls: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    last_success: float | None = None
    last_error: str | None = None
    duration: Histogram = field(default_factory=lambda: Histogram(POLL_BUCKETS))
    #: cycles whose commit to the state store failed (a full disk, an I/O error)
    store_failures: int = 0
    #: ``waiting`` (no poll yet), ``ok``, ``retrying`` or ``failing``, and since when
    health: str = "waiting"
    health_since: float = field(kw_only=True)
    #: wall time the next poll is due
    next_poll: float | None = None
    #: the first sync while it runs (the baseline poll of a new source), else None
    sync: SyncProgress | None = None

    def note_health(self, failures: int, threshold: int, now: float) -> None:
        """Remember the source's health after a poll (:func:`source_health`, or ``waiting`` for
        the first success), and when it last changed."""
        health = source_health(failures, threshold)
        if health == "ok" and self.last_success is None:
            health = "waiting"
        if health != self.health:
            self.health, self.health_since = health, now


def source_health(failures: int, threshold: int) -> str:
    """``failing`` after ``threshold`` failed polls in a row (``watcher.source.failing``
    holds), ``retrying`` after fewer, else ``ok``."""
    if failures >= threshold:
        return "failing"
    return "retrying" if failures else "ok"


@dataclass(slots=True, eq=False)
class SyncProgress:
    """How far a first sync (a new source's baseline poll) has got: pages read, runs seen."""

    #: wall time the sync began, and monotonic time (for its rate)
    started_at: float
    started: float
    #: the provider's (requests, items observed) counters when the sync began
    base: tuple[int, int] = (0, 0)
    pages: int = 0
    runs: int = 0
    #: runs read per second so far
    per_s: float = 0.0

    def update(self, requests: int, observed: int, monotonic: float) -> None:
        """Progress from the provider's counters, now."""
        self.pages = requests - self.base[0]
        self.runs = observed - self.base[1]
        elapsed = monotonic - self.started
        self.per_s = self.runs / elapsed if elapsed > 0 else 0.0


@dataclass(slots=True, eq=False)
class LeaseStats:
    """A replica's lease counters, by kind of lease (``source``, ``sink``)."""

    #: leases taken over from a replica that stopped renewing them
    takeovers: Counter[str] = field(default_factory=Counter)
    #: commits and cursor moves the store refused: the lease had moved on
    fenced: Counter[str] = field(default_factory=Counter)
    #: upkeep rounds that could not renew (the database away or too slow)
    renew_failures: int = 0


@dataclass(slots=True, eq=False)
class DeliveryStats:
    """A sink's delivery counters."""

    delivered: int = 0
    retries: int = 0
    dead: int = 0
    failures: int = 0
    #: wall time of the last batch the sink took (delivered or given up)
    last_delivery: float | None = None
    #: events held back, per silence (its id) or maintenance window (its name)
    silenced: Counter[str] = field(default_factory=Counter)
    #: events held back, per ``[[inhibit]]`` rule
    inhibited: Counter[str] = field(default_factory=Counter)


class BusStats(Histogram):
    """What an event-bus sink adds to its runner's counters: whether it is connected, how
    long a batch takes from its first publish to its last acknowledgement (the
    histogram), and how many events the bus dropped as already held (a re-delivery)."""

    __slots__ = ("connected", "duplicates")

    BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

    def __init__(self) -> None:
        super().__init__(self.BUCKETS)
        self.connected = False
        self.duplicates = 0


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """One source as the outside sees it."""

    name: str
    provider: str
    interval: float
    failure_threshold: int
    stats: PollStats
    #: failed polls in a row
    failures: int
    #: the source's last cycle could not be saved to the state store
    store_failing: bool
    #: runs held, by canonical status
    runs: Mapping[Status, int]
    #: vendor items skipped as unusable, by reason
    skipped: Mapping[str, int] = field(default_factory=dict)
    internal_errors: int = 0
    #: live (non-terminal) runs, and those of them reported stuck
    live: int = 0
    stuck: int = 0
    #: the replica polling this source (this process, with one replica)
    owner: str | None = None
    #: its push counters when it takes pushes (``push_secret``), else None
    push: PushStats | None = None
    #: verified pushes arrive: it polls every ``push_interval``
    push_live: bool = False

    @property
    def failing(self) -> bool:
        return source_health(self.failures, self.failure_threshold) == "failing"


@dataclass(frozen=True, slots=True)
class SinkStatus:
    """One sink as the outside sees it."""

    name: str
    type: str
    stats: DeliveryStats
    #: journaled events the sink has not acknowledged yet
    backlog: int
    #: a delivery attempt failed and none succeeded since
    failing: bool
    internal_errors: int = 0
    #: while failing: why the last attempt failed, and since when (wall time)
    last_error: str | None = None
    failing_since: float | None = None
    #: an event-bus sink's connection and publish timings (None: not a bus sink)
    bus: BusStats | None = None
    #: a complete record of the journal (stdout, file, buses): never silenced
    record: bool = False
    #: seconds between reminders while a source fails / a run is stuck (None: none)
    repeat_interval: float | None = None


@dataclass(frozen=True, slots=True)
class SilenceStatus:
    """A silence or maintenance window holding events back now."""

    #: a silence's id, a window's name
    label: str
    #: ``silence`` (command line) or ``window`` (``[[silences]]`` in the config)
    kind: str
    #: key -> patterns
    match: Mapping[str, Sequence[str]]
    #: the sinks it holds events back from (empty: every notification sink)
    sinks: Sequence[str]
    #: this opening (a window's current one), epoch seconds
    starts: float
    ends: float
    author: str = ""
    comment: str = ""


@dataclass(frozen=True, slots=True)
class InhibitionStatus:
    """An ``[[inhibit]]`` rule holding events back now: the open episode it holds for."""

    rule: str
    #: the episode: its type, source, workflow (None: a source's) and when it opened
    episode: str
    source: str
    workflow: str | None
    since: float
    #: events held back so far while it is open, per sink
    held: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class ReplicaInfo:
    """One watcher process sharing the state (just this one with SQLite)."""

    id: str
    started_at: float
    version: str


@dataclass(frozen=True, slots=True)
class ConfigInfo:
    """The running config: a hash of it, and how the last reload went."""

    hash: str
    #: whether the last load (at start, or SIGHUP) was taken, and when
    last_reload_ok: bool
    last_reload_at: float


@dataclass(frozen=True, slots=True)
class DaemonStatus:
    """A snapshot of the whole daemon, taken when someone asks."""

    now: float
    started_at: float
    stopping: bool
    #: why writes to the state store fail, or None
    store_failing: str | None
    journal_head: int
    #: events journaled by this process, per type
    events: Mapping[str, int]
    sources: Sequence[SourceStatus]
    sinks: Sequence[SinkStatus]
    replica: ReplicaInfo
    config: ConfigInfo
    #: internal errors of the daemon's own tasks (http, signals, ...), by task
    chores: Mapping[str, int] = field(default_factory=dict)
    #: failed runs per workflow, per hour of the last 24 (oldest first)
    failures: Mapping[str, Sequence[int]] = field(default_factory=dict)
    #: silences and maintenance windows holding events back now
    silences: Sequence[SilenceStatus] = ()
    #: inhibitions holding events back now, with what they held
    inhibitions: Sequence[InhibitionStatus] = ()
    #: leases held now, by kind, and the lease counters (None: no replicas)
    leases_held: Mapping[str, int] | None = None
    lease_stats: LeaseStats | None = None
    #: round trips to the database server (None: a file)
    db: Histogram | None = None
    #: why this replica counts its database unreachable (no heartbeat within lease_ttl),
    #: or None: it answers, or the state is a file
    store_unreachable: str | None = None
    #: the outside monitors pinged while the daemon is well
    heartbeats: Sequence[HeartbeatStatus] = ()
    #: push counters of the sources that take pushes, as this replica received them
    push: Mapping[str, PushStats] = field(default_factory=dict)

    def line(self) -> str:
        """systemd's ``STATUS=``: ``3/4 sources ok, 1 retrying; ...``; failing means what
        ``watcher.source.failing`` means."""
        n = len(self.sources)
        health = Counter(source_health(s.failures, s.failure_threshold) for s in self.sources)
        failing, retrying = health["failing"], health["retrying"]
        sent = sum(k.stats.delivered for k in self.sinks)
        runs = sum(sum(src.runs.values()) for src in self.sources)
        return (f"{n - failing - retrying}/{n} sources ok"
                + (f", {retrying} retrying" if retrying else "")
                + (f", {failing} failing" if failing else "")
                + f"; {runs} runs tracked; {sent} events delivered"
                + (f"; state store writes failing: {self.store_failing}"
                   if self.store_failing else ""))
