"""Configuration: typed, validated once, every problem reported with its 0-based key path."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from tests.support import ROOT, parse_config, run_cli, toml
from watcher.config.units import parse_duration, parse_size
from watcher.errors import ConfigError
from watcher.runtime.configuration import resolved

EXTEND = {"name": "a", "provider": "extend", "token": "t0ken-value"}


def problems(text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(text, env)
    return exc.value.problems


@pytest.mark.parametrize(("text", "seconds"), [
    ("500ms", 0.5), ("15s", 15), ("10m", 600), ("2h", 7200), ("7d", 604800), ("1h30m", 5400),
    (30, 30), (1.5, 1.5)])
def test_durations_parse(text: object, seconds: float) -> None:
    """Durations parse from unit strings, compound strings and plain seconds."""
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["15x", "", "s", "-1s", "1s2", True, None, [1]])
def test_bad_durations_are_rejected(text: object) -> None:
    """Unknown units, empty or negative strings and non-numbers are not durations."""
    assert parse_duration(text) is None


@pytest.mark.parametrize(("text", "size"), [
    ("64MB", 64_000_000), ("64MiB", 64 * 1024**2), ("512KB", 512_000), ("512 KiB", 524_288),
    ("1GiB", 1024**3), ("2gb", 2_000_000_000), ("1.5MB", 1_500_000), ("100B", 100),
    ("4096", 4096), (4096, 4096)])
def test_sizes_parse(text: object, size: int) -> None:
    """Sizes are SI (1000s) or IEC (1024s) units, any case, or a plain number of bytes."""
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["64XB", "", "MB", "-1MB", "1MB2", True, None, 1.5, [1]])
def test_bad_sizes_are_rejected(text: object) -> None:
    """Anything but a non-negative number with a known unit is not a size."""
    assert parse_size(text) is None


def test_max_response_size_defaults_to_16mib_and_errors_list_the_accepted_forms() -> None:
    """The cap defaults to 16 MiB; an unparsable one is a config problem saying what would parse."""
    assert parse_config(toml({}, [EXTEND])).sources[0].max_response_size == 16 * 1024**2
    got = problems(toml({}, [{**EXTEND, "max_response_size": "lots"}]))
    assert len(got) == 1 and got[0].startswith('sources[0].max_response_size: "lots" is not a '
                                               "size: bytes as an integer, or a number with B, "
                                               "KB, MB, GB")
    assert "KiB, MiB, GiB" in got[0]
    assert problems(toml({}, [{**EXTEND, "max_response_size": 10}])) == \
        ["sources[0].max_response_size: 10 is below the minimum of 1KiB"]


def test_check_shows_max_response_size_in_a_form_that_parses_back() -> None:
    """`watcher check` prints a size as a unit string that reads back to the same bytes."""
    for given, shown in (("2MB", '"2MB"'), ("3MiB", '"3MiB"'), (1500, '"1500B"')):
        out = resolved(parse_config(toml({}, [{**EXTEND, "max_response_size": given}])))
        assert f"max_response_size = {shown}" in out
        assert parse_config(out).sources[0].max_response_size == parse_size(given)


def test_defaults_fill_every_key() -> None:
    """A source given only name, provider and token gets every documented default."""
    cfg = parse_config(toml({}, [EXTEND]))
    s = cfg.sources[0]
    assert (s.interval, s.lookback, s.timeout, s.max_backoff, s.failure_threshold) == \
        (15.0, 86400.0, 30.0, 300.0, 3)
    assert s.base_url == "https://api.extend.ai"
    assert s.options.api_version == "2026-02-09"  # type: ignore[attr-defined]
    assert cfg.watcher.baseline == "silent" and cfg.watcher.retention == 7 * 86400


def test_env_vars_expand_and_secrets_are_collected() -> None:
    """${VAR} expands from the environment, and the value is recorded as a secret."""
    cfg = parse_config(toml({}, [{**EXTEND, "token": "${KEY}"}]), {"KEY": "s3cr3t-token"})
    assert cfg.sources[0].token == "s3cr3t-token"
    assert "s3cr3t-token" in cfg.secrets


def test_every_problem_is_listed_with_its_key_path() -> None:
    """Every problem in a config is reported at once, each with its 0-based key path."""
    text = toml({"baseline": "loud", "colour": "red"}, [
        EXTEND,
        {**EXTEND, "name": "b", "interval": "15x", "token": "${MISSING}", "intervall": "1s"},
        {**EXTEND, "name": "a", "provider": "extnd"},
    ], [{"name": "out", "type": "stdout", "match": {"statuz": ["failed"]}},
        {"name": "w", "type": "carrier-pigeon"}])
    got = problems(text)
    expected = [
        'watcher.baseline: "loud" must be one of silent, emit',
        "watcher.colour: unknown key",
        "sources[1].intervall: unknown key (did you mean 'interval'?)",
        'sources[1].interval: "15x" is not a duration',
        "sources[1].token: ${MISSING} is not set in the environment",
        'sources[2].provider: "extnd" is not a known provider',
        'sources[2].name: "a" is already used by another entry',
        "sinks[0].match.statuz: unknown key",
        'sinks[1].type: "carrier-pigeon" is not a known sink type',
    ]
    for line in expected:
        assert any(p.startswith(line) for p in got), (line, got)


def test_interval_below_one_second_is_rejected() -> None:
    """An interval under one second is refused, naming the minimum."""
    assert problems(toml({}, [{**EXTEND, "interval": "500ms"}])) == \
        ['sources[0].interval: "500ms" is below the minimum of 1s']


def test_token_or_token_file_is_required() -> None:
    """A source with neither token nor token_file is refused."""
    src = {k: v for k, v in EXTEND.items() if k != "token"}
    assert problems(toml({}, [src])) == ["sources[0].token: is required (or token_file)"]


def test_token_file_resolves_under_credentials_directory(tmp_path: Path) -> None:
    """A relative token_file is read from $CREDENTIALS_DIRECTORY, without its newline."""
    (tmp_path / "extend.key").write_text("from-a-credential\n")
    src = {k: v for k, v in EXTEND.items() if k != "token"} | {"token_file": "extend.key"}
    cfg = parse_config(toml({}, [src]), {"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert cfg.sources[0].token == "from-a-credential"


def test_match_values_are_validated() -> None:
    """A sink's match may name only real event types and canonical statuses."""
    got = problems(toml({}, [EXTEND], [{"name": "o", "type": "stdout",
                                        "match": {"types": ["run.explode"], "status": ["broke"]}}]))
    assert got == ['sinks[0].match.types: "run.explode" is not an event type',
                   'sinks[0].match.status: "broke" is not a canonical status']


