"""``[[inhibit]]`` in the config: validated with key paths like every table (exit 78),
shown by ``watcher check``, with a warning for an ``equal`` field no event of the rule
carries."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import parse_config, run_cli, toml
from watcher.config.inhibit import inhibit_warnings
from watcher.core.events import RUN_STATUS_CHANGED, WORKFLOW_DEGRADED
from watcher.errors import ConfigError

EXTEND = {"name": "extend-prod", "provider": "extend", "token": "t0ken-value"}
SINKS = [{"name": "out", "type": "stdout"},
         {"name": "alerts", "type": "webhook", "url": "https://hooks.example/x"}]
GOOD = ('source = { types = ["workflow.degraded"] }\n'
        'target = { type = "run.status_changed", status = "failed" }\n'
        'equal = ["source", "workflow_id"]\nsinks = ["alerts"]')


def with_inhibit(*tables: str) -> str:
    return toml({}, [EXTEND], SINKS) + "".join(f"\n[[inhibit]]\n{t}\n" for t in tables)


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(text)
    return exc.value.problems


def test_a_rule_is_read_with_short_type_names_made_full_and_a_default_name() -> None:
    """Short type names become full ones; an unnamed rule is named after its place."""
    (rule,) = parse_config(with_inhibit(GOOD)).inhibit
    assert rule.name == "inhibit-1"
    assert rule.source.values == {"types": (WORKFLOW_DEGRADED,)}
    assert rule.target.values == {"types": (RUN_STATUS_CHANGED,), "statuses": ("failed",)}
    assert (rule.equal, rule.sinks) == (("source", "workflow_id"), ("alerts",))


def test_every_problem_is_reported_at_its_key_path() -> None:
    """A source that is no episode, a typo'd field with its "did you mean", an unknown
    sink, a complete record, a missing target and a name used twice: each at its path."""
    found = problems(with_inhibit(
        'name = "x"\nsource = { types = ["run.stuck"] }\ntarget = { status = "failed" }\n'
        'equal = ["workflow"]\nsinks = ["alert", "out"]',
        'name = "x"\nsource = { types = ["source.failing"] }'))
    assert "inhibit[0].source: matches no episode: a source is a workflow.degraded or a " \
           "source.failing (until it recovers)" in found
    assert any(p.startswith('inhibit[0].equal: "workflow" is not an event field (did you '
                            "mean 'workflow_id'?)") for p in found)
    assert any(p.startswith('inhibit[0].sinks: "alert" is not a configured sink (did you '
                            "mean 'alerts'?)") for p in found)
    assert any(p.startswith('inhibit[0].sinks: "out" is a complete record') for p in found)
    assert any(p.startswith("inhibit[1].target: is required") for p in found)
    assert 'inhibit[1].name: "x" is already used by another entry' in found


def test_a_typo_in_a_match_key_is_an_error_at_its_path() -> None:
    """source and target are checked like a sink's match."""
    found = problems(with_inhibit('source = { types = ["workflow.degraded"] }\n'
                                  'target = { statuss = ["failed"] }'))
    assert any(p.startswith("inhibit[0].target.statuss: unknown key") for p in found)


def test_an_equal_field_neither_side_carries_is_warned_of() -> None:
    """A source outage names no workflow: ``equal = ["workflow_id"]`` would hold nothing,
    and ``check`` says so; a field both carry draws no warning."""
    config = parse_config(with_inhibit(
        'name = "outage"\nsource = { types = ["source.failing"] }\n'
        'target = { types = ["workflow.degraded"] }\nequal = ["workflow_id"]', GOOD))
    assert inhibit_warnings(config.inhibit) == [
        'inhibit "outage": no source event (source.failing) carries "workflow_id", so the '
        "rule holds nothing"]


def test_check_shows_the_rules_as_they_will_be_used(tmp_path: Path) -> None:
    """``watcher check`` prints each rule with its full type names and the warning."""
    path = tmp_path / "w.toml"
    path.write_text(with_inhibit(GOOD, 'source = { type = "source.failing" }\n'
                                       'target = { type = "workflow.degraded" }\n'
                                       'equal = ["run_id"]'))
    r = run_cli("check", "-c", str(path))
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert out.count("[[inhibit]]") == 2
    assert 'source = { types = ["watcher.workflow.degraded"] }' in out
    assert 'name = "inhibit-2"' in out
    assert b'inhibit "inhibit-2": no source event (source.failing) carries "run_id"' in \
        r.stdout + r.stderr
