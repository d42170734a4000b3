"""The pure diff: every rule of the event contract and the guarantees that does not need
HTTP."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import diff
from watcher.core.diff import Changeset, Policy, expired
from watcher.model import TERMINAL, Observation, RunDetails, RunState, Status

NOW = 1_800_000_000.0
POLICY = Policy(source="s", provider="extend", stuck_after=600.0, horizon=7 * 86400.0)


def describe(item: Any) -> RunDetails:
    return RunDetails(workflow_id="wf", workflow_name="Invoices", changed_at=item.get("t"))


def obs(rid: str, status: Status, version: str | None = None, t: float | None = None,
        raw: str | None = None) -> Observation:
    return (rid, raw or status.value.upper(), status, version, {"t": t})


def run(changes: Changeset, runs: dict[str, RunState]) -> None:
    runs.update(changes.upserts)


def step(runs: dict[str, RunState], observations: list[Observation], *, now: float = NOW,
         baseline: bool = False, policy: Policy = POLICY) -> Changeset:
    live = {r for r, s in runs.items() if s.status not in TERMINAL}
    ch = diff(runs, live, observations, now=now, policy=policy, describe=describe,
              baseline=baseline)
    runs.update(ch.upserts)
    return ch


def kinds(ch: Changeset) -> list[tuple[str, str, str | None]]:
    return [(e.type.removeprefix("watcher."), e.data["status"], e.data["previous_status"])
            for e in ch.events]


def test_silent_baseline_records_runs_without_events() -> None:
    """A silent baseline records every run it sees and emits nothing."""
    runs: dict[str, RunState] = {}
    ch = step(runs, [obs("a", Status.RUNNING, "v1", NOW - 5), obs("b", Status.SUCCEEDED, "v1")],
              baseline=True)
    assert ch.events == []
    assert set(runs) == {"a", "b"}


def test_emit_baseline_reports_every_existing_run_as_created() -> None:
    """With baseline = emit, every run present at the first poll is reported as created."""
    runs: dict[str, RunState] = {}
    policy = Policy(source="s", provider="extend", emit_baseline=True)
    ch = step(runs, [obs("a", Status.RUNNING), obs("b", Status.FAILED)], baseline=True,
              policy=policy)
    assert kinds(ch) == [("run.created", "running", None), ("run.created", "failed", None)]


def test_new_run_after_baseline_is_created_once_even_when_already_failed() -> None:
    """A run first seen after the baseline is created once, in its status, even if failed."""
    runs: dict[str, RunState] = {}
    step(runs, [obs("a", Status.RUNNING, "v1")], baseline=True)
    ch = step(runs, [obs("a", Status.RUNNING, "v1"), obs("b", Status.FAILED, "v1")])
    assert kinds(ch) == [("run.created", "failed", None)]
    assert step(runs, [obs("b", Status.FAILED, "v1")]).events == []


def test_status_change_carries_both_statuses_and_raw_values() -> None:
    """A status change carries the old and new status, both raw values, terminal and workflow."""
    runs = {"a": RunState(Status.RUNNING, "PROCESSING", "v1", NOW - 10)}
    ch = step(runs, [obs("a", Status.FAILED, "v2", raw="FAILED")])
    (e,) = ch.events
    assert e.type == "watcher.run.status_changed"
    assert (e.data["status"], e.data["previous_status"]) == ("failed", "running")
    assert (e.data["raw_status"], e.data["previous_raw_status"]) == ("FAILED", "PROCESSING")
    assert e.data["terminal"] is True
    assert e.data["workflow_name"] == "Invoices"


def test_new_version_with_same_status_is_recorded_silently() -> None:
    """A new version in the same status is stored silently, and the episode keeps its start."""
    runs = {"a": RunState(Status.RUNNING, "PROCESSING", "v1", NOW - 10)}
    ch = step(runs, [obs("a", Status.RUNNING, "v2", raw="PROCESSING")])
    assert ch.events == []
    assert runs["a"].version == "v2"
    assert runs["a"].since == NOW - 10  # the status episode did not restart


def test_absence_from_a_poll_is_never_a_transition() -> None:
    """A run missing from a poll keeps its state and emits nothing."""
    runs = {"a": RunState(Status.RUNNING, "PROCESSING", "v1", NOW - 10)}
    assert step(runs, []).events == []
    assert runs["a"].status is Status.RUNNING


def test_duplicate_item_in_one_poll_counts_once() -> None:
    """A run listed twice in one poll yields one event."""
    runs = {"a": RunState(Status.RUNNING, "PROCESSING", "v1", NOW - 10)}
    ch = step(runs, [obs("a", Status.FAILED, "v2"), obs("a", Status.FAILED, "v2")])
    assert kinds(ch) == [("run.status_changed", "failed", "running")]


def test_duplicate_with_an_older_copy_later_in_the_poll_keeps_the_newer() -> None:
    """Of two copies of a run in one poll, the newer version wins, even when listed first."""
    runs = {"a": RunState(Status.RUNNING, "PROCESSING", "2026-01-01T00:00:01Z", NOW - 10)}
    ch = step(runs, [obs("a", Status.FAILED, "2026-01-01T00:00:09Z"),
                     obs("a", Status.RUNNING, "2026-01-01T00:00:01Z")])
    assert kinds(ch) == [("run.status_changed", "failed", "running")]


def test_duplicate_without_versions_prefers_the_terminal_copy() -> None:
    """Of two unversioned copies of a run in one poll, the terminal one wins."""
    runs = {"a": RunState(Status.RUNNING, "running", None, NOW - 10)}
    ch = step(runs, [obs("a", Status.SUCCEEDED), obs("a", Status.RUNNING)])
    assert kinds(ch) == [("run.status_changed", "succeeded", "running")]


def test_unknown_status_is_kept_raw_and_is_not_terminal() -> None:
    """An unknown status is reported as unknown, not terminal, with the raw value kept."""
    runs = {"a": RunState(Status.RUNNING, "PROCESSING", "v1", NOW - 10)}
    ch = step(runs, [obs("a", Status.UNKNOWN, "v2", raw="ARCHIVED")])
    (e,) = ch.events
    assert (e.data["status"], e.data["raw_status"], e.data["terminal"]) == \
        ("unknown", "ARCHIVED", False)


def test_stuck_fires_once_per_episode() -> None:
    """A live run in one status past stuck_after gets one run.stuck, not one per poll."""
    runs: dict[str, RunState] = {}
    step(runs, [obs("a", Status.RUNNING, "v1", NOW)], baseline=True)
    assert step(runs, [], now=NOW + 599).events == []
    ch = step(runs, [], now=NOW + 601)
    assert kinds(ch) == [("run.stuck", "running", None)]
    assert ch.events[0].data["stuck_for_s"] == 601
    assert step(runs, [], now=NOW + 5000).events == []


def test_a_new_non_terminal_status_starts_a_new_stuck_episode() -> None:
    """A stuck run that moves to another live status can be reported stuck again."""
    runs: dict[str, RunState] = {}
    step(runs, [obs("a", Status.RUNNING, "v1", NOW)], baseline=True)
    assert len(step(runs, [], now=NOW + 700).events) == 1
    step(runs, [obs("a", Status.NEEDS_REVIEW, "v2", NOW + 800)], now=NOW + 800)
    ch = step(runs, [], now=NOW + 1500)
    assert kinds(ch) == [("run.stuck", "needs_review", None)]


def test_runs_already_stuck_at_a_silent_baseline_are_reported() -> None:
    """A run already stuck at a silent baseline is reported stuck at once."""
    runs: dict[str, RunState] = {}
    ch = step(runs, [obs("a", Status.RUNNING, "v1", NOW - 3600)], baseline=True)
    assert kinds(ch) == [("run.stuck", "running", None)]


def test_terminal_runs_are_never_stuck() -> None:
    """A finished run is never reported stuck, however old."""
    runs: dict[str, RunState] = {}
    ch = step(runs, [obs("a", Status.FAILED, "v1", NOW - 3600)], baseline=True)
    assert ch.events == []


def test_event_ids_are_deterministic_and_distinct() -> None:
    """The same change always gets the same event id; another version gets another id."""
    def changed(version: str) -> str:
        runs = {"a": RunState(Status.RUNNING, "PROCESSING", "v1", NOW - 10)}
        return step(runs, [obs("a", Status.FAILED, version)]).events[0].id
    assert changed("v2") == changed("v2")
    assert changed("v2") != changed("v3")


def test_vendor_without_versions_gets_distinct_ids_for_repeated_transitions() -> None:
    """Without versions, a run going back and forth gets a new event id for every transition."""
    runs: dict[str, RunState] = {}
    step(runs, [obs("a", Status.RUNNING)], baseline=True, now=NOW)
    ids = []
    for i, s in enumerate([Status.NEEDS_REVIEW, Status.RUNNING, Status.NEEDS_REVIEW,
                           Status.RUNNING], 1):
        ids += [e.id for e in step(runs, [obs("a", s)], now=NOW + i).events]
    assert len(ids) == len(set(ids)) == 4


def test_terminal_runs_past_the_horizon_expire_and_are_not_reborn() -> None:
    """Finished runs past the horizon expire, and seeing them again does not create them anew."""
    runs = {"old": RunState(Status.SUCCEEDED, "PROCESSED", "v1", NOW - 8 * 86400),
            "live": RunState(Status.RUNNING, "PROCESSING", "v1", NOW - 8 * 86400)}
    assert expired(runs, now=NOW, horizon=7 * 86400) == ["old"]
    del runs["old"]
    ch = step(runs, [obs("old", Status.SUCCEEDED, "v1", NOW - 8 * 86400)])
    assert [e for e in ch.events if e.subject == "old"] == []


def by_value(runs: Mapping[str, RunState]) -> dict[str, tuple[Any, ...]]:
    """Every field of every state, copied (RunState has no ``__eq__``: it is a hot-path slot
    class, so tests compare its fields)."""
    return {rid: (s.status, s.raw_status, s.version, s.since, s.stuck,
                  copy.deepcopy(s.detail.to_dict()) if s.detail else None)
            for rid, s in runs.items()}


def test_diff_does_not_mutate_its_input() -> None:
    """A status change, a new version, a stuck run: each is a new state, never an edit."""
    detail = RunDetails(workflow_id="wf", workflow_name="Invoices", run={"id": "a"})
    runs = {"changed": RunState(Status.RUNNING, "PROCESSING", "v1", NOW - 10, False, detail),
            "bumped": RunState(Status.RUNNING, "PROCESSING", "v1", NOW - 10),
            "stuck": RunState(Status.RUNNING, "PROCESSING", "v1", NOW - 3600, False, detail),
            "done": RunState(Status.SUCCEEDED, "PROCESSED", None, NOW - 60)}
    live = {"changed", "bumped", "stuck"}
    before, originals, live_before = by_value(runs), dict(runs), set(live)
    ch = diff(runs, live, [obs("changed", Status.FAILED, "v2", raw="FAILED"),
                           obs("bumped", Status.RUNNING, "v2", raw="QUEUED")],
              now=NOW, policy=POLICY, describe=describe)
    # the diff did find what it could have written in place...
    assert set(ch.upserts) == {"changed", "bumped", "stuck"}
    assert sorted(e.type for e in ch.events) == ["watcher.run.status_changed",
                                                 "watcher.run.stuck"]
    # ...and every input is as it was, field by field
    assert by_value(runs) == before and live == live_before
    assert all(runs[rid] is state for rid, state in originals.items())
    assert all(ch.upserts[rid] is not runs[rid] for rid in ch.upserts)


statuses = st.sampled_from(list(Status))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from("abcde"), statuses), max_size=8),
                min_size=1, max_size=8))
def test_one_event_per_observed_change_and_none_on_repeats(polls: list[list[tuple[str, Status]]]
                                                           ) -> None:
    """Replaying any sequence of polls: events match status changes exactly, repeats are silent."""
    runs: dict[str, RunState] = {}
    last: dict[str, Status] = {}
    for i, poll in enumerate(polls):
        observations = [obs(r, s, f"v{i}-{s.value}") for r, s in poll]
        final = dict(poll)  # later duplicates win unless the terminal rule applies
        for r in final:
            copies = [s for rr, s in poll if rr == r]
            term = [s for s in copies if s in TERMINAL]
            if term and any(s not in TERMINAL for s in copies):
                final[r] = term[-1]
        ch = step(runs, observations, now=NOW + i, baseline=(i == 0),
                  policy=Policy(source="s", provider="p"))
        expected = {r for r, s in final.items() if i > 0 and last.get(r) != s}
        assert {e.subject for e in ch.events} == expected
        assert len(ch.events) == len(expected)
        last.update(final)
        again = step(runs, observations, now=NOW + i, policy=Policy(source="s", provider="p"))
        assert again.events == []
