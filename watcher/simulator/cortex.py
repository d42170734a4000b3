"""Simulated Cortex API (withcortex.ai): one workflow's runs and single runs.

``GET /apps/{app_id}/workflows/{workflow_id}/runs`` answers a *bare JSON
array*, with the paging metadata in the ``pagination-page``,
``pagination-take`` and ``pagination-count`` headers as the official SDK
reads them; ``page`` defaults to 1 and ``take`` to 100; ``status`` (one
value, or ``ALL``) and ``origin`` filter; ``verbose=all`` adds the bulky
step logs.  Bearer auth; errors are ``{status, message, errors?}``.

Choices where Cortex documents nothing: the listing is newest
``created_at`` first (see :mod:`watcher.simulator.listing`, also for
``shift``); ``take`` above 1000 is a 400; the app is ``app_sim`` (or the
SDK's app-less placeholder ``c``) and the workflows are the world's Cortex
workflows; timestamps are JavaScript ISO strings (milliseconds, ``Z``).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from watcher.core.timestamps import format_ts
from watcher.simulator.api import Refused, VendorApi, json_response, stage_table
from watcher.simulator.world import SimRun

APP_ID = "app_sim"
#: the SDK's placeholder for "the key's own app"
APP_LESS = "c"
MAX_TAKE = 1000
STATUSES = ("PENDING", "RUNNING", "CANCELLED", "COMPLETED", "SKIPPED", "FAILED")
ORIGINS = ("WORKFLOW", "TRIGGER", "RECORD", "TEST", "ENDPOINT", "WEBHOOK")
TERMINAL = ("CANCELLED", "COMPLETED", "SKIPPED", "FAILED")


class CortexApi(VendorApi):
    vendor = "cortex"
    stages = stage_table(pending="PENDING", running="RUNNING", succeeded="COMPLETED",
                         failed="FAILED", cancelled="CANCELLED", skipped="SKIPPED")

    def add_routes(self, app: web.Application) -> None:
        base = "/apps/{app_id}/workflows/{workflow_id}/runs"
        app.router.add_get(base, self.list_runs)
        app.router.add_get(base + "/{run_id}", self.get_run)

    def error(self, status: int, message: str, *, code: str = "",
              errors: list[dict[str, Any]] | None = None) -> web.Response:
        body: dict[str, Any] = {"status": status, "message": message}
        if errors:
            body["errors"] = errors
        return json_response(body, status=status)

    def move_to_head(self, run: SimRun) -> None:
        self.listings.drop_before(run)

    def _bad_param(self, name: str, message: str, code: str = "invalid_type") -> Refused:
        return Refused(self.error(400, "Invalid request parameters", errors=[
            {"validation": "query", "code": code, "message": message, "path": [name]}]))

    def _workflow_of(self, request: web.Request) -> str:
        if request.match_info["app_id"] not in (APP_ID, APP_LESS):
            raise Refused(self.error(404, "App not found"))
        wid = request.match_info["workflow_id"]
        if not any(wf.id == wid for wf in self.world.workflows[self.vendor]):
            raise Refused(self.error(404, "Workflow not found"))
        return wid

    def _number(self, request: web.Request, name: str, default: int, high: int | None) -> int:
        raw = request.query.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise self._bad_param(name, "Expected number, received nan") from None
        if value < 1:
            raise self._bad_param(name, "Number must be greater than or equal to 1", "too_small")
        if high is not None and value > high:
            raise self._bad_param(name, f"Number must be less than or equal to {high}",
                                  "too_big")
        return value

    async def list_runs(self, request: web.Request) -> web.Response:
        wid = self._workflow_of(request)
        page = self._number(request, "page", 1, None)
        take = self._number(request, "take", 100, MAX_TAKE)
        status = request.query.get("status", "ALL")
        if status != "ALL" and status not in STATUSES:
            raise self._bad_param("status", f"Invalid enum value. Expected 'ALL' | "
                                            f"{' | '.join(repr(s) for s in STATUSES)}, "
                                            f"received '{status}'", "invalid_enum_value")
        origin = request.query.get("origin", "ALL")
        if origin != "ALL" and origin not in ORIGINS:
            raise self._bad_param("origin", f"Invalid enum value, received '{origin}'",
                                  "invalid_enum_value")
        verbose = "all" in request.query.getall("verbose", [])
        account = self.account_of(request)

        def keep(r: SimRun) -> bool:
            return (r.workflow.id == wid and (status == "ALL" or r.status == status)
                    and (origin == "ALL" or r.extra.get("origin", "WORKFLOW") == origin))

        items, ordered = self.page(
            request, lambda: self.listings.newest_first(account, (wid, status, origin), keep),
            take, lambda r: self.render(r, verbose=verbose), start=(page - 1) * take)
        return json_response(items, headers={"pagination-page": str(page),
                                             "pagination-take": str(take),
                                             "pagination-count": str(len(ordered))})

    async def get_run(self, request: web.Request) -> web.Response:
        wid = self._workflow_of(request)
        run = self.run_of(request, "Run not found", key="run_id",
                          belongs=lambda r: r.workflow.id == wid)
        body = self.render(run, verbose="all" in request.query.getall("verbose", []))
        return json_response(self.served(run, body))

    def render(self, run: SimRun, *, verbose: bool = False) -> dict[str, Any]:
        wf = run.workflow
        done = run.status in TERMINAL
        started = run.started if run.started is not None else (
            None if run.status == "PENDING" else run.created + 0.5)
        ended = run.finished if run.finished is not None else (run.updated if done else None)
        step: dict[str, Any] = {"status": "COMPLETED" if done else "RUNNING", "type": "model",
                                "key": "STEP_1", "output": "Extracted 12 fields" if done else "",
                                "start": int((started or run.created) * 1000)}
        if ended is not None:
            step["end"] = int(ended * 1000)
        if run.status == "FAILED":
            step.update(status="FAILED", error=run.error or "Step failed")
        if verbose:
            step["logs"] = [f"log line {i}" for i in range(20)]
        return {
            "id": run.id,
            "status": run.status,
            "origin": run.extra.get("origin", "WORKFLOW"),
            "error": (run.error or "Workflow run failed") if run.status == "FAILED" else None,
            "input": {"invoice_url": f"https://files.example.com/{run.id}.pdf"},
            "output": {"STEP_1": step} if run.status != "PENDING" else {},
            "result": {"fields": 12} if run.status == "COMPLETED" else None,
            "started_at": format_ts(started) if started is not None else None,
            "ended_at": format_ts(ended) if ended is not None else None,
            "app_id": APP_ID,
            "workflow_app_id": APP_ID,
            "workflow_id": wf.id,
            "workflow_version": {"id": f"wv_{wf.id[3:]}", "workflow_id": wf.id, "version": 7,
                                 "name": wf.name,
                                 "steps": [{"key": "STEP_1", "type": "model",
                                            "prompt": "Extract every field. " * 10}]},
            "workflow_version_draft": None,
            "version": 7,
            "collection_id": None,
            "record_id": None,
            "usage": {"total": 12, "calls": [{"model": "sim-1", "tokens": 1200}] if verbose
                      else [], "steps": {}},
            "retention": {"max_age_in_seconds": -1, "preserve_on_failure": True},
            "retention_due_at": None,
            "created_at": format_ts(run.created),
            "updated_at": format_ts(run.updated),
        }
