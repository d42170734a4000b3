"""Logs as an operator gets them (JSON under systemd, colour on a terminal), and secrets
kept out of every surface a daemon subprocess has: logs, stdout, check, HTTP, state file."""

from __future__ import annotations

import errno
import logging
import os
import pty
import secrets
import signal
import socket
import subprocess
import sys
from io import StringIO
from pathlib import Path

import orjson
import pytest

from tests.http_support import eventually, free_port, http_get
from tests.support import ROOT, DaemonProc, SimThread, event_types, run_cli, sim_source, toml
from watcher.server import logs


def once_config(sim: SimThread, tmp_path: Path) -> Path:
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(toml({"state_path": ":memory:", "http_listen": ""},
                        [sim_source(sim.url, sim.world, "extend")]))
    return cfg


def run_once_with_stderr(cfg: Path, stderr_fd: int, env: dict[str, str]) -> None:
    full_env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    full_env.update({"PYTHONPATH": str(ROOT), **env})
    proc = subprocess.run([sys.executable, "-m", "watcher", "once", "-c", str(cfg)],
                          stdout=subprocess.DEVNULL, stderr=stderr_fd, env=full_env,
                          timeout=30, check=False)
    assert proc.returncode == 0


def stderr_on_a_tty(cfg: Path, env: dict[str, str] | None = None) -> str:
    master, slave = pty.openpty()
    try:
        st = os.fstat(slave)
        env = {k: v.replace("{tty}", f"{st.st_dev}:{st.st_ino}") for k, v in (env or {}).items()}
        run_once_with_stderr(cfg, slave, env)
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError as e:  # EIO: the terminal's other side is closed and drained
                assert e.errno == errno.EIO
                break
            if not chunk:
                break
            out += chunk
        return out.decode(errors="replace")
    finally:
        os.close(master)


