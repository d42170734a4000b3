"""``watcher check --connect``: one line per state store, source and sink, the server's or
vendor's own words with secrets masked, exit 0 only when nothing failed (69 otherwise).

Real things on loopback: the simulator (every vendor), the shared NATS and Redis
servers, a private Redis with a password, SQLite files.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from tests.http_support import free_port
from tests.sinks.buses import NatsBus, RedisBus, private_server, reachable, run
from tests.sinks.pagerduty_api import KEY
from tests.sinks.receiver import Receiver
from tests.support import SimThread, run_cli, sim_source, toml
from watcher.state.backends import open_store
from watcher.state.sqlite.schema import SCHEMA_VERSION

VENDORS = ("extend", "noxus", "cortex", "knock")


def check(tmp: Path, sources: list[dict[str, Any]], sinks: list[dict[str, Any]],
          state: str) -> tuple[int, dict[str, tuple[str, str]], str]:
    """Exit code, ``{what: (verdict, detail)}`` and the whole output."""
    cfg = tmp / "w.toml"
    cfg.write_text(toml({"state_path": state}, sources, sinks))
    out = run_cli("check", "--connect", "-c", str(cfg))
    text = out.stdout.decode() + out.stderr.decode()
    lines = {}
    for line in out.stdout.decode().splitlines():
        verdict, rest = line.split(None, 1)
        what, _, detail = rest.partition(": ")
        lines[what] = (verdict, detail)
    return out.returncode, lines, text


def make_state(path: Path) -> None:
    async def make() -> None:
        store = await open_store(str(path))
        await store.close()
    asyncio.run(make())


def test_everything_reachable_passes_with_one_line_each(tmp_path: Path, sim_thread: SimThread,
                                                        nats_bus: NatsBus) -> None:
    """Sources of every vendor, a stream that holds the subjects, Redis, a resolvable
    webhook host and a current state file: every line ok (stdout: unchecked), exit 0."""
    redis_bus = RedisBus()
    reachable(redis_bus)
    run(nats_bus.create())
    state = tmp_path / "state.db"
    make_state(state)
    sources = [sim_source(sim_thread.url, sim_thread.world, v, name=f"{v}-src") for v in VENDORS]
    with Receiver() as hook:
        sinks = [nats_bus.sink(), redis_bus.sink(name="stream"),
                 {"name": "hook", "type": "webhook", "url": hook.url},
                 {"name": "out", "type": "stdout"}]
        requests = sim_thread.call(lambda w: len(w.requests))
        code, lines, text = check(tmp_path, sources, sinks, str(state))
    assert code == 0, text
    assert lines["state"] == ("ok", f"SQLite {state}, schema {SCHEMA_VERSION} (current)")
    for v in VENDORS:
        assert lines[f"source {v}-src ({v})"][0] == "ok", text
    assert sim_thread.call(lambda w: len(w.requests)) - requests == len(VENDORS)
    assert lines["sink bus (nats)"][0] == "ok"
    assert f"stream {nats_bus.stream} holds {nats_bus.tag}.>" in lines["sink bus (nats)"][1]
    assert lines["sink stream (redis)"][0] == "ok" and "PING" in lines["sink stream (redis)"][1]
    assert lines["sink hook (webhook)"] == ("ok", f"127.0.0.1:{hook.port} reachable "
                                                  "(no request sent)")
    assert lines["sink out (stdout)"][0] == "unchecked"


def test_each_kind_of_failure_is_its_servers_own_error_masked_and_exits_69(
        tmp_path: Path, sim_thread: SimThread, nats_bus: NatsBus) -> None:
    """A rejected token, a missing stream, a wrong Redis password, a host that cannot
    resolve: each FAILED with the vendor's or server's reason, no secret shown, exit 69;
    a state file that does not exist yet is not created."""
    token, password = "wr0ng-Token-4711", "wr0ng-Pass-0815"
    with private_server("redis", tmp_path, secret="r1ght-Pass-4242") as url:
        sources = [sim_source(sim_thread.url, sim_thread.world, "extend", token=token)]
        sinks = [nats_bus.sink(), {"name": "stream", "type": "redis", "url": url,
                                   "password": password},
                 {"name": "hook", "type": "webhook", "url": f"https://{'x' * 64}.example/h"}]
        code, lines, text = check(tmp_path, sources, sinks, str(tmp_path / "new" / "s.db"))
    assert code == 69
    assert lines["state"][0] == "ok" and "does not exist yet" in lines["state"][1]
    assert not (tmp_path / "new").exists()
    verdict, detail = lines["source extend-test (extend)"]
    assert verdict == "FAILED" and detail.startswith("401"), text
    assert lines["sink bus (nats)"][0] == "FAILED"
    assert f"stream {nats_bus.stream} does not exist" in lines["sink bus (nats)"][1]
    assert lines["sink stream (redis)"][0] == "FAILED"
    assert "invalid username-password pair" in lines["sink stream (redis)"][1]
    assert lines["sink hook (webhook)"][0] == "FAILED"
    assert token not in text and password not in text
    assert "3 of" not in text and "4 of 5 checks failed" in text


def test_a_state_file_of_a_newer_watcher_fails_and_is_left_as_it_was(tmp_path: Path) -> None:
    """A state file whose schema is newer than this watcher knows is a failed check, and
    checking never migrates or writes a file."""
    state = tmp_path / "state.db"
    make_state(state)
    with sqlite3.connect(state) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    before = state.read_bytes()
    code, lines, _ = check(tmp_path, [], [], str(state))
    assert code == 69
    assert lines["state"][0] == "FAILED" and "newer watcher (schema 99)" in lines["state"][1]
    assert state.read_bytes() == before


def test_http_destinations_are_connected_to_and_a_closed_port_fails_without_a_request(
        tmp_path: Path) -> None:
    """Webhook, Slack, PagerDuty and Apprise targets are each connected to: a listening
    receiver is ok and gets no request, a closed port is FAILED as refused and https
    to a plain-HTTP port as a TLS error, each naming host:port and never the URL's
    path or query; exit 69."""
    closed = free_port()
    secret = "T0KEN-in-the-path"
    with Receiver() as up:
        sinks = [
            {"name": "hook", "type": "webhook", "url": f"{up.url}/{secret}?sig={secret}"},
            {"name": "chat", "type": "slack",
             "webhook_url": f"http://127.0.0.1:{closed}/services/{secret}"},
            {"name": "pager", "type": "pagerduty", "routing_key": KEY,
             "base_url": f"http://127.0.0.1:{closed}"},
            {"name": "tls", "type": "webhook", "url": f"https://127.0.0.1:{up.port}/{secret}"},
            {"name": "teams", "type": "apprise", "urls": [f"json://127.0.0.1:{up.port}/{secret}"]},
        ]
        code, lines, text = check(tmp_path, [], sinks, str(tmp_path / "s.db"))
        hits = len(up.hits)
    assert code == 69, text
    assert lines["sink hook (webhook)"] == ("ok", f"127.0.0.1:{up.port} reachable "
                                                  "(no request sent)")
    assert lines["sink chat (slack)"] == ("FAILED", f"127.0.0.1:{closed}: connection refused")
    assert lines["sink pager (pagerduty)"] == ("FAILED",
                                               f"127.0.0.1:{closed}: connection refused")
    verdict, detail = lines["sink tls (webhook)"]
    assert verdict == "FAILED" and detail.startswith(f"127.0.0.1:{up.port}: TLS error"), text
    assert lines["sink teams (apprise)"] == (
        "ok", f"urls[0]: 127.0.0.1:{up.port} reachable (no request sent)")
    assert hits == 0
    assert secret not in text and "services" not in text
