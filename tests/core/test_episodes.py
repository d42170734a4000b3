"""Workflow health rules, evaluated purely: entries and instants in, episodes out."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.core.episodes import Decision, evaluate, next_deadline, retire
from watcher.core.events import (
    DATA_KEYS,
    RUN_CREATED,
    RUN_STATUS_CHANGED,
    RUN_STUCK,
    WORKFLOW_DEGRADED,
    WORKFLOW_RECOVERED,
    run_event,
)
from watcher.core.matching import Match
from watcher.core.rules import (
    FAILURE_RATE,
    NO_SUCCESS,
    STUCK_COUNT,
    Key,
    Rule,
    Track,
    load_tracks,
    record_key,
)
from watcher.core.timestamps import format_ts
from watcher.model import JournalEntry, RunDetails, Status
from watcher.state.journal import entry_of

T0 = 1_800_000_000.0
RATE = Rule("rate", FAILURE_RATE, 0.5, 0.4, window=600.0, min_finished=4)
QUIET = Rule("quiet", NO_SUCCESS, 3600.0, min_finished=2)
STUCK = Rule("stuck", STUCK_COUNT, 2, 1)


def run(status: str, at: float, run_id: str, *, source: str = "prod", wf: str | None = "wf1",
        name: str | None = "Invoices", type_: str = RUN_STATUS_CHANGED,
        error: str | None = None) -> JournalEntry:
    """A journal entry about one run, as the poller journals it."""
    details = RunDetails(workflow_id=wf, workflow_name=name, error=error,
                         url=f"https://vendor.example/runs/{run_id}")
    ev = run_event(type_, source=source, provider="extend", run_id=run_id,
                   status=Status(status), raw_status=status.upper(),
                   previous=(Status.RUNNING, "RUNNING"), details=details, now=at, id_key=at)
    return entry_of(ev)


def finishes(statuses: str, start: float = T0, every: float = 10.0, **kw: object
             ) -> list[JournalEntry]:
    """Runs (new ones each call) finishing ``every`` seconds apart: ``f`` failed, ``s`` succeeded."""
    word = {"f": "failed", "s": "succeeded", "r": "rejected", "c": "cancelled"}
    return [run(word[c], start + i * every, f"r{start - T0:g}.{i}", **kw)  # type: ignore[arg-type]
            for i, c in enumerate(statuses)]


class Book:
    """The tracks a caller keeps, and every event so far, decision after decision."""

    def __init__(self, *rules: Rule) -> None:
        self.rules = rules
        self.tracks: dict[Key, Track] = {}
        self.events: list[tuple[str, float, str]] = []

    def feed(self, entries: Sequence[JournalEntry] = (), now: float | None = None) -> Decision:
        d = evaluate(self.rules, self.tracks, entries, now=now)
        d.apply(self.tracks)
        self.events += [(e.type.removeprefix("watcher.workflow."), e.time, e.id)
                        for e in d.events]
        return d

    def kinds(self) -> list[str]:
        return [k for k, _, _ in self.events]


def test_a_failure_rate_above_the_threshold_degrades_once_min_finished_runs_finished() -> None:
    """Three failures of three say nothing below min_finished; the fourth opens one episode,
    and more failures keep it open without a second event."""
    b = Book(RATE)
    b.feed(finishes("fff"))
    assert b.events == []
    d = b.feed(finishes("ffff", start=T0 + 30))
    assert b.kinds() == ["degraded"]
    ev = d.events[0]
    assert ev.subject == "wf1" and ev.source == "prod" and ev.time == T0 + 30
    assert ev.data["rule"] == "rate" and ev.data["workflow_name"] == "Invoices"
    assert (ev.data["finished"], ev.data["failed"], ev.data["rate"]) == (4, 4, 1.0)


def test_a_rate_hovering_between_recover_below_and_the_threshold_does_not_flap() -> None:
    """Above 50% opens the episode; 45% keeps it open; only 40% or less ends it."""
    b = Book(RATE)
    b.feed(finishes("ffffs"))            # 4/5 failed: degraded
    b.feed(finishes("sss", start=T0 + 50))  # 4/8 = 50%: not above, not at 40% either
    b.feed(finishes("f", start=T0 + 80))    # 5/9 = 55%: still the same episode
    b.feed(finishes("ss", start=T0 + 90))   # 5/11 = 45%
    assert b.kinds() == ["degraded"]
    d = b.feed(finishes("ss", start=T0 + 110))  # 5/13 = 38%
    assert b.kinds() == ["degraded", "recovered"]
    assert d.events[0].time == T0 + 120 and d.events[0].data["rate"] == round(5 / 13, 4)


def test_the_window_slides_with_no_new_runs_and_recovers_when_the_failures_leave_it() -> None:
    """With nothing arriving, the episode ends at the instant the last failure leaves the
    window, whenever the caller asks."""
    b = Book(RATE)
    b.feed(finishes("ffff"))
    assert next_deadline(b.rules, b.tracks) == T0 + 600  # the oldest run leaves then
    b.feed(now=T0 + 620)
    assert b.kinds() == ["degraded"]  # three failures are still a rate of 100%
    d = b.feed(now=T0 + 5000)
    assert b.kinds() == ["degraded", "recovered"]
    assert d.events[0].time == T0 + 30 + 600
    assert b.tracks == {}  # nothing left to remember


def test_successes_leaving_the_window_can_degrade_a_workflow_on_their_own() -> None:
    """The rate rises when old successes slide out: degraded at that instant."""
    b = Book(RATE)
    b.feed(finishes("ssss") + finishes("fff", start=T0 + 300))
    assert b.events == []
    d = b.feed(now=T0 + 700)  # 3 of 6 at T0 + 600 is not above half; 3 of 5 is
    assert b.kinds() == ["degraded"] and d.events[0].time == T0 + 610
    assert (d.events[0].data["finished"], d.events[0].data["failed"]) == (5, 3)


def test_rejected_and_cancelled_count_as_failed_only_when_the_rule_says_so() -> None:
    """count_as_failed decides which terminal statuses are failures; all are finished."""
    strict = Book(RATE)
    strict.feed(finishes("rrcc"))
    assert strict.events == []
    loose = Book(Rule("rate", FAILURE_RATE, 0.5, 0.4, window=600.0, min_finished=4,
                      failed=frozenset({"failed", "rejected", "cancelled"})))
    loose.feed(finishes("rrcc"))
    assert loose.kinds() == ["degraded"]


def test_a_run_that_finishes_again_counts_once_as_it_ended_last() -> None:
    """A retried run that failed, then succeeded, is one success, not a failure too."""
    b = Book(RATE)
    b.feed([run("failed", T0, "a"), run("failed", T0 + 1, "b"), run("failed", T0 + 2, "c"),
            run("succeeded", T0 + 3, "a"), run("succeeded", T0 + 4, "d")])
    assert b.events == []  # 2 of 4, not above half
    track = next(iter(b.tracks.values()))
    assert [s["run_id"] for s in track.samples] == ["b", "c"]


def test_samples_carry_up_to_ten_recent_failed_runs_with_errors_and_links() -> None:
    """The degraded event names the newest ten failed runs, each with error and link."""
    b = Book(Rule("rate", FAILURE_RATE, 0.5, 0.4, window=600.0, min_finished=12))
    d = b.feed([run("failed", T0 + i, f"r{i}", error=f"boom {i}") for i in range(12)])
    samples = d.events[0].data["samples"]
    assert [s["run_id"] for s in samples] == [f"r{i}" for i in range(2, 12)]
    assert samples[-1]["error"] == "boom 11" and samples[-1]["status"] == "failed"
    assert samples[-1]["url"] == "https://vendor.example/runs/r11"
    assert samples[-1]["time"].startswith("2027-01-15T")


def test_no_success_for_degrades_when_the_period_runs_out_with_time_alone() -> None:
    """Failures keep finishing and none succeeds: degraded exactly an hour after the last
    success, asked later with no entry; the next success ends it."""
    b = Book(QUIET)
    b.feed([run("succeeded", T0, "ok"), *finishes("ff", start=T0 + 100)])
    assert next_deadline(b.rules, b.tracks) == T0 + 3600
    b.feed(now=T0 + 3599)
    assert b.events == []
    d = b.feed(now=T0 + 4000)
    assert b.kinds() == ["degraded"] and d.events[0].time == T0 + 3600
    assert d.events[0].data["last_success_at"] is not None
    assert d.events[0].data["finished"] == 2
    assert next_deadline(b.rules, b.tracks) is None  # only a success can end it
    d = b.feed([run("succeeded", T0 + 5000, "ok2")])
    assert b.kinds() == ["degraded", "recovered"]
    assert d.events[0].data["degraded_for_s"] == 1400


def test_no_success_for_needs_runs_to_keep_finishing() -> None:
    """A workflow that simply stopped running is not degraded; one failure short of
    min_finished says nothing until the next failure, which then degrades at once."""
    b = Book(QUIET)
    b.feed([run("succeeded", T0, "ok")])
    b.feed(now=T0 + 10_000)
    b.feed(finishes("f", start=T0 + 10_100))
    assert b.events == []
    b.feed(finishes("f", start=T0 + 10_200))
    assert b.kinds() == ["degraded"]


def test_stuck_count_above_opens_with_more_stuck_runs_and_closes_at_recover_below() -> None:
    """Three stuck runs open it (more than two), two keep it open, one ends it; a run
    moving on leaves the count whatever the rule's match."""
    rule = Rule("stuck", STUCK_COUNT, 2, 1, match=Match({"types": [RUN_STUCK]}))
    b = Book(rule)
    b.feed([run("running", T0 + i, f"r{i}", type_=RUN_STUCK) for i in range(3)])
    assert b.kinds() == ["degraded"]
    b.feed([run("succeeded", T0 + 10, "r0")])
    assert b.kinds() == ["degraded"]
    d = b.feed([run("failed", T0 + 11, "r1")])
    assert b.kinds() == ["degraded", "recovered"]
    assert d.events[0].data["stuck"] == 1


