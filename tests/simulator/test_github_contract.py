"""The simulated GitHub Actions API, read by PyGithub, and checked against runs GitHub sent."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from github import Auth, BadCredentialsException, Github, GithubException

from tests.simulator.real_payloads import differences, real_runs
from tests.support import SimThread
from watcher.simulator import Fault, World
from watcher.simulator.app import APIS_KEY

STATES = ("queued", "in_progress", "success", "failure", "cancelled", "waiting")


def client(st: SimThread, token: str | None = None) -> Github:
    return Github(auth=Auth.Token(token or st.world.tokens["github"]),
                  base_url=st.url("github"), retry=None)


def seed(world: World) -> list[str]:
    """65 runs of two workflows, newest first; every few of them failed or live."""
    now = world.clock()
    wfs = [world.workflow("github", "CI"), world.workflow("github", "Nightly")]
    runs = [world.add_run("github", STATES[i % 6], workflow=wfs[i % 2], created=now - 500 + i,
                          updated=now - 400 + i, started=now - 499 + i,
                          head_branch="main" if i % 3 else "dev")
            for i in range(65)]
    return [r.id for r in reversed(runs)]


def test_pygithub_lists_every_run_across_pages_by_the_link_header(
        sim_thread: SimThread) -> None:
    """PyGithub pages through every run, newest first, with status, conclusion and links."""
    ids = sim_thread.call(seed)
    repo = client(sim_thread).get_repo("acme/api")
    runs = list(repo.get_workflow_runs())
    assert [str(r.id) for r in runs] == ids
    pages = [r for r in sim_thread.world.requests if r.path.endswith("/actions/runs")]
    assert len(pages) == 3  # 30 a page, GitHub's default
    by_id = {r.id: r for r in sim_thread.world.runs["github"].values()}
    for run in runs:
        raw = by_id[str(run.id)].status
        assert run.status == ("completed" if raw in ("success", "failure", "cancelled")
                              else raw)
        assert run.conclusion == (raw if run.status == "completed" else None)
        assert run.html_url == f"https://github.com/acme/api/actions/runs/{run.id}"
        assert run.name in ("CI", "Nightly") and run.workflow_id > 0
        assert run.updated_at.tzinfo is not None and run.run_started_at is not None


def test_pygithub_filters_by_status_conclusion_branch_and_workflow(
        sim_thread: SimThread) -> None:
    """The status filter takes a status or a conclusion; branch and workflow narrow too."""
    sim_thread.call(seed)
    repo = client(sim_thread).get_repo("acme/api")
    live = list(repo.get_workflow_runs(status="in_progress"))
    assert len(live) == 11 and {r.status for r in live} == {"in_progress"}
    failed = list(repo.get_workflow_runs(status="failure"))
    assert len(failed) == 11 and {r.conclusion for r in failed} == {"failure"}
    assert repo.get_workflow_runs(status="completed").totalCount == 33
    assert {r.head_branch for r in repo.get_workflow_runs(branch="dev")} == {"dev"}
    nightly = sim_thread.world.workflow("github", "Nightly").id
    assert {r.name for r in repo.get_workflow(int(nightly)).get_runs()} == {"Nightly"}
    runs = httpx.get(f"{sim_thread.url('github')}/repos/acme/api/actions/workflows/"
                     "nightly.yml/runs", headers=auth(sim_thread)).json()
    assert runs["total_count"] == 32 and {r["name"] for r in runs["workflow_runs"]} == {
        "Nightly"}


def auth(st: SimThread) -> dict[str, str]:
    return {"Authorization": f"Bearer {st.world.tokens['github']}"}


def test_pygithub_reads_one_failed_run(sim_thread: SimThread) -> None:
    """A single run reads by id with its conclusion; an unknown id is a 404."""
    ids = sim_thread.call(seed)
    repo = client(sim_thread).get_repo("acme/api")
    run = repo.get_workflow_run(int(ids[-4]))  # the fourth made: a failure
    assert (run.status, run.conclusion) == ("completed", "failure")
    with pytest.raises(GithubException) as err:
        repo.get_workflow_run(1)
    assert err.value.status == 404


def test_a_wrong_token_is_bad_credentials(sim_thread: SimThread) -> None:
    """Without the right bearer token GitHub's 401 Bad credentials comes back."""
    with pytest.raises(BadCredentialsException):
        client(sim_thread, "ghp_wrong").get_repo("acme/api")
    r = httpx.get(f"{sim_thread.url('github')}/repos/acme/api/actions/runs")
    assert r.status_code == 401 and r.json()["message"] == "Bad credentials"


