"""``watcher tail`` against a running daemon subprocess, over its real /events stream."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.event_schema import EXAMPLE
from tests.http_support import eventually, free_port, http_get, polled
from tests.procfs import PeakMemory
from tests.sinks.receiver import Receiver, Reply
from tests.support import ROOT, DaemonProc, SimThread, event_types, run_cli, sim_source, toml

TOKEN = "tail-test-token-6f1d2a"


class Setup:
    """A config with a listener, a persistent journal and a bearer token on /events."""

    def __init__(self, sim: SimThread, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = tmp_path / "watcher.toml"
        (tmp_path / "http-token").write_text(TOKEN + "\n")
        self.config.write_text(toml(
            {"state_path": str(tmp_path / "state.db"), "http_listen": f"127.0.0.1:{self.port}",
             "http_token_file": "http-token"},
            [sim_source(sim.url, sim.world, "extend")], [{"name": "out", "type": "stdout"}]))
        self.procs: list[DaemonProc] = []

    def daemon(self) -> DaemonProc:
        d = DaemonProc("run", "-c", str(self.config), env={"WATCHER_HTTP_TOKEN": TOKEN})
        self.procs.append(d)
        eventually(lambda: polled(self.url), what="first poll")
        return d

    def tail(self, *args: str, env: dict[str, str] | None = None) -> DaemonProc:
        t = DaemonProc("tail", *args, env={"WATCHER_HTTP_TOKEN": TOKEN, **(env or {})})
        self.procs.append(t)
        return t

    def sse_clients(self) -> float:
        _, body = http_get(self.url + "/metrics")
        fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
        return fams["watcher_sse_clients"].samples[0].value


@pytest.fixture
def setup(sim_thread: SimThread, tmp_path: Path) -> Iterator[Setup]:
    s = Setup(sim_thread, tmp_path)
    try:
        yield s
    finally:
        for p in s.procs:
            p.stop(signal.SIGINT)


def count(n: int) -> Callable[[list[object]], bool]:
    return lambda evs: len(evs) >= n


def test_tail_prints_what_the_stdout_sink_printed_and_resumes_after_a_restart_without_gaps(
        setup: Setup, sim_thread: SimThread) -> None:
    """tail prints byte for byte what the stdout sink printed, resuming across a restart."""
    first = setup.daemon()
    tail = setup.tail("--url", setup.url, "--since-id", "0")  # the token from the environment
    one = sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    first.wait_for(count(1))
    sim_thread.call(lambda w: w.set_status(one, "FAILED"))
    two = sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    first.wait_for(count(3))
    tail.wait_for(count(3))
    assert first.stop() == 0

    # while the daemon is down: a transition, and a run it has never seen
    sim_thread.call(lambda w: w.set_status(two, "PROCESSED"))
    sim_thread.call(lambda w: w.add_run("extend", "PENDING"))
    second = setup.daemon()
    second.wait_for(count(2))  # caught up at its first poll
    tail.wait_for(count(5))

    assert tail.stdout == first.stdout + second.stdout  # byte for byte, in order, once each
    assert sorted(event_types(tail.events())) == ["run.created"] * 3 + ["run.status_changed"] * 2
    assert "event stream ended; reconnecting" in tail.err_text()
    assert tail.proc.poll() is None  # still following
    assert tail.stop(signal.SIGINT) == 0


def test_tail_without_the_right_token_is_refused_with_exit_77(setup: Setup,
                                                             tmp_path: Path) -> None:
    """tail without the right token is refused: exit 77, a hint, nothing on stdout."""
    setup.daemon()
    (tmp_path / "wrong").write_text("not-the-token\n")
    missing = run_cli("tail", "--url", setup.url, timeout=20)
    wrong = run_cli("tail", "--url", setup.url, "--token-file", str(tmp_path / "wrong"),
                    timeout=20)
    for refused in (missing, wrong):
        assert refused.returncode == 77
        assert b"401 Unauthorized" in refused.stderr
        assert b"--token-file, $WATCHER_HTTP_TOKEN" in refused.stderr
        assert refused.stdout == b""
    status, _ = http_get(setup.url + "/events")
    assert status == 401


def test_tail_filters_by_status_type_and_source_and_finds_the_daemon_from_its_config(
        setup: Setup, sim_thread: SimThread) -> None:
    """tail filters by status, type and source, and finds the daemon's URL in its config."""
    daemon = setup.daemon()
    failed = setup.tail("--url", setup.url, "--status", "failed")
    # no --url: read from the config's http_listen; short type names work
    created = setup.tail("--type", "run.created", "--source", "extend-test",
                         env={"WATCHER_CONFIG": str(setup.config)})
    nothing = setup.tail("--url", setup.url, "--source", "some-other-source")
    eventually(lambda: setup.sse_clients() == 3, what="three tails connected")

    one = sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    sim_thread.call(lambda w: w.add_run("extend", "PENDING"))
    daemon.wait_for(count(2))
    sim_thread.call(lambda w: w.set_status(one, "FAILED"))
    everything = daemon.wait_for(count(3))

    try:
        failed.wait_for(count(1))
        created.wait_for(count(2))
    except AssertionError as e:  # seen once under CI load: say what the daemon had
        seen = [(x["id"][:8], x["type"], x["data"].get("status")) for x in daemon.events()]
        raise AssertionError(f"{e}\nthe daemon's events: {seen}") from None
    assert failed.events() == [e for e in everything if e["data"].get("status") == "failed"]
    assert created.events() == [e for e in everything if e["type"] == "watcher.run.created"]
    assert nothing.events() == []
    bad = run_cli("tail", "--url", setup.url, "--status", "exploded", timeout=20,
                  env={"WATCHER_HTTP_TOKEN": TOKEN})
    assert bad.returncode == 64
    assert b"exploded" in bad.stderr and b"not a canonical status" in bad.stderr
    assert orjson.loads(daemon.stdout[-1])["data"]["status"] == "failed"


