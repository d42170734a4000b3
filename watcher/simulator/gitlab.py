"""Simulated GitLab CI REST API (v4): the pipelines of a project.

``GET /api/v4/projects/{id}/pipelines`` and ``.../pipelines/{pipeline_id}``, plus
``GET /api/v4/projects/{id}`` that clients ask first; ``{id}`` is the numeric
project id or its URL-encoded path (``acme%2Fapi``).  Faithful where watcher
and python-gitlab depend on it: ``PRIVATE-TOKEN`` (or ``Authorization:
Bearer``) else 401 ``{"message": "401 Unauthorized"}``; ``order_by`` (``id``
default, ``status``, ``ref``, ``updated_at``, ``user_id``) and ``sort``
(``desc`` default), a 400 for other values; ``updated_after`` /
``updated_before`` (inclusive), ``status``, ``ref``, ``source`` and ``scope``
(``running``, ``pending``, ``finished``) filters; ``per_page`` (default 20, at
most 100) and ``page`` with ``X-Page``, ``X-Per-Page``, ``X-Next-Page`` /
``X-Prev-Page`` (empty at the ends), ``X-Total``, ``X-Total-Pages`` and a
``Link`` header; timestamps with milliseconds.

A pipeline's ``ref`` is its workflow's key (``invoice-processing``), its
``name`` the workflow's name; runs belong to the project path in their
``project`` extra (default ``acme/api``).
"""

from __future__ import annotations

import hashlib
import zlib
from functools import partial
from typing import Any, ClassVar
from urllib.parse import unquote

from aiohttp import web

from watcher.core.timestamps import format_ts
from watcher.simulator.accounts import Account
from watcher.simulator.api import Refused, VendorApi, json_response, stage_table
from watcher.simulator.listing import Filters, asked, links, numbered, page_count, serial, times
from watcher.simulator.world import SimRun

STATUSES = ("created", "waiting_for_resource", "preparing", "waiting_for_callback", "pending",
            "running", "success", "failed", "canceling", "canceled", "skipped", "manual",
            "scheduled")
FINISHED = ("success", "failed", "canceled", "skipped")
SCOPES = {"running": ("running",), "pending": ("pending",), "finished": FINISHED}
ORDER_BY = ("id", "status", "ref", "updated_at", "user_id")
#: the values a parameter may take (another is a 400)
VALID = {"order_by": ORDER_BY, "sort": ("asc", "desc"), "status": STATUSES,
         "scope": (*SCOPES, "branches", "tags")}
DEFAULT_PROJECT = "acme/api"
WEB = "https://gitlab.com"


def project_id(path: str) -> int:
    """A project's numeric id: fixed for the default project, derived for others."""
    if path == DEFAULT_PROJECT:
        return 4242
    return 10_000_000 + int(hashlib.sha1(path.encode()).hexdigest()[:6], 16)


def project(path: str) -> dict[str, Any]:
    _, _, name = path.rpartition("/")
    return {"id": project_id(path), "name": name, "path": name, "path_with_namespace": path,
            "name_with_namespace": path.replace("/", " / "), "default_branch": "main",
            "web_url": f"{WEB}/{path}", "visibility": "private"}