def test_logs_are_coloured_console_on_a_tty_and_json_lines_on_the_journal_stream(
        sim_thread: SimThread, tmp_path: Path) -> None:
    """Logs are coloured text on a terminal and JSON lines when stderr is journald's stream."""
    cfg = once_config(sim_thread, tmp_path)

    console = stderr_on_a_tty(cfg)
    assert "baseline recorded" in console
    assert "\x1b[" in console  # colour
    assert not console.lstrip().startswith("{")

    # a shell started from a service inherits JOURNAL_STREAM, but its stderr is a terminal
    inherited = stderr_on_a_tty(cfg, {"JOURNAL_STREAM": "1:1"})
    assert "\x1b[" in inherited and not inherited.lstrip().startswith("{")

    # under systemd, stderr is a stream socket to journald that JOURNAL_STREAM names
    journald, ours = socket.socketpair()
    with journald, ours:
        st = os.fstat(ours.fileno())
        run_once_with_stderr(cfg, ours.fileno(),
                             {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
        ours.close()
        raw = b""
        while chunk := journald.recv(65536):
            raw += chunk
    lines = [orjson.loads(line) for line in raw.splitlines()]
    assert lines and all({"event", "level", "ts"} <= line.keys() for line in lines)
    baseline = next(line for line in lines if line["event"] == "baseline recorded")
    assert baseline["source"] == "extend-test"


def test_no_secret_reaches_logs_stdout_check_metrics_events_or_the_state_file(
        sim_thread: SimThread, tmp_path: Path) -> None:
    """No token or key reaches logs, stdout, check, HTTP, events or the state file, even echoed."""
    source_token = "sk_live_" + secrets.token_hex(12)  # read from a credentials file
    wrong_token = "sk_live_" + secrets.token_hex(12)  # a second source whose key is refused
    http_token = "http_" + secrets.token_hex(12)
    # a key the vendor's refusal quotes back ("401 ... Invalid or missing API key"), as
    # some vendors echo the key they refused: it must be masked in the failing event too
    echoed_token = "missing API key"
    sim_thread.call(lambda w: w.tokens.__setitem__("extend", source_token))
    creds = tmp_path / "credentials"  # what LoadCredential= gives a service
    creds.mkdir()
    (creds / "extend-token").write_text(source_token + "\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    good = sim_source(sim_thread.url, sim_thread.world, "extend", name="good",
                      failure_threshold=2, max_backoff="1s")
    del good["token"]
    good["token_file"] = "extend-token"  # relative: resolved under $CREDENTIALS_DIRECTORY
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(toml(
        {"state_path": str(tmp_path / "state.db"), "http_listen": f"127.0.0.1:{port}",
         "http_token": "${WATCHER_HTTP_TOKEN}", "log_level": "debug"},
        [good, sim_source(sim_thread.url, sim_thread.world, "extend", name="refused",
                          token="${OTHER_KEY}", failure_threshold=2, max_backoff="1s"),
         sim_source(sim_thread.url, sim_thread.world, "extend", name="echoed",
                    token="${ECHOED_KEY}", failure_threshold=1)],
        [{"name": "out", "type": "stdout"}]))
    env = {"CREDENTIALS_DIRECTORY": str(creds), "WATCHER_HTTP_TOKEN": http_token,
           "OTHER_KEY": wrong_token, "ECHOED_KEY": echoed_token}

    daemon = DaemonProc("run", "-c", str(cfg), env=env)
    eventually(lambda: http_get(url + "/healthz")[0] == 200, what="listener up")
    tail = DaemonProc("tail", "--url", url, "--since-id", "0", env=env)
    try:
        daemon.wait_stderr("baseline recorded")  # the good source is watching
        run = sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
        daemon.wait_for(lambda evs: "run.created" in event_types(evs))
        sim_thread.call(lambda w: w.set_status(run, "FAILED", error="boom"))
        # rotate the key at the vendor: the good source now fails auth too
        sim_thread.call(lambda w: w.tokens.__setitem__("extend", "rotated-" + source_token[::-1]))
        evs = daemon.wait_for(lambda evs: event_types(evs).count("source.failing") == 3)
        tail.wait_for(lambda t: len(t) == len(evs))
        daemon.send(signal.SIGHUP)
        daemon.wait_stderr("config reloaded")
        surfaces = {"metrics": http_get(url + "/metrics")[1],
                    "readyz": http_get(url + "/readyz")[1],
                    "healthz": http_get(url + "/healthz")[1]}
        check = run_cli("check", "-c", str(cfg), env=env)
        assert check.returncode == 0
    finally:
        assert daemon.stop() == 0
        tail.stop(signal.SIGINT)
    surfaces.update({
        "daemon stdout": b"".join(daemon.stdout), "daemon stderr": b"".join(daemon.stderr),
        "tail stdout": b"".join(tail.stdout), "tail stderr": b"".join(tail.stderr),
        "check stdout": check.stdout, "check stderr": check.stderr,
    })
    for f in tmp_path.glob("state.db*"):
        surfaces[f.name] = f.read_bytes()

    # what was searched holds what it should, so finding nothing means something
    assert b"401 Unauthorized" in surfaces["daemon stderr"]
    assert b"source failing" in surfaces["daemon stderr"]
    assert b'"ready": true' in surfaces["readyz"]
    assert b"watcher_polls_total" in surfaces["metrics"]
    assert b'http_token = "***"' in surfaces["check stdout"]
    assert b"watcher.source.failing" in surfaces["state.db"]
    echoed = next(e for e in evs if e["subject"] == "echoed")
    assert echoed["data"]["error"] == "401 Unauthorized: Invalid or ***"
    assert surfaces["tail stdout"] == surfaces["daemon stdout"]
    for name, blob in surfaces.items():
        for secret in (source_token, wrong_token, http_token, echoed_token):
            assert secret.encode() not in blob, f"a secret leaked into {name}"


def test_a_standard_library_record_with_a_traceback_is_one_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """aiohttp's or asyncio's record with an exception is one line (a JSON one when logs
    are JSON), the exception by type and message, no traceback, its secrets masked."""
    for fmt in ("json", "console"):
        out = StringIO()
        with monkeypatch.context() as m:
            m.setattr(sys, "stderr", out)
            logs.configure(fmt=fmt, secrets=["hunter2-secret"])
        try:
            raise ValueError("bad method b'aaaa'\\n  hunter2-secret")
        except ValueError:
            logging.getLogger("aiohttp.server").exception("Error handling request")
        text = out.getvalue()
        assert len(text.splitlines()) == 1 and "Traceback" not in text, text
        assert "hunter2-secret" not in text and "ValueError: bad method" in text, text
        if fmt == "json":
            line = orjson.loads(text)
            assert (line["level"], line["logger"]) == ("error", "aiohttp.server"), line
    logs.configure()
