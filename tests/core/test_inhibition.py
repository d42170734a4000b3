"""The pure inhibition fold: which events an open episode holds back, decided from journal
order alone, the same whichever way the journal is cut into batches."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.core.events import (
    RUN_CREATED,
    RUN_STATUS_CHANGED,
    SOURCE_FAILING,
    SOURCE_RECOVERED,
    WORKFLOW_DEGRADED,
    WORKFLOW_RECOVERED,
)
from watcher.core.incidents import incident_of
from watcher.core.inhibition import (
    InhibitRule,
    Opened,
    exempt,
    judge,
    summary,
    tally,
)
from watcher.core.matching import Match
from watcher.model import Event, JournalEntry
from watcher.state.journal import entry_of

DEGRADED_RUNS = InhibitRule(
    name="degraded-runs", source=Match({"types": [WORKFLOW_DEGRADED]}),
    target=Match({"types": [RUN_CREATED, RUN_STATUS_CHANGED], "statuses": ["failed"]}),
    equal=("source", "workflow_id"))


def entry(seq: int, type_: str, *, source: str = "src", subject: str = "s",
          **data: Any) -> JournalEntry:
    e = entry_of(Event(id=f"e{seq}", type=type_, source=source, subject=subject,
                       time=1000.0 + seq, data={"source": source, **data}))
    e.seq = seq
    return e


def degraded(seq: int, wf: str = "wf-1", *, ended: bool = False, rule: str = "rate",
             source: str = "src") -> JournalEntry:
    return entry(seq, WORKFLOW_RECOVERED if ended else WORKFLOW_DEGRADED, source=source,
                 subject=wf, rule=rule, workflow_id=wf)


def failed(seq: int, wf: str | None = "wf-1", *, run: str | None = None,
           status: str = "failed", source: str = "src") -> JournalEntry:
    return entry(seq, RUN_STATUS_CHANGED, source=source, subject=run or f"r{seq}",
                 run_id=run or f"r{seq}", status=status, workflow_id=wf)


def held(entries: list[JournalEntry], rules: list[InhibitRule],
         episodes: dict[str, Opened] | None = None) -> dict[int, tuple[str, str]]:
    return judge(entries, [e.seq for e in entries], {} if episodes is None else episodes,
                 rules)


def test_a_target_is_held_only_while_the_episode_is_open() -> None:
    """A failure of the degraded workflow after its degraded event is held; one before it
    and one after its recovery are not."""
    journal = [failed(1), degraded(2), failed(3), degraded(4, ended=True), failed(5)]
    assert sorted(held(journal, [DEGRADED_RUNS])) == [3]


def test_another_workflow_or_source_is_not_held() -> None:
    """The equal fields must match: another workflow's failures, and the same workflow id
    on another source, pass."""
    journal = [degraded(1), failed(2, "wf-2"), failed(3, source="other"), failed(4)]
    assert sorted(held(journal, [DEGRADED_RUNS])) == [4]


def test_an_equal_field_absent_on_both_sides_holds_nothing() -> None:
    """A source's episode names no workflow; a run without one is not "equal" to it."""
    rule = InhibitRule(name="x", source=Match({"types": [SOURCE_FAILING]}),
                       target=Match({"statuses": ["failed"]}), equal=("workflow_id",))
    journal = [entry(1, SOURCE_FAILING), failed(2, None), failed(3)]
    assert held(journal, [rule]) == {}


def test_no_equal_fields_hold_every_target_while_any_source_episode_is_open() -> None:
    """Without ``equal``, an open source outage holds every target, then none once it
    recovered."""
    rule = InhibitRule(name="x", source=Match({"types": [SOURCE_FAILING]}),
                       target=Match({"types": [WORKFLOW_DEGRADED]}))
    journal = [entry(1, SOURCE_FAILING, source="a"), degraded(2, source="b"),
               entry(3, SOURCE_RECOVERED, source="a"), degraded(4, "wf-2", source="b")]
    assert sorted(held(journal, [rule])) == [2]