def test_across_sources_groups_a_workflow_by_name_and_per_source_keeps_them_apart() -> None:
    """Two sources failing twice each: four failures of one workflow across sources, two
    per source, which is below min_finished."""
    entries = (finishes("ff", source="eu", wf="wf-eu") + finishes("ff", start=T0 + 50,
                                                                    source="us", wf="wf-us"))
    per_source = Book(RATE)
    per_source.feed(entries)
    assert per_source.events == []
    across = Book(Rule("rate", FAILURE_RATE, 0.5, 0.4, window=600.0, min_finished=4,
                       across_sources=True))
    d = across.feed(entries)
    assert across.kinds() == ["degraded"]
    assert d.events[0].subject == "Invoices" and d.events[0].data["source"] is None
    assert {s["source"] for s in d.events[0].data["samples"]} == {"eu", "us"}


def test_match_narrows_the_runs_that_count_and_runs_of_no_workflow_are_ignored() -> None:
    """Runs of another workflow, of no workflow, or not finished do not count."""
    rule = Rule("rate", FAILURE_RATE, 0.5, 0.4, window=600.0, min_finished=2,
                match=Match({"workflows": ["Invoices"]}))
    b = Book(rule)
    b.feed(finishes("ff", name="Contracts", wf="wf2") + finishes("ff", wf=None, name=None)
           + [run("running", T0, "x", type_=RUN_CREATED)])
    assert b.events == [] and b.tracks == {}
    b.feed(finishes("ff"))
    assert b.kinds() == ["degraded"]


