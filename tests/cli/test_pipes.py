"""Unix manners: a reader that goes away (``watcher demo | head -1``) ends a command
quietly with exit 0, never with a traceback or a loop of write errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import ROOT

CONFIG = """
[watcher]
state_path = ":memory:"
http_listen = ""

[[sources]]
name = "nowhere"
provider = "extend"
token = "t"
base_url = "http://127.0.0.1:9"
timeout = "2s"

[[sinks]]
name = "out"
type = "stdout"
"""


def with_reader_gone(*args: str, after_lines: int, timeout: float = 30.0
                     ) -> tuple[int, float, str]:
    """``python -m watcher ARGS`` with stdout a pipe whose reader closes after
    ``after_lines`` lines; its exit code, how long it took, and its stderr."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "watcher", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    for _ in range(after_lines):
        assert proc.stdout.readline()
    proc.stdout.close()
    try:
        err = proc.stderr.read()  # to its end: the process has exited (or closed stderr)
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return code, time.monotonic() - start, err.decode(errors="replace")


def test_demo_ends_quietly_once_its_reader_is_gone() -> None:
    """``watcher demo --format json | head -1``: exit 0 within seconds, no traceback, no
    write errors logged (it ran forever before, logging Broken pipe)."""
    code, took, err = with_reader_gone("demo", "--format", "json", after_lines=1)
    assert code == 0, err[-2000:]
    assert took < 20
    assert "Traceback" not in err and "Broken pipe" not in err
    assert "cannot write to stdout" not in err


@pytest.mark.parametrize("args", [["check"], ["check", "--connect"]])
def test_one_shot_commands_end_quietly_when_stdout_is_closed(tmp_path: Path,
                                                             args: list[str]) -> None:
    """check and check --connect with stdout closed before they print: exit 0,
    never a BrokenPipeError (check --connect raised one 1 time in 3)."""
    config = tmp_path / "watcher.toml"
    config.write_text(CONFIG)
    code, _, err = with_reader_gone(*args, "-c", str(config), after_lines=0)
    assert code == 0, err[-2000:]
    assert "BrokenPipeError" not in err and "Traceback" not in err
    assert "Exception ignored" not in err
