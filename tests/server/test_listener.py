"""The HTTP listener of a daemon subprocess: /metrics, /healthz, /readyz, /events."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.http_support import eventually, free_port, http_get, polled
from tests.support import DaemonProc, SimThread, event_types, sim_source, toml


class Daemon:
    """A daemon subprocess watching the simulator's Extend API, with its listener."""

    def __init__(self, sim: SimThread, tmp_path: Path, **source: Any) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cfg = tmp_path / "watcher.toml"
        cfg.write_text(toml({"state_path": str(tmp_path / "state.db"),
                             "http_listen": f"127.0.0.1:{self.port}"},
                            [sim_source(sim.url, sim.world, "extend", **source)],
                            [{"name": "out", "type": "stdout"}]))
        self.proc = DaemonProc("run", "-c", str(cfg))

    def get(self, path: str) -> tuple[int, bytes]:
        return http_get(self.base + path)

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every sample as ``{(name, sorted labels): value}``, parsed the way Prometheus would."""
        status, body = self.get("/metrics")
        assert status == 200
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for fam in text_string_to_metric_families(body.decode())
                for s in fam.samples}

    def metrics_when(self, name: str, labels: tuple[tuple[str, str], ...], value: float
                     ) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """The metrics once the sample ``name{labels}`` reads ``value`` (polled)."""
        def check() -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
            m = self.metrics()
            return m if m.get((name, labels)) == value else None
        return eventually(check, what=f"{name}{dict(labels)} == {value}")

    def ready(self) -> tuple[int, dict[str, Any]]:
        status, body = self.get("/readyz")
        return status, orjson.loads(body) if body else {}


@pytest.fixture
def start_daemon(sim_thread: SimThread, tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """A factory: ``start_daemon(**source keys)``; each daemon must stop cleanly (exit 0)."""
    started: list[Daemon] = []

    def start(**source: Any) -> Daemon:
        started.append(Daemon(sim_thread, tmp_path, **source))
        return started[-1]
    yield start
    for d in started:
        assert d.proc.stop() == 0, d.proc.err_text()[-2000:]


def src(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted({"source": "extend-test", **labels}.items()))


def test_metrics_parse_and_their_counters_follow_the_simulated_runs(
        start_daemon: Callable[..., Daemon], sim_thread: SimThread) -> None:
    """/metrics parses as Prometheus text, and its samples follow a run created then failed."""
    daemon = start_daemon()
    eventually(lambda: polled(daemon.base), what="first poll")
    first = daemon.metrics()
    assert first[("watcher_events_total", (("type", "watcher.run.created"),))] == 0
    assert first[("watcher_polls_total", src())] >= 1

    run = sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    daemon.proc.wait_for(lambda evs: "run.created" in event_types(evs))
    sim_thread.call(lambda w: w.set_status(run, "FAILED", error="boom"))
    daemon.proc.wait_for(lambda evs: "run.status_changed" in event_types(evs))
    m = daemon.metrics_when("watcher_sink_deliveries_total", (("sink", "out"),), 2)

    assert m[("watcher_events_total", (("type", "watcher.run.created"),))] == 1
    assert m[("watcher_events_total", (("type", "watcher.run.status_changed"),))] == 1
    assert m[("watcher_runs_tracked", src(status="failed"))] == 1
    assert m[("watcher_runs_tracked", src(status="running"))] == 0
    assert m[("watcher_polls_total", src())] > first[("watcher_polls_total", src())]
    count = m[("watcher_poll_duration_seconds_count", src())]
    assert count >= m[("watcher_polls_total", src())] - 1  # one may be in flight
    assert m[("watcher_poll_duration_seconds_bucket", src(le="+Inf"))] == count
    assert m[("watcher_sink_backlog", (("sink", "out"),))] == 0
    assert m[("watcher_sink_dead_letters_total", (("sink", "out"),))] == 0
    assert m[("watcher_journal_head_sequence", ())] == 2
    assert m[("watcher_source_failing", src())] == 0
    assert abs(m[("watcher_last_successful_poll_timestamp_seconds", src())] - time.time()) < 5
    assert ("process_resident_memory_bytes", ()) in m
    assert daemon.get("/healthz")[0] == 200


def test_readyz_stays_200_while_the_vendor_answers_500_and_the_source_fails(
        start_daemon: Callable[..., Daemon], sim_thread: SimThread) -> None:
    """/readyz stays 200 while the vendor answers 500 and the source is failing: vendor
    health shows in /metrics and the source.failing event, never in readiness."""
    daemon = start_daemon(failure_threshold=1, max_backoff="1s")
    eventually(lambda: polled(daemon.base), what="first poll")
    sim_thread.call(lambda w: w.faults.add("extend", kind="status", status=500, times=1000))
    daemon.proc.wait_for(lambda evs: "source.failing" in event_types(evs))
    m = daemon.metrics_when("watcher_source_failing", src(), 1)
    assert m[("watcher_poll_errors_total", src(kind="transient"))] >= 1
    status, body = daemon.ready()
    assert (status, body) == (200, {"ready": True, "config": "loaded", "store": "reachable"})
    assert daemon.get("/healthz")[0] == 200

    sim_thread.call(lambda w: w.faults.clear())
    daemon.proc.wait_for(lambda evs: "source.recovered" in event_types(evs))
    assert daemon.ready()[0] == 200


def test_a_client_that_stops_reading_events_does_not_hold_back_the_daemon(
        start_daemon: Callable[..., Daemon], sim_thread: SimThread) -> None:
    """An /events client that stops reading holds back neither polling, stdout nor /metrics."""
    daemon = start_daemon()
    eventually(lambda: polled(daemon.base), what="first poll")
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)  # a tiny window, soon full
    stalled.connect(("127.0.0.1", daemon.port))
    stalled.sendall(b"GET /events?since=0 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert stalled.recv(256).startswith(b"HTTP/1.1 200")  # ...and it never reads again
    try:
        # ~600 KB of events: far more than the socket buffers can hold for it
        sim_thread.call(lambda w: [w.add_run("extend", "PROCESSING") for _ in range(400)])
        daemon.proc.wait_for(lambda evs: len(evs) == 400)
        run = sim_thread.call(lambda w: w.add_run("extend", "PENDING"))
        sim_thread.call(lambda w: w.set_status(run, "FAILED"))
        daemon.proc.wait_for(lambda evs: evs[-1]["subject"] == run.id  # still polling and
                             and evs[-1]["data"]["status"] == "failed")  # delivering
        m = daemon.metrics()  # the listener still answers (a request gives up after 5 s)
        assert m[("watcher_sse_clients", ())] == 1  # the stalled client is still there
        assert m[("watcher_sink_backlog", (("sink", "out"),))] == 0
    finally:
        stalled.close()


def status_of(port: int, head: bytes, *, chunks: int = 0) -> int:
    """The status a raw request gets; ``chunks`` pieces of a chunked body (64 KiB each)
    are sent meanwhile, as from a client that would send one without end."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head)

        def feed() -> None:
            try:
                for _ in range(chunks):
                    s.sendall(b"10000\r\n" + b"x" * 0x10000 + b"\r\n")
            except OSError:
                pass  # refused and closed: what should happen
        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        line = s.recv(64)
        s.shutdown(socket.SHUT_RDWR)
    feeder.join(10)
    assert line.startswith(b"HTTP/1."), line
    return int(line.split()[1])


