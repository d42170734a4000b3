"""GitHub, GitLab, Airflow and Prefect in the simulator as the seeds are: found from
``/_sim/info``, driven by the admin API, and brought to life by the scenario."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from tests.support import SimThread
from watcher.infra.clock import wall
from watcher.simulator import World
from watcher.simulator.app import APIS
from watcher.simulator.scenario import Scenario
from watcher.testing.clocks import FrozenClock

PLATFORMS = ("github", "gitlab", "airflow", "prefect")


def test_sim_info_gives_each_platform_its_base_url_and_login(sim_thread: SimThread) -> None:
    """/_sim/info lists each platform's base URL (Prefect's ends in /api, as
    PREFECT_API_URL does) and token, and Airflow's user name."""
    info = httpx.get(f"http://127.0.0.1:{sim_thread.sim.port}/_sim/info").json()["vendors"]
    base = f"http://127.0.0.1:{sim_thread.sim.port}"
    assert info["github"] == {"base_url": f"{base}/github", "token": sim_thread.world.tokens[
        "github"]}
    assert info["prefect"]["base_url"] == f"{base}/prefect/api" == sim_thread.url("prefect")
    assert info["airflow"]["username"] == "admin"
    assert set(PLATFORMS) <= set(info)


def test_admin_api_adds_and_fails_a_github_run(sim_thread: SimThread) -> None:
    """POST /_sim/runs adds a GitHub run in another repository and POST /_sim/runs/{id}
    makes it fail: the listing shows it completed with conclusion failure."""
    admin = f"http://127.0.0.1:{sim_thread.sim.port}/_sim"
    made = httpx.post(f"{admin}/runs", json={"vendor": "github", "status": "in_progress",
                                              "workflow": "Deploy", "repository": "acme/web"})
    run_id = made.json()["id"]
    assert made.status_code == 201 and run_id.isdigit()
    httpx.post(f"{admin}/runs/{run_id}", json={"status": "failure"})
    runs = httpx.get(f"{sim_thread.url('github')}/repos/acme/web/actions/runs", headers={
        "Authorization": f"Bearer {sim_thread.world.tokens['github']}"}).json()
    [run] = runs["workflow_runs"]
    assert (run["id"], run["status"], run["conclusion"], run["name"]) == (
        int(run_id), "completed", "failure", "Deploy")


def test_admin_faults_and_seed_reach_the_new_platforms(sim_thread: SimThread) -> None:
    """/_sim/seed fills GitLab with runs and /_sim/faults makes Airflow answer 503."""
    admin = f"http://127.0.0.1:{sim_thread.sim.port}/_sim"
    assert httpx.post(f"{admin}/seed", json={"vendor": "gitlab", "count": 150,
                                              "status": "success"}).json()["runs"] == 150
    listed = httpx.get(f"{sim_thread.url('gitlab')}/api/v4/projects/4242/pipelines",
                       headers={"PRIVATE-TOKEN": sim_thread.world.tokens["gitlab"]})
    assert listed.headers["X-Total"] == "150"
    assert httpx.post(f"{admin}/faults", json={"vendor": "airflow", "kind": "status",
                                                "status": 503}).status_code == 201
    token = sim_thread.world.tokens["airflow"]
    r = httpx.get(f"{sim_thread.url('airflow')}/api/v2/dags/~/dagRuns",
                  headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 503 and r.json() == {"detail": "Simulated failure"}


def test_the_scenario_moves_runs_through_each_vocabulary_some_failing() -> None:
    """Over ten scripted minutes each platform's runs take its own raw statuses, from
    pending to running to an end, and some of them fail."""
    clock = FrozenClock()
    world = World(clock=clock, seed=5)
    play = Scenario(world, vendors=PLATFORMS, spawn_every=2.0)
    play.setup()
    play.begin()
    for _ in range(600):
        clock.advance(1.0)
        play.tick()
    for vendor in PLATFORMS:
        raw = {s: r for s, (r, _) in APIS[vendor].stages.items()}
        seen = {t.status for t in world.transitions if t.vendor == vendor}
        assert {raw["pending"], raw["running"], raw["succeeded"], raw["failed"]} <= seen
        assert seen <= set(raw.values())


def test_every_platform_is_served_on_the_wall_clock_too() -> None:
    """A world on the wall clock makes ids of each platform's own kind."""
    world = World(clock=wall)
    github, gitlab = world.add_run("github", "queued"), world.add_run("gitlab", "created")
    airflow, prefect = world.add_run("airflow", "queued"), world.add_run("prefect", "PENDING")
    assert github.id.isdigit() and gitlab.id.isdigit()
    assert airflow.id.startswith("manual__") and airflow.id.endswith("+00:00")
    assert len(prefect.id) == 36


def test_a_named_runs_platform_ids_are_the_same_in_every_process() -> None:
    """A run whose id is no number gets the same GitHub and GitLab id and Prefect name in
    every process (not Python's per-process string hash), so a simulator in its own
    process agrees with the test reading it."""
    script = ("from watcher.simulator.world import World\n"
              "from watcher.simulator.github import workflow_run\n"
              "from watcher.simulator.gitlab import pipeline\n"
              "from watcher.simulator.prefect import run_name\n"
              "from watcher.testing.clocks import FrozenClock\n"
              "w = World(clock=FrozenClock(), seed=1)\n"
              "r = w.add_run('github', 'queued')\n"
              "r.id = 'run-abc'\n"
              "print(workflow_run(r, 'http://x')['id'], pipeline(r)['id'], run_name(r))\n")
    said = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2")}
    assert len(said) == 1
