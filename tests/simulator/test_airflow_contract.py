"""The simulated Airflow REST API, read by apache-airflow-client (Airflow 3's ``/api/v2``
with a JWT from ``/auth/token``), and its Airflow 2 form ``/api/v1`` with basic auth."""

from __future__ import annotations

import base64

import airflow_client.client as af
import httpx
import pytest
from airflow_client.client.api.dag_run_api import DagRunApi
from airflow_client.client.models.dag_run_collection_response import DAGRunCollectionResponse
from airflow_client.client.models.dag_run_response import DAGRunResponse

from tests.support import SimThread
from watcher.core.timestamps import format_ts
from watcher.simulator import Fault, World

STATES = ("queued", "running", "success", "failed")


def login(st: SimThread, user: str = "admin", password: str | None = None) -> httpx.Response:
    return httpx.post(f"{st.url('airflow')}/auth/token", json={
        "username": user, "password": password or st.world.tokens["airflow"]})


def runs_api(st: SimThread) -> DagRunApi:
    token = login(st).json()["access_token"]
    return DagRunApi(af.ApiClient(af.Configuration(host=st.url("airflow"), access_token=token)))


def seed(world: World) -> list[str]:
    """45 runs of three DAGs, every state; ids newest-updated first."""
    now = world.clock()
    wfs = [world.workflow("airflow", n) for n in ("Daily ETL", "Hourly Sync", "Reports")]
    runs = [world.add_run("airflow", STATES[i % 4], workflow=wfs[i % 3], created=now - 900 + i,
                          updated=now - 300 + i, started=now - 899 + i,
                          finished=now - 300 + i if i % 4 > 1 else None) for i in range(45)]
    return [r.id for r in reversed(runs)]


def test_client_logs_in_and_lists_every_dag_run_by_offset(sim_thread: SimThread) -> None:
    """With a JWT from /auth/token the client pages (limit, offset) through every DAG's runs,
    newest updated first, total_entries counting them all; each page validates strictly."""
    ids = sim_thread.call(seed)
    api, seen = runs_api(sim_thread), []
    while True:
        page = api.get_dag_runs(dag_id="~", limit=20, offset=len(seen), order_by=["-updated_at"])
        assert page.total_entries == 45
        seen += [r.dag_run_id for r in page.dag_runs]
        if len(page.dag_runs) < 20:
            break
    assert seen == ids
    one = page.dag_runs[0]
    assert one.state.value in STATES and one.dag_id in ("daily_etl", "hourly_sync", "reports")
    assert one.dag_display_name and one.run_after.tzinfo is not None


def test_updated_at_gte_state_and_one_dag_filter(sim_thread: SimThread) -> None:
    """updated_at_gte, state (repeatable) and a DAG id narrow the listing; a run reads by id."""
    ids = sim_thread.call(seed)
    api = runs_api(sim_thread)
    mark = sim_thread.world.runs["airflow"][ids[24]].updated
    recent = api.get_dag_runs(dag_id="~", updated_at_gte=format_ts(mark), limit=100)
    assert recent.total_entries == 25
    failed = api.get_dag_runs(dag_id="reports", state=["failed", "queued"], limit=100)
    assert failed.dag_runs and {(r.dag_id, r.state.value) for r in failed.dag_runs} <= {
        ("reports", "failed"), ("reports", "queued")}
    run = failed.dag_runs[0]
    assert api.get_dag_run("reports", run.dag_run_id).state == run.state


def test_cursor_paging_ends_with_a_null_cursor(sim_thread: SimThread) -> None:
    """cursor="" starts keyset-style paging; next_cursor leads on and is null at the end."""
    ids = sim_thread.call(seed)
    api, cursor, seen = runs_api(sim_thread), "", []
    while cursor is not None:
        page = api.get_dag_runs(dag_id="~", cursor=cursor, limit=20, order_by=["-updated_at"])
        seen += [r.dag_run_id for r in page.dag_runs]
        cursor = page.next_cursor
    assert seen == ids


def test_wrong_password_expired_token_and_unknown_dag(sim_thread: SimThread) -> None:
    """A wrong password gets no token; no token or an expired one is a 401; an unknown DAG
    is a 404."""
    sim_thread.call(seed)
    assert login(sim_thread, password="nope").status_code == 401
    url = f"{sim_thread.url('airflow')}/api/v2/dags/~/dagRuns"
    assert httpx.get(url).status_code == 401
    token = login(sim_thread).json()["access_token"]
    assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    sim_thread.call(lambda w: setattr(w, "clock", lambda: 2e10))
    assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    with pytest.raises(af.ApiException) as err:
        runs_api(sim_thread).get_dag_runs(dag_id="no_such_dag")
    assert err.value.status == 404


def test_airflow_2_api_takes_basic_auth_and_has_its_own_shape(sim_thread: SimThread) -> None:
    """/api/v1 answers basic auth with Airflow 2's fields (execution_date, no
    dag_versions); a bearer token is not taken there."""
    sim_thread.call(seed)
    url = f"{sim_thread.url('airflow')}/api/v1/dags/~/dagRuns?limit=5&order_by=-updated_at"
    pair = base64.b64encode(f"admin:{sim_thread.world.tokens['airflow']}".encode()).decode()
    body = httpx.get(url, headers={"Authorization": f"Basic {pair}"}).json()
    assert body["total_entries"] == 45 and len(body["dag_runs"]) == 5
    run = body["dag_runs"][0]
    assert "execution_date" in run and "dag_versions" not in run
    assert run["start_date"].endswith("+00:00")
    token = login(sim_thread).json()["access_token"]
    assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_every_answer_validates_against_the_clients_models(sim_thread: SimThread) -> None:
    """A list and a single run validate strictly as the client's models; a page fault that
    drops a required field would not."""
    ids = sim_thread.call(seed)
    token = login(sim_thread).json()["access_token"]
    head = {"Authorization": f"Bearer {token}"}
    base = f"{sim_thread.url('airflow')}/api/v2/dags"
    DAGRunCollectionResponse.model_validate(httpx.get(f"{base}/~/dagRuns", headers=head).json())
    run = sim_thread.world.runs["airflow"][ids[0]]
    DAGRunResponse.model_validate(httpx.get(
        f"{base}/{run.workflow.key.replace('-', '_')}/dagRuns/{ids[0]}", headers=head).json())
    sim_thread.call(lambda w: w.faults.add("airflow", Fault("missing_field", field="run_after")))
    with pytest.raises(ValueError):
        DAGRunCollectionResponse.model_validate(
            httpx.get(f"{base}/~/dagRuns", headers=head).json())
