"""Routing: a sink's ``match`` decides what it gets; lists OR, keys AND, typos are errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support import SimThread, lines_of, parse_config, run_cli, sim_source, toml
from watcher.model import JournalEntry

SOURCES = [{"name": n, "provider": "extend", "token": "t"} for n in ("extend-prod", "extend-eu")]


def entry(type_: str, *, status: str | None = "failed", source: str = "extend-prod",
          wf: tuple[str, str] | None = ("workflow_abc", "Invoice Processing")) -> JournalEntry:
    return JournalEntry(0, "id", 0.0, f"watcher.{type_}", source, "run" if status else None, status,
                 wf[0] if wf else None, wf[1] if wf else None, b"{}")


CREATED_FAILED = entry("run.created")
CHANGED_FAILED = entry("run.status_changed")
CHANGED_REJECTED = entry("run.status_changed", status="rejected")
CHANGED_OK_EU = entry("run.status_changed", status="succeeded", source="extend-eu")
STUCK_OTHER_WF = entry("run.stuck", status="running", wf=("workflow_xyz", "Contracts"))
SOURCE_FAILING = entry("source.failing", status=None, wf=None)
ALL = [CREATED_FAILED, CHANGED_FAILED, CHANGED_REJECTED, CHANGED_OK_EU, STUCK_OTHER_WF,
       SOURCE_FAILING]


def routed(match: dict[str, Any] | None) -> list[JournalEntry]:
    sink: dict[str, Any] = {"name": "s", "type": "stdout"}
    if match is not None:
        sink["match"] = match
    m = parse_config(toml({"state_path": ":memory:"}, SOURCES, [sink])).sinks[0].match
    return [e for e in ALL if m(e)]


@pytest.mark.parametrize(("match", "expected"), [
    (None, ALL),
    ({"types": ["run.stuck"]}, [STUCK_OTHER_WF]),
    ({"types": ["watcher.run.stuck", "source.failing"]}, [STUCK_OTHER_WF, SOURCE_FAILING]),
    ({"status": ["failed", "rejected"]}, [CREATED_FAILED, CHANGED_FAILED, CHANGED_REJECTED]),
    ({"status": "failed"}, [CREATED_FAILED, CHANGED_FAILED]),
    ({"sources": ["extend-eu"]}, [CHANGED_OK_EU]),
    ({"workflows": ["Contracts"]}, [STUCK_OTHER_WF]),
    ({"workflows": ["workflow_abc"]},
     [CREATED_FAILED, CHANGED_FAILED, CHANGED_REJECTED, CHANGED_OK_EU]),
    ({"types": ["run.status_changed"], "status": ["failed", "rejected"]},
     [CHANGED_FAILED, CHANGED_REJECTED]),
    ({"types": ["run.status_changed"], "status": ["failed"], "sources": ["extend-eu"]}, []),
], ids=["absent", "short-type", "full-and-short-types", "statuses-or", "status-string",
        "source", "workflow-by-name", "workflow-by-id", "keys-and", "and-excludes-all"])
def test_match_routes_only_what_it_names(match: dict[str, Any] | None,
                                         expected: list[JournalEntry]) -> None:
    """A sink's match passes only the events it names: values OR within a key, keys AND."""
    assert routed(match) == expected


@pytest.mark.parametrize(("match", "expected"), [
    ({"statuses": ["rejected"]}, [CHANGED_REJECTED]),
    ({"type": "run.stuck"}, [STUCK_OTHER_WF]),
    ({"types": ["run.*"], "source": ["extend-*"], "workflow": ["Invoice *"]},
     [CREATED_FAILED, CHANGED_FAILED, CHANGED_REJECTED, CHANGED_OK_EU]),
    ({"types": ["*.failing"]}, [SOURCE_FAILING]),
], ids=["plural-statuses", "singular-type", "globs", "glob-of-types"])
def test_match_takes_either_spelling_and_globs(match: dict[str, Any],
                                               expected: list[JournalEntry]) -> None:
    """A sink's match takes the singular and plural keys and ``*`` globs, as silences do."""
    assert routed(match) == expected


def test_typos_in_match_are_config_errors_naming_the_key_path(tmp_path: Path) -> None:
    """Typos in match are config errors naming the key path and suggesting the right word."""
    cfg = tmp_path / "w.toml"
    cfg.write_text(toml({"state_path": ":memory:"}, SOURCES, [
        {"name": "out", "type": "stdout"},
        {"name": "alerts", "type": "stdout",
         "match": {"statuz": ["failed"], "types": ["run.faild"], "sources": ["extend-prd"]}},
        {"name": "ops", "type": "stdout", "match": {"status": ["faild"], "workflows": []}}]))
    out = run_cli("check", "-c", str(cfg))
    err = out.stderr.decode()
    assert out.returncode == 78
    for problem in (
            "sinks[1].match.statuz: unknown key (did you mean 'status'?)",
            "sinks[1].match.types: \"run.faild\" is not an event type",
            "sinks[1].match.sources: \"extend-prd\" is not a configured source "
            "(did you mean 'extend-prod'?)",
            "sinks[2].match.status: \"faild\" is not a canonical status (did you mean 'failed'?)",
            "sinks[2].match.workflows: is empty"):
        assert problem in err
    assert "watcher: 5 configuration problems" in err
    assert "Traceback" not in err


def test_each_sink_gets_only_its_matching_events_from_a_real_poll(
        tmp_path: Path, sim_thread: SimThread) -> None:
    """In a real poll, each sink receives exactly the events its match selects."""
    st = sim_thread
    failed = st.call(lambda w: w.add_run("extend", "FAILED", error="boom")).id
    running = st.call(lambda w: w.add_run("extend", "PROCESSING")).id
    cfg = tmp_path / "w.toml"
    cfg.write_text(toml(
        {"state_path": ":memory:", "http_listen": "", "baseline": "emit"},
        [sim_source(st.url, st.world, "extend")],
        [{"name": "failures", "type": "file", "path": str(tmp_path / "failed.jsonl"),
          "match": {"status": ["failed"]}},
         {"name": "running", "type": "file", "path": str(tmp_path / "running.jsonl"),
          "match": {"types": ["run.created"], "status": ["running"]}},
         {"name": "nothing", "type": "file", "path": str(tmp_path / "none.jsonl"),
          "match": {"types": ["run.stuck"]}}]))
    out = run_cli("once", "-c", str(cfg))
    assert out.returncode == 0, out.stderr
    subjects = {name: [e["subject"] for e in lines_of(p.read_bytes())] if p.exists() else []
                for name, p in (("failed", tmp_path / "failed.jsonl"),
                                ("running", tmp_path / "running.jsonl"),
                                ("none", tmp_path / "none.jsonl"))}
    assert subjects == {"failed": [failed], "running": [running], "none": []}
