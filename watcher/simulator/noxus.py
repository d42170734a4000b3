"""Simulated Noxus API (OpenAPI "Noxus Backend" 1.1.0): ``GET /v1/runs`` and single runs.

Faithful where watcher depends on it: ``X-API-Key`` auth, ``page`` (>= 1)
and ``size`` (1-100, default 50) with FastAPI's 422 body when out of range,
the ``fastapi-pagination`` envelope ``{items, total, page, size, pages}``
(a page past the end is empty), no filters and no sort parameter.  Errors
are FastAPI's ``{"detail": ...}``.

Choices where Noxus documents nothing: the listing is newest ``created_at``
first (see :mod:`watcher.simulator.listing`, also for what ``shift`` does),
a wrong key is a 401, an unknown run a 404, and timestamps are UTC with
microseconds, as pydantic serialises them.
"""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web

from watcher.simulator.api import Refused, VendorApi, json_response, stage_table, stamp
from watcher.simulator.world import SimRun, World

MAX_SIZE = 100
TERMINAL = ("completed", "failed", "stopped")
PROGRESS = {"queued": 0, "running": 40, "awaiting_human_feedback": 80, "completed": 100}


class NoxusApi(VendorApi):
    vendor = "noxus"
    stages = stage_table(pending="queued", running="running",
                         needs_review="awaiting_human_feedback", succeeded="completed",
                         failed="failed", cancelled="stopped")

    def __init__(self, world: World) -> None:
        super().__init__(world)
        #: the key's workspace (Noxus calls it a group)
        self.group_id = world.random_uuid()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/runs", self.list_runs)
        app.router.add_get("/v1/runs/{run_id}", self.get_run)
        app.router.add_get("/v1/workflows/{workflow_id}/runs/{run_id}", self.get_workflow_run)

    def credential(self, request: web.Request) -> str:
        return request.headers.get("X-API-Key", "")

    def move_to_head(self, run: SimRun) -> None:
        self.listings.drop_before(run)

    async def list_runs(self, request: web.Request) -> web.Response:
        page = _int_param(request, "page", 1, 1, None)
        size = _int_param(request, "size", 50, 1, MAX_SIZE)
        account = self.account_of(request)

        items, ordered = self.page(request, lambda: self.listings.newest_first(account, "all"),
                                   size, self.render, start=(page - 1) * size)
        total = len(ordered)
        return json_response({"items": items, "total": total, "page": page, "size": size,
                              "pages": math.ceil(total / size)})

    def _find(self, request: web.Request) -> SimRun:
        wid = request.match_info.get("workflow_id")
        return self.run_of(request, "Run not found", key="run_id",
                           belongs=lambda r: wid is None or r.workflow.id == wid)

    async def get_run(self, request: web.Request) -> web.Response:
        """``RunNoIO``: the run without its workflow, definitions or output."""
        run = self._find(request)
        body = self.render(run)
        for key in ("definitions", "workflow", "source"):
            del body[key]
        body["workflow_version_id"] = None
        return json_response(self.served(run, body))

    async def get_workflow_run(self, request: web.Request) -> web.Response:
        """The cookbook's poll endpoint: the run plus output and progress details."""
        run = self._find(request)
        body = self.render(run)
        del body["workflow"]
        done = run.status in TERMINAL
        body.update({
            "workflow_version_id": None,
            "output": {"Answer": "42"} if run.status == "completed" else None,
            "progress_details": {
                "executed_nodes": ["input", "llm"] if done else ["input"],
                "running_nodes": [] if done else ["llm"],
                "remaining_nodes": [] if done else ["output"],
                "skipped_nodes": [], "error_handler_nodes": [],
                "per_node_progress": {}, "run_logs": [],
            },
        })
        return json_response(self.served(run, body))

    def render(self, run: SimRun) -> dict[str, Any]:
        wf = run.workflow
        finished = None
        if run.status in TERMINAL:
            finished = stamp(run.finished if run.finished is not None else run.updated)
        return {
            "id": run.id,
            "group_id": self.group_id,
            "workflow_id": wf.id,
            "input": {"User Question": "Which invoices are overdue?"},
            "node_ids": None,
            "status": run.status,
            "progress": PROGRESS.get(run.status, 60),
            "definitions": {"nodes": [{"id": "input", "type": "input"},
                                      {"id": "llm", "type": "text_generation",
                                       "config": {"prompt": "Answer: {{input}}" * 8}}]},
            "created_at": stamp(run.created),
            "finished_at": finished,
            "workflow": {
                "id": wf.id, "group_id": self.group_id, "name": wf.name, "type": "flow",
                "definition": {"nodes": [{"id": "input"}, {"id": "llm"}, {"id": "output"}],
                               "edges": [["input", "llm"], ["llm", "output"]]},
                "last_updated_at": "2026-01-06T09:00:00Z", "last_run_at": stamp(run.created),
                "created_at": "2026-01-05T10:00:00Z", "deleted_at": None, "runs_count": 12,
                "author_name": "Sim User", "description": f"{wf.name} (simulated)",
                "saved": True, "error_handler": None,
            },
            "source": "api",
        }


def _int_param(request: web.Request, name: str, default: int, low: int,
               high: int | None) -> int:
    """A bounded whole-number query parameter, refused with FastAPI's 422 body."""
    raw = request.query.get(name)
    if raw is None:
        return default

    def invalid(kind: str, msg: str, **ctx: Any) -> Refused:
        problem: dict[str, Any] = {"type": kind, "loc": ["query", name], "msg": msg,
                                   "input": raw}
        if ctx:
            problem["ctx"] = ctx
        return Refused(json_response({"detail": [problem]}, status=422))

    try:
        value = int(raw)
    except ValueError:
        raise invalid("int_parsing", "Input should be a valid integer, unable to parse "
                      "string as an integer") from None
    if value < low:
        raise invalid("greater_than_equal", f"Input should be greater than or equal to {low}",
                      ge=low)
    if high is not None and value > high:
        raise invalid("less_than_equal", f"Input should be less than or equal to {high}",
                      le=high)
    return value
