""""Failing" means one thing: systemd's ``STATUS=`` line, the
``watcher_source_failing`` metric and the ``watcher.source.failing`` event all say
failing after ``failure_threshold`` failed polls in a row, and call fewer a retry;
``/readyz`` stays ready through it all (a vendor's trouble is not the process's).

The daemon runs in-process on a fake clock (the whole daemon: pollers, sinks, the
status reporter), with a scripted provider plugin failing on cue, and systemd's
side is a real notify socket.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.scripted import ScriptedProvider, register
from tests.support import parse_config, toml
from watcher.errors import TransientError
from watcher.runtime import chores
from watcher.runtime.chores import STATUS_EVERY
from watcher.runtime.daemon import Daemon
from watcher.server import metrics
from watcher.server.health import readiness
from watcher.server.notify import Notifier
from watcher.testing import FakeClock

pytestmark = pytest.mark.anyio


@pytest.fixture
def systemd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """The socket systemd would read, named in ``$NOTIFY_SOCKET`` as systemd does."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    try:
        yield sock
    finally:
        sock.close()


def last_status(sock: socket.socket) -> str:
    """The newest ``STATUS=`` systemd received."""
    status = ""
    while True:
        try:
            msg = sock.recv(4096).decode()
        except BlockingIOError:
            return status
        for line in msg.split("\n"):
            if line.startswith("STATUS="):
                status = line.removeprefix("STATUS=")


def failing_gauge(daemon: Daemon) -> float:
    text = generate_latest(metrics.registry_for(daemon.snapshot, sse_clients=lambda: 0)).decode()
    return next(s.value for fam in text_string_to_metric_families(text)
                for s in fam.samples if s.name == "watcher_source_failing")


async def test_status_metric_and_event_agree_on_retrying_and_failing_and_readyz_stays_ready(
        monkeypatch: pytest.MonkeyPatch, process_state: None,
        systemd: socket.socket) -> None:
    """One failed poll of failure_threshold=3 is "retrying" in STATUS=, 0 in the metric
    and no event; the third is "failing" in all three; the first good poll brings all
    three back; /readyz is ready throughout."""
    register(monkeypatch)
    sock = systemd
    fake = FakeClock(seed=3)
    cfg = parse_config(toml({"state_path": ":memory:", "http_listen": ""},
                            [{"name": "src", "provider": "scripted", "token": "t",
                              "interval": "10s", "max_backoff": "10s",
                              "failure_threshold": 3}],
                            [{"name": "out", "type": "scripted"}]))
    daemon = Daemon(cfg, clock=fake)
    seen: dict[str, tuple[str, bool, float, int]] = {}

    async def look(when: str) -> None:
        await fake.advance(STATUS_EVERY)  # the reporter's next STATUS=
        ready, _ = readiness(daemon.snapshot())
        failing_events = daemon.journal.counts["watcher.source.failing"]  # type: ignore[union-attr]
        seen[when] = (last_status(sock), ready, failing_gauge(daemon), failing_events)

    async with anyio.create_task_group() as tg:
        tg.start_soon(daemon.run)
        await daemon.started.wait()
        poller = daemon.workers.pollers["src"].obj
        provider: ScriptedProvider = poller.provider
        await fake.run_until(lambda: poller.stats.last_success is not None)
        await look("ok")
        provider.fails_with = TransientError("503 Service Unavailable")
        await fake.run_until(lambda: poller.state.row.failures == 1)
        await look("one failure")
        await fake.run_until(lambda: poller.state.row.failures == 3)
        await look("threshold")
        provider.fails_with = None
        await fake.run_until(lambda: poller.state.row.failures == 0)
        await look("recovered")
        daemon.request_stop()
    runs = "; 0 runs tracked"
    assert seen["ok"] == ("1/1 sources ok" + runs + "; 0 events delivered", True, 0.0, 0)
    assert seen["one failure"] == ("0/1 sources ok, 1 retrying" + runs + "; 0 events delivered",
                                   True, 0.0, 0)
    assert seen["threshold"] == ("0/1 sources ok, 1 failing" + runs + "; 1 events delivered",
                                 True, 1.0, 1)
    assert seen["recovered"] == ("1/1 sources ok" + runs + "; 2 events delivered", True, 0.0, 1)


async def test_outside_systemd_no_status_line_is_built() -> None:
    """Without ``NOTIFY_SOCKET`` the status chore ends at once and never builds a
    ``STATUS=`` line: nobody would read it, and each is a snapshot of every source."""
    built: list[str] = []
    ended: list[bool] = []

    def line() -> str:
        built.append("line")
        return "1/1 sources ok"

    async def chore() -> None:
        await chores.report_status(Notifier({}), line, lambda: None, clock=fake)
        ended.append(True)

    fake = FakeClock(seed=1)
    async with anyio.create_task_group() as tg:
        tg.start_soon(chore)
        await fake.run_until(lambda: bool(ended), within=3 * STATUS_EVERY)
        tg.cancel_scope.cancel()
    assert built == []
