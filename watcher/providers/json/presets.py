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
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from watcher.config.options import option
from watcher.model import Observation
from watcher.providers.json.options import (
    JsonOptions,
    body_of,
    check_body,
    check_fields,
    check_pagination,
    check_status_map,
)
from watcher.providers.json.provider import JsonProvider
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


@dataclass(frozen=True)
class GithubOptions(JsonOptions):
    #: owner/name
    repository: str = option("str", check=_owner_name)
    #: only this workflow's runs (its file name or id)
    workflow: str | None = option("str", None)
    branch: str | None = option("str", None)
    event: str | None = option("str", None)
    path: str = option("str", "/repos/{repository}/actions/runs")
    fields: Mapping[str, str] = option("table", {
        "items": "workflow_runs", "id": "id", "status": "conclusion || status",
        "updated_at": "updated_at", "created_at": "created_at", "workflow_id": "workflow_id",
        "workflow_name": "name", "url": "html_url"}, check=check_fields)
    pagination: Mapping[str, str] = option("table", {
        "mode": "link", "size": "100", "size_param": "per_page", "max_pages": "10",
        "stop_at": "watermark", "order_by": "created_at"}, check=check_pagination)
    status_map: Mapping[str, str] = option("table", GITHUB_STATUS, check=check_status_map)
    run_path: str | None = option("str", "/repos/{repository}/actions/runs/{id}")
    follow_live: bool = option("bool", True)
    conditional: bool = option("bool", True)
    #: two copies of the repository and two users: 80% of a run's bytes
    trim: tuple[str, ...] = option("strlist", ("repository", "head_repository", "actor",
                                               "triggering_actor"))


class GithubProvider(JsonProvider):
    kind = "github"
    default_base_url = "https://api.github.com"
    Options = GithubOptions
    options: GithubOptions
    path_safe: ClassVar[Mapping[str, str]] = {"repository": "/"}
    #: 5,000 requests an hour for a token (a 304 is not counted)
    rate = 5000 / 3600
    burst = 20.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.options.workflow and self.options.path == GithubOptions.path:
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


@dataclass(frozen=True)
class GitlabOptions(JsonOptions):
    #: path (group/project) or numeric id
    project: str = option("str")
    auth: str = option("str", "header:PRIVATE-TOKEN")
    path: str = option("str", "/api/v4/projects/{project}/pipelines")
    query: Mapping[str, str] = option("table", {
        "updated_after": "{since}", "order_by": "updated_at", "sort": "asc"})
    fields: Mapping[str, str] = option("table", {
        "items": "@", "id": "id", "status": "status", "updated_at": "updated_at",
        "created_at": "created_at", "workflow_id": "ref", "workflow_name": "ref",
        "url": "web_url"}, check=check_fields)
    pagination: Mapping[str, str] = option("table", {
        "mode": "page", "header": "X-Next-Page", "size": "100", "size_param": "per_page",
        "max_pages": "10"}, check=check_pagination)
    status_map: Mapping[str, str] = option("table", GITLAB_STATUS, check=check_status_map)
    run_path: str | None = option("str", "/api/v4/projects/{project}/pipelines/{id}")


class GitlabProvider(JsonProvider):
    kind = "gitlab"
    default_base_url = "https://gitlab.com"
    Options = GitlabOptions


PREFECT_STATUS = _maps(
    pending=("SCHEDULED", "PENDING"), running=("RUNNING",), paused=("PAUSED",),
    succeeded=("COMPLETED",), failed=("FAILED", "CRASHED"), cancelling=("CANCELLING",),
    cancelled=("CANCELLED",))
_ACTIVE = ["SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING"]


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


@dataclass(frozen=True)
class PrefectOptions(JsonOptions):
    path: str = option("str", "/flow_runs/filter")
    method: str = option("enum", "POST", choices=("GET", "POST"))
    #: the runs ended since the watermark
    body: str | None = option("str", _json({
        "flow_runs": {"end_time": {"after_": "{since}"}}, "sort": "END_TIME_DESC"}),
        check=check_body)
    #: the active runs, read every cycle (the second feed)
    active_body: str = option("str", _json({
        "flow_runs": {"state": {"type": {"any_": _ACTIVE}}}, "sort": "ID_DESC"}),
        check=check_body)
    fields: Mapping[str, str] = option("table", {
        "items": "@", "id": "id", "status": "state_type", "updated_at": "updated",
        "created_at": "created", "workflow_id": "deployment_id || flow_id",
        "error": "state.message"}, check=check_fields)
    pagination: Mapping[str, str] = option("table", {
        "mode": "offset", "size": "200", "size_param": "limit", "max_pages": "10"},
        check=check_pagination)
    status_map: Mapping[str, str] = option("table", PREFECT_STATUS, check=check_status_map)
    run_path: str | None = option("str", "/flow_runs/{id}")


class PrefectProvider(JsonProvider):
    kind = "prefect"
    default_base_url = "http://127.0.0.1:4200/api"
    Options = PrefectOptions
    options: PrefectOptions
    #: two feeds: the active runs and those ended since the watermark
    idle_requests = 2.0

    def feeds(self) -> list[dict[str, Any] | None]:
        return [body_of(self.options.active_body), *super().feeds()]
