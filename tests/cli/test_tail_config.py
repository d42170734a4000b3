"""``watcher tail -c FILE``: the daemon's address and token come from its config; a
``--token-file`` instead of a secret on the command line; no endless retries when
nothing listens; ``--format pretty``."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import pytest

from tests.cli.test_tail import TOKEN, Setup, count, setup
from tests.http_support import eventually, free_port
from tests.support import SimThread, run_cli

__all__ = ["setup"]  # the fixture, shared with test_tail


def test_tail_c_reads_http_listen_and_the_token_file_from_the_config(
        setup: Setup, sim_thread: SimThread) -> None:
    """With -c and nothing else (no --url, no token in the environment), tail finds the
    daemon and its token through the config's http_listen and http_token_file."""
    daemon = setup.daemon()
    tail = setup.tail("-c", str(setup.config), env={"WATCHER_HTTP_TOKEN": ""})
    eventually(lambda: setup.sse_clients() == 1, what="tail connected")
    sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    tail.wait_for(count(1))
    daemon.wait_for(count(1))
    assert tail.stdout == daemon.stdout


def test_tail_token_file_is_read_and_the_token_never_needs_the_command_line(
        setup: Setup, sim_thread: SimThread, tmp_path: Path) -> None:
    """--token-file FILE reads the bearer token from a file; --token no longer exists."""
    setup.daemon()
    (tmp_path / "token").write_text(TOKEN + "\n")
    tail = setup.tail("--url", setup.url, "--token-file", str(tmp_path / "token"),
                      "--format", "pretty", env={"WATCHER_HTTP_TOKEN": ""})
    eventually(lambda: setup.sse_clients() == 1, what="tail connected")
    run = sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    line = tail.lines.get(timeout=20).decode()
    assert "extend-test" in line and "new -> running" in line and "{" not in line
    assert f"workflow_run_{run.id[13:17]}…{run.id[-4:]}" in line  # the prefix kept whole
    old = run_cli("tail", "--url", setup.url, "--token", TOKEN, timeout=20)
    assert old.returncode == 64 and b"--token" in old.stderr


def test_tail_says_so_and_exits_69_when_nothing_listens() -> None:
    """Pointed at a port nobody listens on, tail exits 69 at once with a clear message."""
    r = run_cli("tail", "--url", f"http://127.0.0.1:{free_port()}", timeout=30)
    assert r.returncode == 69, r.stderr
    assert b"nothing answers there" in r.stderr and b"is the daemon running" in r.stderr
    assert r.stdout == b""


def test_a_malformed_url_is_a_usage_error_at_once_with_the_accepted_forms() -> None:
    """--url notaurl, ftp://... or a port out of range: exit 64 at once, naming the forms
    tail accepts, instead of retrying a mangled URL forever."""
    for url in ("notaurl", "ftp://127.0.0.1:21", "http://127.0.0.1:99999", "http://"):
        r = run_cli("tail", "--url", url, timeout=20)
        assert r.returncode == 64, (url, r.stderr.decode())
        err = r.stderr.decode()
        assert f'--url "{url}" is not a daemon URL' in err and "http://HOST:PORT" in err


def test_a_url_without_scheme_is_taken_as_http(setup: Setup, sim_thread: SimThread) -> None:
    """--url 127.0.0.1:PORT follows the daemon at http://127.0.0.1:PORT (it was mangled to
    127.0.0.1:/PORT/events and retried forever)."""
    setup.daemon()
    tail = setup.tail("--url", f"127.0.0.1:{setup.port}")
    eventually(lambda: setup.sse_clients() == 1, what="tail connected")
    sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    assert tail.wait_for(count(1))


@pytest.mark.parametrize("greeting", [b"", b'INFO {"server_id":"nats"}\r\n'])
def test_tail_pointed_at_a_port_that_does_not_speak_http_exits_76_in_one_line(
        greeting: bytes) -> None:
    """Another service's port (one that hangs up, one that greets in its own protocol):
    tail exits 76 at once in one line, rather than retrying forever with a log line."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def serve() -> None:
            with contextlib.suppress(OSError):
                while True:
                    conn, _ = server.accept()
                    with conn:
                        conn.sendall(greeting)

        threading.Thread(target=serve, daemon=True).start()
        r = run_cli("tail", "--url", f"http://127.0.0.1:{port}", timeout=30)
    lines = r.stderr.decode().splitlines()
    assert r.returncode == 76, lines
    assert len(lines) == 1 and "is not an HTTP server" in lines[0], lines
    assert r.stdout == b""