def test_extend_page_size_is_bounded() -> None:
    """An Extend page_size above the vendor's maximum of 1000 is refused."""
    assert problems(toml({}, [{**EXTEND, "page_size": 5000}])) == \
        ["sources[0].page_size: 5000 exceeds Extend's maximum page size of 1000"]


# -- through the command line --------------------------------------------------------


def test_check_prints_resolved_config_with_secrets_masked(tmp_path: Path) -> None:
    """check prints the resolved config, defaults filled in and secrets shown as ***."""
    path = tmp_path / "w.toml"
    path.write_text(toml({}, [{**EXTEND, "token": "${KEY}"}], [{"name": "o", "type": "stdout"}]))
    r = run_cli("check", "-c", str(path), env={"KEY": "very-secret-token"})
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert 'token = "***"' in out and 'interval = "15s"' in out
    assert b"very-secret-token" not in r.stdout + r.stderr


def test_bad_config_exits_78_listing_every_problem_without_traceback(tmp_path: Path) -> None:
    """A bad config exits 78, listing every problem with file and key path, no traceback."""
    path = tmp_path / "w.toml"
    path.write_text(toml({}, [{**EXTEND, "interval": "15x"}, {**EXTEND, "token": "${NOPE}"}]))
    r = run_cli("check", "-c", str(path))
    err = r.stderr.decode()
    assert r.returncode == 78
    assert f'{path}: sources[0].interval: "15x" is not a duration' in err
    assert f"{path}: sources[1].token: ${{NOPE}} is not set in the environment" in err
    assert f'{path}: sources[1].name: "a" is already used by another entry' in err
    assert "Traceback" not in err
    assert r.stdout == b""


@pytest.mark.parametrize("command", ["run", "once", "check"])
def test_every_config_command_refuses_a_bad_config_with_78(tmp_path: Path, command: str) -> None:
    """run, once and check all refuse a bad config with exit 78."""
    path = tmp_path / "w.toml"
    path.write_text("[watcher]\nbaseline = 3\n")
    r = run_cli(command, "-c", str(path))
    assert r.returncode == 78 and b"watcher.baseline" in r.stderr


def test_unreadable_or_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    """A missing file or broken TOML is a config error (exit 78), not a crash."""
    r = run_cli("check", "-c", str(tmp_path / "absent.toml"))
    assert r.returncode == 78 and b"cannot read" in r.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[watcher\n")
    r = run_cli("check", "-c", str(bad))
    assert r.returncode == 78 and b"invalid TOML" in r.stderr


def test_config_path_comes_from_watcher_config_env(tmp_path: Path) -> None:
    """Without -c, the config path comes from $WATCHER_CONFIG."""
    path = tmp_path / "w.toml"
    path.write_text(toml({}, [EXTEND]))
    assert run_cli("check", env={"WATCHER_CONFIG": str(path)}).returncode == 0


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["run", "--bogus"], ["demo", "--duration"]])
def test_usage_errors_exit_64(args: list[str]) -> None:
    """No command, an unknown command or a bad option exits 64 with usage."""
    r = run_cli(*args)
    assert r.returncode == 64, r.stderr
    assert b"usage:" in r.stderr


def test_the_example_config_says_each_thing_once() -> None:
    """No passage of the example config's comments (eight words in a row) is repeated,
    so a reader never wonders whether two explanations of one key differ."""
    text = (ROOT / "config" / "watcher.example.toml").read_text()
    words = [w for line in text.splitlines() if line.lstrip().startswith("#")
             for w in re.findall(r"\S+", line.lstrip("# ").lower())]
    runs = Counter(" ".join(words[i:i + 8]) for i in range(len(words) - 7))
    assert [r for r, n in runs.items() if n > 1] == []


def test_problems_are_listed_in_the_order_of_the_file() -> None:
    """Problems come in the order of their keys in the file, across tables and within
    one, an unset ${VAR} included (it is expanded before its table is checked)."""
    text = toml({"colour": "red"}, [
        {"name": "a", "provider": "extend", "interval": "15x", "intervall": "1s",
         "token": "${MISSING}"},
        {**EXTEND, "name": "b", "lookback": "999999d"},
    ], [{"name": "out", "type": "stdout", "match": {"statuz": ["failed"]}}])
    got = [p.split(":")[0] for p in problems(text)]
    assert got == ["watcher.colour", "sources[0].interval", "sources[0].intervall",
                   "sources[0].token", "sources[1].lookback", "sinks[0].match.statuz"]
