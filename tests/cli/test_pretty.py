"""Readable terminals: ``--format pretty|auto`` (TTY detection, NO_COLOR, one line per
event) and ``watcher status``'s table."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import orjson

from tests.support import ROOT
from watcher.cli import pretty
from watcher.cli.status import render_status_table

ANSI = re.compile(rb"\x1b\[[0-9;]*m")
FAILED = {"type": "watcher.run.status_changed", "time": "2026-11-22T14:03:00.123Z",
          "data": {"source": "extend-prod", "workflow_name": "Invoice Processing",
                   "run_id": "workflow_run_xKm9pNv3qWsYabcdefgh", "status": "failed",
                   "previous_status": "running",
                   "error": "The document\ncould not be processed " + "x" * 200}}


def demo_on_a_terminal(*args: str, env: dict[str, str] | None = None) -> bytes:
    """``watcher demo`` with its stdout on a pseudo-terminal; what the terminal showed."""
    master, slave = os.openpty()
    full_env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    full_env.update({"PYTHONPATH": str(ROOT), **(env or {})})
    proc = subprocess.Popen([sys.executable, "-m", "watcher", "demo", *args], stdout=slave,
                            stderr=subprocess.DEVNULL, env=full_env)
    os.close(slave)
    out = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other end closed
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(60) == 0
    return bytes(out)


def test_a_pretty_line_is_one_short_coloured_line_with_the_transition_and_error() -> None:
    """A failure is one line: time, source, workflow, run id shortened, previous -> status,
    the error flattened and shortened; red when colour is on, plain when off."""
    plain = pretty.line(FAILED, color=False)
    assert "\n" not in plain and len(plain) < 170
    assert "extend-prod" in plain and "Invoice Processing" in plain
    assert "running -> failed" in plain and "The document could not be processed" in plain
    assert "workflow_run_xKm9pNv3qWsYabcdefgh" not in plain and "…" in plain
    assert pretty.line(FAILED, color=True) == f"{pretty.RED}{plain}{pretty.RESET}"
    stuck = {**FAILED, "type": "watcher.run.stuck",
             "data": {**FAILED["data"], "status": "running", "stuck_for_s": 890}}
    assert pretty.line(stuck, color=True).startswith(pretty.YELLOW)
    assert "stuck in running for 14m50s" in pretty.line(stuck)
    ok = {**FAILED, "data": {**FAILED["data"], "status": "succeeded", "error": None}}
    assert pretty.line(ok, color=True).startswith(pretty.GREEN)


def test_auto_is_pretty_on_a_terminal_and_json_on_a_pipe_and_no_color_is_honoured(
        tmp_path: Path) -> None:
    """auto means pretty on a TTY and JSON on a pipe; colour needs a TTY and no NO_COLOR."""
    master, slave = os.openpty()
    with open(slave, "w") as tty, open(tmp_path / "file", "w") as file:
        assert pretty.wants_pretty("auto", tty) and not pretty.wants_pretty("auto", file)
        assert pretty.wants_pretty("pretty", file) and not pretty.wants_pretty("json", tty)
        assert pretty.wants_color(tty, {}) and not pretty.wants_color(file, {})
        assert not pretty.wants_color(tty, {"NO_COLOR": "1"})
    os.close(master)


def test_demo_on_a_terminal_prints_one_coloured_line_per_event() -> None:
    """watcher demo on a terminal prints one pretty line per event, failures in red."""
    out = demo_on_a_terminal("--duration", "10")
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert len(lines) >= 5
    assert not any(ln.lstrip(b"\x1b[0123456789;m").startswith(b"{") for ln in lines)
    assert any(ln.startswith(pretty.RED.encode()) and b"-> failed" in ln for ln in lines)
    assert all(re.match(rb"\d\d:\d\d:\d\d  ", ANSI.sub(b"", ln)) for ln in lines)


def test_demo_with_no_color_prints_pretty_lines_without_escape_codes() -> None:
    """NO_COLOR keeps the pretty lines and drops every colour code."""
    out = demo_on_a_terminal("--duration", "10", env={"NO_COLOR": "1"})
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert lines and not ANSI.search(out)
    assert any(b"-> failed" in ln for ln in lines)


def test_the_status_table_lists_sources_and_sinks_with_ages() -> None:
    """render_status_table turns /status JSON into aligned rows with relative ages."""
    status = {"now": "2026-11-22T14:03:00.000Z",
              "replicas": [{"id": "host:1"}],
              "sources": [{"name": "extend-prod", "provider": "extend", "health": "failing",
                           "health_since": "2026-11-22T14:00:00.000Z",
                           "last_success": "2026-11-22T13:59:30.000Z", "tracked": 1200,
                           "live": 5, "stuck": 1, "owner": "host:1", "first_sync": None}],
              "sinks": [{"name": "alerts", "type": "slack", "backlog": 3, "failing": True,
                         "last_delivery": None, "dead_letters": 2, "silenced": 0}]}
    text = render_status_table(orjson.loads(orjson.dumps(status)))
    src, sink = text.splitlines()[1], text.splitlines()[4]
    assert src.split()[:4] == ["extend-prod", "extend", "failing", "(3m"]
    assert "4m ago" in src and "1200" in src and src.rstrip().endswith("host:1")
    assert sink.split() == ["alerts", "slack", "failing", "3", "-", "2", "0"]
    assert "replicas: host:1" in text


def test_the_status_table_says_what_another_replica_reported_never_a_made_up_ok() -> None:
    """A source another replica polls shows its owner's failing flag and run count (its
    live count unknown), a sink no replica reports on shows "?", never "ok"."""
    status = {"now": "2026-11-22T14:03:00.000Z",
              "sources": [{"name": "knock-prod", "provider": "knock", "owner": "host:2",
                           "last_success": None, "runs": 40, "live": None, "failing": True}],
              "sinks": [{"name": "pager", "type": "pagerduty", "backlog": 0, "dead_letters": 0,
                         "failing": None},
                        {"name": "hook", "type": "webhook", "backlog": 4, "dead_letters": 0,
                         "failing": True}]}
    lines = render_status_table(status).splitlines()
    assert lines[1].split() == ["knock-prod", "knock", "failing", "-", "40", "0", "0", "host:2"]
    assert lines[4].split()[:3] == ["pager", "pagerduty", "?"]
    assert lines[5].split()[:3] == ["hook", "webhook", "failing"]


def _event(type_: str, **data: object) -> dict[str, object]:
    return {"type": type_, "time": "2026-11-22T14:03:00Z", "data": data}


DEGRADED = _event("watcher.workflow.degraded", rule="payment-failures", kind="failure_rate_above",
                  source="extend-prod", workflow_name="Payment Sync", failed=3, finished=4,
                  rate=0.75, window_s=1800)
RECOVERED = _event("watcher.workflow.recovered", **{**DEGRADED["data"],  # type: ignore[dict-item]
                                                    "failed": 0, "rate": 0.0,
                                                    "degraded_for_s": 300})


def test_health_events_are_coloured_and_told_apart_never_shown_as_new_runs() -> None:
    """workflow.degraded is a red DEGRADED line with the rule's figures, workflow.recovered a
    green RECOVERED one; neither reads as a new run (``new ->``)."""
    bad, good = pretty.line(DEGRADED, color=True), pretty.line(RECOVERED, color=True)
    assert bad.startswith(pretty.RED) and good.startswith(pretty.GREEN)
    assert "DEGRADED (payment-failures): 3 of 4 failed (75%) in 30m" in bad
    assert "RECOVERED (payment-failures) after 5m" in good
    assert "Payment Sync" in bad and "new ->" not in bad + good
    across = pretty.line(_event("watcher.workflow.degraded", rule="r", kind="no_success_for",
                                source=None, without_success_s=3600))
    assert "no success for 1h" in across and "None" not in across


def test_reminders_are_marked_and_coloured_as_what_they_remind_of() -> None:
    """A reminder says ``reminder #n`` before what it reminds of, in that event's colour."""
    source = pretty.line(_event("watcher.source.reminder", source="extend-prod",
                                reminds="watcher.source.failing", reminder=2,
                                consecutive_failures=9, open_for_s=3600), color=True)
    assert source.startswith(pretty.RED)
    assert "reminder #2: source failing (9 polls), open 1h" in source
    run = pretty.line(_event("watcher.run.reminder", source="s", reminds="watcher.run.stuck",
                             reminder=1, status="running", stuck_for_s=1200, open_for_s=600,
                             run_id="run_abc"), color=True)
    assert run.startswith(pretty.YELLOW) and "reminder #1: stuck in running for 20m" in run


