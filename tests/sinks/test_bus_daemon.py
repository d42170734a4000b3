"""Event-bus sinks in a real daemon: every event once on the bus, through kill -9, an
outage of the server and wrong credentials.

Each test runs ``watcher run`` as a subprocess polling the simulator, with a
stdout (or file) sink beside the bus sink, and reads the bus back with a real
consumer: a JetStream pull consumer that acks, or a Redis consumer group.
Parametrized over NATS and Redis by the ``bus`` fixture.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.http_support import free_port, http_get
from tests.runtime.test_durability import read_events, wait_until
from tests.sinks.buses import Bus, Message, NatsBus, Proxy, host_port, private_server, run
from tests.support import DaemonProc, SimThread, sim_source, toml
from watcher.simulator.scenario import Scenario
from watcher.sinks.bus import escape
from watcher.state.backends import open_store


def config(tmp: Path, sim: SimThread, sinks: list[dict[str, Any]], *,
           baseline: str = "silent", name: str = "extend-prod", listen: str = "") -> Path:
    path = tmp / "w.toml"
    path.write_text(toml({"state_path": str(tmp / "state.db"), "http_listen": listen,
                          "baseline": baseline},
                         [sim_source(sim.url, sim.world, "extend", name=name, lookback="2h")],
                         sinks))
    return path


def metric_values(text: bytes) -> dict[str, float]:
    """The bus sink's samples, by name."""
    return {s.name: s.value for f in text_string_to_metric_families(text.decode())
            for s in f.samples if s.labels.get("sink") == "bus"}


def journal_ids(state: Path) -> list[str]:
    async def read() -> list[str]:
        store = await open_store(str(state))
        try:
            return [e.id for e in await store.read(0, 1_000_000)]
        finally:
            await store.close()
    return list(asyncio.run(read()))


def check_once_in_order(got: list[Message], expected: list[dict[str, Any]]) -> None:
    """The bus holds each expected event once, byte for byte, in per-run order."""
    ids = [m.id for m in got]
    assert len(ids) == len(set(ids)), "an event reached the bus twice"
    assert sorted(ids) == sorted(e["id"] for e in expected)
    by_id = {e["id"]: e for e in expected}
    for m in got:
        assert orjson.loads(m.body) == by_id[m.id]
    order: dict[str, list[str]] = defaultdict(list)
    bus_order: dict[str, list[str]] = defaultdict(list)
    for e in expected:
        order[e["subject"]].append(e["id"])
    for m in got:
        bus_order[m.event["subject"]].append(m.id)
    assert bus_order == order


def test_every_event_on_stdout_reaches_the_bus_once_in_order(tmp_path: Path, bus: Bus,
                                                             sim_thread: SimThread) -> None:
    """Each event printed on stdout is on the bus once, byte for byte, in per-run order,
    with the bus's own metadata (Nats-Msg-Id and Content-Type, or the XADD fields)."""
    play = Scenario(sim_thread.world, vendors=["extend"], spawn_every=0.3, step=(0.2, 0.6),
                    history=30)
    sim_thread.call(lambda w: play.setup())
    churn = sim_thread.spawn(play.run)
    port = free_port()
    cfg = config(tmp_path, sim_thread, [{"name": "out", "type": "stdout"}, bus.sink()],
                 baseline="emit", name="extend.prod", listen=f"127.0.0.1:{port}")
    d = DaemonProc("run", "-c", str(cfg))
    try:
        d.wait_for(lambda evs: len(evs) >= 60, 60)
    finally:
        churn.cancel()
    time.sleep(2)  # the last changes polled
    wait_until(lambda: run(bus.count()) >= len(d.events()), 20, "the bus to catch up")
    on_bus = run(bus.count())
    metrics = metric_values(http_get(f"http://127.0.0.1:{port}/metrics")[1])
    assert d.stop() == 0
    printed = d.events()
    assert metrics["watcher_bus_connected"] == 1.0
    assert metrics["watcher_bus_publish_seconds_count"] >= 1
    # a late poll may still add events between the count, the scrape and the stop
    assert on_bus <= metrics["watcher_sink_deliveries_total"] <= len(printed)
    assert metrics["watcher_sink_failing"] == 0.0
    got = run(bus.read())
    check_once_in_order(got, printed)
    for m in got:
        e = m.event
        if isinstance(bus, NatsBus):
            assert m.headers["Content-Type"] == "application/cloudevents+json"
            short = e["type"].removeprefix("watcher.")
            assert m.subject == f"{bus.tag}.{escape('extend.prod')}.{short}"
        else:
            assert m.fields["type"] == e["type"].encode()
            assert m.fields["source"] == e["source"].encode()
            assert m.fields["subject"] == e["subject"].encode()


