"""Event-bus sinks against real servers, through the sink classes: subjects of hostile
names, what becomes a dead letter, replays, the stream, and the config's guard rails."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import nats
import pytest
import redis.asyncio as aioredis

from tests.sinks.buses import NatsBus, RedisBus, free_port, reachable, run, wait_port
from tests.support import parse_config, run_cli, toml
from watcher.config.settings import SinkConfig
from watcher.core.events import RUN_STATUS_CHANGED, SOURCE_FAILING
from watcher.errors import ConfigError, Retryable
from watcher.infra.clock import wall
from watcher.model import JournalEntry
from watcher.sinks.base import SinkContext
from watcher.sinks.bus import ABSENT, Route, escape
from watcher.sinks.nats import NatsOptions, NatsSink
from watcher.sinks.redis import RedisOptions, RedisSink

HOSTILE = ["extend prod", "a*", ">", "a.b.c", "ünïcødé ✓", "", "%2E", "~", "x" * 200]


def entry(n: int, *, source: str = "src", workflow: str | None = "wf", body: bytes = b"",
          type_: str = RUN_STATUS_CHANGED) -> JournalEntry:
    body = body or b'{"id":"e%d","subject":"run-%d","data":{"provider":"extend"}}' % (n, n)
    return JournalEntry(n, f"e{n}", 0.0, type_, source, f"run-{n}", "failed", workflow,
                        None, body)


def nats_sink(bus: NatsBus, **kw: Any) -> NatsSink:
    opts = NatsOptions(url=bus.url, stream=bus.stream, subject=bus.subject, **kw)
    return NatsSink(SinkConfig(name="bus", type="nats", options=opts), SinkContext(clock=wall))


def test_hostile_names_are_one_subject_token_each_and_can_be_read_back() -> None:
    """Spaces, wildcards, dots, unicode and empty values become exactly one token each,
    which unescapes to the value; {type} keeps its dot; an absent value is ~."""
    t = Route("w.{source}.{workflow_id}.{type}")
    for value in HOSTILE:
        subject = t.route(entry(1, source=value, workflow=value))
        tokens = subject.split(".")
        assert len(tokens) == 5 and tokens[3:] == ["run", "status_changed"], subject
        assert all(tok and " " not in tok and tok not in ("*", ">") for tok in tokens)
        assert tokens[1] == tokens[2] == (ABSENT if not value else escape(value))
        if value:
            assert unquote(tokens[1]) == value
    assert t.route(entry(1, workflow=None)).split(".")[2] == ABSENT
    assert len({escape(v) for v in HOSTILE}) == len(HOSTILE)


def test_hostile_names_land_on_their_own_subjects_in_jetstream(nats_bus: NatsBus) -> None:
    """Published with hostile source and workflow names, each event is on the subject its
    escaped values give, inside the sink's stream, and on no other."""
    nats_bus.subject = f"{nats_bus.tag}.{{source}}.{{workflow_id}}.{{type}}"
    sink = nats_sink(nats_bus, create_stream=True)
    batch = [entry(i, source=v, workflow=v) for i, v in enumerate(HOSTILE)]

    async def go() -> None:
        try:
            assert await sink.deliver(batch) == []
        finally:
            await sink.aclose()
    run(go())
    got = {m.id: m.subject for m in run(nats_bus.read())}
    assert got == {e.id: f"{nats_bus.tag}.{escape(e.source)}.{escape(e.source)}."
                         "run.status_changed" for e in batch}


def test_an_event_over_the_servers_max_payload_is_a_dead_letter_and_the_rest_go(
        nats_bus: NatsBus) -> None:
    """An event larger than the server's max_payload can never be sent: it is given up
    with the reason; the events around it are published."""
    sink = nats_sink(nats_bus, create_stream=True)
    huge = entry(2, body=b'{"pad":"' + b"x" * (2 * 1024 * 1024) + b'"}')

    async def go() -> list[Any]:
        try:
            return list(await sink.deliver([entry(1), huge, entry(3)]))
        finally:
            await sink.aclose()
    rejected = run(go())
    assert [(type(r).__name__, r.entry.id) for r in rejected] == [("Rejected", "e2")]
    assert "max_payload" in rejected[0].reason
    assert sorted(m.id for m in run(nats_bus.read())) == ["e1", "e3"]


