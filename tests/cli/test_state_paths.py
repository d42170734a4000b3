"""A state is never created by accident: ``run`` makes one only in a directory that
exists; the commands beside a daemon (silence, status, deadletters) never make one."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.http_support import eventually, free_port, http_get
from tests.support import DaemonProc, run_cli, toml

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


def test_status_without_a_state_here_asks_the_running_daemon(tmp_path: Path) -> None:
    """With state_path unset in a shell elsewhere than the daemon's directory, status shows
    the daemon's own /status through http_listen (as amtool asks Alertmanager), saying so;
    with --json, that document."""
    port = free_port()
    daemon_cfg = tmp_path / "daemon.toml"
    daemon_cfg.write_text(toml({"state_path": str(tmp_path / "state.db"),
                                "http_listen": f"127.0.0.1:{port}"}, [SOURCE],
                               [{"name": "out", "type": "stdout"}]))
    shell_cfg = tmp_path / "shell.toml"  # what an operator's shell reads: no state_path
    shell_cfg.write_text(toml({"http_listen": f"127.0.0.1:{port}"}, [SOURCE],
                              [{"name": "out", "type": "stdout"}]))
    here = tmp_path / "cwd"
    here.mkdir()
    d = DaemonProc("run", "-c", str(daemon_cfg))
    try:
        eventually(lambda: http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200,
                   what="daemon listening")
        table = run_cli("status", "-c", str(shell_cfg), cwd=here, env={"STATE_DIRECTORY": ""})
        assert table.returncode == 0, table.stderr.decode()
        assert f"the daemon at http://127.0.0.1:{port}" in table.stderr.decode()
        assert "nowhere" in table.stdout.decode() and "out" in table.stdout.decode()
        doc = run_cli("status", "--json", "-c", str(shell_cfg), cwd=here,
                      env={"STATE_DIRECTORY": ""})
        assert orjson.loads(doc.stdout)["sources"][0]["name"] == "nowhere"
        assert list(here.iterdir()) == []
    finally:
        assert d.stop() == 0


@pytest.mark.parametrize("command", [["status"], ["silence", "list"]])
def test_a_daemon_refusing_the_token_is_said_in_one_line_with_exit_77(
        tmp_path: Path, command: list[str]) -> None:
    """A daemon that answers but refuses the token is named with its 401, exit 77, and not
    also said to be absent (it was two lines, the second "no daemon answers", exit 69)."""
    port = free_port()
    daemon_cfg = tmp_path / "daemon.toml"
    daemon_cfg.write_text(toml({"state_path": ":memory:", "http_listen": f"127.0.0.1:{port}",
                                "http_token": "right-token"}, [SOURCE],
                               [{"name": "out", "type": "stdout"}]))
    shell_cfg = tmp_path / "shell.toml"
    shell_cfg.write_text(toml({"state_path": ":memory:", "http_listen": f"127.0.0.1:{port}",
                               "http_token": "wrong-token"}, [SOURCE],
                              [{"name": "out", "type": "stdout"}]))
    d = DaemonProc("run", "-c", str(daemon_cfg))
    try:
        eventually(lambda: http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200,
                   what="daemon listening")
        r = run_cli(*command, "-c", str(shell_cfg))
    finally:
        assert d.stop() == 0
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 77, lines
    assert len(lines) == 1 and "401 Unauthorized" in lines[0], lines
    assert "wrong-token" not in lines[0]
