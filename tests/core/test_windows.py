"""Maintenance window schedules: parsed from a calendar line, open at the right local
times, across daylight-saving changes too (Europe/Berlin changes on 2026-03-29 and
2026-10-25, America/New_York on 2026-03-08 and 2026-11-01)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from watcher.core.windows import OpenAt, Schedule, next_opening, occurrences, parse_schedule

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def local(text: str, tz: ZoneInfo, fold: int = 0) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz, fold=fold).timestamp()


def is_open(s: Schedule, tz: ZoneInfo, at: float) -> bool:
    """The calendar's answer, worked out afresh: what OpenAt remembers must agree."""
    return any(start <= at for start, _ in occurrences(s, tz, at, at + 1.0))


def openings(schedule: str, tz: ZoneInfo, since: str, until: str) -> list[tuple[str, str]]:
    s = parse_schedule(schedule)
    fmt = "%Y-%m-%d %H:%M"
    return [(datetime.fromtimestamp(a, UTC).strftime(fmt), datetime.fromtimestamp(b, UTC)
             .strftime(fmt)) for a, b in occurrences(s, tz, utc(since), utc(until))]


def test_a_weekend_window_across_spring_forward_opens_and_closes_at_local_times() -> None:
    """Sat 22:00 - Sun 06:00 in Berlin on the spring-forward night opens at 22:00 CET
    (21:00 UTC) and closes at 06:00 CEST (04:00 UTC): seven hours, not eight."""
    s = parse_schedule("Sat 22:00 - Sun 06:00")
    assert openings("Sat 22:00 - Sun 06:00", BERLIN, "2026-03-27", "2026-03-30") == [
        ("2026-03-28 21:00", "2026-03-29 04:00")]
    assert not is_open(s, BERLIN, utc("2026-03-28T20:59:59"))
    assert is_open(s, BERLIN, utc("2026-03-28T21:00:00"))
    assert is_open(s, BERLIN, utc("2026-03-29T03:59:59"))
    assert not is_open(s, BERLIN, utc("2026-03-29T04:00:00"))


def test_a_weekend_window_across_fall_back_lasts_an_hour_longer() -> None:
    """On the autumn night the same window opens at 22:00 CEST (20:00 UTC) and closes at
    06:00 CET (05:00 UTC): nine hours; a week later it is eight again."""
    assert openings("Sat 22:00 - Sun 06:00", BERLIN, "2026-10-23", "2026-11-02") == [
        ("2026-10-24 20:00", "2026-10-25 05:00"), ("2026-10-31 21:00", "2026-11-01 05:00")]


def test_a_start_in_the_skipped_hour_moves_a_gap_later_and_keeps_its_length() -> None:
    """daily 02:00 - 02:30 on the spring-forward day (02:00-03:00 never happens) opens
    at 03:00 CEST and closes at 03:30 CEST (the offset before the change: RFC 5545)."""
    s = parse_schedule("daily 02:00 - 02:30")
    assert openings("daily 02:00 - 02:30", BERLIN, "2026-03-29", "2026-03-29T12:00") == [
        ("2026-03-29 01:00", "2026-03-29 01:30")]
    assert is_open(s, BERLIN, local("2026-03-29T03:15", BERLIN))
    assert not is_open(s, BERLIN, local("2026-03-29T03:30", BERLIN))


def test_a_window_that_would_end_before_it_starts_in_the_gap_does_not_open() -> None:
    """daily 02:30 - 03:00: on the spring-forward day 02:30 reads as 03:30 CEST, after
    the 03:00 end, so that day has no opening; the days around it have theirs."""
    assert openings("daily 02:30 - 03:00", BERLIN, "2026-03-28", "2026-03-31") == [
        ("2026-03-28 01:30", "2026-03-28 02:00"), ("2026-03-30 00:30", "2026-03-30 01:00")]


def test_a_time_that_occurs_twice_means_its_first_occurrence() -> None:
    """daily 02:00 - 02:30 on the autumn day is open during the first 02:00-02:30 (CEST)
    and closed during the repeated one (CET)."""
    s = parse_schedule("daily 02:00 - 02:30")
    assert is_open(s, BERLIN, local("2026-10-25T02:15", BERLIN, fold=0))
    assert not is_open(s, BERLIN, local("2026-10-25T02:15", BERLIN, fold=1))


def test_new_york_weekday_evenings_follow_local_time_across_the_change() -> None:
    """Mon-Fri 18:00 - 08:00 opens at 18:00 local on both sides of the US change: 23:00
    UTC before it, 22:00 after; Friday's runs to Saturday 08:00."""
    got = openings("Mon-Fri 18:00 - 08:00", NEW_YORK, "2026-03-05T14:00", "2026-03-10T12:00")
    assert got == [("2026-03-05 23:00", "2026-03-06 13:00"),
                   ("2026-03-06 23:00", "2026-03-07 13:00"),
                   ("2026-03-09 22:00", "2026-03-10 12:00")]


def test_day_lists_ranges_and_full_names_parse_alike() -> None:
    """"Mon,Wed,Fri", "monday,wednesday,friday" and ranges like "Fri-Mon" (across the
    week's end) name the days they say; an end before the start means the next day."""
    assert parse_schedule("Mon,Wed,Fri 01:00 - 02:00").days == {0, 2, 4}
    assert parse_schedule("monday,Wednesday,FRI 01:00 - 02:00").days == {0, 2, 4}
    assert parse_schedule("Fri-Mon 01:00 - 02:00").days == {4, 5, 6, 0}
    assert parse_schedule("daily 23:00 - 01:00").span_days == 1
    assert parse_schedule("Sat 22:00 - Sun 06:00").span_days == 1


@pytest.mark.parametrize(("text", "why"), [
    ("Sat 22:00", "is not a schedule"),
    ("Someday 22:00 - 23:00", "is not a day"),
    ("daily 25:00 - 26:00", "is not a time of day"),
    ("daily 02:00 - 02:00", "ends when it starts"),
    ("Mon,Tue 22:00 - Wed 06:00", "an end day needs exactly one start day"),
    ("Sat 22:00 - Sat 06:00", "ends before it starts"),
])
def test_a_bad_schedule_says_what_is_wrong(text: str, why: str) -> None:
    """Each malformed schedule is refused with a message naming the problem."""
    with pytest.raises(ValueError, match=why):
        parse_schedule(text)


def test_next_opening_is_the_open_one_or_the_next_to_open() -> None:
    """While open, the next opening is the current one; once closed, the next one."""
    s = parse_schedule("Sat 22:00 - Sun 06:00")
    inside = local("2026-03-29T01:00", BERLIN)
    assert next_opening(s, BERLIN, inside) == (local("2026-03-28T22:00", BERLIN),
                                               local("2026-03-29T06:00", BERLIN))
    after = local("2026-03-29T07:00", BERLIN)
    assert next_opening(s, BERLIN, after) == (local("2026-04-04T22:00", BERLIN),
                                              local("2026-04-05T06:00", BERLIN))


def test_the_remembering_judge_agrees_with_the_calendar_every_five_minutes() -> None:
    """OpenAt, asked about every five minutes over two weeks spanning the spring change
    (and again backwards), answers exactly as is_open does."""
    for text in ("Sat 22:00 - Sun 06:00", "daily 02:00 - 02:30", "Mon-Fri 18:00 - 08:00"):
        s = parse_schedule(text)
        judge = OpenAt(s, BERLIN)
        times = [utc("2026-03-22") + i * 300.0 for i in range(14 * 288)]
        for at in [*times, *reversed(times)]:
            assert judge(at) == is_open(s, BERLIN, at), (text, at)
