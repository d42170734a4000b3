"""Simulated GitHub Actions REST API: the workflow runs of a repository.

``GET /repos/{owner}/{repo}/actions/runs``, ``.../actions/workflows/{id or file}/runs``
and ``.../actions/runs/{id}``, plus ``GET /repos/{owner}/{repo}`` and
``GET /rate_limit`` that clients ask first.  Faithful where watcher and PyGithub
depend on it: ``Authorization: Bearer`` (or ``token``) else 401 ``Bad
credentials``; newest run first; ``per_page`` (default 30, at most 100) and
``page`` with a ``Link`` header (``next``, ``last``, ``prev``, ``first``);
``{"total_count", "workflow_runs"}``; the ``status`` filter (a status such as
``in_progress``, ``completed``, or a conclusion such as ``failure``), ``branch``,
``event``, ``actor`` and ``head_sha``; a filtered listing stops at 1,000
runs, as GitHub's does; a weak ``ETag`` that changes only when the page's
bytes do, and ``If-None-Match`` answered 304, which does not count against
the hourly quota; ``X-RateLimit-Limit/Remaining/Used/Reset/Resource``, and
403 ``API rate limit exceeded`` once the hour's quota is spent.

A run's world status is its ``status`` while it is not done, and its
``conclusion`` once it is (``success``, ``failure``...): the served item then
says ``"status": "completed"`` and that conclusion.  Runs belong to the
repository in their ``repository`` extra (default ``acme/api``); their
``head_branch`` and ``event`` extras default to ``main`` and ``push``.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Any, ClassVar

import orjson
from aiohttp import web

from watcher.simulator.accounts import Account
from watcher.simulator.api import Refused, VendorApi, json_response, stage_table, stamp
from watcher.simulator.github_objects import WEB, repository, user
from watcher.simulator.listing import Filters, asked, links, numbered, page_count, serial
from watcher.simulator.world import SimRun, Workflow, World

CONCLUSIONS = ("success", "failure", "neutral", "cancelled", "skipped", "timed_out",
               "action_required", "stale", "startup_failure")
DEFAULT_REPO = "acme/api"
#: a filtered listing lists at most this many runs ("up to 1,000 results")
FILTERED_CAP = 1000
#: how GitHub writes a time (whole seconds)
SECONDS = "%Y-%m-%dT%H:%M:%SZ"


def conclusion(run: SimRun) -> str | None:
    return run.status if run.status in CONCLUSIONS else None


class GitHubApi(VendorApi):
    vendor = "github"
    stages = stage_table(pending="queued", running="in_progress", succeeded="success",
                         failed="failure", cancelled="cancelled", skipped="skipped")
    source_keys: ClassVar[dict[str, str]] = {"repository": DEFAULT_REPO}
    #: requests an account may make per hour (GitHub's for a personal token)
    hourly = 5000

    def __init__(self, world: World) -> None:
        super().__init__(world)
        #: account name -> (start of its quota hour, requests counted in it)
        self._quota: dict[str, tuple[float, int]] = {}

    def credential(self, request: web.Request) -> str:
        auth = request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        return token.strip() if scheme.lower() in ("bearer", "token") else ""

    def error(self, status: int, message: str, *, code: str = "") -> web.Response:
        if status == 401:
            message = "Bad credentials"
        return json_response({"message": message,
                              "documentation_url": "https://docs.github.com/rest",
                              "status": str(status)}, status=status)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/rate_limit", self.rate_limit)
        app.router.add_get("/repos/{owner}/{repo}", self.get_repo)
        app.router.add_get("/repos/{owner}/{repo}/actions/runs", self.list_runs)
        app.router.add_get("/repos/{owner}/{repo}/actions/workflows/{workflow}/runs",
                           self.list_runs)
        app.router.add_get("/repos/{owner}/{repo}/actions/runs/{id}", self.get_run)
        app.router.add_get("/repos/{owner}/{repo}/actions/workflows/{workflow}",
                           self.get_workflow)

    # -- quota ---------------------------------------------------------------------

    def _count(self, account: Account, counted: bool) -> dict[str, str]:
        """Spend one request of the account's hour (unless not ``counted``); its headers."""
        now = self.world.clock()
        start, used = self._quota.get(account.name, (now, 0))
        if now - start >= 3600:
            start, used = now, 0
        if counted:
            used += 1
            self._quota[account.name] = (start, used)
        return {"X-RateLimit-Limit": str(self.hourly),
                "X-RateLimit-Remaining": str(max(0, self.hourly - used)),
                "X-RateLimit-Used": str(used), "X-RateLimit-Reset": str(int(start + 3600)),
                "X-RateLimit-Resource": "core"}

    def _opened(self, request: web.Request) -> tuple[Account, str]:
        """The request's account and repository, refused with 403 once the hour's quota is
        spent, and with 404 for a repository it has no runs in."""
        account = self.account_of(request)
        start, used = self._quota.get(account.name, (0.0, 0))
        if used >= self.hourly and self.world.clock() - start < 3600:
            resp = self.error(403, "API rate limit exceeded for user ID 1. If you reach out to "
                              "GitHub Support for help, please include the request ID.")
            resp.headers.update(self._count(account, False))
            raise Refused(resp)
        repo = f"{request.match_info['owner']}/{request.match_info['repo']}"
        if repo != DEFAULT_REPO and all(r.extra.get("repository") != repo
                                        for r in account.runs.values()):
            raise Refused(self.error(404, "Not Found"))
        return account, repo

    def _etagged(self, request: web.Request, account: Account, body: bytes,
                 headers: dict[str, str], link: dict[str, str] | None = None) -> web.Response:
        """``body`` with its weak ETag, or a 304 (not counted) when the client has it."""
        etag = 'W/"' + hashlib.sha256(body).hexdigest() + '"'
        if etag in _tags(request.headers.get("If-None-Match", "")):
            return web.Response(status=304, headers={"ETag": etag, **self._count(account, False)})
        headers = {"ETag": etag, **headers, **self._count(account, True), **(link or {})}
        return web.Response(body=body, headers=headers, content_type="application/json")

    async def rate_limit(self, request: web.Request) -> web.Response:
        headers = self._count(self.account_of(request), False)
        core = {"limit": self.hourly, "remaining": int(headers["X-RateLimit-Remaining"]),
                "used": int(headers["X-RateLimit-Used"]),
                "reset": int(headers["X-RateLimit-Reset"])}
        return json_response({"resources": {"core": core}, "rate": core}, headers=headers)

    # -- routes --------------------------------------------------------------------

    def _api(self, request: web.Request) -> str:
        return f"{request.scheme}://{request.host}/github"

    async def get_repo(self, request: web.Request) -> web.Response:
        account, repo = self._opened(request)
        return json_response({**repository(repo, self._api(request)), "default_branch": "main"},
                             headers=self._count(account, True))

    def _workflow(self, ref: str) -> Workflow:
        """A workflow by its id or file name, refused with 404 when there is none."""
        wf = next((w for w in self.world.workflows["github"]
                   if ref in (w.id, f"{w.key}.yml", f"{w.key}.yaml")), None)
        if wf is None:
            raise Refused(self.error(404, "Not Found"))
        return wf

    async def get_workflow(self, request: web.Request) -> web.Response:
        wf = self._workflow(request.match_info["workflow"])
        full = f"{request.match_info['owner']}/{request.match_info['repo']}"
        return json_response({
            "id": int(wf.id), "node_id": f"W_kwDO{wf.id}", "name": wf.name,
            "path": f".github/workflows/{wf.key}.yml", "state": "active",
            "created_at": "2026-01-05T10:00:00Z", "updated_at": "2026-01-06T09:00:00Z",
            "url": f"{self._api(request)}/repos/{full}/actions/workflows/{wf.id}",
            "html_url": f"{WEB}/{full}/blob/main/.github/workflows/{wf.key}.yml",
            "badge_url": f"{WEB}/{full}/workflows/{wf.name}/badge.svg"},
            headers=self._count(self.account_of(request), True))

    async def list_runs(self, request: web.Request) -> web.Response:
        account, repo = self._opened(request)
        paging = numbered(request.query, 30)
        if isinstance(paging, str):
            return self.error(422, "Invalid request.")
        per_page, page = paging
        workflow = request.match_info.get("workflow")
        wf_id = None if workflow is None else self._workflow(workflow).id
        filters, matches = asked(request.query, _FILTERS)

        def keep(r: SimRun) -> bool:
            return (r.extra.get("repository", DEFAULT_REPO) == repo
                    and (wf_id is None or r.workflow.id == wf_id) and matches(r))

        def order() -> list[SimRun]:
            runs = self.listings.get(account, (repo, wf_id, filters), keep, _newest,
                                     reverse=True)
            return runs[:FILTERED_CAP] if filters else runs

        api = self._api(request)
        items, ordered = self.page(request, order, per_page, lambda r: workflow_run(r, api),
                                   start=(page - 1) * per_page)
        body = orjson.dumps({"total_count": len(ordered), "workflow_runs": items})
        return self._etagged(request, account, body, {
            "Cache-Control": "private, max-age=60, s-maxage=60",
            "Vary": "Accept, Authorization, Cookie, X-GitHub-OTP",
            "X-GitHub-Api-Version-Selected": "2022-11-28"},
            links(request.url, page, page_count(len(ordered), per_page)))

    async def get_run(self, request: web.Request) -> web.Response:
        account, repo = self._opened(request)
        run = self.run_of(request, "Not Found",
                          belongs=lambda r: r.extra.get("repository", DEFAULT_REPO) == repo)
        body = orjson.dumps(self.served(run, workflow_run(run, self._api(request))))
        return self._etagged(request, account, body, {})


