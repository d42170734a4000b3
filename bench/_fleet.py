"""Shared by the benchmarks: many Extend sources in the simulator, on one key or each on a
key (an account) of its own, and what the simulator's request log says about them."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs

from bench._daemon import source
from bench._sim import SimProcess

#: Extend's documented GET limit on the PAYG plan, which the simulator enforces per account
EXTEND_RATE = 10.0


def fleet(sim: SimProcess, n: int, *, keys: str, interval: str, state_path: str,
          runs_each: int = 100, status: str = "PROCESSED") -> str:
    """A config of ``n`` Extend sources, one workflow of ``runs_each`` runs each; with
    ``keys="distinct"`` each source's workflow is in an account of its own."""
    names = [f"Workflow {i:04d}" for i in range(n)]
    tokens = [sim.token("extend")] * n
    seed: dict[str, Any] = {"vendor": "extend", "count": runs_each * n, "workflows": names,
                            "spread_s": 3600, "status": status}
    if keys == "distinct":
        tokens = [a["token"] for a in sim.admin("POST", "/_sim/accounts",
                                                {"vendor": "extend", "count": n})]
        seed["accounts"] = tokens  # run i: workflow i % n, account i % n
    sim.admin("POST", "/_sim/seed", seed)
    sim.admin("POST", "/_sim/rate_limits", {"vendor": "extend", "rate": EXTEND_RATE})
    wf_ids = {w["name"]: w["id"] for w in sim.admin("GET", "/_sim/workflows?vendor=extend")}
    return (f'[watcher]\nstate_path = "{state_path}"\nhttp_listen = ""\n'
            + "".join(source(sim.url("extend"), tokens[i], f"src-{i:04d}", interval=interval,
                             params={"workflowId": wf_ids[names[i]]}) for i in range(n))
            + '[[sinks]]\nname = "out"\ntype = "stdout"\n')


def requests(sim: SimProcess) -> int:
    return int(sim.admin("GET", "/_sim/requests/count?vendor=extend")["count"])


def wait_for_requests(sim: SimProcess, n: int, timeout: float) -> None:
    """Until the simulator has answered ``n`` Extend requests (every source baselined)."""
    deadline = time.monotonic() + timeout
    while requests(sim) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {requests(sim)} of {n} requests within {timeout:g} s")
        time.sleep(1)


def polls(sim: SimProcess, since: float, until: float) -> dict[str, list[float]]:
    """Each source's (its workflow's) requests between two wall times, as their times."""
    out: dict[str, list[float]] = defaultdict(list)
    for r in sim.admin("GET", "/_sim/requests"):
        if r["vendor"] == "extend" and since <= r["time"] <= until:
            wf = parse_qs(r["query"]).get("workflowId", [""])[0]
            out[wf].append(r["time"])
    return out


def periods(times: dict[str, list[float]]) -> list[float]:
    """Each source's mean poll period, for those polled at least twice."""
    return [(t[-1] - t[0]) / (len(t) - 1) for t in (sorted(v) for v in times.values())
            if len(t) >= 2]


def refused(sim: SimProcess) -> int:
    """Requests the simulator answered with 429 (an account over its limit)."""
    return int(sim.admin("GET", "/_sim/requests/count?vendor=extend&status=429")["count"])
