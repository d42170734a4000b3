"""``watcher check --connect`` for json-made sources: page 1's first rows as extracted
(id, raw -> canonical status, updated_at) and what a cycle costs."""

from __future__ import annotations

import pytest

from tests.providers.platforms import TOKEN, Platforms, github_run, gitlab_pipeline
from tests.support import parse_config, toml
from watcher.cli.connect import run_checks
from watcher.testing import FrozenClock

pytestmark = pytest.mark.anyio


async def test_connect_shows_first_rows_and_cycle_cost(platforms: Platforms,
                                                       clock: FrozenClock) -> None:
    """GitHub's check lists the first runs with their mapped status and says an idle cycle
    is one conditional request; a wrong GitLab token fails with the 401."""
    now = clock()
    platforms.github += [github_run(7, now - 60, "completed", "failure"),
                         github_run(8, now - 30, "in_progress")]
    platforms.gitlab.append(gitlab_pipeline(1, now))
    sources = [{"name": "ci", "provider": "github", "repository": "acme/api", "token": TOKEN,
                "base_url": platforms.url},
               {"name": "gl", "provider": "gitlab", "project": "1", "token": "wrong",
                "base_url": platforms.url}]
    checks = {c.what: c for c in await run_checks(parse_config(toml(
        {"state_path": ":memory:"}, sources)))}
    ci, gl = checks["source ci (github)"], checks["source gl (gitlab)"]
    assert ci.verdict == "ok"
    lines = ci.detail.splitlines()
    assert lines[0] == "credentials accepted; page 1 lists 2 runs"
    assert lines[1].split() == ["8", "in_progress", "->", "running", "updated_at",
                                github_run(8, now - 30)["updated_at"]]
    assert lines[2].split()[:4] == ["7", "failure", "->", "failed"]
    assert "1 request" in lines[3] and "If-None-Match" in lines[3]
    assert (gl.verdict, gl.detail.split(":")[0]) == ("FAILED", "401 Unauthorized")
