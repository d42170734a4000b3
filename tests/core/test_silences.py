"""Silence matchers and their stored form: the routing keys with * globs, keys ANDed and
values ORed, reminders judged as what they remind of; bad input said plainly."""

from __future__ import annotations

import pytest

from watcher.config.match import parse_pairs
from watcher.core.events import (
    RUN_REMINDER,
    RUN_STATUS_CHANGED,
    RUN_STUCK,
    SOURCE_FAILING,
    SOURCE_REMINDER,
)
from watcher.core.matching import Match
from watcher.core.silences import Silence
from watcher.model import JournalEntry


def entry(type_: str = RUN_STATUS_CHANGED, source: str = "extend-prod",
          status: str | None = "failed", workflow_id: str | None = "wf_1",
          workflow_name: str | None = "Invoice Processing") -> JournalEntry:
    return JournalEntry(1, "id", 0.0, type_, source, "run-1", status, workflow_id,
                        workflow_name, b"{}")


def matches(items: list[str], e: JournalEntry) -> bool:
    return Match(parse_pairs(items))(e)


def test_keys_are_anded_and_a_repeated_key_ors_its_values() -> None:
    """source AND status must both hold; two status values accept either."""
    assert matches(["source=extend-prod", "status=failed"], entry())
    assert not matches(["source=extend-prod", "status=succeeded"], entry())
    assert matches(["status=succeeded", "status=failed"], entry())


def test_workflow_matches_the_id_or_the_name_and_stars_glob() -> None:
    """workflow= takes the id or the name; * stands for any run of characters, and
    nothing else is special."""
    assert matches(["workflow=wf_1"], entry())
    assert matches(["workflow=Invoice*"], entry())
    assert not matches(["workflow=Invoice"], entry())
    assert matches(["source=extend-*"], entry())
    assert not matches(["source=extend-[a-z]*"], entry())
    assert matches(["source=ex[t]end"], entry(source="ex[t]end"))


def test_types_take_short_names_and_reminders_count_as_what_they_remind_of() -> None:
    """type=source.failing holds the failing event and its reminders; type=run.* all run
    events; type=run.reminder only reminders."""
    assert matches(["type=source.failing"], entry(SOURCE_FAILING, status=None))
    assert matches(["type=source.failing"], entry(SOURCE_REMINDER, status=None))
    assert matches(["type=run.stuck"], entry(RUN_REMINDER))
    assert matches(["type=run.*"], entry())
    assert not matches(["type=run.reminder"], entry(RUN_STUCK))


@pytest.mark.parametrize(("items", "why"), [
    (["sorce=x"], "\"sorce\" is not a match key (did you mean 'source'?)"),
    (["type=run.faild"], '"run.faild" is not an event type'),
    (["status=faild"], "\"faild\" is not a canonical status (did you mean 'failed'?)"),
    (["source=extend-prd"], "\"extend-prd\" is not a configured source (did you mean "
                            "'extend-prod'?)"),
    (["status"], '"status" is not KEY=VALUE'),
    (["status="], "an empty value matches nothing"),
    ([], "at least one --match"),
])
def test_bad_matchers_say_what_is_wrong(items: list[str], why: str) -> None:
    """Unknown keys, types, statuses and sources are refused with a suggestion."""
    with pytest.raises(ValueError) as exc:
        parse_pairs(items, sources=["extend-prod"])
    assert why in str(exc.value)


def test_a_silence_reads_back_as_it_was_stored_and_holds_only_in_its_span() -> None:
    """The stored JSON gives back the same silence; it holds from starts, up to ends."""
    s = Silence(id="abc", match=parse_pairs(["source=a", "type=run.*"]), starts=100.0,
                ends=200.0, sinks=("alerts",), author="me@host", comment="why", created=100.0)
    assert Silence.decode(s.encode()) == s
    assert [s.active(t) for t in (99.9, 100.0, 199.9, 200.0)] == [False, True, True, False]
