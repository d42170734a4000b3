"""GitHub, GitLab, Airflow, Prefect and a generic JSON API on loopback: a real aiohttp
server with the platforms' documented list calls, auth, paging, filters and ETags, over
runs the test moves.  Items have the platforms' real shapes (keys and nesting of
recorded answers); the values are made up.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from aiohttp import web

from watcher.core.timestamps import format_ts, parse_ts

TOKEN = "tok-3f9a1c"
Handler = Callable[[web.Request], Any]


def iso(t: float) -> str:
    return format_ts(t).replace(".000Z", "Z")


def _user(login: str, uid: int) -> dict[str, Any]:
    base = f"https://api.github.com/users/{login}"
    return {"login": login, "id": uid, "node_id": f"MDQ6VXNlcj{uid}", "avatar_url":
            f"https://avatars.githubusercontent.com/u/{uid}?v=4", "gravatar_id": "",
            "url": base, "html_url": f"https://github.com/{login}", **{
                f"{k}_url": f"{base}/{k}" for k in (
                    "followers", "following", "gists", "starred", "subscriptions",
                    "organizations", "repos", "events", "received_events")},
            "type": "User", "site_admin": False}


def _repo(full: str) -> dict[str, Any]:
    base = f"https://api.github.com/repos/{full}"
    owner, name = full.split("/")
    return {"id": 146140131, "node_id": "MDEwOlJlcG9zaXRvcnkxNDYxNDAxMzE=", "name": name,
            "full_name": full, "private": False, "owner": _user(owner, 42156042),
            "html_url": f"https://github.com/{full}", "description": "A phishing testbed",
            "fork": False, "url": base, **{f"{k}_url": f"{base}/{k}{{/x}}" for k in (
                "forks", "keys", "collaborators", "teams", "hooks", "issue_events", "events",
                "assignees", "branches", "tags", "blobs", "git_tags", "git_refs", "trees",
                "statuses", "languages", "stargazers", "contributors", "subscribers",
                "subscription", "commits", "git_commits", "comments", "issue_comment",
                "contents", "compare", "merges", "archive", "downloads", "issues", "pulls",
                "milestones", "notifications", "labels", "releases", "deployments")}}


def github_run(rid: int, created: float, status: str = "queued",
               conclusion: str | None = None, repo: str = "acme/api") -> dict[str, Any]:
    """A workflow run as ``GET /repos/{o}/{r}/actions/runs`` lists it."""
    base = f"https://api.github.com/repos/{repo}/actions/runs/{rid}"
    sha = hashlib.sha1(str(rid).encode()).hexdigest()
    return {"id": rid, "name": "CI", "node_id": f"WFR_kwLOCLXpC87R{rid}",
            "head_branch": "main", "head_sha": sha, "path": ".github/workflows/ci.yml",
            "display_title": "Bump tensorflow from 2.7.2 to 2.9.3", "run_number": rid % 1000,
            "event": "push", "status": status, "conclusion": conclusion,
            "workflow_id": 12794729, "check_suite_id": 9433173716 + rid,
            "check_suite_node_id": "CS_kwDOCLXpC88AAAACMkLO1A", "url": base,
            "html_url": f"https://github.com/{repo}/actions/runs/{rid}", "pull_requests": [],
            "created_at": iso(created), "updated_at": iso(created), "actor": _user("dev", 7),
            "run_attempt": 1, "referenced_workflows": [], "run_started_at": iso(created),
            "triggering_actor": _user("dev", 7), "jobs_url": f"{base}/jobs",
            "logs_url": f"{base}/logs", "check_suite_url": f"{base}/check-suite",
            "artifacts_url": f"{base}/artifacts", "cancel_url": f"{base}/cancel",
            "rerun_url": f"{base}/rerun", "previous_attempt_url": None,
            "workflow_url": f"https://api.github.com/repos/{repo}/actions/workflows/12794729",
            "head_commit": {"id": sha, "tree_id": sha[::-1], "message": "Bump tensorflow",
                            "timestamp": iso(created - 60),
                            "author": {"name": "dev", "email": "dev@example.com"},
                            "committer": {"name": "GitHub", "email": "noreply@github.com"}},
            "repository": _repo(repo), "head_repository": _repo(repo)}


def gitlab_pipeline(pid: int, created: float, status: str = "created") -> dict[str, Any]:
    """A pipeline as ``GET /projects/:id/pipelines`` lists it."""
    return {"id": pid, "iid": pid % 1000, "project_id": 25157276,
            "sha": hashlib.sha1(str(pid).encode()).hexdigest(), "ref": "master",
            "status": status, "source": "push", "created_at": iso(created),
            "updated_at": iso(created),
            "web_url": f"https://gitlab.com/group/project/-/pipelines/{pid}"}


def dag_run(dag: str, run: str, queued: float, state: str = "queued") -> dict[str, Any]:
    """A DAG run as Airflow 3's ``GET /api/v2/dags/~/dagRuns`` lists it (no updated_at)."""
    return {"dag_run_id": run, "dag_id": dag, "dag_display_name": dag,
            "logical_date": iso(queued), "queued_at": iso(queued), "start_date": None,
            "end_date": None, "run_after": iso(queued), "run_type": "scheduled",
            "state": state, "triggered_by": "timetable", "conf": {}, "note": None,
            "_updated": queued}


