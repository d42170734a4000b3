"""``watcher simulate`` on an address it cannot listen on: one line, exit 69."""

from __future__ import annotations

import socket

from tests.support import run_cli


def test_a_port_in_use_or_out_of_range_is_one_line_and_exit_69() -> None:
    """A port already taken, or beyond 65535, is said in one line (no traceback), exit 69."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = run_cli("simulate", "--port", str(port), timeout=30)
    wide = run_cli("simulate", "--port", "99999", timeout=30)
    for done, port_text in ((busy, str(port)), (wide, "99999")):
        err = done.stderr.decode()
        assert done.returncode == 69, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert err.startswith(f"watcher: the simulator cannot listen on 127.0.0.1:{port_text}: ")

