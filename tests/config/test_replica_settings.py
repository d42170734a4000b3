"""The settings of several replicas: a PostgreSQL state_path whose password is a secret,
``replica``, ``lease_ttl`` and ``listen_url``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import parse_config, run_cli, toml
from watcher.errors import ConfigError
from watcher.infra.secrets import masked_url

URL = "postgresql://watcher:pa55-word@db.internal:5432/watcher"


def test_a_database_password_is_a_secret_from_the_url_a_variable_or_pgpassword() -> None:
    """The password of a postgresql:// state_path, given in it, through ${VAR} or as
    $PGPASSWORD, is among the secrets logs and output mask."""
    assert "pa55-word" in parse_config(toml({"state_path": URL})).secrets
    via_var = parse_config(toml({"state_path": "postgresql://w:${PW}@db/w"}),
                           env={"PW": "from-env"})
    assert "from-env" in via_var.secrets
    via_pg = parse_config(toml({"state_path": "postgres://w@db/w"}), env={"PGPASSWORD": "pgpw1"})
    assert "pgpw1" in via_pg.secrets
    plain = parse_config(toml({"state_path": "state.db"}), env={"PGPASSWORD": "pgpw1"})
    assert "pgpw1" not in plain.secrets


def test_check_shows_the_database_url_with_its_password_masked(tmp_path: Path) -> None:
    """``watcher check`` prints the state_path URL with the password as ***."""
    path = tmp_path / "w.toml"
    path.write_text(toml({"state_path": URL, "replica": "host-a", "lease_ttl": "9s"}))
    r = run_cli("check", "-c", str(path))
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert 'state_path = "postgresql://watcher:***@db.internal:5432/watcher"' in out
    assert 'replica = "host-a"' in out and 'lease_ttl = "9s"' in out
    assert "pa55-word" not in out


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://u:p%40ss@h/d?sslmode=require", "postgresql://u:***@h/d?sslmode=require"),
    ("postgres://u@h:5433/d", "postgres://u@h:5433/d"),
    ("postgresql://h/d", "postgresql://h/d"),
    ("/var/lib/watcher/state.db", "/var/lib/watcher/state.db"),
])
def test_a_url_is_shown_without_its_password(url: str, shown: str) -> None:
    """Only the password of a URL is masked; the rest (and a plain path) shows as is."""
    assert masked_url(url) == shown


@pytest.mark.parametrize(("watcher", "problem"), [
    ({"lease_ttl": "2s"}, 'watcher.lease_ttl: "2s" is below the minimum of 3s'),
    ({"replica": ""}, 'watcher.replica: "" must be 1-100 printable characters'),
    ({"replica": " a"}, 'watcher.replica: " a" must be 1-100 printable characters'),
])
def test_replica_settings_are_validated(watcher: dict[str, str], problem: str) -> None:
    """A lease_ttl under 3s and an empty or padded replica name are refused with their path."""
    with pytest.raises(ConfigError) as e:
        parse_config(toml({"state_path": URL, **watcher}))
    assert any(p.startswith(problem) for p in e.value.problems), e.value.problems