def test_a_removed_rule_ends_its_open_episode_and_is_forgotten() -> None:
    """retire closes what a rule no longer configured left open, naming why."""
    b = Book(RATE)
    b.feed(finishes("ffff"))
    d = retire([], b.tracks, T0 + 100)
    assert [e.type for e in d.events] == ["watcher.workflow.recovered"]
    assert d.events[0].data["reason"] == "rule removed"
    assert d.events[0].data["episode_started_at"] == format_ts(T0 + 30)
    assert d.changed == {("rate", "prod", "wf1"): None}
    changed_kind = Rule("rate", STUCK_COUNT, 2, 1)
    assert retire([changed_kind], b.tracks, T0 + 100).events[0].data["reason"] == "rule changed"
    assert retire([RATE], b.tracks, T0 + 100).changed == {}


def test_evaluation_never_changes_the_tracks_it_is_given() -> None:
    """A decision not yet committed leaves the caller's tracks exactly as they were."""
    b = Book(RATE, QUIET, STUCK)
    b.feed(finishes("ffsf"))
    before = {k: t.to_bytes() for k, t in b.tracks.items()}
    evaluate(b.rules, b.tracks, finishes("ffff", start=T0 + 100), now=T0 + 9000)
    assert {k: t.to_bytes() for k, t in b.tracks.items()} == before