def workflow_run(run: SimRun, api: str) -> dict[str, Any]:
    wf, x = run.workflow, run.extra
    full = x.get("repository", DEFAULT_REPO)
    repo = repository(full, api)
    rid = int(run.id) if run.id.isdigit() else zlib.crc32(run.id.encode())
    sha = hashlib.sha1(run.id.encode()).hexdigest()
    url = f"{api}/repos/{full}/actions/runs/{run.id}"
    done = conclusion(run)
    actor = user(x.get("actor", "octo-dev"), 583231, api)
    created = stamp(run.created, SECONDS)
    return {
        "id": rid, "name": wf.name, "node_id": f"WFR_kwLO{rid:012d}",
        "head_branch": x.get("head_branch", "main"), "head_sha": sha,
        "path": f".github/workflows/{wf.key}.yml",
        "display_title": x.get("display_title", f"{wf.name} #{rid % 100000}"),
        "run_number": rid % 100000, "event": x.get("event", "push"),
        "status": "completed" if done or run.status == "completed" else run.status,
        "conclusion": done,
        "workflow_id": int(wf.id) if wf.id.isdigit() else 0,
        "check_suite_id": rid + 1_000_000_000, "check_suite_node_id": f"CS_kwDO{rid:012d}",
        "url": url, "html_url": f"{WEB}/{full}/actions/runs/{run.id}",
        "pull_requests": [], "created_at": created, "updated_at": stamp(run.updated, SECONDS),
        "actor": actor, "run_attempt": int(x.get("run_attempt", 1)),
        "referenced_workflows": [],
        "run_started_at": created if run.started is None else stamp(run.started, SECONDS),
        "triggering_actor": actor,
        "jobs_url": f"{url}/jobs", "logs_url": f"{url}/logs",
        "check_suite_url": f"{api}/repos/{full}/check-suites/{rid + 1_000_000_000}",
        "artifacts_url": f"{url}/artifacts", "cancel_url": f"{url}/cancel",
        "rerun_url": f"{url}/rerun", "previous_attempt_url": None,
        "workflow_url": f"{api}/repos/{full}/actions/workflows/{wf.id}",
        "head_commit": {"id": sha, "tree_id": sha[::-1], "message": f"Change {sha[:7]}",
                        "timestamp": created,
                        "author": {"name": "Octo Dev", "email": "octo@example.com"},
                        "committer": {"name": "Octo Dev", "email": "octo@example.com"}},
        "repository": repo, "head_repository": repo,
    }


def _newest(run: SimRun) -> tuple[float, int]:
    return (run.created, serial(run))


_FILTERS: Filters = {
    "status": lambda r, v: v == r.status or (v == "completed" and conclusion(r) is not None),
    "branch": lambda r, v: r.extra.get("head_branch", "main") == v,
    "event": lambda r, v: r.extra.get("event", "push") == v,
    "actor": lambda r, v: r.extra.get("actor", "octo-dev") == v,
    "head_sha": lambda r, v: hashlib.sha1(r.id.encode()).hexdigest() == v,
}


def _tags(header: str) -> set[str]:
    """The entity tags of an ``If-None-Match`` header (weak or strong alike, as GitHub does)."""
    tags = {t.strip() for t in header.split(",") if t.strip()}
    return tags | {t[2:] for t in tags if t.startswith("W/")} | {f"W/{t}" for t in tags}
