"""A fixed, varied set of event batches for Slack's message builder: every status,
single and grouped, stuck runs, failing and recovered sources, odd text; built from a
seeded random source so the same batches come back every run."""

from __future__ import annotations

import hashlib
from random import Random
from typing import Any

import orjson

from watcher.core.events import (
    RUN_CREATED,
    RUN_STATUS_CHANGED,
    RUN_STUCK,
    SOURCE_FAILING,
    SOURCE_RECOVERED,
)
from watcher.model import JournalEntry, Status

TEXTS = ["", "Document could not be parsed", "<!channel> & <@U123>", "```", "a" * 500,
         "line one\nline two", "&amp;" * 70, "ünïcødé ✓"]
STAMPS = ["2026-11-22T13:58:10Z", "2026-11-22T14:02:51.120Z", "", "garbage"]
WORKFLOWS = ["Invoice Processing", None, "<b>&", "W" * 200]


def _run_event(r: Random, etype: str, status: str, workflow: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "source": r.choice(["extend-prod", "noxus-eu"]), "provider": "extend",
        "run_id": f"run-{r.randrange(10**6)}", "workflow_id": r.choice(["wf-1", None]),
        "workflow_name": workflow, "status": status,
        "previous_status": r.choice([None, "running"]), "raw_status": r.choice(TEXTS) or "X",
        "previous_raw_status": None, "terminal": r.random() < 0.5,
        "created_at": r.choice(STAMPS), "updated_at": r.choice(STAMPS),
        "url": r.choice([None, "https://x.test/r?a=1&b=2", "not a url"]),
        "error": r.choice([None, *TEXTS]), "run": {"id": "x"}}
    if etype == RUN_STUCK:
        data["stuck_for_s"] = r.randrange(10**6)
    return {"id": f"{r.randrange(16**16):016x}", "type": etype, "subject": data["run_id"],
            "time": r.choice(STAMPS), "data": data}


def _source_event(r: Random, etype: str) -> dict[str, Any]:
    data: dict[str, Any] = {"source": r.choice(["extend-prod", "noxus-eu", "s" * 64]),
                            "provider": "extend", "failing_since": r.choice(STAMPS),
                            "consecutive_failures": r.randrange(1, 9)}
    if etype == SOURCE_FAILING:
        data.update(error=r.choice(TEXTS), kind="auth")
    else:
        data["down_for_s"] = r.randrange(10**6)
    return {"id": f"{r.randrange(16**16):016x}", "type": etype, "subject": data["source"],
            "time": r.choice(STAMPS), "data": data}


def _group(r: Random) -> list[dict[str, Any]]:
    etype = r.choice([RUN_CREATED, RUN_STATUS_CHANGED, RUN_STUCK, SOURCE_FAILING,
                      SOURCE_RECOVERED])
    n = r.choice([1, 1, 2, 3, 12])
    if etype in (SOURCE_FAILING, SOURCE_RECOVERED):
        return [_source_event(r, etype) for _ in range(n)]
    status, workflow = r.choice([s.value for s in Status]), r.choice(WORKFLOWS)
    return [_run_event(r, etype, status, workflow) for _ in range(n)]


def batches(n: int = 120, seed: int = 7) -> list[list[JournalEntry]]:
    """``n`` batches of one to three groups of events each."""
    r = Random(seed)
    out = []
    for _ in range(n):
        events = [ev for _ in range(r.randrange(1, 4)) for ev in _group(r)]
        out.append([JournalEntry(i, ev["id"], 0.0, ev["type"], ev["data"]["source"],
                                 ev["data"].get("run_id"), ev["data"].get("status"),
                                 ev["data"].get("workflow_id"), ev["data"].get("workflow_name"),
                                 orjson.dumps(ev)) for i, ev in enumerate(events, 1)])
    return out


def digest(payloads: list[dict[str, Any]]) -> str:
    return hashlib.sha256(orjson.dumps(payloads, option=orjson.OPT_SORT_KEYS)).hexdigest()
