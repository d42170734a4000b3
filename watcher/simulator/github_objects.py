"""The users and repositories GitHub nests in a workflow run, with all their API links."""

from __future__ import annotations

import hashlib
from typing import Any

WEB = "https://github.com"

USER_LINKS = {
    "followers_url": "/followers", "following_url": "/following{/other_user}",
    "gists_url": "/gists{/gist_id}", "starred_url": "/starred{/owner}{/repo}",
    "subscriptions_url": "/subscriptions", "organizations_url": "/orgs",
    "repos_url": "/repos", "events_url": "/events{/privacy}",
    "received_events_url": "/received_events",
}
REPO_LINKS = {
    "forks_url": "/forks", "keys_url": "/keys{/key_id}",
    "collaborators_url": "/collaborators{/collaborator}", "teams_url": "/teams",
    "hooks_url": "/hooks", "issue_events_url": "/issues/events{/number}",
    "events_url": "/events", "assignees_url": "/assignees{/user}",
    "branches_url": "/branches{/branch}", "tags_url": "/tags",
    "blobs_url": "/git/blobs{/sha}", "git_tags_url": "/git/tags{/sha}",
    "git_refs_url": "/git/refs{/sha}", "trees_url": "/git/trees{/sha}",
    "statuses_url": "/statuses/{sha}", "languages_url": "/languages",
    "stargazers_url": "/stargazers", "contributors_url": "/contributors",
    "subscribers_url": "/subscribers", "subscription_url": "/subscription",
    "commits_url": "/commits{/sha}", "git_commits_url": "/git/commits{/sha}",
    "comments_url": "/comments{/number}", "issue_comment_url": "/issues/comments{/number}",
    "contents_url": "/contents/{+path}", "compare_url": "/compare/{base}...{head}",
    "merges_url": "/merges", "archive_url": "/{archive_format}{/ref}",
    "downloads_url": "/downloads", "issues_url": "/issues{/number}",
    "pulls_url": "/pulls{/number}", "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "labels_url": "/labels{/name}", "releases_url": "/releases{/id}",
    "deployments_url": "/deployments",
}


def user(login: str, uid: int, api: str, kind: str = "User") -> dict[str, Any]:
    url = f"{api}/users/{login}"
    return {"login": login, "id": uid, "node_id": f"MDQ6VXNlcn{uid}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
            "gravatar_id": "", "url": url, "html_url": f"{WEB}/{login}",
            **{k: url + v for k, v in USER_LINKS.items()}, "type": kind, "site_admin": False}


def repository(full: str, api: str) -> dict[str, Any]:
    owner, _, name = full.partition("/")
    rid = int(hashlib.sha1(full.encode()).hexdigest()[:7], 16)
    url = f"{api}/repos/{full}"
    return {"id": rid, "node_id": f"R_kgDO{rid:08d}", "name": name, "full_name": full,
            "private": True, "owner": user(owner, rid + 1, api, "Organization"),
            "html_url": f"{WEB}/{full}", "description": None, "fork": False, "url": url,
            **{k: url + v for k, v in REPO_LINKS.items()}}