def flow_run(fid: str, created: float, state: str = "SCHEDULED") -> dict[str, Any]:
    """A flow run as Prefect's ``POST /flow_runs/filter`` answers it."""
    return {"id": fid, "created": iso(created), "updated": iso(created), "name": "crimson-fox",
            "flow_id": "5e3c1a0b-flow", "deployment_id": "9d1f-deploy", "state_type": state,
            "state_name": state.title(), "start_time": None, "end_time": None,
            "state": {"type": state, "name": state.title(), "message": None}}


class Platforms:
    """Every platform's runs, and the requests they were asked."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.github: list[dict[str, Any]] = []
        self.gitlab: list[dict[str, Any]] = []
        self.airflow: list[dict[str, Any]] = []
        self.prefect: list[dict[str, Any]] = []
        self.generic: list[Any] = []
        self.requests: list[tuple[str, str, dict[str, str], dict[str, str]]] = []
        self.url = ""

    def touch(self, item: dict[str, Any], key: str = "updated_at", **changes: Any) -> None:
        """Change a run's fields; its update time becomes now."""
        item.update(changes)
        if key == "_updated":
            item["_updated"] = self.clock()
        else:
            item[key] = iso(self.clock())

    def asked(self, path_part: str) -> list[tuple[str, str, dict[str, str], dict[str, str]]]:
        return [r for r in self.requests if path_part in r[1]]

    def app(self) -> web.Application:
        from tests.providers.platform_routes import routes

        app = web.Application()
        for method, path, handler in routes(self):
            app.router.add_route(method, path, handler)

        @web.middleware
        async def log(request: web.Request, handler: Handler) -> web.StreamResponse:
            self.requests.append((request.method, request.path, dict(request.query),
                                  dict(request.headers)))
            return await handler(request)  # type: ignore[no-any-return]

        app.middlewares.append(log)
        return app


def page_json(body: Any, status: int = 200, headers: dict[str, str] | None = None,
              request: web.Request | None = None, etag: bool = False) -> web.Response:
    raw = orjson.dumps(body)
    h = dict(headers or {})
    if etag and request is not None:
        tag = f'W/"{hashlib.sha1(raw).hexdigest()}"'
        h["ETag"] = tag
        if request.headers.get("If-None-Match") == tag:
            return web.Response(status=304, headers=h)
    return web.Response(body=raw, status=status, headers=h, content_type="application/json")


def bearer_ok(request: web.Request) -> bool:
    return request.headers.get("Authorization") == f"Bearer {TOKEN}"


def basic_ok(request: web.Request, user: str, password: str) -> bool:
    pair = base64.b64encode(f"{user}:{password}".encode()).decode()
    return request.headers.get("Authorization") == f"Basic {pair}"


def since_ok(item_time: Any, since: str | None) -> bool:
    if not since:
        return True
    t, s = parse_ts(item_time) if isinstance(item_time, str) else item_time, parse_ts(since)
    return t is None or s is None or t >= s


@asynccontextmanager
async def serving(platforms: Platforms) -> AsyncIterator[Platforms]:
    runner = web.AppRunner(platforms.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    platforms.url = f"http://127.0.0.1:{port}"
    try:
        yield platforms
    finally:
        await runner.cleanup()
