"""GitHub's and GitLab's webhooks, as the simulator pushes them (see ``webhooks.py``).

GitHub: a ``workflow_run`` event, ``{action, workflow_run, repository, sender}``, with
``action`` ``requested`` (queued), ``in_progress`` or ``completed``; headers
``X-GitHub-Event``, ``X-GitHub-Delivery`` (a GUID) and ``X-Hub-Signature-256`` =
``sha256=`` + hex HMAC-SHA256 of the raw body, keyed with the hook's secret (GitHub
signs no timestamp).  Statuses GitHub sends no event for (``waiting``, ``pending``)
send nothing.

GitLab: a ``Pipeline Hook`` on every status change, ``{object_kind: "pipeline",
object_attributes, project, user, builds}`` with GitLab's webhook timestamps
(``2026-12-07 17:00:00 UTC``); headers ``X-Gitlab-Event``, ``X-Gitlab-Event-UUID``
and ``X-Gitlab-Token``: the hook's secret token as it is (GitLab signs nothing).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import orjson

from watcher.simulator.api import stamp
from watcher.simulator.github import conclusion, workflow_run
from watcher.simulator.github_objects import user
from watcher.simulator.gitlab import DEFAULT_PROJECT, WEB, pipeline_detail, project
from watcher.simulator.world import SimRun, World

#: a webhook: its delivery id, body and headers
Push = tuple[str, bytes, dict[str, str]]

GITHUB_API = "https://api.github.com"
#: GitHub's workflow_run actions, by the live status that sends them
GITHUB_ACTIONS = {"requested": "requested", "queued": "requested", "in_progress": "in_progress"}
#: how GitLab's webhooks write a time (its API writes ISO 8601)
GITLAB_TIME = "%Y-%m-%d %H:%M:%S UTC"


def github(world: World, run: SimRun, secret: str) -> Push | None:
    action = "completed" if conclusion(run) else GITHUB_ACTIONS.get(run.status)
    if action is None:
        return None
    item = workflow_run(run, GITHUB_API)
    body = orjson.dumps({"action": action, "workflow_run": item,
                         "workflow": {"id": item["workflow_id"], "name": item["name"],
                                      "path": item["path"], "state": "active"},
                         "repository": item["repository"],
                         "sender": user("octo-dev", 583231, GITHUB_API)})
    delivery = world.random_uuid()
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return delivery, body, {"Content-Type": "application/json",
                            "User-Agent": "GitHub-Hookshot/sim",
                            "X-GitHub-Event": "workflow_run", "X-GitHub-Delivery": delivery,
                            "X-GitHub-Hook-ID": "1", "X-Hub-Signature-256": f"sha256={sig}"}


def gitlab(world: World, run: SimRun, secret: str) -> Push:
    item: dict[str, Any] = pipeline_detail(run)
    where = project(run.extra.get("project", DEFAULT_PROJECT))
    attributes = {
        "id": item["id"], "iid": item["iid"], "name": item["name"], "ref": item["ref"],
        "tag": False, "sha": item["sha"], "before_sha": item["before_sha"],
        "source": item["source"], "status": run.status,
        "detailed_status": item["detailed_status"]["text"], "stages": ["build", "test"],
        "created_at": stamp(run.created, GITLAB_TIME),
        "finished_at": stamp(run.finished, GITLAB_TIME),
        "duration": item["duration"], "queued_duration": item["queued_duration"],
        "variables": [], "url": item["web_url"]}
    body = orjson.dumps({
        "object_kind": "pipeline", "object_attributes": attributes,
        "merge_request": None, "user": item["user"],
        "project": {k: where[k] for k in ("id", "name", "path_with_namespace", "web_url",
                                          "default_branch")},
        "commit": {"id": item["sha"], "message": f"Change {item['sha'][:7]}",
                   "timestamp": stamp(run.created, GITLAB_TIME)},
        "builds": []})
    delivery = world.random_uuid()
    return delivery, body, {"Content-Type": "application/json",
                            "User-Agent": "GitLab/sim", "X-Gitlab-Event": "Pipeline Hook",
                            "X-Gitlab-Event-UUID": delivery,
                            "X-Gitlab-Webhook-UUID": world.random_uuid(),
                            "X-Gitlab-Instance": WEB, "X-Gitlab-Token": secret}


#: each platform's webhook for a run's status change (None: it sends none for that status)
PUSHES: dict[str, Callable[[World, SimRun, str], Push | None]] = {
    "github": github, "gitlab": gitlab}
