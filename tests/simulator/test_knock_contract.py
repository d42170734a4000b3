"""The simulated Knock API, read by Knock's official SDK (``knockapi``) with strict
response validation: whatever the SDK's models refuse, the simulator has wrong."""

from __future__ import annotations

from datetime import datetime

import knockapi
import pytest
from knockapi.types import WorkflowRecipientRun

from tests.support import SimThread
from watcher.simulator import Fault, World

STATUSES = ("queued", "processing", "paused", "completed", "cancelled")


def client(st: SimThread, key: str | None = None) -> knockapi.Knock:
    return knockapi.Knock(api_key=key or st.world.tokens["knock"], base_url=st.url("knock"),
                          _strict_response_validation=True, max_retries=0)


def seed(world: World) -> list[str]:
    """23 runs, newest first, every status, failures, tenants and actors among them."""
    now = world.clock()
    ids = []
    for i in range(23):
        extra = {"tenant": "acme", "actor": {"id": "project_9", "collection": "projects"},
                 "trigger": "workflow_step"} if i % 4 == 0 else {}
        run = world.add_run("knock", STATUSES[i % 5], created=now - 60 - i, **extra)
        if i % 7 == 3:
            world.set_status(run, "completed", error_count=2, at=now - 30)
        ids.append(run.id)
    return ids


def test_sdk_lists_runs_across_pages_and_parses_every_field(sim_thread: SimThread) -> None:
    """The SDK pages through every run once, and every model field is present and parses."""
    ids = sim_thread.call(seed)
    page = client(sim_thread).workflow_recipient_runs.list(page_size=5)
    runs = list(page)
    assert [r.id for r in runs] == ids  # newest inserted first, nothing lost or repeated
    pages = [r for r in sim_thread.world.requests if r.path.endswith("/workflow_recipient_runs")]
    assert len(pages) == 5
    assert page.page_info is not None and page.page_info.after is not None
    for run in runs:
        # every field of the model was in the JSON, optional ones included
        assert set(WorkflowRecipientRun.model_fields) <= run.model_fields_set
        assert run.api_typename == "WorkflowRecipientRun"
        assert isinstance(run.inserted_at, datetime) and run.inserted_at.tzinfo is not None
        assert isinstance(run.updated_at, datetime)
        assert isinstance(run.error_count, int)
        assert run.workflow and run.workflow_run_id and run.trigger_source.type
    assert any(not isinstance(r.recipient, str) for r in runs)  # object references parse too
    assert any(r.actor is not None and r.tenant == "acme" for r in runs)
    assert any(r.status == "completed" and r.error_count for r in runs)


def test_sdk_filters_by_status_and_start_time(sim_thread: SimThread) -> None:
    """The SDK's status and starting_at filters return exactly the matching runs."""
    sim_thread.call(seed)
    now = sim_thread.world.clock()
    knock = client(sim_thread)
    live = list(knock.workflow_recipient_runs.list(status=["queued", "processing", "paused"],
                                                   page_size=3))
    expected = {r.id for r in sim_thread.world.runs["knock"].values()
                if r.status in ("queued", "processing", "paused")}
    assert {r.id for r in live} == expected and len(live) == len(expected) > 3
    query = sim_thread.world.requests[-1].query
    assert "status[]=queued" in query and "status[]=paused" in query
    recent = list(knock.workflow_recipient_runs.list(
        starting_at=datetime.fromtimestamp(now - 65.5).astimezone()))
    assert len(recent) == 6  # created 60..65 s ago


def test_sdk_reads_a_run_with_its_events(sim_thread: SimThread) -> None:
    """The SDK reads one run with its events, errors included."""
    ids = sim_thread.call(seed)
    detail = client(sim_thread).workflow_recipient_runs.get(ids[3])
    assert detail.status == "completed" and detail.error_count == 2
    assert [e.status for e in detail.events].count("error") == 2
    assert all(e.api_typename == "WorkflowRecipientRunEvent" for e in detail.events)


def test_sdk_sees_knock_errors(sim_thread: SimThread) -> None:
    """A bad page size, a wrong key and an unknown run are Knock's documented errors."""
    knock = client(sim_thread)
    with pytest.raises(knockapi.UnprocessableEntityError) as too_big:
        list(knock.workflow_recipient_runs.list(page_size=51))
    assert too_big.value.body == {"code": "invalid_params", "status": 422,
                                  "type": "invalid_request_error",
                                  "message": "page_size must be between 1 and 50"}
    with pytest.raises(knockapi.AuthenticationError) as denied:
        list(client(sim_thread, "sk_test_wrong").workflow_recipient_runs.list())
    assert denied.value.body == {"code": "api_key_missing", "status": 401,
                                 "type": "authentication_error",
                                 "message": "No valid API key provided"}
    with pytest.raises(knockapi.NotFoundError):
        knock.workflow_recipient_runs.get("00000000-0000-4000-8000-000000000000")


def test_strict_validation_has_teeth(sim_thread: SimThread) -> None:
    """The check above could fail: a run without a field the SDK requires is refused."""
    sim_thread.call(seed)
    sim_thread.call(lambda w: w.faults.add("knock", Fault("missing_field", field="__typename")))
    with pytest.raises(knockapi.APIResponseValidationError):
        list(client(sim_thread).workflow_recipient_runs.list())
