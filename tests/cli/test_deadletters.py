"""Dead letters: kept when a sink gives up, listed and re-sent on request (``watcher
deadletters list|retry``), resolved once delivered."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.sinks.receiver import Hit, Receiver, Reply
from tests.sinks.runs import failures, sink_runner
from tests.support import DaemonProc, Harness, SimThread, lines_of, run_cli, sim_source, toml
from watcher.simulator import Simulator
from watcher.testing import FrozenClock


def refuse(hit: Hit) -> Reply:
    return Reply(422, b'{"error": "unknown tenant"}')


def accept(hit: Hit) -> Reply:
    return Reply(204, b"")


@pytest.mark.anyio
async def test_queued_dead_letters_are_resolved_once_delivered_and_kept_otherwise(
        sim: Simulator, clock: FrozenClock) -> None:
    """Only queued dead letters are re-sent; refused again they stay, delivered they go."""
    with Receiver(refuse) as receiver:
        async with Harness(sim, clock=clock) as h:
            runner = await sink_runner(h, {"type": "webhook", "url": receiver.url})
            entries = await failures(h, 2)
            await runner.run(until_idle=True)
            assert runner.stats.dead == 2
            assert await runner.retry_dead() == 0  # nothing queued: nothing sent
            assert len(receiver.hits) == 2

            await h.store.mark_retry("under-test")
            assert await runner.retry_dead() == 0  # still refused...
            kept = await h.store.dead_letters("under-test")
            assert [(d.attempts, d.retry) for d in kept] == [(2, False), (2, False)]
            assert len(receiver.hits) == 4

            receiver.reply = accept
            await h.store.mark_retry("under-test")
            assert await runner.retry_dead() == 2  # ...until the receiver takes them
            assert await h.store.dead_letters("under-test") == []
            await runner.sink.aclose()
    assert sorted(orjson.loads(hit.body)["id"] for hit in receiver.delivered()) == \
        sorted(e.id for e in entries)


def cli_list(cfg: Path) -> list[dict[str, Any]]:
    out = run_cli("deadletters", "list", "-c", str(cfg))
    assert out.returncode == 0, out.stderr
    return list(lines_of(out.stdout))


def wait(pred: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_list_and_retry_against_a_running_daemon(tmp_path: Path, sim_thread: SimThread) -> None:
    """The CLI lists a running daemon's dead letters and queues them; the daemon re-sends them."""
    st = sim_thread
    with Receiver(refuse) as receiver:
        cfg = tmp_path / "watcher.toml"
        cfg.write_text(toml({"state_path": str(tmp_path / "state.db"), "http_listen": ""},
                            [sim_source(st.url, st.world, "extend", interval="1s")],
                            [{"name": "hook", "type": "webhook", "url": receiver.url,
                              "match": {"status": ["failed"]}}]))
        d = DaemonProc("run", "-c", str(cfg))
        try:
            d.wait_stderr("watcher running")
            wait(lambda: st.call(lambda w: w.count("extend", "/workflow_runs")) >= 1)
            runs = [st.call(lambda w: w.add_run("extend", "FAILED", error="boom")).id
                    for _ in range(2)]
            receiver.wait_for(lambda r: len([h for h in r.hits if h.status]) >= 2)

            wait(lambda: len(cli_list(cfg)) == 2)
            listed = cli_list(cfg)
            assert sorted(x["run_id"] for x in listed) == sorted(runs)
            assert all(x["sink"] == "hook" and x["reason"].startswith("422") and
                       "unknown tenant" in x["reason"] and x["attempts"] == 1 and
                       not x["retry_requested"] for x in listed)

            receiver.reply = accept
            out = run_cli("deadletters", "retry", "-c", str(cfg), "--sink", "hook")
            assert out.returncode == 0 and b"2 dead letters queued" in out.stderr
            receiver.wait_for(lambda r: len(r.delivered()) == 2, timeout=10)
            wait(lambda: cli_list(cfg) == [])
        finally:
            assert d.stop() == 0
    assert "re-delivering dead letters" in d.err_text()
