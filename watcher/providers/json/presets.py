"""The built-ins made of the ``json`` provider: GitHub Actions, GitLab CI and Prefect are
its keys with defaults (``watcher check`` shows them expanded; any may be overridden),
plus a small named difference each:

* GitHub: the raw status is ``conclusion || status`` (a JMESPath, so data too); the
  listing is newest *created* first, so the watermark is on ``created_at``; page 1 is
  asked with ``If-None-Match`` (a 304 costs no rate limit) and live runs that left the
  pages read are re-read by id.  The difference in code: ``workflow``, ``branch`` and
  ``event`` filters, and the runs of an unchanged page 1 count as seen.
* GitLab: ``updated_after`` + ``order_by=updated_at`` is a real watermark; pages by
  ``X-Next-Page``; ``PRIVATE-TOKEN``.  No code of its own.
* Prefect: two feeds, ``POST /flow_runs/filter`` for the active runs by state type and
  for those ended since the watermark (Prefect can filter on neither update time).
  The difference in code: the second body.

Airflow (JWT or basic auth) is :mod:`watcher.providers.json.airflow`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

import orjson

from watcher.config.options import Check, StrList, Table
from watcher.model import Observation
from watcher.providers.json.options import (
    Auth,
    Body,
    Fields,
    JsonOptions,
    Pagination,
    StatusMap,
    body_of,
)
from watcher.providers.json.provider import JsonProvider, run_ids
from watcher.providers.protocol import PollResult, PollView
from watcher.providers.scan.lingering import Lingering


def _owner_name(v: str) -> str | None:
    parts = v.split("/")
    return None if len(parts) == 2 and all(parts) else f"{v!r} must be owner/name"


def _maps(**groups: tuple[str, ...]) -> dict[str, str]:
    """``status_map`` from canonical status -> the vendor values that mean it."""
    return {raw: status for status, raws in groups.items() for raw in raws}


GITHUB_STATUS = _maps(
    pending=("queued", "requested", "waiting", "pending"), running=("in_progress",),
    succeeded=("success", "neutral"), failed=("failure", "timed_out", "startup_failure"),
    cancelled=("cancelled", "stale"), skipped=("skipped",), needs_review=("action_required",))


GITHUB_PATH = "/repos/{repository}/actions/runs"


class GithubOptions(JsonOptions):
    #: owner/name
    repository: Annotated[str, Check(_owner_name)]
    #: only this workflow's runs (its file name or id)
    workflow: str | None = None
    branch: str | None = None
    event: str | None = None
    path: str = GITHUB_PATH
    fields: Fields = {
        "items": "workflow_runs", "id": "id", "status": "conclusion || status",
        "updated_at": "updated_at", "created_at": "created_at", "workflow_id": "workflow_id",
        "workflow_name": "name", "url": "html_url"}
    pagination: Pagination = {
        "mode": "link", "size": "100", "size_param": "per_page", "max_pages": "10",
        "stop_at": "watermark", "order_by": "created_at"}
    status_map: StatusMap = GITHUB_STATUS
    run_path: str | None = "/repos/{repository}/actions/runs/{id}"
    follow_live: bool = True
    conditional: bool = True
    #: two copies of the repository and two users: 80% of a run's bytes
    trim: StrList = ("repository", "head_repository", "actor", "triggering_actor")


class GithubProvider(JsonProvider):
    kind = "github"
    default_base_url = "https://api.github.com"
    Options = GithubOptions
    push_scheme = "github"
    options: GithubOptions
    path_safe: ClassVar[Mapping[str, str]] = {"repository": "/"}
    #: 5,000 requests an hour for a token (a 304 is not counted)
    rate = 5000 / 3600
    burst = 20.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.options.workflow and self.options.path == GITHUB_PATH:
            self.path = self.placed("/repos/{repository}/actions/workflows/{workflow}/runs")
        #: page 1's run ids, which an unchanged page 1 (a 304) shows again
        self._head: list[str] = []

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28"}

    def params(self, since: float) -> dict[str, str]:
        extra = {k: v for k in ("branch", "event") if (v := getattr(self.options, k))}
        return {**extra, **super().params(since)}

    async def poll(self, view: PollView) -> PollResult:
        self._head = list(view.cursor.get("head", ()))
        result = await super().poll(view)
        result.cursor["head"] = self._head
        return result

    def push_items(self, body: Any) -> tuple[list[Any], list[str]]:
        """A ``workflow_run`` webhook names its run; it is fetched (``run_path``)."""
        run = body.get("workflow_run") if isinstance(body, dict) else None
        return [], run_ids(run.get("id") if isinstance(run, dict) else None)

    def page_seen(self, n: int, obs: list[Observation] | None, lingering: Lingering | None
                  ) -> None:
        if n != 1:
            return
        if obs is None:  # a 304: page 1's runs are as they were
            if lingering is not None:
                lingering.wanted.difference_update(self._head)
        else:
            self._head = [o[0] for o in obs]


GITLAB_STATUS = _maps(
    pending=("created", "pending", "preparing", "waiting_for_resource", "scheduled"),
    paused=("manual", "waiting_for_callback"), running=("running",),
    succeeded=("success",), failed=("failed",), cancelling=("canceling",),
    cancelled=("canceled",), skipped=("skipped",))


class GitlabOptions(JsonOptions):
    #: path (group/project) or numeric id
    project: str
    auth: Auth = "header:PRIVATE-TOKEN"
    path: str = "/api/v4/projects/{project}/pipelines"
    query: Table = {"updated_after": "{since}", "order_by": "updated_at", "sort": "asc"}
    fields: Fields = {
        "items": "@", "id": "id", "status": "status", "updated_at": "updated_at",
        "created_at": "created_at", "workflow_id": "ref", "workflow_name": "ref",
        "url": "web_url"}
    pagination: Pagination = {
        "mode": "page", "header": "X-Next-Page", "size": "100", "size_param": "per_page",
        "max_pages": "10"}
    status_map: StatusMap = GITLAB_STATUS
    run_path: str | None = "/api/v4/projects/{project}/pipelines/{id}"


class GitlabProvider(JsonProvider):
    kind = "gitlab"
    default_base_url = "https://gitlab.com"
    Options = GitlabOptions
    push_scheme = "gitlab"

    def push_items(self, body: Any) -> tuple[list[Any], list[str]]:
        """A Pipeline Hook names its pipeline, without ``updated_at``: it is fetched."""
        attrs = body.get("object_attributes") if isinstance(body, dict) else None
        if not isinstance(attrs, dict) or body.get("object_kind") != "pipeline":
            return [], []
        return [], run_ids(attrs.get("id"))


PREFECT_STATUS = _maps(
    pending=("SCHEDULED", "PENDING"), running=("RUNNING",), paused=("PAUSED",),
    succeeded=("COMPLETED",), failed=("FAILED", "CRASHED"), cancelling=("CANCELLING",),
    cancelled=("CANCELLED",))
_ACTIVE = ["SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING"]


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


class PrefectOptions(JsonOptions):
    path: str = "/flow_runs/filter"
    method: Literal["GET", "POST"] = "POST"
    #: the runs ended since the watermark
    body: Body | None = _json({
        "flow_runs": {"end_time": {"after_": "{since}"}}, "sort": "END_TIME_DESC"})
    #: the active runs, read every cycle (the second feed)
    active_body: Body = _json({
        "flow_runs": {"state": {"type": {"any_": _ACTIVE}}}, "sort": "ID_DESC"})
    fields: Fields = {
        "items": "@", "id": "id", "status": "state_type", "updated_at": "updated",
        "created_at": "created", "workflow_id": "deployment_id || flow_id",
        "error": "state.message"}
    pagination: Pagination = {
        "mode": "offset", "size": "200", "size_param": "limit", "max_pages": "10"}
    status_map: StatusMap = PREFECT_STATUS
    run_path: str | None = "/flow_runs/{id}"


class PrefectProvider(JsonProvider):
    kind = "prefect"
    default_base_url = "http://127.0.0.1:4200/api"
    Options = PrefectOptions
    push_scheme = None  # Prefect's automations post no signed run webhooks
    options: PrefectOptions
    #: two feeds: the active runs and those ended since the watermark
    idle_requests = 2.0

    def feeds(self) -> list[dict[str, Any] | None]:
        return [body_of(self.options.active_body), *super().feeds()]
