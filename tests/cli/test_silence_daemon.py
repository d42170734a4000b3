"""``watcher silence`` from a shell whose config points to no state (``state_path``
unset, the daemon on ``$STATE_DIRECTORY``): it acts through the daemon's ``/silences``,
as amtool acts through Alertmanager, so the silence lands where the daemon reads it."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson

from tests.http_support import eventually, free_port, http_get
from tests.support import DaemonProc, run_cli, toml

SOURCE = {"name": "nowhere", "provider": "extend", "token": "t",
          "base_url": "http://127.0.0.1:9"}
SINKS = [{"name": "out", "type": "stdout"}]


def active_silences(port: int) -> list[str]:
    """The ids the daemon holds events back for now, per its /status."""
    code, body = http_get(f"http://127.0.0.1:{port}/status")
    assert code == 200
    return [s["id"] for s in orjson.loads(body)["silences"] if s["kind"] == "silence"]


def put(port: int, path: str, body: bytes, content_type: str) -> tuple[int, Any]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="PUT",
                                 headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, orjson.loads(e.read())


def test_silence_commands_without_a_state_here_act_through_the_daemon(tmp_path: Path) -> None:
    """add, list and expire from a shell with state_path unset reach the daemon's own
    state through http_listen (they exited 66 there, and wrote ./watcher-state.db before
    that): the daemon applies the silence, then lets events through again; nothing is
    created in the current directory."""
    port = free_port()
    daemon_cfg = tmp_path / "daemon.toml"
    daemon_cfg.write_text(toml({"state_path": str(tmp_path / "state.db"),
                                "http_listen": f"127.0.0.1:{port}"}, [SOURCE], SINKS))
    shell_cfg = tmp_path / "shell.toml"
    shell_cfg.write_text(toml({"http_listen": f"127.0.0.1:{port}"}, [SOURCE], SINKS))
    here = tmp_path / "cwd"
    here.mkdir()

    def cli(*args: str) -> tuple[int, str, str]:
        r = run_cli("silence", *args, "-c", str(shell_cfg), cwd=here,
                    env={"STATE_DIRECTORY": ""})
        return r.returncode, r.stdout.decode(), r.stderr.decode()
    d = DaemonProc("run", "-c", str(daemon_cfg))
    try:
        eventually(lambda: http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200,
                   what="daemon listening")
        code, out, err = cli("add", "--match", "source=nowhere", "--for", "1h",
                             "--comment", "vendor maintenance")
        assert code == 0, err
        sid = out.strip()
        assert f"acting through the daemon at http://127.0.0.1:{port}" in err
        eventually(lambda: sid in active_silences(port), what="the daemon applies it")
        code, out, _ = cli("list", "--json")
        [row] = [orjson.loads(line) for line in out.splitlines()]
        assert (code, row["id"], row["comment"], row["held"]) == (0, sid, "vendor maintenance",
                                                                  None)
        code, _, err = cli("expire", sid)
        assert code == 0 and f"silence {sid} expired" in err
        eventually(lambda: sid not in active_silences(port), what="the daemon lets go")
        assert cli("expire", "0123456789ab")[0] == 64
        assert list(here.iterdir()) == []
    finally:
        assert d.stop() == 0


def test_the_silences_endpoint_stores_only_well_formed_silences_sent_as_json(
        tmp_path: Path) -> None:
    """PUT /silences/{id} wants application/json (no cross-site form can send it) and a
    well-formed silence whose id is the URL's, whose match is valid as a config's and
    whose times are real epoch seconds in order; anything else is refused, nothing stored."""
    port = free_port()
    cfg = tmp_path / "daemon.toml"
    cfg.write_text(toml({"state_path": str(tmp_path / "state.db"),
                         "http_listen": f"127.0.0.1:{port}"}, [SOURCE], SINKS))
    good = {"id": "abc123", "match": {"source": ["nowhere"]}, "starts": 1.0,
            "ends": 4102444800.0, "sinks": [], "author": "a", "comment": "c", "created": 1.0,
            "expired": None}
    d = DaemonProc("run", "-c", str(cfg))
    try:
        eventually(lambda: http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200,
                   what="daemon listening")
        assert put(port, "/silences/abc123", orjson.dumps(good), "text/plain")[0] == 415
        assert put(port, "/silences/other", orjson.dumps(good), "application/json")[0] == 400
        bad = {**good, "match": {"source": "nowhere"}}
        assert put(port, "/silences/abc123", orjson.dumps(bad), "application/json")[0] == 400
        assert put(port, "/silences/abc123", b"[1]", "application/json")[0] == 400
        for worse in ({"match": {"type": ["run.failed"]}},  # no such event type
                      {"match": {"sorce": ["x"]}}, {"ends": 1e300}, {"expired": "x"},
                      {"ends": 0.5}):
            code, body = put(port, "/silences/abc123", orjson.dumps({**good, **worse}),
                             "application/json")
            assert code == 400, (worse, body)
        assert orjson.loads(http_get(f"http://127.0.0.1:{port}/silences")[1]) == []
        assert put(port, "/silences/abc123", orjson.dumps(good), "application/json")[0] == 200
        assert orjson.loads(http_get(f"http://127.0.0.1:{port}/silences")[1]) == [good]
    finally:
        assert d.stop() == 0
