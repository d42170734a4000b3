"""Simulated Extend API (version 2026-02-09): ``GET /workflow_runs`` and ``/{id}``.

Faithful where watcher and the official SDK depend on it: Bearer auth, the
``x-extend-api-version`` header (400 without it), ``maxPageSize`` 1-1000
(default 10), ``sortBy``/``sortDir`` (default updatedAt desc), filters, and an
opaque keyset ``nextPageToken`` (base64 with ``+/=``) that is bound to the
query: reusing it with other parameters is a 400, as the docs warn.  A run
updated while a client pages jumps to the head and is not on later pages,
exactly the pitfall of the real listing.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hashlib
from typing import Any

import orjson
from aiohttp import web

from watcher.core.timestamps import format_ts
from watcher.simulator.api import VendorApi, json_response, stage_table
from watcher.simulator.listing import Filters, matching
from watcher.simulator.world import SimRun

API_VERSION = "2026-02-09"
STATUSES = ("PENDING", "PROCESSING", "NEEDS_REVIEW", "CANCELLING", "PROCESSED", "FAILED",
            "CANCELLED", "REJECTED")


_FILTERS: Filters = {
    "status": lambda r, v: r.status == v,
    "workflowId": lambda r, v: r.workflow.id == v,
    "batchId": lambda r, v: r.extra.get("batchId") == v,
    "fileNameContains": lambda r, v: v in "document.pdf",
}


class ExtendApi(VendorApi):
    vendor = "extend"
    stages = stage_table(pending="PENDING", running="PROCESSING", needs_review="NEEDS_REVIEW",
                         cancelling="CANCELLING", succeeded="PROCESSED", failed="FAILED",
                         cancelled="CANCELLED", rejected="REJECTED")

    def move_to_head(self, run: SimRun) -> None:
        # an update is what moves a run to the head of an updatedAt-desc listing
        newest = max(r.updated for r in run.account.runs.values())
        self.world.touch(run, at=max(self.world.clock(), newest + 0.001))

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/workflow_runs", self.list_runs)
        app.router.add_get("/workflow_runs/{id}", self.get_run)

    def error(self, status: int, message: str, *, code: str = "") -> web.Response:
        codes = {400: "INVALID_REQUEST", 401: "UNAUTHORIZED", 404: "NOT_FOUND",
                 429: "RATE_LIMIT_EXCEEDED"}
        code = code or codes.get(status, "INTERNAL_SERVER_ERROR")
        return json_response({"code": code, "message": message,
                              "retryable": status == 429 or status >= 500,
                              "requestId": f"req_{self.world.rng.getrandbits(40):010x}"},
                             status=status)

    async def list_runs(self, request: web.Request) -> web.Response:
        if request.headers.get("x-extend-api-version") != API_VERSION:
            return self.error(400, "Missing or unsupported x-extend-api-version header",
                              code="INVALID_API_VERSION")
        q = request.query
        try:
            size = int(q.get("maxPageSize", "10"))
        except ValueError:
            size = 0
        if not 1 <= size <= 1000:
            return self.error(400, "maxPageSize must be between 1 and 1000")
        sort_by, sort_dir = q.get("sortBy", "updatedAt"), q.get("sortDir", "desc")
        if sort_by not in ("updatedAt", "createdAt") or sort_dir not in ("asc", "desc"):
            return self.error(400, "Invalid sortBy or sortDir")
        status = q.get("status")
        if status is not None and status not in STATUSES:
            return self.error(400, f"Invalid status: {status}")
        query_id = _query_id(q, size)
        after: tuple[float, str] | None = None
        token = q.get("nextPageToken")
        if token:
            after = _decode(token, query_id)
            if after is None:
                return self.error(400, "nextPageToken is invalid or does not match this query")

        account = self.account_of(request)
        filters = tuple((f, q[f]) for f in _FILTERS if f in q)

        def key(run: SimRun) -> tuple[float, str]:
            return (run.updated if sort_by == "updatedAt" else run.created, run.id)

        def order() -> list[SimRun]:
            runs = self.listings.get(account, (sort_by, filters), matching(_FILTERS, filters),
                                     key)
            if sort_dir == "desc":
                end = len(runs) if after is None else bisect.bisect_left(runs, after, key=key)
                return runs[:end][::-1]
            begin = 0 if after is None else bisect.bisect_right(runs, after, key=key)
            return runs[begin:]

        items, ordered = self.page(request, order, size, self.render)
        body: dict[str, Any] = {"object": "list", "data": items}
        if len(ordered) > size and items:
            last = ordered[size - 1]
            body["nextPageToken"] = _encode(query_id, key(last))
        return json_response(body)

    async def get_run(self, request: web.Request) -> web.Response:
        if request.headers.get("x-extend-api-version") != API_VERSION:
            return self.error(400, "Missing or unsupported x-extend-api-version header",
                              code="INVALID_API_VERSION")
        run = self.run_of(request, "Workflow run not found")
        body = self.render(run)
        body.pop("usage", None)
        body.update({
            "metadata": {"customer": "acme"},
            "reviewed": run.extra.get("reviewed", False),
            "stepRuns": [self._step_run(run, i, kind, body["files"]) for i, kind in
                         enumerate(("PARSE", "EXTRACT", "RULE_VALIDATION"))],
        })
        if run.status == "FAILED":
            body["failureReason"] = run.extra.get("failureReason", "PROCESSING_ERROR")
            body["failureMessage"] = run.error or "The document could not be processed"
        return json_response(self.served(run, body))

    @staticmethod
    def _step_run(run: SimRun, i: int, kind: str, files: list[Any]) -> dict[str, Any]:
        """A step run as the SDK's ``StepRun`` union parses it (discriminated by ``stepType``)."""
        return {"object": "workflow_step_run", "id": f"step_run_{run.id[13:21]}_{i}",
                "workflowRunId": run.id, "status": "PROCESSED", "stepType": kind,
                "step": {"object": "workflow_step", "id": f"step_{i}", "name": kind.title(),
                         "type": kind},
                "files": files, "result": None}

    def render(self, run: SimRun) -> dict[str, Any]:
        wf = run.workflow
        created = format_ts(run.created)
        return {
            "object": "workflow_run",
            "id": run.id,
            "status": run.status,
            "workflow": {"object": "workflow", "id": wf.id, "name": wf.name,
                         "createdAt": "2026-01-05T10:00:00Z", "updatedAt": "2026-01-06T09:00:00Z"},
            "workflowVersion": {"object": "workflow_version", "id": f"workflow_version_{wf.id[9:]}",
                                "version": "3", "name": "Prod v3",
                                "createdAt": "2026-01-06T09:00:00Z"},
            "dashboardUrl": f"https://dashboard.extend.ai/workflows/{run.id}",
            "files": [{"object": "file", "id": f"file_{run.id[13:21]}", "name": "document.pdf",
                       "metadata": {}, "createdAt": created, "updatedAt": created}],
            "batchId": run.extra.get("batchId"),
            "initialRunAt": created,
            "startTime": format_ts(run.started) if run.started else None,
            "endTime": format_ts(run.finished) if run.finished else None,
            "reviewedByUser": None,
            "reviewedAt": None,
            "rejectionNote": run.error if run.status == "REJECTED" else None,
            "createdAt": created,
            "updatedAt": format_ts(run.updated),
            "usage": {"credits": 9, "totalCredits": 9},
        }


def _query_id(q: Any, size: int) -> str:
    parts = [(k, q[k]) for k in sorted(q) if k != "nextPageToken"]
    parts.append(("maxPageSize", str(size)))
    return hashlib.sha1(orjson.dumps(parts)).digest()[:16].hex()


def _encode(query_id: str, key: tuple[float, str]) -> str:
    head = base64.b64encode(bytes.fromhex(query_id)).decode()
    return head + ":" + base64.b64encode(orjson.dumps(list(key))).decode()


def _decode(token: str, query_id: str) -> tuple[float, str] | None:
    head, _, tail = token.partition(":")
    try:
        if base64.b64decode(head).hex() != query_id:
            return None
        t, rid = orjson.loads(base64.b64decode(tail))
        return (float(t), str(rid))
    except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError):
        return None
