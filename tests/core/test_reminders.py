"""Reminder episodes: opened by a failing source or a stuck run, reminded of every
interval after the opening event, closed at recovery or when the run moves; the same
reminder always gets the same id."""

from __future__ import annotations

from watcher.core.events import (
    RUN_STATUS_CHANGED,
    RUN_STUCK,
    SOURCE_FAILING,
    SOURCE_RECOVERED,
    run_event,
    source_event,
)
from watcher.core.reminders import Episode, due, next_due, reminder, sent, take
from watcher.model import Event, JournalEntry, Status
from watcher.state.journal import entry_of

HOUR = 3600.0
T0 = 1_800_000_000.0


def journaled(event: Event, seq: int = 1) -> JournalEntry:
    e = entry_of(event)
    e.seq = seq
    return e


def failing(at: float = T0) -> JournalEntry:
    return journaled(source_event(SOURCE_FAILING, source="src", provider="extend", now=at,
                                  since=at - 30, data={"error": "401", "kind": "auth"}))


def stuck(run: str = "r1", at: float = T0, type_: str = RUN_STUCK) -> JournalEntry:
    return journaled(run_event(type_, source="src", provider="extend", run_id=run,
                               status=Status.RUNNING, raw_status="PROCESSING", previous=None,
                               details=None, now=at, id_key=at,
                               extra={"stuck_for_s": 600} if type_ == RUN_STUCK else None))


def test_a_reminder_is_due_each_interval_after_the_opening_event() -> None:
    """Nothing before one interval; the first at 1h, the second at 2h; once made, not due
    again."""
    eps: dict[str, Episode] = {}
    take(eps, failing())
    [ep] = eps.values()
    assert due(ep, [HOUR], T0 + HOUR - 1) == []
    assert due(ep, [HOUR], T0 + HOUR) == [(HOUR, 1)]
    ep = sent(ep, [(HOUR, 1)])
    assert due(ep, [HOUR], T0 + HOUR + 5) == []
    assert next_due(ep, [HOUR]) == T0 + 2 * HOUR
    assert due(ep, [HOUR], T0 + 2 * HOUR) == [(HOUR, 2)]


def test_after_a_long_pause_only_the_latest_reminder_is_made() -> None:
    """Five intervals later there is one reminder (the fifth), not a burst of five."""
    eps: dict[str, Episode] = {}
    take(eps, failing())
    assert due(eps["source\x1fsrc"], [HOUR], T0 + 5.5 * HOUR) == [(HOUR, 5)]


def test_each_interval_has_its_own_stream() -> None:
    """Sinks reminded every 1h and every 4h: at 4h both streams are due."""
    eps: dict[str, Episode] = {}
    take(eps, failing())
    ep = sent(eps["source\x1fsrc"], [(HOUR, 3)])
    assert due(ep, [HOUR, 4 * HOUR], T0 + 4 * HOUR) == [(HOUR, 4), (4 * HOUR, 1)]


def test_recovery_and_a_moving_run_close_their_episodes_only() -> None:
    """source.recovered closes the source's episode; a status change of r1 closes r1's,
    not r2's."""
    eps: dict[str, Episode] = {}
    for e in (failing(), stuck("r1"), stuck("r2")):
        take(eps, e)
    recovered = journaled(source_event(SOURCE_RECOVERED, source="src", provider="extend",
                                       now=T0 + 60, since=T0 - 30, data={}))
    assert take(eps, recovered) == "source\x1fsrc"
    assert take(eps, stuck("r1", T0 + 60, RUN_STATUS_CHANGED)) == "run\x1fsrc\x1fr1"
    assert list(eps) == ["run\x1fsrc\x1fr2"]


def test_taking_the_same_opening_twice_keeps_what_was_reminded() -> None:
    """Re-reading the failing event (a restart from an older cursor) neither resets the
    episode nor counts as a change."""
    eps: dict[str, Episode] = {}
    e = failing()
    take(eps, e)
    eps["source\x1fsrc"] = sent(eps["source\x1fsrc"], [(HOUR, 2)])
    assert take(eps, e) is None
    assert eps["source\x1fsrc"].sent == {"3600": 2}


def test_a_reminder_carries_the_opening_events_data_and_a_stable_id() -> None:
    """The run reminder keeps the run's fields, says which reminder it is and for how long
    the run has been stuck; made twice, it has the same id; the next has another."""
    eps: dict[str, Episode] = {}
    take(eps, stuck("r1"))
    ep = eps["run\x1fsrc\x1fr1"]
    a, b = reminder(ep, HOUR, 1, T0 + HOUR), reminder(ep, HOUR, 1, T0 + HOUR + 7)
    assert a.id == b.id != reminder(ep, HOUR, 2, T0 + 2 * HOUR).id
    assert a.type == "watcher.run.reminder" and a.subject == "r1" and a.source == "src"
    d = a.data
    assert (d["run_id"], d["status"], d["reminds"], d["reminder"]) == (
        "r1", "running", RUN_STUCK, 1)
    assert (d["repeat_interval_s"], d["open_for_s"], d["stuck_for_s"]) == (HOUR, 3600, 4200)
    assert d["episode_id"] == ep.event["id"]