def test_if_none_match_answers_304_free_until_the_listing_changes(
        sim_thread: SimThread) -> None:
    """The ETag holds while nothing changes: a 304 that leaves X-RateLimit-Remaining as it
    was; a change of a run on the page gives a new ETag and a counted 200."""
    ids = sim_thread.call(seed)
    url = f"{sim_thread.url('github')}/repos/acme/api/actions/runs?per_page=100"
    first = httpx.get(url, headers=auth(sim_thread))
    etag, left = first.headers["ETag"], int(first.headers["X-RateLimit-Remaining"])
    assert etag.startswith('W/"') and first.headers["X-RateLimit-Limit"] == "5000"
    for _ in range(3):
        again = httpx.get(url, headers={**auth(sim_thread), "If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert int(again.headers["X-RateLimit-Remaining"]) == left
    sim_thread.call(lambda w: w.set_status(ids[0], "success"))
    changed = httpx.get(url, headers={**auth(sim_thread), "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert int(changed.headers["X-RateLimit-Remaining"]) == left - 1
    assert changed.json()["workflow_runs"][0]["conclusion"] == "success"


def test_per_page_is_capped_at_100_and_link_names_next_and_last(
        sim_thread: SimThread) -> None:
    """per_page over 100 serves 100; the Link header of a middle page has all four rels."""
    sim_thread.call(lambda w: [w.add_run("github", "success") for _ in range(230)])
    base = f"{sim_thread.url('github')}/repos/acme/api/actions/runs"
    big = httpx.get(f"{base}?per_page=500", headers=auth(sim_thread))
    assert len(big.json()["workflow_runs"]) == 100 and big.json()["total_count"] == 230
    mid = httpx.get(f"{base}?per_page=100&page=2", headers=auth(sim_thread))
    link = mid.headers["Link"]
    for rel, page in (("prev", 1), ("first", 1), ("next", 3), ("last", 3)):
        assert f'page={page}>; rel="{rel}"' in link


def test_faults_and_the_primary_quota_apply(sim_thread: SimThread) -> None:
    """An injected 502 reaches PyGithub; a spent hour's quota is GitHub's 403 with
    X-RateLimit-Remaining 0."""
    sim_thread.call(seed)
    sim_thread.call(lambda w: w.faults.add("github", Fault("status", status=502)))
    with pytest.raises(GithubException) as err:
        client(sim_thread).get_repo("acme/api")
    assert err.value.status == 502
    api = sim_thread.sim._runner.app[APIS_KEY]["github"]  # type: ignore[union-attr]
    sim_thread.call(lambda w: setattr(api, "hourly", 3))
    url = f"{sim_thread.url('github')}/repos/acme/api/actions/runs"
    answers = [httpx.get(url, headers=auth(sim_thread)) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 403]
    assert answers[-1].headers["X-RateLimit-Remaining"] == "0"
    assert "rate limit" in answers[-1].json()["message"]


@pytest.mark.parametrize("name", ["github/pygithub-WorkflowRun.setUp.json",
                                  "github/pygithub-WorkflowRun.test_cancel.json",
                                  "github/pygithub-PullRequest2408.test_get_workflow_runs.json"])
def test_runs_have_every_field_of_the_runs_github_sent(sim_thread: SimThread,
                                                       name: str) -> None:
    """Each field of a real GitHub run is on a simulated one, with the same JSON type."""
    sim_thread.call(seed)
    ours: list[Any] = httpx.get(f"{sim_thread.url('github')}/repos/acme/api/actions/runs",
                                headers=auth(sim_thread)).json()["workflow_runs"]
    for real in real_runs(name):
        for run in ours[:6]:
            assert differences(real, run) == []