def test_a_missing_stream_is_an_error_naming_it_unless_the_sink_may_create_it(
        nats_bus: NatsBus) -> None:
    """Without create_stream a missing stream fails the start with a message naming it;
    with it, the stream is made on file storage with a window of at least 10 minutes."""
    async def go() -> Any:
        sink = nats_sink(nats_bus)
        with pytest.raises(Retryable, match=f"stream {nats_bus.stream} does not exist"):
            await sink.open()
        await sink.aclose()
        made = nats_sink(nats_bus, create_stream=True)
        await made.open()
        await made.aclose()
        return await nats_sink(nats_bus).probe()
    line = run(go())
    assert f"stream {nats_bus.stream} holds {nats_bus.tag}.>" in line
    assert "duplicate window 1h" in line


def test_a_redis_replay_adds_nothing_twice_even_after_the_script_is_flushed() -> None:
    """The same batch sent again (after SCRIPT FLUSH, so EVALSHA must fall back) adds no
    entry; each event's guard key expires after dedupe_window."""
    bus = RedisBus()
    reachable(bus)
    opts = RedisOptions(url=bus.url, stream=bus.key, dedupe_window=900.0)
    sink = RedisSink(SinkConfig(name="bus", type="redis", options=opts), SinkContext(clock=wall))
    batch = [entry(i) for i in range(1, 6)] + [entry(6, type_=SOURCE_FAILING)]

    async def go() -> tuple[int, int, int]:
        r = aioredis.Redis.from_url(bus.url)
        try:
            await sink.deliver(batch)
            await r.script_flush()
            await sink.deliver(batch)
            return await r.xlen(bus.key), await r.pttl(f"{bus.key}:seen:e1"), \
                sink.bus.duplicates
        finally:
            await sink.aclose()
            await r.aclose()
            await bus.cleanup()
    length, ttl, dupes = run(go())
    assert (length, dupes) == (6, 6)
    assert 800_000 < ttl <= 900_000


@pytest.mark.parametrize(("sink", "problem"), [
    ({"type": "nats", "subject": "watcher.*.{type}"}, "wildcards"),
    ({"type": "nats", "subject": "watcher..{type}"}, "empty subject token"),
    ({"type": "nats", "subject": "w.{run}"}, "unknown placeholder {run}"),
    ({"type": "nats", "user": "u"}, "set user and password together"),
    ({"type": "nats", "token": "t0ken", "user": "u", "password": "p4ss"}, "set one of"),
    ({"type": "nats", "url": "nats://u:p@127.0.0.1:4222"}, "must not hold credentials"),
    ({"type": "nats", "subject": "{source}.x", "create_stream": True}, "fixed token"),
    ({"type": "nats", "dedupe_window": "1m"}, "below the minimum of 10m"),
    ({"type": "redis", "tls_ca": "/ca.pem"}, "need a rediss:// url"),
])
def test_bus_options_that_cannot_work_are_config_errors(sink: dict[str, Any],
                                                        problem: str) -> None:
    """A subject that could publish to the wrong place, half-given credentials and the like
    are refused when the config is read, naming the sink's key path."""
    with pytest.raises(ConfigError) as err:
        parse_config(toml({}, [], [{"name": "bus", **sink}]))
    assert any(p.startswith("sinks[0]") and problem in p for p in err.value.problems), \
        err.value.problems


def test_watcher_check_masks_bus_secrets(tmp_path: Any) -> None:
    """`watcher check` shows a bus sink's token, password and Redis URL as ***."""
    cfg = tmp_path / "w.toml"
    cfg.write_text(toml({"state_path": ":memory:"}, [], [
        {"name": "n", "type": "nats", "token": "n4ts-Secret"},
        {"name": "r", "type": "redis", "url": "redis://:r3dis-Secret@127.0.0.1:6379/0",
         "password": "an0ther-Secret"}]))
    out = run_cli("check", "-c", str(cfg))
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    assert 'token = "***"' in text and 'url = "***"' in text and 'password = "***"' in text
    assert "Secret" not in text


