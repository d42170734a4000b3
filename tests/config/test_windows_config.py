"""``[[silences]]`` maintenance windows and ``repeat_interval`` in the config: validated
with key paths like every table (exit 78), and shown by ``watcher check`` with each
window's next opening in its own time zone."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support import parse_config, run_cli, toml
from watcher.errors import ConfigError
from watcher.runtime.configuration import resolved

EXTEND = {"name": "extend-prod", "provider": "extend", "token": "t0ken-value"}
SINKS = [{"name": "out", "type": "stdout"},
         {"name": "alerts", "type": "webhook", "url": "https://hooks.example/x"}]


def with_windows(*tables: str) -> str:
    return toml({}, [EXTEND], SINKS) + "".join(f"\n[[silences]]\n{t}\n" for t in tables)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(text)
    return exc.value.problems


def test_check_shows_each_windows_next_opening_in_its_time_zone(tmp_path: Path) -> None:
    """watcher check prints every window, its match and sinks, and when it next opens
    and closes, in the window's zone (offsets of both sides of a DST change)."""
    path = tmp_path / "w.toml"
    path.write_text(with_windows(
        'name = "weekend"\nmatch = { sources = ["extend-prod"] }\nsinks = ["alerts"]\n'
        'schedule = "Sat 22:00 - Sun 06:00"\ntimezone = "Europe/Berlin"',
        'name = "one-off"\nmatch = { type = "run.*", workflow = "Invoice*" }\n'
        'starts = "2999-01-01T00:00:00Z"\nends = "2999-01-02T00:00:00Z"'))
    r = run_cli("check", "-c", str(path))
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    weekend = out[out.index('name = "weekend"'):]
    assert 'match = { source = ["extend-prod"] }' in weekend
    assert 'schedule = "Sat 22:00 - Sun 06:00"' in weekend and 'sinks = ["alerts"]' in weekend
    berlin = ZoneInfo("Europe/Berlin")
    line = next(line for line in weekend.splitlines() if line.startswith("# "))
    if line.startswith("# open now, until "):  # the test runs on a Saturday night
        times = [line.removeprefix("# open now, until ")]
        expected = ["Sun 06:00"]
    else:
        times = line.removeprefix("# next: ").split(" to ")
        expected = ["Sat 22:00", "Sun 06:00"]
    for text, want in zip(times, expected, strict=True):
        at = datetime.fromisoformat(text)
        assert at.astimezone(berlin).strftime("%a %H:%M") == want
        assert at.utcoffset() == at.astimezone(berlin).utcoffset()  # shown as Berlin time
    assert "# next: 2999-01-01T00:00:00+00:00 to 2999-01-02T00:00:00+00:00" in out


def test_the_dst_night_shows_both_offsets() -> None:
    """The opening of the autumn-change weekend starts at +02:00 and ends at +01:00."""
    cfg = parse_config(with_windows(
        'name = "w"\nmatch = { status = "failed" }\nschedule = "Sat 22:00 - Sun 06:00"\n'
        'timezone = "Europe/Berlin"'))
    now = datetime.fromisoformat("2026-10-24T12:00:00+02:00").timestamp()
    assert ("# next: 2026-10-24T22:00:00+02:00 to 2026-10-25T06:00:00+01:00"
            in resolved(cfg, now=now))


def test_bad_windows_are_config_errors_with_key_paths() -> None:
    """Every problem of every window is listed at its key path."""
    got = problems(with_windows(
        'name = "a"\nmatch = { sorces = ["extend-prod"] }\nschedule = "Sat 22:00 - Sun"\n'
        'timezone = "Europe/Berln"\nsinks = ["out", "nope"]',
        'name = "a"\nmatch = { source = "extend-prd" }\nstarts = "2030-01-02T00:00:00Z"\n'
        'ends = "2030-01-01T00:00:00Z"',
        'name = "c"\nmatch = { status = "faild" }',
        'name = "d"\nschedule = "daily 02:00 - 03:00"\nstarts = "2030-01-01T00:00:00Z"\n'
        'ends = "2030-01-02T00:00:00Z"\nmatch = { type = "*" }',
        'name = "e"\nschedule = "daily 02:00 - 03:00"'))
    assert got == [
        "silences[0].match.sorces: unknown key (did you mean 'sources'?) (expected one of "
        "types, statuses, sources, workflows, or type, status, source, workflow)",
        'silences[0].schedule: "Sat 22:00 - Sun" is not a schedule (e.g. "daily 02:00 - '
        '02:30", "Sat 22:00 - Sun 06:00", "Mon,Wed,Fri 01:00 - 02:00" or "Mon-Fri 18:00 - '
        '08:00")',
        'silences[0].timezone: "Europe/Berln" is not an IANA time zone (e.g. '
        '"Europe/Berlin", "UTC")',
        'silences[0].sinks: "out" is a complete record (stdout, file, bus): silences never '
        "hold its events back",
        'silences[0].sinks: "nope" is not a configured sink (sinks: alerts, out)',
        'silences[1].name: "a" is already used by another window',
        "silences[1].match.source: \"extend-prd\" is not a configured source (did you mean "
        "'extend-prod'?)",
        'silences[1].ends: "2030-01-01T00:00:00Z" is not after starts ("2030-01-02T00:00:00Z")',
        "silences[2]: needs a schedule, or starts and ends",
        "silences[2].match.status: \"faild\" is not a canonical status (did you mean "
        "'failed'?)",
        "silences[3]: set schedule, or starts and ends, not both",
        'silences[4].match: is required (a window of everything: match = { type = "*" })',
    ]


def test_every_problem_of_a_windows_match_is_listed() -> None:
    """A window's match lists each misspelt key and value at its own key path, not only
    the first."""
    assert problems(with_windows(
        'name = "w"\nmatch = { sorces = "extend-prod", status = ["faild", "rejectd"] }\n'
        'schedule = "Sat 22:00 - Sun 06:00"')) == [
        "silences[0].match.sorces: unknown key (did you mean 'sources'?) (expected one of "
        "types, statuses, sources, workflows, or type, status, source, workflow)",
        "silences[0].match.status: \"faild\" is not a canonical status (did you mean "
        "'failed'?)",
        "silences[0].match.status: \"rejectd\" is not a canonical status (did you mean "
        "'rejected'?)",
    ]


def test_a_bad_window_exits_78(tmp_path: Path) -> None:
    """run refuses a config with a bad window, exit 78, naming the key."""
    path = tmp_path / "w.toml"
    path.write_text(with_windows('name = "w"\nmatch = { type = "*" }\nschedule = "nightly"'))
    r = run_cli("run", "-c", str(path))
    assert r.returncode == 78 and b"silences[0].schedule" in r.stderr


def test_repeat_interval_is_a_duration_for_notification_sinks_only() -> None:
    """A sink's repeat_interval reads as a duration of at least a minute; a complete
    record (stdout) refuses one: it gets every reminder already."""
    cfg = parse_config(toml({}, [EXTEND], [{**SINKS[1], "repeat_interval": "4h"}]))
    assert cfg.sinks[0].repeat_interval == 4 * 3600
    assert problems(toml({}, [EXTEND], [{**SINKS[0], "repeat_interval": "1h"},
                                        {**SINKS[1], "repeat_interval": "10s"}])) == [
        "sinks[0].repeat_interval: a stdout sink is a complete record: it gets every "
        "reminder already",
        'sinks[1].repeat_interval: "10s" is below the minimum of 1m']