statuses = st.lists(st.sampled_from("ffssr"), min_size=1, max_size=40)
gaps = st.lists(st.floats(min_value=0, max_value=400), min_size=40, max_size=40)
cuts = st.sets(st.integers(min_value=1, max_value=39))


@settings(max_examples=150, deadline=None)
@given(statuses, gaps, cuts)
def test_batches_restarts_and_reloads_decide_the_same_episodes_with_the_same_ids(
        seq: str, waits: list[float], at: set[int]) -> None:
    """However the entries are split into batches, whenever time is settled in between, and
    with the tracks stored and loaded back at each cut, the episodes and ids are the same."""
    word = {"f": "failed", "s": "succeeded", "r": "rejected"}
    times = [T0 + sum(waits[:i + 1]) for i in range(len(seq))]
    entries = [run(word[c], t, f"r{i % 7}") for i, (c, t) in enumerate(zip(seq, times,
                                                                              strict=False))]
    end = times[-1] + 5000
    whole = Book(RATE, QUIET)
    whole.feed(entries, now=end)
    split = Book(RATE, QUIET)
    start = 0
    for cut in [*sorted(c for c in at if c < len(entries)), len(entries)]:
        split.feed(entries[start:cut], now=entries[cut].time if cut < len(entries) else end)
        stored = {record_key(k): t.to_bytes() for k, t in split.tracks.items()}
        split.tracks = load_tracks(stored)  # as a restarted engine finds them
        start = cut
    assert sorted(split.events) == sorted(whole.events)


def test_every_kind_of_episode_event_carries_only_the_fields_templates_know() -> None:
    """Degraded and recovered events of each rule kind carry data keys a message template
    may name (DATA_KEYS), and each carries what every kind shares."""
    stuck = Rule("stuck", STUCK_COUNT, 2, 1, match=Match({"types": [RUN_STUCK]}))
    seen: dict[str, set[str]] = {}
    b = Book(RATE)
    for d in (b.feed(finishes("ffff")), b.feed(finishes("ssssssss", start=T0 + 50))):
        for e in d.events:
            seen.setdefault(e.type, set()).update(e.data)
    q = Book(QUIET)
    q.feed([run("succeeded", T0, "ok"), *finishes("ff", start=T0 + 100)])
    for d in (q.feed(now=T0 + 4000), q.feed([run("succeeded", T0 + 5000, "ok2")])):
        for e in d.events:
            assert set(e.data) <= set(DATA_KEYS[e.type]), e.type
    k = Book(stuck)
    for d in (k.feed([run("running", T0 + i, f"r{i}", type_=RUN_STUCK) for i in range(3)]),
              k.feed([run("failed", T0 + 10, "r0"), run("failed", T0 + 11, "r1")])):
        for e in d.events:
            assert set(e.data) <= set(DATA_KEYS[e.type]), e.type
    assert set(seen) == {WORKFLOW_DEGRADED, WORKFLOW_RECOVERED}
    for t, keys in seen.items():
        assert keys <= set(DATA_KEYS[t]), t
        assert {"rule", "kind", "workflow_id", "episode_started_at", "samples"} <= keys
