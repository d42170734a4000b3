"""``[[rules]]``: workflow health rules validated like every table, each problem with its key
path, and printed back by ``watcher check`` with the defaults they run with."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import parse_config, run_cli, toml
from watcher.core.rules import FAILURE_RATE, NO_SUCCESS, STUCK_COUNT
from watcher.errors import ConfigError

SOURCE = {"name": "prod", "provider": "extend", "token": "t0ken-value"}


def config(*rules: str) -> str:
    return toml({"state_path": ":memory:"}, [SOURCE]) + "".join(
        f"\n[[rules]]\n{r.strip()}\n" for r in rules)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(text)
    return exc.value.problems


def test_each_kind_of_rule_is_read_with_its_defaults() -> None:
    """A rate rule's recovery defaults to 0.8 x its threshold and min_finished to 5; a count
    rule recovers at 0.8 x rounded down; no_success_for needs one finished run."""
    rate, quiet, stuck = parse_config(config(
        'name = "inv"\nfailure_rate_above = 0.25\nwindow = "30m"\n'
        'match = { workflows = ["Invoice Processing"], sources = ["prod"] }',
        'name = "quiet"\nno_success_for = "2h"',
        'name = "stuck"\nstuck_count_above = 5\nacross_sources = true')).rules
    assert (rate.kind, rate.threshold, rate.recover_below, rate.window, rate.min_finished) == \
        (FAILURE_RATE, 0.25, 0.2, 1800.0, 5)
    assert rate.failed == {"failed"} and rate.match.values["workflows"] == ("Invoice Processing",)
    assert (quiet.kind, quiet.threshold, quiet.min_finished) == (NO_SUCCESS, 7200.0, 1)
    assert (stuck.kind, stuck.threshold, stuck.recover_below, stuck.across_sources) == \
        (STUCK_COUNT, 5.0, 4.0, True)


@pytest.mark.parametrize(("rule", "expected"), [
    ('name = "r"\nwindow = "1h"',
     "rules[0]: set exactly one of failure_rate_above, no_success_for, stuck_count_above"),
    ('name = "r"\nfailure_rate_above = 0.2\nno_success_for = "1h"\nwindow = "1h"',
     "rules[0]: set exactly one of failure_rate_above, no_success_for, stuck_count_above "
     "(found failure_rate_above, no_success_for)"),
    ('name = "r"\nfailure_rate_above = 0.2', "rules[0].window: is required with failure_rate_above"),
    ('name = "r"\nfailure_rate_above = 20\nwindow = "1h"',
     "rules[0].failure_rate_above: must be a share of runs, at least 0 and below 1"),
    ('name = "r"\nfailure_rate_above = "high"\nwindow = "1h"',
     'rules[0].failure_rate_above: "high" must be a number'),
    ('name = "r"\nfailure_rate_above = 0.2\nwindow = "1h"\nrecover_below = 0.3',
     "rules[0].recover_below: must be below the threshold (0.2)"),
    ('name = "r"\nno_success_for = "1h"\nwindow = "1h"',
     "rules[0].window: applies to failure_rate_above only"),
    ('name = "r"\nno_success_for = "1h"\nrecover_below = 1',
     "rules[0].recover_below: no_success_for ends with the next success"),
    ('name = "r"\nstuck_count_above = 3\nmin_finished = 2',
     "rules[0].min_finished: does not apply to stuck_count_above"),
    ('name = "r"\nfailure_rate_above = 0.2\nwindow = "1h"\ncount_as_failed = ["skipped"]',
     "rules[0].count_as_failed: must list some of failed, rejected, cancelled"),
    ('name = "r"\nstuck_count_above = 3\nmatch = { sources = ["staging"] }',
     'rules[0].match.sources: "staging" is not a configured source'),
    ('name = "r"\nstuck_count_above = 3\nwindwo = "1h"',
     "rules[0].windwo: unknown key (did you mean 'window'?)"),
    ('name = "a/b"\nstuck_count_above = 3',
     'rules[0].name: "a/b" must be 1-64 letters, digits, ".", "_" or "-"'),
])
def test_a_bad_rule_is_a_problem_at_its_key_path(rule: str, expected: str) -> None:
    """Every mistake in a rule is reported with the key it is about, never ignored."""
    assert expected in problems(config(rule))


def test_rule_names_are_unique_and_every_problem_is_listed() -> None:
    """Two rules of one name, and a problem in each of two rules: all reported at once."""
    got = problems(config('name = "r"\nstuck_count_above = 3',
                          'name = "r"\nno_success_for = "soon"'))
    assert 'rules[1].name: "r" is already used by another entry' in got
    assert any(p.startswith('rules[1].no_success_for: "soon" is not a duration') for p in got)


def test_check_prints_rules_as_they_will_run(tmp_path: Path) -> None:
    """``watcher check`` shows each rule with its defaults filled in."""
    path = tmp_path / "w.toml"
    path.write_text(config('name = "inv"\nfailure_rate_above = 0.2\nwindow = "30m"',
                           'name = "stuck"\nstuck_count_above = 5'))
    r = run_cli("check", "-c", str(path))
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode()
    assert ('[[rules]]\nname = "inv"\nfailure_rate_above = 0.2\nwindow = "30m"\n'
            'count_as_failed = ["failed"]\nrecover_below = 0.16\nmin_finished = 5\n'
            'across_sources = false\n') in out
    assert '[[rules]]\nname = "stuck"\nstuck_count_above = 5\nrecover_below = 4\n' in out
    assert parse_config(out).rules == parse_config(path.read_text()).rules