def test_a_subject_the_account_may_not_publish_to_is_a_dead_letter(tmp_path: Any) -> None:
    """A publish the server refuses for permissions can never succeed: that event is given
    up with the server's words, at once, and the rest of the batch is stored."""
    port = free_port()
    conf = tmp_path / "nats.conf"
    conf.write_text(f'port: {port}\nhost: "127.0.0.1"\njetstream {{ store_dir: "{tmp_path}/js" }}\n'
                    'authorization { users = [ { user: "w", password: "w-Pass-4711", permissions: {'
                    ' publish: { allow: ["ok.>", "$JS.API.>", "_INBOX.>"] },'
                    ' subscribe: { allow: ["_INBOX.>"] } } } ] }\n')
    binary = shutil.which("nats-server")
    if binary is None:
        pytest.skip("nats-server is not installed")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        url = f"nats://127.0.0.1:{port}"
        opts = NatsOptions(url=url, stream="S", subject="{workflow_id}.{type}",
                           user="w", password="w-Pass-4711", timeout=5.0)
        sink = NatsSink(SinkConfig(name="bus", type="nats", options=opts), SinkContext(clock=wall))

        async def go() -> tuple[list[Any], int]:
            nc = await nats.connect(url, user="w", password="w-Pass-4711")
            js = nc.jetstream()
            await js.add_stream(name="S", subjects=["ok.>", "no.>"])
            try:
                rejected = list(await sink.deliver([entry(1, workflow="ok"),
                                                    entry(2, workflow="no"),
                                                    entry(3, workflow="ok")]))
                return rejected, (await js.stream_info("S")).state.messages
            finally:
                await sink.aclose()
                await nc.close()
        rejected, stored = run(go())
    finally:
        proc.terminate()
        proc.wait(10)
    assert [(type(r).__name__, r.entry.id) for r in rejected] == [("Rejected", "e2")]
    assert "permissions violation" in rejected[0].reason.lower()
    assert "w-Pass-4711" not in rejected[0].reason
    assert stored == 2


def make_certs(d: Path) -> None:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, by openssl."""
    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "1", "-subj", "/CN=watcher-test-ca")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        (d / f"{name}.ext").write_text(ext + "\n")
        ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
            f"{name}.csr", "-subj", f"/CN={name}")
        ssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", f"{name}.pem", "-days", "1", "-extfile", f"{name}.ext")


def test_tls_with_a_client_certificate_connects_and_without_one_is_refused(
        tmp_path: Path) -> None:
    """Against a server that verifies clients, the sink's CA and client certificate get its
    events stored; without the certificate the connection is refused with the reason."""
    if shutil.which("openssl") is None or shutil.which("nats-server") is None:
        pytest.skip("openssl and nats-server are needed")
    make_certs(tmp_path)
    port = free_port()
    (tmp_path / "nats.conf").write_text(
        f'port: {port}\nhost: "127.0.0.1"\njetstream {{ store_dir: "{tmp_path}/js" }}\n'
        f'tls {{ cert_file: "{tmp_path}/server.pem", key_file: "{tmp_path}/server.key", '
        f'ca_file: "{tmp_path}/ca.pem", verify: true }}\n')
    proc = subprocess.Popen([str(shutil.which("nats-server")), "-c", str(tmp_path / "nats.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def sink(**tls: str) -> NatsSink:
        opts = NatsOptions(url=f"tls://127.0.0.1:{port}", stream="S", subject="s.{type}",
                           create_stream=True, tls_ca=str(tmp_path / "ca.pem"), timeout=3.0, **tls)
        return NatsSink(SinkConfig(name="bus", type="nats", options=opts), SinkContext(clock=wall))

    async def go() -> tuple[str, int]:
        bare = sink()
        with pytest.raises(Retryable) as refused:
            await bare.open()
        await bare.aclose()
        good = sink(tls_cert=str(tmp_path / "client.pem"), tls_key=str(tmp_path / "client.key"))
        try:
            assert await good.deliver([entry(1), entry(2)]) == []
            return str(refused.value), int(good.bus.duplicates)
        finally:
            await good.aclose()
    try:
        wait_port(port)
        reason, dupes = run(go())
    finally:
        proc.terminate()
        proc.wait(10)
    assert reason.startswith("cannot connect to NATS"), reason
    assert dupes == 0


def test_a_bus_failure_without_a_message_is_named_by_its_type() -> None:
    """An error with an empty message (a bare timeout) still says what it was, never a
    reason that ends at the colon."""
    opts = RedisOptions(url="redis://127.0.0.1:1/0", stream="s")
    sink = RedisSink(SinkConfig(name="bus", type="redis", options=opts), SinkContext(clock=wall))
    assert str(sink.unavailable("redis XADD", TimeoutError())) == "redis XADD: TimeoutError"
