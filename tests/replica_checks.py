"""The invariants of several replicas (README: Running several replicas), checked on what
a :class:`Cluster` did."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from tests.replicas import Cluster, Holding
from watcher.model import JournalEntry

#: a replica may poll a lease a little before its "leases taken" line is written
EARLY = 1.0


def run_events(journal: Sequence[JournalEntry]) -> list[tuple[JournalEntry, dict[str, Any]]]:
    return [(e, orjson.loads(e.body)) for e in journal
            if e.type in ("watcher.run.created", "watcher.run.status_changed")]


def made(cluster: Cluster) -> dict[tuple[str, str], list[str]]:
    """``(source, run id) -> raw statuses`` the world went through, for each run a source
    sees (its vendor's; a Cortex source's workflow's)."""
    transitions, workflow_of = cluster.sim.call(lambda w: (
        [(t.vendor, t.run_id, t.status) for t in w.transitions],
        {rid: r.workflow.id for runs in w.runs.values() for rid, r in runs.items()}))
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for source in cluster.sources:
        for vendor, run_id, status in transitions:
            if vendor == source["provider"] and source.get("workflow_id") in (
                    None, workflow_of[run_id]):
                out[(source["name"], run_id)].append(status)
    return out


def journaled(journal: Sequence[JournalEntry]) -> dict[tuple[str, str], list[str]]:
    """``(source, run id) -> raw statuses`` journaled, in order."""
    seen: dict[tuple[str, str], list[str]] = defaultdict(list)
    for e, body in run_events(journal):
        seen[(e.source, str(e.run_id))].append(body["data"]["raw_status"])
    return seen


def check_journal_exactly_once(cluster: Cluster, journal: Sequence[JournalEntry]) -> int:
    """Every transition the simulator made is journaled once per source that sees the run:
    each run's raw statuses in the journal are exactly the world's, in order; no id twice.
    Returns the number of transitions checked."""
    twice = [e for e in journal if sum(1 for f in journal if f.id == e.id) > 1]
    assert not twice, f"events journaled twice: {twice}"
    seen = journaled(journal)
    want = made(cluster)
    for key, statuses in want.items():
        assert seen.get(key) == statuses, (
            f"{key}: journaled {seen.get(key)}, the world made {statuses}")
    assert set(seen) <= set(want), "an event for a run no source could see"
    return sum(len(s) for s in want.values())


def check_delivered_at_least_once(cluster: Cluster, journal: Sequence[JournalEntry]) -> int:
    """Every journaled event reached the webhook; a duplicate is the same event (same id,
    same body); each run's events arrived first in journal order.  Returns duplicates."""
    bodies = {e.id: orjson.loads(e.body) for e in journal}
    first: dict[str, int] = {}
    dupes = 0
    for i, (_, _, event) in enumerate(cluster.deliveries()):
        assert bodies.get(event["id"]) == event, f"delivered {event['id']}: not as journaled"
        if event["id"] in first:
            dupes += 1
        first.setdefault(event["id"], i)
    missing = set(bodies) - set(first)
    assert not missing, f"{len(missing)} journaled events never delivered"
    order: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    for e in journal:
        order[(e.source, e.run_id)].append(first[e.id])
    assert all(o == sorted(o) for o in order.values()), "a run's events arrived out of order"
    return dupes


def within(holdings: Iterable[Holding], lease: str, at: float) -> bool:
    return any(h.lease == lease and h.start - EARLY <= at and (h.end is None or at <= h.end)
               for h in holdings)


def check_one_at_a_time(cluster: Cluster) -> None:
    """Every request for a source and every webhook delivery came from a replica holding
    that lease at the time, and two replicas never take turns: one that acts again after
    another did has taken the lease again in between."""
    held = cluster.holdings()
    for source, polls in cluster.polls().items():
        _alone(held, f"source:{source}", polls)
    _alone(held, "sink:hook", [(at, replica) for at, replica, _ in cluster.deliveries()])


def _alone(held: dict[str, list[Holding]], lease: str, acts: list[tuple[float, str]]) -> None:
    last: dict[str, float] = {}
    previous: str | None = None
    for at, replica in acts:
        mine = [h for h in held.get(replica, []) if h.lease == lease]
        near = [(round(t - at, 3), r) for t, r in acts if abs(t - at) < 8]
        assert within(mine, lease, at), (
            f"{replica} acted on {lease} at {at:.3f} without holding it; it held {mine}; "
            f"acts near: {near}")
        if replica != previous and replica in last:
            assert any(last[replica] < h.start <= at + EARLY for h in mine), (
                f"{replica} acted on {lease} again at {at:.3f}, after another replica, "
                f"without taking it again; it held {mine}; acts near: {near}")
        last[replica], previous = at, replica


def check_local_stream(cluster: Cluster, journal: Sequence[JournalEntry], name: str) -> None:
    """A local sink (stdout) printed the whole cluster's stream on replica ``name``, across
    its restarts under that name (each resumes its cursor ``out@<name>``)."""
    printed = {orjson.loads(line)["id"] for proc in cluster.replicas[name].procs
               for line in proc.stdout}
    missing = {e.id for e in journal} - printed
    assert not missing, f"{name} never printed {len(missing)} of {len(journal)} events"


def failover(cluster: Cluster, victim: str, at: float, *, within: float = 30.0) -> float:
    """Seconds from ``at`` (the victim's death or pause) until every source it was polling
    was polled by another replica (the worst source); waits for that up to ``within``."""
    deadline = time.monotonic() + within
    while True:
        worst, waiting = 0.0, False
        for polls in cluster.polls().values():
            before = [r for t, r in polls if t <= at]
            if not before or before[-1] != victim:
                continue
            after = [t for t, r in polls if t > at and r != victim]
            if after:
                worst = max(worst, after[0] - at)
            else:
                waiting = True
        if not waiting:
            return worst
        assert time.monotonic() < deadline, "a source of the replica was never polled again"
        time.sleep(0.2)