def test_tail_exits_0_quietly_when_whoever_reads_its_output_goes_away(
        setup: Setup, sim_thread: SimThread) -> None:
    """``watcher tail | head -1``: the first write after head exits ends tail, cleanly."""
    setup.daemon()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WATCHER_HTTP_TOKEN": TOKEN}
    tail = subprocess.Popen([sys.executable, "-m", "watcher", "tail", "--url", setup.url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        eventually(lambda: setup.sse_clients() == 1, what="tail connected")
        sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
        assert tail.stdout is not None
        assert b"run.created" in tail.stdout.readline()
        tail.stdout.close()  # the reader is gone
        sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
        assert tail.wait(15) == 0
        assert tail.stderr is not None and tail.stderr.read() == b""
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait()


def test_tail_exits_76_on_a_line_without_end_and_its_memory_stays_flat() -> None:
    """A stream that sends one endless line is refused at 16 MiB with a clear error, exit 76."""
    sse = {"Content-Type": "text/event-stream"}
    with Receiver(lambda hit: Reply(200, b"data: " + b"x" * 4096, sse, endless=True)) as fake:
        tail = DaemonProc("tail", "--url", f"http://127.0.0.1:{fake.port}")
        with PeakMemory(tail.proc.pid) as mem:
            code = tail.proc.wait(60)
        tail.stop()
        assert fake.hits[0].path == "/events" and fake.hits[0].sent > 16 * 1024**2
    assert code == 76, tail.err_text()
    assert "a line or an event larger than 16MiB; is this a watcher daemon's /events?" in \
        tail.err_text()
    assert "Traceback" not in tail.err_text()
    assert mem.samples and mem.peak_mib < 150  # an interpreter, aiohttp and one 16 MiB line


def test_tail_prints_a_megabyte_event_whole() -> None:
    """An event far larger than aiohttp's line buffer reaches stdout as one intact line."""
    event = orjson.dumps({**EXAMPLE, "data": {**EXAMPLE["data"], "run": {"note": "n" * 2**20}}})
    frame = b"id: 1\nevent: watcher.run.created\ndata: " + event + b"\n\n"
    sse = {"Content-Type": "text/event-stream"}
    with Receiver(lambda hit: Reply(200, frame, sse)) as fake:
        tail = DaemonProc("tail", "--url", f"http://127.0.0.1:{fake.port}")
        try:
            first = tail.lines.get(timeout=20)
        finally:
            tail.stop(signal.SIGINT)
    assert first == event + b"\n"


def test_tail_takes_the_base_url_or_the_events_url_with_or_without_a_slash(
        setup: Setup, sim_thread: SimThread) -> None:
    """``--url`` works with what users paste: the daemon's base URL or its stream URL,
    each with or without a trailing slash (a pasted filter query is kept)."""
    daemon = setup.daemon()
    forms = [setup.url, setup.url + "/", setup.url + "/events", setup.url + "/events/"]
    tails = [setup.tail("--url", url) for url in forms]
    failed = setup.tail("--url", setup.url + "/events?status=failed")
    eventually(lambda: setup.sse_clients() == len(forms) + 1, what="every tail connected")
    one = sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    daemon.wait_for(count(1))
    sim_thread.call(lambda w: w.set_status(one, "FAILED"))
    everything = daemon.wait_for(count(2))
    for tail in tails:
        assert tail.wait_for(count(2)) == everything
    assert failed.wait_for(count(1)) == everything[1:]
    assert all(t.proc.poll() is None for t in [*tails, failed])