def test_an_episode_never_holds_its_own_events() -> None:
    """A rule whose target matches the source's own recovery does not hold it; another
    rule's episode on the workflow, opened meanwhile, does (then only what the sink was
    told of passes, :func:`exempt`)."""
    rule = InhibitRule(name="x", source=Match({"types": [WORKFLOW_DEGRADED]}),
                       target=Match({"types": [WORKFLOW_DEGRADED, WORKFLOW_RECOVERED]}),
                       equal=("workflow_id",))
    assert held([degraded(1), degraded(2, ended=True)], [rule]) == {}
    journal = [degraded(1), degraded(2, rule="other"), degraded(3, ended=True)]
    assert sorted(held(journal, [rule])) == [2, 3]


def test_only_wanted_entries_are_judged_but_every_entry_is_followed() -> None:
    """An episode opens from an event the sink's match leaves out; the targets it lets
    through are still held."""
    journal = [degraded(1), failed(2), failed(3)]
    assert sorted(judge(journal, [3], {}, [DEGRADED_RUNS])) == [3]


def test_a_resolution_of_what_the_sink_was_told_or_a_run_s_success_is_exempt() -> None:
    """A run's success passes (its failure may have paged before the episode); a recovery
    the sink was told the start of passes; one it was not told of does not."""
    success = failed(5, run="r1", status="succeeded")
    assert exempt(incident_of(success), set())
    recovery = degraded(6, "wf-9", ended=True)
    incident = incident_of(recovery)
    assert incident is not None
    assert exempt(incident, {incident[1]})
    assert not exempt(incident, set())
    failure = failed(7)
    assert not exempt(incident_of(failure), set())


def test_the_tally_counts_what_each_episode_held_with_a_few_run_ids() -> None:
    """The rule engine's tally: every target while open, five sample run ids."""
    episodes: dict[str, Opened] = {}
    tally([degraded(1), *(failed(n) for n in range(2, 10)), failed(10, "wf-2")], episodes,
          [DEGRADED_RUNS])
    (ep,) = episodes.values()
    assert summary(ep) == {"count": 8, "runs": ["r2", "r3", "r4", "r5", "r6"]}
    assert summary(Opened.from_bytes(ep.to_bytes())) == summary(ep)
    assert summary(None) == {"count": 0, "runs": []}


def test_the_tally_leaves_out_a_run_s_success_which_no_sink_is_denied() -> None:
    """A rule on every run event: a failure counts, a run's success does not."""
    every = InhibitRule(name="all", source=Match({"types": [WORKFLOW_DEGRADED]}),
                        target=Match({"types": [RUN_STATUS_CHANGED]}), equal=("workflow_id",))
    episodes: dict[str, Opened] = {}
    tally([degraded(1), failed(2, run="a"), failed(3, run="b", status="succeeded")],
          episodes, [every])
    assert [summary(ep) for ep in episodes.values()] == [{"count": 1, "runs": ["a"]}]


_KINDS = st.sampled_from(["deg", "rec", "fail", "fail2", "srcfail", "srcrec"])


def _journal(kinds: list[str]) -> list[JournalEntry]:
    make = {"deg": lambda n: degraded(n), "rec": lambda n: degraded(n, ended=True),
            "fail": lambda n: failed(n), "fail2": lambda n: failed(n, "wf-2"),
            "srcfail": lambda n: entry(n, SOURCE_FAILING),
            "srcrec": lambda n: entry(n, SOURCE_RECOVERED)}
    return [make[k](n) for n, k in enumerate(kinds, start=1)]


@settings(max_examples=200, deadline=None)
@given(st.lists(_KINDS, max_size=40), st.lists(st.integers(1, 40), max_size=6))
def test_the_decision_does_not_depend_on_how_the_journal_is_batched(
        kinds: list[str], cuts: list[int]) -> None:
    """Judged in one batch or in any batches with the open episodes carried between them
    (as a sink's records carry them across a restart or to another replica), the same
    entries are held."""
    journal = _journal(kinds)
    rules = [DEGRADED_RUNS, InhibitRule(name="outage", source=Match({"types": [SOURCE_FAILING]}),
                                        target=Match({"types": [RUN_STATUS_CHANGED]}),
                                        equal=("source",))]
    whole = held(journal, rules)
    episodes: dict[str, Opened] = {}
    parts: dict[int, tuple[str, str]] = {}
    bounds = sorted({0, *[c for c in cuts if c < len(journal)], len(journal)})
    for a, b in itertools.pairwise(bounds):
        episodes = {k: Opened.from_bytes(ep.to_bytes()) for k, ep in episodes.items()}
        parts.update(held(journal[a:b], rules, episodes))
    assert parts == whole
