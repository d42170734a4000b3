"""A state is never created by accident: ``run`` makes one only in a directory that
exists; the commands beside a daemon (silence, status, deadletters) never make one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import run_cli, toml

SOURCE = {"name": "nowhere", "provider": "extend", "token": "t",
          "base_url": "http://127.0.0.1:9"}


def test_run_refuses_a_state_path_in_a_directory_that_does_not_exist(tmp_path: Path) -> None:
    """A typo in state_path exits 69 at once naming the path, creating no directory (it
    made the directory and a fresh state before)."""
    state = tmp_path / "typo" / "dir" / "state.db"
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(toml({"state_path": str(state), "http_listen": ""}, [SOURCE],
                        [{"name": "out", "type": "stdout"}]))
    r = run_cli("run", "-c", str(cfg), timeout=30)
    err = r.stderr.decode()
    assert r.returncode == 69, err[-2000:]
    assert str(state) in err and f"the directory {state.parent} does not exist" in err
    assert not (tmp_path / "typo").exists()


@pytest.mark.parametrize("command", [
    ["silence", "add", "--match", "source=nowhere", "--for", "1h", "--comment", "deploy"],
    ["silence", "list"], ["status"], ["deadletters", "list"]])
def test_commands_beside_a_daemon_never_create_its_state(tmp_path: Path,
                                                         command: list[str]) -> None:
    """With state_path unset and no daemon state in the current directory, silence,
    status and deadletters exit 66 saying where they looked and why, creating nothing
    (silence add wrote a new ./watcher-state.db the daemon never read, and exited 0)."""
    cfg = tmp_path / "etc" / "watcher.toml"
    cfg.parent.mkdir()
    cfg.write_text(toml({"http_listen": ""}, [SOURCE], [{"name": "out", "type": "stdout"}]))
    here = tmp_path / "cwd"
    here.mkdir()
    r = run_cli(*command, "-c", str(cfg), cwd=here, env={"STATE_DIRECTORY": ""}, timeout=30)
    err = r.stderr.decode()
    assert r.returncode == 66, err[-2000:]
    assert "no daemon state at watcher-state.db" in err
    assert "state_path is not set" in err and "$STATE_DIRECTORY/state.db" in err
    assert list(here.iterdir()) == [] and r.stdout == b""
