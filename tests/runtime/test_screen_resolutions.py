"""What a silence lets through to a notification sink: the end of an incident the sink was
handed the start of (a workflow's episode, a stuck run), nothing it was not told of, and
what a batch's events outside the sink's ``match`` ended is forgotten."""

from __future__ import annotations

from typing import Any

from watcher.core.events import RUN_STATUS_CHANGED, RUN_STUCK, WORKFLOW_DEGRADED, WORKFLOW_RECOVERED
from watcher.core.incidents import ENDS, OPENS, RESOLVES, incident_of
from watcher.core.matching import Match
from watcher.core.silences import Hold
from watcher.model import Event, JournalEntry
from watcher.runtime.silencing import screen
from watcher.runtime.told import Told
from watcher.state.journal import entry_of

#: a silence on everything, in force whenever asked
EVERYTHING = (Hold("maint", Match(), (), lambda _at: True),)


def entry(seq: int, type_: str, subject: str, **data: Any) -> JournalEntry:
    e = entry_of(Event(id=f"e{seq}", type=type_, source="src", subject=subject,
                       time=1000.0 + seq, data={"source": "src", **data}))
    e.seq = seq
    return e


def episode(seq: int, type_: str, rule: str = "fail-rate") -> JournalEntry:
    return entry(seq, type_, "wf-1", rule=rule, workflow_id="wf-1")


def run(seq: int, type_: str, status: str) -> JournalEntry:
    return entry(seq, type_, "r1", run_id="r1", status=status)


def test_a_recovery_passes_a_silence_only_after_its_degraded_was_handed_over() -> None:
    """Degraded handed over, then a silence: its recovered passes and the episode is
    closed; degraded held from the start: its recovered is held too."""
    told: set[str] = set()
    out, held, _ = screen([episode(1, WORKFLOW_DEGRADED)], (), repeat=None,
                       told=told)
    assert [e.seq for e in out] == [1] and held == [] and len(told) == 1
    out, held, _ = screen([episode(2, WORKFLOW_RECOVERED)], EVERYTHING, repeat=None,
                       told=told)
    assert [e.seq for e in out] == [2] and held == [] and told == set()
    out, held, _ = screen([episode(3, WORKFLOW_DEGRADED), episode(4, WORKFLOW_RECOVERED)],
                       EVERYTHING, repeat=None, told=told)
    assert out == [] and held == ["maint", "maint"] and told == set()


def test_another_rules_episode_of_the_same_workflow_is_not_resolved_by_this_one() -> None:
    """The key names the rule: a recovered of rule B does not pass for rule A's alert."""
    told: set[str] = set()
    screen([episode(1, WORKFLOW_DEGRADED, rule="a")], (), repeat=None, told=told)
    out, held, _ = screen([episode(2, WORKFLOW_RECOVERED, rule="b")], EVERYTHING, repeat=None,
                       told=told)
    assert out == [] and held == ["maint"] and len(told) == 1


def test_a_stuck_run_that_finishes_is_resolved_and_one_that_fails_is_a_new_alert() -> None:
    """run.stuck opens; its run succeeding resolves through the silence; failing ends the
    incident but is itself a new alert, held."""
    assert incident_of(run(1, RUN_STUCK, "running"))[0] == OPENS  # type: ignore[index]
    assert incident_of(run(2, RUN_STATUS_CHANGED, "succeeded"))[0] == RESOLVES  # type: ignore[index]
    assert incident_of(run(2, RUN_STATUS_CHANGED, "failed"))[0] == ENDS  # type: ignore[index]
    assert incident_of(run(2, RUN_STATUS_CHANGED, "running")) is None
    told: set[str] = set()
    screen([run(1, RUN_STUCK, "running")], (), repeat=None, told=told)
    out, *_ = screen([run(2, RUN_STATUS_CHANGED, "succeeded")], EVERYTHING, repeat=None,
                    told=told)
    assert [e.seq for e in out] == [2] and told == set()
    screen([run(3, RUN_STUCK, "running")], (), repeat=None, told=told)
    out, held, _ = screen([run(4, RUN_STATUS_CHANGED, "failed")], EVERYTHING, repeat=None,
                       told=told)
    assert out == [] and held == ["maint"] and told == set()


def test_an_incident_ended_outside_the_sinks_match_is_forgotten_and_kept_as_records() -> None:
    """A draft drops what events the sink's match left out ended; settling it says which
    records to write and delete with the cursor."""
    told = Told(journal=None, consumer="pager")  # type: ignore[arg-type]
    draft = told.draft([run(1, RUN_STUCK, "running")], [run(1, RUN_STUCK, "running")])
    screen([run(1, RUN_STUCK, "running")], (), repeat=None, told=draft)
    [key] = draft
    assert told.settle(draft) == {("told/pager", key): b"1"}
    told.committed()  # the runner's cursor save went through
    ended = run(2, RUN_STATUS_CHANGED, "cancelled")
    draft = told.draft([ended], [])
    assert draft == set() and told.settle(draft) == {("told/pager", key): None}


def test_records_whose_cursor_save_failed_are_written_with_the_next_one() -> None:
    """A cursor save that failed leaves its records unwritten: the next settle writes them
    too, so what is stored catches up with what the sink was handed."""
    told = Told(journal=None, consumer="pager")  # type: ignore[arg-type]
    first = told.draft([run(1, RUN_STUCK, "running")], [run(1, RUN_STUCK, "running")])
    screen([run(1, RUN_STUCK, "running")], (), repeat=None, told=first)
    [key] = first
    assert told.settle(first) == {("told/pager", key): b"1"}  # and its save fails
    later = run(2, RUN_STATUS_CHANGED, "paused")  # the run still open
    second = told.draft([later], [later])
    screen([later], (), repeat=None, told=second)
    assert told.settle(second) == {("told/pager", key): b"1"}


def test_inhibition_holds_a_failure_but_never_a_run_s_success_or_a_told_recovery() -> None:
    """Of what an open episode would hold: a failure is held; a run's success passes (its
    failure may have paged before the episode); a recovery passes once the sink was handed
    its degraded, and is held when it was not."""
    told: set[str] = set()
    batch = [run(1, RUN_STATUS_CHANGED, "failed"), run(2, RUN_STATUS_CHANGED, "succeeded")]
    out, held, stopped = screen(batch, (), repeat=None, told=told,
                                inhibited={1, 2})
    assert ([e.seq for e in out], held, stopped) == ([2], [], [1])
    screen([episode(3, WORKFLOW_DEGRADED)], (), repeat=None, told=told)
    out, _, stopped = screen([episode(4, WORKFLOW_RECOVERED)], (), repeat=None,
                             told=told, inhibited={4})
    assert ([e.seq for e in out], stopped) == ([4], [])
    screen([episode(5, WORKFLOW_DEGRADED)], (), repeat=None, told=told,
           inhibited={5})
    out, _, stopped = screen([episode(6, WORKFLOW_RECOVERED)], (), repeat=None,
                             told=told, inhibited={6})
    assert (out, stopped) == ([], [6])
