"""The simulated Extend API, read by Extend's official SDK (``extend-ai``).

The SDK builds its models without validating them, so every raw body it
receives is also validated strictly against the SDK's own pydantic models:
whatever they refuse, the simulator has wrong.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from extend_ai import Extend
from extend_ai.types import WorkflowRun
from extend_ai.workflow_runs.types import WorkflowRunsListResponse

from tests.support import SimThread
from watcher.simulator import Fault, World

STATUSES = ("PENDING", "PROCESSING", "NEEDS_REVIEW", "CANCELLING", "PROCESSED", "FAILED",
            "CANCELLED", "REJECTED")


def client(st: SimThread, bodies: list[Any]) -> Extend:
    """The SDK pointed at the simulator; every JSON body it receives lands in ``bodies``."""
    def keep(response: httpx.Response) -> None:
        response.read()
        bodies.append(response.json())
    http = httpx.Client(event_hooks={"response": [keep]}, timeout=10)
    return Extend(token=st.world.tokens["extend"], base_url=st.url("extend"), httpx_client=http)


def seed(world: World) -> list[str]:
    """35 runs in every status; ids newest-updated first."""
    now = world.clock()
    runs = [world.add_run("extend", STATUSES[i % 8], created=now - 100 - i, updated=now - 50 - i)
            for i in range(35)]
    return [r.id for r in runs]


def test_sdk_lists_runs_across_pages_with_next_page_token(sim_thread: SimThread) -> None:
    """The SDK lists every run across pages by next_page_token, each page strictly valid."""
    ids = sim_thread.call(seed)
    bodies: list[Any] = []
    extend = client(sim_thread, bodies)
    seen: list[str] = []
    token = None
    while True:
        page = extend.workflow_runs.list(max_page_size=10, next_page_token=token)
        seen += [r.id for r in page.data]
        token = page.next_page_token
        if not token:
            break
    assert seen == ids
    assert len(bodies) == 4
    for body in bodies:
        parsed = WorkflowRunsListResponse.model_validate(body)
        assert all(r.status in STATUSES for r in parsed.data)
        assert all(r.workflow.name and r.dashboard_url for r in parsed.data)


def test_sdk_reads_a_failed_run(sim_thread: SimThread) -> None:
    """The SDK reads a failed run's message, and the body validates strictly with its step runs."""
    ids = sim_thread.call(seed)
    bodies: list[Any] = []
    run = client(sim_thread, bodies).workflow_runs.retrieve(ids[5])
    assert run.status == "FAILED" and run.failure_message
    strict = WorkflowRun.model_validate(bodies[0])
    assert len(strict.step_runs) == 3


def test_strict_validation_has_teeth(sim_thread: SimThread) -> None:
    """The check above could fail: a run without a field the SDK requires is refused."""
    sim_thread.call(seed)
    sim_thread.call(lambda w: w.faults.add("extend", Fault("missing_field", field="workflow")))
    bodies: list[Any] = []
    client(sim_thread, bodies).workflow_runs.list(max_page_size=5)
    with pytest.raises(ValueError):
        WorkflowRunsListResponse.model_validate(bodies[0])