class GitLabApi(VendorApi):
    vendor = "gitlab"
    stages = stage_table(pending="pending", running="running", paused="manual", succeeded="success",
                         failed="failed", cancelling="canceling", cancelled="canceled",
                         skipped="skipped")
    source_keys: ClassVar[dict[str, str]] = {"project": DEFAULT_PROJECT}

    def credential(self, request: web.Request) -> str:
        token = request.headers.get("PRIVATE-TOKEN", "")
        return token or super().credential(request)

    def error(self, status: int, message: str, *, code: str = "") -> web.Response:
        if status == 401:
            message = "401 Unauthorized"
        elif status == 404 and not message.startswith("404"):
            message = f"404 {message}"
        key = "error" if status == 400 else "message"
        return json_response({key: message}, status=status)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v4/projects/{project}", self.get_project)
        app.router.add_get("/api/v4/projects/{project}/pipelines", self.list_pipelines)
        app.router.add_get("/api/v4/projects/{project}/pipelines/{id}", self.get_pipeline)

    def _project_of(self, request: web.Request) -> tuple[Account, str]:
        """The request's account and the path of the project it names (by id or path),
        refused with 404 when there is none."""
        account = self.account_of(request)
        raw = unquote(request.match_info["project"])
        paths = {DEFAULT_PROJECT} | {r.extra["project"] for r in account.runs.values()
                                     if "project" in r.extra}
        for path in paths:
            if raw in (path, str(project_id(path))):
                return account, path
        raise Refused(self.error(404, "Project Not Found"))

    async def get_project(self, request: web.Request) -> web.Response:
        _, path = self._project_of(request)
        return json_response(project(path))

    async def list_pipelines(self, request: web.Request) -> web.Response:
        account, path = self._project_of(request)
        q = request.query
        paging = numbered(q, 20)
        if isinstance(paging, str):
            return self.error(400, f"{paging} is invalid")
        per_page, page = paging
        order_by, sort = q.get("order_by", "id"), q.get("sort", "desc")
        if bad := next((p for p, valid in VALID.items() if q.get(p) and q[p] not in valid), None):
            return self.error(400, f"{bad} does not have a valid value")
        bounded = times(q, _BOUNDS)
        if isinstance(bounded, str):
            return self.error(400, f"{bounded} is invalid")
        bounds, within = bounded
        filters, matches = asked(q, _FILTERS)

        def keep(r: SimRun) -> bool:
            return r.extra.get("project", DEFAULT_PROJECT) == path and within(r) and matches(r)

        order = partial(self.listings.get, account, (path, order_by, sort, filters, bounds),
                        keep, _KEYS[order_by], reverse=sort == "desc")
        items, ordered = self.page(request, order, per_page, pipeline,
                                   start=(page - 1) * per_page)
        total, pages = len(ordered), page_count(len(ordered), per_page)
        headers = {"X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(total),
                   "X-Total-Pages": str(pages),
                   "X-Next-Page": str(page + 1) if page < pages else "",
                   "X-Prev-Page": str(page - 1) if 1 < page <= pages else "",
                   **links(request.url, page, pages)}
        return json_response(items, headers=headers)

    async def get_pipeline(self, request: web.Request) -> web.Response:
        _, path = self._project_of(request)
        run = self.run_of(request, "Not found",
                          belongs=lambda r: r.extra.get("project", DEFAULT_PROJECT) == path)
        return json_response(self.served(run, pipeline_detail(run)))


def pipeline(run: SimRun) -> dict[str, Any]:
    path = run.extra.get("project", DEFAULT_PROJECT)
    pid = int(run.id) if run.id.isdigit() else zlib.crc32(run.id.encode()) % 10**9
    return {
        "id": pid, "iid": pid % 100000, "project_id": project_id(path),
        "sha": hashlib.sha1(run.id.encode()).hexdigest(), "ref": run.workflow.key,
        "status": run.status, "source": run.extra.get("source", "push"),
        "created_at": format_ts(run.created), "updated_at": format_ts(run.updated),
        "web_url": f"{WEB}/{path}/-/pipelines/{run.id}", "name": run.workflow.name,
    }

def pipeline_detail(run: SimRun) -> dict[str, Any]:
    body = pipeline(run)
    path = run.extra.get("project", DEFAULT_PROJECT)
    sha = body["sha"]
    duration = (int(run.finished - run.started)
                if run.finished is not None and run.started is not None else None)
    body.update({
        "before_sha": sha[::-1], "tag": False, "yaml_errors": None,
        "user": {"id": 1001, "username": "ci-bot", "name": "CI Bot", "state": "active",
                 "locked": False, "avatar_url": None, "web_url": f"{WEB}/ci-bot"},
        "started_at": format_ts(run.started) if run.started is not None else None,
        "finished_at": format_ts(run.finished) if run.finished is not None else None,
        "committed_at": None, "duration": duration,
        "queued_duration": (round(run.started - run.created, 3)
                            if run.started is not None else None),
        "coverage": None,
        "detailed_status": {
            "icon": f"status_{run.status}", "text": run.status, "label": run.status,
            "group": run.status, "tooltip": run.status, "has_details": False,
            "details_path": f"/{path}/-/pipelines/{run.id}", "illustration": None,
            "favicon": f"/assets/ci_favicons/favicon_status_{run.status}.png"},
    })
    return body


_KEYS = {
    "id": serial, "user_id": serial,
    "status": lambda r: (r.status, serial(r)),
    "ref": lambda r: (r.workflow.key, serial(r)),
    "updated_at": lambda r: (r.updated, serial(r)),
}
_FILTERS: Filters = {
    "status": lambda r, v: r.status == v,
    "ref": lambda r, v: r.workflow.key == v,
    "source": lambda r, v: r.extra.get("source", "push") == v,
    "scope": lambda r, v: v not in SCOPES or r.status in SCOPES[v],
}
_BOUNDS: Filters = {
    "updated_after": lambda r, t: r.updated >= t,
    "updated_before": lambda r, t: r.updated <= t,
}
