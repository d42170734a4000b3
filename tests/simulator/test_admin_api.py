"""The simulator's admin API can be found from the simulator itself: ``GET /_sim/info``
lists every route with what it does, and ``watcher simulate --help`` shows the main ones
with an example that works as printed."""

from __future__ import annotations

import re
import subprocess

import orjson

from tests.http_support import http_get
from tests.support import SimThread, run_cli
from watcher.simulator.app import make_app


def listed(sim: SimThread) -> set[tuple[str, str]]:
    code, body = http_get(sim.sim.url("_sim") + "/info")
    assert code == 200
    admin = orjson.loads(body)["admin"]
    assert all(a["does"] for a in admin)
    return {(a["method"], a["path"]) for a in admin}


def test_sim_info_lists_every_admin_route_with_what_it_does(sim_thread: SimThread) -> None:
    """Every route under /_sim is in /_sim/info's list, with a description, and nothing
    else is."""
    routes = {(r.method, r.resource.canonical) for r in make_app(sim_thread.world).router.routes()
              if r.resource is not None and r.resource.canonical.startswith("/_sim")
              and r.method != "HEAD"}
    assert ("POST", "/_sim/runs") in routes
    assert listed(sim_thread) == routes


def test_simulate_help_shows_the_admin_api_and_its_example_works(sim_thread: SimThread) -> None:
    """simulate --help names /_sim/info and routes /_sim/info lists, and its curl example,
    pointed at a running simulator, adds a failed run."""
    out = run_cli("simulate", "--help")
    text = out.stdout.decode()
    assert out.returncode == 0 and "GET /_sim/info lists every" in text
    named = set(re.findall(r"^\s+(GET|POST|DELETE)\s+(/_sim/\S+?)(?:\?\S*)?\s", text, re.M))
    assert ("POST", "/_sim/runs") in named and named <= listed(sim_thread)
    example, = re.findall(r"^e\.g\. (curl .*)$", text, re.M)
    port = sim_thread.sim.port
    got = subprocess.run(["bash", "-c", example.replace(":8765/", f":{port}/")],
                         capture_output=True, check=True, timeout=30)
    run = orjson.loads(got.stdout)
    assert sim_thread.call(lambda w: w.get(run["id"]).status) == "FAILED"
