"""The simulated GitLab pipelines API, read by python-gitlab, and checked against pipelines
GitLab sent."""

from __future__ import annotations

import gitlab
import httpx
import pytest

from tests.simulator.real_payloads import differences, real_runs
from tests.support import SimThread
from watcher.core.timestamps import format_ts, parse_ts
from watcher.simulator import Fault, World

STATES = ("created", "pending", "running", "success", "failed", "canceled", "manual")


def client(st: SimThread, token: str | None = None) -> gitlab.Gitlab:
    return gitlab.Gitlab(url=st.url("gitlab"), private_token=token or st.world.tokens["gitlab"],
                         retry_transient_errors=False)


def seed(world: World) -> list[str]:
    """49 pipelines of two refs; ids in the order they were updated (oldest first)."""
    now = world.clock()
    wfs = [world.workflow("gitlab", "Main"), world.workflow("gitlab", "Release")]
    runs = [world.add_run("gitlab", STATES[i % 7], workflow=wfs[i % 2], created=now - 900 + i,
                          updated=now - 100 - (i * 7) % 49, started=now - 899 + i)
            for i in range(49)]
    return [r.id for r in sorted(runs, key=lambda r: r.updated)]


def test_python_gitlab_lists_pipelines_by_update_across_pages(sim_thread: SimThread) -> None:
    """python-gitlab pages (X-Next-Page) through every pipeline of a project named by its
    path, in update order, with status, ref and web_url."""
    ids = sim_thread.call(seed)
    project = client(sim_thread).projects.get("acme/api")
    assert project.id == 4242
    got = list(project.pipelines.list(iterator=True, per_page=10, order_by="updated_at",
                                      sort="asc"))
    assert [str(p.id) for p in got] == ids
    assert len([r for r in sim_thread.world.requests if r.path.endswith("/pipelines")]) == 5
    for p in got:
        assert p.status in STATES and p.ref in ("main", "release")
        assert p.web_url == f"https://gitlab.com/acme/api/-/pipelines/{p.id}"
        assert p.project_id == 4242 and parse_ts(p.updated_at) is not None


def test_updated_after_is_a_watermark(sim_thread: SimThread) -> None:
    """updated_after returns only pipelines updated at or after it; by numeric project id."""
    sim_thread.call(seed)
    mark = sim_thread.world.clock() - 120
    got = client(sim_thread).projects.get(4242, lazy=True).pipelines.list(
        get_all=True, updated_after=format_ts(mark), order_by="updated_at", sort="asc")
    want = [r for r in sim_thread.world.runs["gitlab"].values() if r.updated >= mark]
    assert len(got) == len(want) > 0
    assert all((parse_ts(p.updated_at) or 0) >= mark - 0.001 for p in got)


def test_headers_filters_and_bad_parameters(sim_thread: SimThread) -> None:
    """X-Total, X-Total-Pages and an empty X-Next-Page on the last page; status and ref
    filter; an unknown order_by is GitLab's 400."""
    sim_thread.call(seed)
    base = f"{sim_thread.url('gitlab')}/api/v4/projects/acme%2Fapi/pipelines"
    head = {"PRIVATE-TOKEN": sim_thread.world.tokens["gitlab"]}
    last = httpx.get(f"{base}?per_page=20&page=3", headers=head)
    assert (last.headers["X-Total"], last.headers["X-Total-Pages"]) == ("49", "3")
    assert last.headers["X-Next-Page"] == "" and last.headers["X-Prev-Page"] == "2"
    assert len(last.json()) == 9 and 'rel="first"' in last.headers["Link"]
    failed = httpx.get(f"{base}?status=failed&ref=main", headers=head).json()
    assert failed and {(p["status"], p["ref"]) for p in failed} == {("failed", "main")}
    bad = httpx.get(f"{base}?order_by=duration", headers=head)
    assert bad.status_code == 400 and "order_by" in bad.json()["error"]


def test_python_gitlab_reads_one_failed_pipeline_with_its_detail(
        sim_thread: SimThread) -> None:
    """A single pipeline has the detail fields (started_at, finished_at, detailed_status)."""
    sim_thread.call(seed)
    run = sim_thread.call(lambda w: w.set_status(next(iter(w.runs["gitlab"].values())),
                                                 "failed"))
    p = client(sim_thread).projects.get("acme/api", lazy=True).pipelines.get(int(run.id))
    assert p.status == "failed" and p.detailed_status["group"] == "failed"
    assert p.started_at is not None and p.user["username"]


def test_a_wrong_token_and_an_unknown_project_are_refused(sim_thread: SimThread) -> None:
    """A wrong PRIVATE-TOKEN is GitLab's 401; an unknown project a 404."""
    with pytest.raises(gitlab.GitlabAuthenticationError):
        client(sim_thread, "glpat-wrong").projects.get("acme/api")
    with pytest.raises(gitlab.GitlabGetError) as err:
        client(sim_thread).projects.get("acme/nope")
    assert err.value.response_code == 404


def test_faults_apply_to_gitlab(sim_thread: SimThread) -> None:
    """An injected 503 reaches python-gitlab; a page fault mangles the listing."""
    sim_thread.call(seed)
    sim_thread.call(lambda w: w.faults.add("gitlab", Fault("status", status=503)))
    with pytest.raises(gitlab.GitlabGetError) as err:
        client(sim_thread).projects.get("acme/api")
    assert err.value.response_code == 503
    sim_thread.call(lambda w: w.faults.add("gitlab", Fault("unknown_status", value="lost")))
    got = client(sim_thread).projects.get("acme/api", lazy=True).pipelines.list(per_page=5, get_all=False)
    assert got[0].status == "lost"


def test_pipelines_have_every_field_of_the_pipelines_gitlab_sent(
        sim_thread: SimThread) -> None:
    """Each field of a real GitLab pipeline is on a simulated one, with the same JSON type."""
    sim_thread.call(seed)
    head = {"PRIVATE-TOKEN": sim_thread.world.tokens["gitlab"]}
    base = f"{sim_thread.url('gitlab')}/api/v4/projects/4242/pipelines"
    listed = httpx.get(base, headers=head).json()
    for real in real_runs("gitlab/airbyte-source-gitlab-pipelines_extended.json"):
        for item in listed[:5]:
            one = httpx.get(f"{base}/{item['id']}", headers=head).json()
            assert differences(real, one) == []
            assert set(item) <= set(one)
