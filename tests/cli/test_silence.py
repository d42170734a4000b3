"""Silences from the command line, on a running daemon: ``watcher silence add`` holds
matching alerts back from Slack and webhooks within a second while stdout keeps every
event, ``list`` says what each held back, ``expire`` lets alerts through again, a
silence outlives a restart, and bad input is refused with 64.

Real subprocesses throughout: the daemon, the CLI, the simulator on loopback, and
real HTTP receivers standing in for Slack and the webhook endpoint.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.http_support import eventually, free_port, http_get
from tests.sinks.receiver import Receiver
from tests.support import DaemonProc, SimThread, run_cli, sim_source, toml

SOURCE = "extend-test"


@dataclass
class Rig:
    cfg: Path
    sim: SimThread
    hook: Receiver
    chat: Receiver
    port: int

    def cli(self, *args: str) -> tuple[int, str, str]:
        out = run_cli("silence", *args, "-c", str(self.cfg))
        return out.returncode, out.stdout.decode(), out.stderr.decode()

    def fail_run(self) -> str:
        return self.sim.call(lambda w: w.add_run("extend", "FAILED", error="boom")).id

    def silenced(self) -> dict[tuple[str, str], float]:
        """``watcher_events_silenced_total`` by (sink, silence), scraped now."""
        _, body = http_get(f"http://127.0.0.1:{self.port}/metrics")
        return {(s.labels["sink"], s.labels["silence"]): s.value
                for fam in text_string_to_metric_families(body.decode())
                for s in fam.samples if s.name == "watcher_events_silenced_total"}


def run_ids(r: Receiver) -> list[str]:
    """The run of each alert a receiver took (Slack's text names it, a webhook's body)."""
    out = []
    for hit in r.delivered():
        body = json.loads(hit.body)
        out.append(body["data"]["run_id"] if "data" in body else body["text"])
    return out


@contextmanager
def rig(tmp_path: Path, sim: SimThread) -> Iterator[Rig]:
    failed = {"status": ["failed"]}
    with Receiver() as hook, Receiver() as chat:
        port = free_port()
        cfg = tmp_path / "watcher.toml"
        cfg.write_text(toml(
            {"state_path": str(tmp_path / "state.db"), "http_listen": f"127.0.0.1:{port}"},
            [sim_source(sim.url, sim.world, "extend", name=SOURCE, interval="1s")],
            [{"name": "out", "type": "stdout"},
             {"name": "hook", "type": "webhook", "url": hook.url, "match": failed},
             {"name": "chat", "type": "slack", "webhook_url": chat.url, "group_wait": "0s",
              "match": failed}]))
        yield Rig(cfg, sim, hook, chat, port)


def start(r: Rig, *, first: bool = True) -> DaemonProc:
    d = DaemonProc("run", "-c", str(r.cfg))
    d.wait_stderr("baseline recorded" if first else "watcher running")
    return d


def alerted(r: Rig, d: DaemonProc, run: str) -> None:
    """Wait until stdout, the webhook and Slack all have the failure of ``run``."""
    d.wait_for(lambda evs: any(e["subject"] == run for e in evs))
    r.hook.wait_for(lambda h: run in run_ids(h))
    r.chat.wait_for(lambda h: any(run in text for text in run_ids(h)))


def test_a_silence_holds_alerts_back_from_notification_sinks_until_it_is_expired(
        tmp_path: Path, sim_thread: SimThread) -> None:
    """Added on a running daemon, a silence keeps a failure from Slack and the webhook
    (stdout still has it, /metrics and `silence list` count it); expired, the next
    failure reaches both again."""
    with rig(tmp_path, sim_thread) as r:
        d = start(r)
        try:
            alerted(r, d, r.fail_run())
            code, out, err = r.cli("add", "--match", f"source={SOURCE}", "--match",
                                   "status=failed", "--for", "2h", "--comment", "migration")
            assert code == 0, err
            silence = out.strip()
            d.wait_log("silence added", silence=silence)
            held = r.fail_run()
            d.wait_for(lambda evs: any(e["subject"] == held for e in evs))
            eventually(lambda: r.silenced() == {("hook", silence): 1.0, ("chat", silence): 1.0},
                       what="both notification sinks passing over the held event")
            assert len(r.hook.delivered()) == len(r.chat.delivered()) == 1

            code, out, _ = r.cli("list", "--json")
            [row] = [json.loads(line) for line in out.splitlines()]
            assert (row["id"], row["state"], row["held"]) == (silence, "active", 1)
            assert row["comment"] == "migration" and "@" in row["author"]

            assert r.cli("expire", silence)[0] == 0
            d.wait_log("silence expired", silence=silence)
            alerted(r, d, r.fail_run())
            assert held not in run_ids(r.hook)
            assert r.cli("list")[1] == "no active silences\n"
            assert json.loads(r.cli("list", "--all", "--json")[1])["state"] == "expired"
        finally:
            assert d.stop() == 0


def test_a_silence_survives_a_restart(tmp_path: Path, sim_thread: SimThread) -> None:
    """A silence added while no daemon runs is in force from the first delivery of the
    next one."""
    with rig(tmp_path, sim_thread) as r:
        d = start(r)
        d.stop()
        until = (datetime.now(UTC) + timedelta(days=30)).isoformat(timespec="seconds")
        code, out, err = r.cli("add", "--match", "type=run.*", "--sink", "hook",
                               "--until", until, "--comment", "quiet")
        assert code == 0, err
        silence = out.strip()
        d = start(r, first=False)
        try:
            held = r.fail_run()
            d.wait_for(lambda evs: any(e["subject"] == held for e in evs))
            r.chat.wait_for(lambda h: any(held in text for text in run_ids(h)))
            eventually(lambda: r.silenced() == {("hook", silence): 1.0},
                       what="the webhook passing over the held event")
            assert r.hook.delivered() == []
        finally:
            assert d.stop() == 0


@pytest.mark.parametrize(("args", "why"), [
    (["--match", "sorce=extend-test", "--for", "1h"], "is not a match key (did you mean"),
    (["--match", "status=failed", "--for", "2 hours"], 'is not a duration'),
    (["--match", "status=failed", "--until", "2001-01-01T00:00:00Z"], "is in the past"),
    (["--match", "status=failed", "--until", "tomorrow"], "is not an RFC 3339 time"),
    (["--match", "status=failed", "--for", "999999d"], "longer than a year (366d); add --force"),
    (["--match", "status=failed", "--until", "4764-01-01T00:00:00Z"],
     "more than a year away (366d); add --force"),
    (["--match", "status=failed", "--for", "1h", "--sink", "out"], "is a complete record"),
    (["--match", "status=failed", "--for", "1h", "--sink", "hooks"], "is not a configured"),
    (["--match", "status=failed"], "one of the arguments --for --until is required"),
])
def test_bad_silence_input_exits_64_saying_what_is_wrong(
        tmp_path: Path, sim_thread: SimThread, args: list[str], why: str) -> None:
    """Unknown keys, bad durations, past, unreadable or over a year away times, record or
    unknown sinks and missing arguments exit 64 with the reason, and store nothing."""
    with rig(tmp_path, sim_thread) as r:
        code, out, err = r.cli("add", *args, "--comment", "c")
        assert (code, out) == (64, "")
        assert why in err
        assert r.cli("list", "--all", "--json")[1] == ""


def test_a_silence_longer_than_a_year_needs_force(tmp_path: Path,
                                                  sim_thread: SimThread) -> None:
    """With --force, a silence of more than a year is stored, ending when it says."""
    with rig(tmp_path, sim_thread) as r:
        assert start(r).stop() == 0  # the daemon's state, which the silence goes in
        code, out, err = r.cli("add", "--match", "status=failed", "--for", "400d", "--force",
                               "--comment", "decommissioned for good")
        assert code == 0, err
        stored, = (json.loads(line) for line in r.cli("list", "--json")[1].splitlines())
        ends = datetime.fromisoformat(stored["ends"]).timestamp()
        assert stored["id"] == out.strip() and abs(ends - time.time() - 400 * 86400) < 3600


def test_expiring_an_unknown_silence_exits_64(tmp_path: Path, sim_thread: SimThread) -> None:
    """An id that names no silence is a usage error."""
    with rig(tmp_path, sim_thread) as r:
        assert start(r).stop() == 0  # the daemon's state, which the silence would be in
        code, _, err = r.cli("expire", "0123456789ab")
        assert code == 64 and 'no silence "0123456789ab"' in err