def test_kill_9_in_mid_batch_still_leaves_each_event_once_on_the_bus(
        tmp_path: Path, bus: Bus, sim_thread: SimThread) -> None:
    """Daemons killed with SIGKILL while a backlog is being published, then restarted:
    the bus holds every journaled event exactly once."""
    def setup(w: Any) -> None:
        for i in range(4000):
            t = w.clock() - 3000 + i * 0.5
            w.add_run("extend", "FAILED", created=t, updated=t)
    sim_thread.call(setup)
    cfg = config(tmp_path, sim_thread, [bus.sink()], baseline="emit")
    kills = 0
    for _ in range(3):
        d = DaemonProc("run", "-c", str(cfg))
        seen = run(bus.count())
        deadline = time.monotonic() + 30
        while run(bus.count()) == seen and time.monotonic() < deadline \
                and d.proc.poll() is None:
            time.sleep(0.005)
        d.kill()  # right after a publish landed: mid-backlog, often mid-batch
        kills += 1
    d = DaemonProc("run", "-c", str(cfg))
    d.wait_log("watcher running")
    wait_until(lambda: run(bus.count()) >= len(journal_ids(tmp_path / "state.db")), 60,
               "the backlog on the bus")
    time.sleep(0.5)
    assert d.stop() == 0
    ids = [m.id for m in run(bus.read())]
    assert kills == 3 and len(ids) == len(set(ids)) == 4000
    assert set(ids) == set(journal_ids(tmp_path / "state.db"))


def test_a_server_away_for_10s_loses_nothing_and_holds_back_nothing_else(
        tmp_path: Path, bus: Bus, sim_thread: SimThread) -> None:
    """While the bus's port refuses for ~10 s, polling and the file sink carry on; once it
    answers again the backlog arrives, each event once."""
    proxy = Proxy(host_port(bus.url))
    proxy.up()
    scheme = "nats" if isinstance(bus, NatsBus) else "redis"
    url = f"{scheme}://{proxy.url}" + ("" if scheme == "nats" else "/0")
    out = tmp_path / "events.jsonl"
    cfg = config(tmp_path, sim_thread, [{"name": "archive", "type": "file", "path": str(out)},
                                        bus.sink(url=url)])
    d = DaemonProc("run", "-c", str(cfg))
    try:
        d.wait_log("baseline recorded")
        first = sim_thread.call(lambda w: w.add_run("extend", "PROCESSING").id)
        wait_until(lambda: run(bus.count()) == 1, 20, "the first event on the bus")
        proxy.down()
        during = sim_thread.call(lambda w: [w.add_run("extend", "FAILED").id for _ in range(5)])
        sim_thread.call(lambda w: w.set_status(first, "FAILED"))
        wait_until(lambda: len(read_events(out)) == 7, 10, "the file sink during the outage")
        d.wait_log("sink delivery failing, will retry", sink="bus")
        assert run(bus.count()) == 1
        time.sleep(max(0.0, 10 - 3))
        proxy.up()
        wait_until(lambda: run(bus.count()) >= 7, 90, "the backlog after the outage")
        assert d.stop() == 0
    finally:
        proxy.close()
    got = run(bus.read())
    check_once_in_order(got, read_events(out))
    assert {m.event["subject"] for m in got} >= set(during)


@pytest.mark.parametrize("kind", ["nats", "redis"])
def test_wrong_credentials_are_a_clear_error_naming_the_sink_and_nothing_else_stops(
        tmp_path: Path, sim_thread: SimThread, kind: str) -> None:
    """A bus that refuses the sink's secret: an error log naming the sink and the server's
    reason, the secret nowhere in the output, and the other sink keeps delivering."""
    secret, wrong = "right-Secret-4711", "wrong-Secret-0815"
    with private_server(kind, tmp_path, secret=secret) as url:
        auth = {"token": wrong} if kind == "nats" else {"password": wrong}
        sink = {"name": "bus", "type": kind, "url": url, **auth}
        if kind == "nats":
            sink["create_stream"] = True
        out = tmp_path / "events.jsonl"
        cfg = config(tmp_path, sim_thread, [sink, {"name": "archive", "type": "file",
                                                   "path": str(out)}])
        d = DaemonProc("run", "-c", str(cfg))
        d.wait_log("sink delivery failing, will retry", sink="bus")
        d.wait_log("baseline recorded")
        sim_thread.call(lambda w: w.add_run("extend", "FAILED"))
        wait_until(lambda: len(read_events(out)) == 1, 20, "the other sink")
        # the server's reason: in the first failure, or (when the server's reset beat its
        # -ERR to the client) in the next cause logged
        why = "authorization violation" if kind == "nats" else "invalid username-password pair"
        wait_until(lambda: any(why in e.get("error", "").lower() for e in d.logs()
                               if e.get("sink") == "bus"), 20, "the server's reason")
        assert d.stop() == 0
    assert wrong not in d.err_text() and secret not in d.err_text()