@pytest.mark.parametrize("path", [b"/events", b"/metrics"])
def test_oversize_requests_get_a_4xx_and_the_daemon_keeps_serving(
        path: bytes, start_daemon: Callable[..., Daemon], sim_thread: SimThread) -> None:
    """A long request line, a long header, too many headers or a body get 4xx; nothing else."""
    daemon = start_daemon()
    eventually(lambda: polled(daemon.base), what="first poll")
    get = b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n"
    long_line = b"GET " + path + b"?source=" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    codes = {
        "long request line": status_of(daemon.port, long_line),
        "long header": status_of(daemon.port, get + b"X-Big: " + b"a" * 20_000 + b"\r\n\r\n"),
        "100 headers": status_of(daemon.port, get + b"X-N: 1\r\n" * 100 + b"\r\n"),
        "1 GB body": status_of(daemon.port, get + b"Content-Length: 1000000000\r\n\r\n"
                               + b"x" * 0x10000),
        "endless body": status_of(daemon.port, get + b"Transfer-Encoding: chunked\r\n\r\n",
                                  chunks=1000),
    }
    assert all(400 <= c < 500 for c in codes.values()), codes
    assert codes["1 GB body"] == codes["endless body"] == 413
    assert daemon.get("/metrics")[0] == 200 and daemon.ready()[0] == 200
    sim_thread.call(lambda w: w.add_run("extend", "PROCESSING"))
    daemon.proc.wait_for(lambda evs: "run.created" in event_types(evs))
