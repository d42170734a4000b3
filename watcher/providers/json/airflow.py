"""Airflow DAG runs: the ``json`` provider with Airflow's keys as defaults, and its auth.

``GET /api/v2/dags/{dag_id}/dagRuns`` (Airflow 3) or ``/api/v1/...`` (Airflow 2), offset
paged, filtered by ``updated_at_gte``.  A DAG run states no ``updated_at``, so the
watermark is the request time minus ``overlap`` (``watermark = "request"``).  A run id is
unique within its DAG only: the run id is ``dag_id/dag_run_id``.

The difference in code is the auth: a ``token`` is sent as a bearer token; else Airflow 3
exchanges ``username`` + ``password`` for a JWT at ``POST /auth/token`` (again when it
expires: a 401 fetches a new one once), and Airflow 2 takes them as basic auth.
"""

from __future__ import annotations

import base64
from typing import Any, Literal

from watcher.config.options import Secret, Table
from watcher.errors import AuthError, BadPayload
from watcher.providers.json.options import Auth, Fields, JsonOptions, Pagination, StatusMap
from watcher.providers.json.provider import JsonProvider
from watcher.providers.protocol import PollResult, PollView

AIRFLOW_STATUS = {"queued": "pending", "running": "running", "success": "succeeded",
                  "failed": "failed"}


class AirflowOptions(JsonOptions):
    #: one DAG, or ``~`` for every DAG
    dag_id: str = "~"
    #: ``v2`` (Airflow 3) or ``v1`` (Airflow 2)
    api_version: Literal["v2", "v1"] = "v2"
    username: str | None = None
    password: Secret | None = None
    auth: Auth = "bearer"
    path: str = "/api/{api_version}/dags/{dag_id}/dagRuns"
    query: Table = {"updated_at_gte": "{since}"}
    fields: Fields = {
        "items": "dag_runs", "id": "join('/', [dag_id, dag_run_id])", "status": "state",
        "updated_at": "end_date || start_date || queued_at", "created_at": "queued_at",
        "workflow_id": "dag_id", "workflow_name": "dag_display_name || dag_id",
        "error": "note"}
    pagination: Pagination = {
        "mode": "offset", "size": "100", "size_param": "limit", "max_pages": "10"}
    status_map: StatusMap = AIRFLOW_STATUS
    watermark: Literal["items", "request"] = "request"


class AirflowProvider(JsonProvider):
    kind = "airflow"
    default_base_url = "http://127.0.0.1:8080"
    Options = AirflowOptions
    push_scheme = None  # Airflow sends no webhooks of its own
    options: AirflowOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        o = self.options
        self._jwt = bool(o.username and o.password and not self.source.token
                         and o.api_version == "v2")
        if o.username and o.password and o.api_version == "v1":
            pair = base64.b64encode(f"{o.username}:{o.password}".encode()).decode()
            self.http.headers["Authorization"] = f"Basic {pair}"

    async def login(self) -> None:
        """Exchange username + password for a JWT (Airflow 3's ``/auth/token``)."""
        self.http.headers.pop("Authorization", None)
        body, _ = await self.http.request("POST", "/auth/token", json={
            "username": self.options.username, "password": self.options.password})
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise BadPayload("/auth/token answered without an access_token")
        self.http.headers["Authorization"] = f"Bearer {token}"

    async def poll(self, view: PollView) -> PollResult:
        if not self._jwt:
            return await super().poll(view)
        if "Authorization" not in self.http.headers:
            await self.login()
        try:
            return await super().poll(view)
        except AuthError:  # the JWT expired: one new one, then the answer stands
            await self.login()
            return await super().poll(view)

    async def probe(self) -> str:
        if self._jwt:
            await self.login()
        return await super().probe()