def test_every_event_type_has_words_and_a_colour_of_its_own() -> None:
    """Every type core/ emits but a run's own transitions gets its own words and a colour."""
    from watcher.core.events import EVENT_TYPES

    for type_ in EVENT_TYPES:
        if type_ in ("watcher.run.created", "watcher.run.status_changed"):
            continue
        text = pretty.line(_event(type_, source="s", status="running",
                                  reminds="watcher.source.failing"
                                  if type_.startswith("watcher.source") else "watcher.run.stuck"),
                           color=True)
        assert "new ->" not in text and text.startswith((pretty.RED, pretty.GREEN,
                                                         pretty.YELLOW)), type_


def test_run_ids_keep_their_constant_prefix_and_shorten_the_rest() -> None:
    """``workflow_run_`` stays whole; both ends of what follows it tell runs apart."""
    assert pretty.short_id("workflow_run_xKm9pNv3qWsYabcdtmXHdg") == "workflow_run_xKm9…XHdg"
    assert pretty.short_id("run_0123456789") == "run_0123456789"  # Cortex's, whole
    assert pretty.short_id("run_0123456789abc") == "run_0123…9abc"
    assert pretty.short_id("3f2a1b4c-0000-4000-8000-00000000c9d0") == "3f2a1b…00c9d0"
    line = pretty.line(FAILED)
    assert "workflow_run_xKm9…efgh" in line
