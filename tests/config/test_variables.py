"""``${VAR}`` and ``${VAR:-default}`` in the config, and commands that read only a few
keys (``status``, ``silence``, ``deadletters``) not failing for a variable they do not
need (the unit's ``${WATCHER_REPLICA}``)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from tests.support import parse_config, run_cli, toml
from watcher.errors import ConfigError
from watcher.state.backends import open_store

SOURCE = {"name": "a", "provider": "extend", "token": "${EXTEND_TOKEN:-t0k}"}
BASE = toml({"state_path": ":memory:", "replica": "${WATCHER_REPLICA:-host-a}"}, [SOURCE])


def test_a_default_is_used_when_the_variable_is_unset_or_empty() -> None:
    """``${VAR:-default}``: the variable when set and not empty, else the default (as sh)."""
    unset = parse_config(BASE, env={})
    assert unset.watcher.replica == "host-a" and unset.sources[0].token == "t0k"
    empty = parse_config(BASE, env={"WATCHER_REPLICA": "", "EXTEND_TOKEN": ""})
    assert empty.watcher.replica == "host-a"
    given = parse_config(BASE, env={"WATCHER_REPLICA": "host-b", "EXTEND_TOKEN": "s3cret"})
    assert given.watcher.replica == "host-b" and given.sources[0].token == "s3cret"
    assert "s3cret" in given.secrets
    mixed = toml({"state_path": "${DIR:-/var/lib/watcher}/${NAME:-state}.db"}, [SOURCE])
    assert parse_config(mixed, env={"NAME": "x"}).watcher.state_path == "/var/lib/watcher/x.db"


def test_a_variable_without_default_is_still_an_error_when_unset() -> None:
    """``${VAR}`` unset stays a configuration problem naming it, once per key."""
    text = toml({"state_path": ":memory:", "replica": "${WATCHER_REPLICA}"},
                [{**SOURCE, "interval": "${IVAL}"}])
    with pytest.raises(ConfigError) as e:
        parse_config(text, env={})
    assert e.value.problems == ["watcher.replica: ${WATCHER_REPLICA} is not set in the environment",
                                "sources[0].interval: ${IVAL} is not set in the environment"]


def test_status_silence_and_deadletters_do_not_need_the_replica_variable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """From a shell without the unit's ${WATCHER_REPLICA} (or a token's variable),
    status, silence list and deadletters list read the daemon's state (they exited 78);
    run still refuses the config, and a variable in state_path is still needed."""
    state = tmp_path / "state.db"
    anyio.run(_made, str(state))  # the state a daemon left
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(toml({"state_path": str(state), "replica": "${WATCHER_REPLICA}",
                         "http_listen": ""},
                        [{**SOURCE, "token": "${EXTEND_TOKEN}"}],
                        [{"name": "hook", "type": "webhook", "url": "${HOOK_URL}"}]))
    for name in ("WATCHER_REPLICA", "EXTEND_TOKEN", "HOOK_URL", "STATE_FILE"):
        monkeypatch.delenv(name, raising=False)  # unset, as in a shell outside the unit
    for command in (["status"], ["silence", "list"], ["deadletters", "list"]):
        r = run_cli(*command, "-c", str(cfg))
        assert r.returncode == 0, (command, r.stderr.decode())
    run = run_cli("run", "-c", str(cfg), timeout=30)
    assert run.returncode == 78 and b"${WATCHER_REPLICA} is not set" in run.stderr
    cfg.write_text(toml({"state_path": "${STATE_FILE}"}, [SOURCE]))
    r = run_cli("status", "-c", str(cfg))
    assert r.returncode == 78 and b"state_path: ${STATE_FILE} is not set" in r.stderr


async def _made(path: str) -> None:
    await (await open_store(path)).close()
