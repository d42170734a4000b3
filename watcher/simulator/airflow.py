"""Simulated Apache Airflow REST API: DAG runs, as Airflow 3 (``/api/v2``) and 2 (``/api/v1``).

``GET /api/v2/dags/{dag_id}/dagRuns`` (``~``: every DAG) and ``.../dagRuns/{run_id}``,
the same under ``/api/v1``, and ``POST /auth/token``.  Faithful where watcher
and apache-airflow-client depend on it: v2 takes ``Authorization: Bearer`` with
a JWT from ``POST /auth/token`` (``{"username", "password"}`` -> 201
``{"access_token"}``, valid 24 hours; the main account is user ``admin``, whose
password is the world's token, which is also taken as a bearer token as it
is), v1 takes HTTP basic auth; ``limit`` (default 50, at most 100) and
``offset`` with ``total_entries``, or ``cursor`` (``""`` for the first page,
then ``next_cursor``; ``null`` at the end; the cursor carries an offset, not a
key); ``order_by`` (repeatable, ``-`` for descending; default ``id``, the
order runs were made); ``state`` (repeatable); ``updated_at``, ``start_date``,
``end_date``, ``run_after`` and ``logical_date`` bounds (``_gte``, ``_gt``,
``_lte``, ``_lt``).  As in Airflow, ``updated_at`` filters and sorts but is
not in the answer.  Errors are ``{"detail"}`` (v1: a problem object).

A run's DAG is its workflow's key with ``_`` (``invoice_processing``).
"""

from __future__ import annotations

import base64
import operator
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar

import orjson
from aiohttp import web

from watcher.simulator import jwt
from watcher.simulator.accounts import Account
from watcher.simulator.api import VendorApi, json_response, stage_table
from watcher.simulator.listing import Desc, Filters, int_param, times
from watcher.simulator.world import SimRun

ADMIN_USER = "admin"
MAX_LIMIT = 100
#: how long an access token is good for (Airflow's ``jwt_expiration_time``)
TOKEN_TTL = 86400.0
_TIME_FIELDS: dict[str, Any] = {
    "updated_at": lambda r: r.updated, "start_date": lambda r: r.started,
    "end_date": lambda r: r.finished, "run_after": lambda r: r.created,
    "logical_date": lambda r: r.created,
}
_ORDER: dict[str, Any] = {
    "id": lambda r: r.created, "dag_run_id": lambda r: r.id, "run_id": lambda r: r.id,
    "dag_id": lambda r: dag_id(r), "state": lambda r: r.status,
    "updated_at": lambda r: r.updated, "run_after": lambda r: r.created,
    "logical_date": lambda r: r.created, "start_date": lambda r: r.started or 0.0,
    "end_date": lambda r: r.finished or 0.0,
}


def _ts(epoch: float | None, v1: bool = False) -> str | None:
    if epoch is None:
        return None
    out = datetime.fromtimestamp(epoch, UTC).isoformat()
    return out if v1 else out.replace("+00:00", "Z")


def dag_id(run: SimRun) -> str:
    return run.workflow.key.replace("-", "_")


class AirflowApi(VendorApi):
    vendor = "airflow"
    stages = stage_table(pending="queued", running="running", succeeded="success", failed="failed")
    login: ClassVar[dict[str, str]] = {"username": ADMIN_USER}
    unauthorized = "Not authenticated"

    # -- auth ----------------------------------------------------------------------

    def credential(self, request: web.Request) -> str:
        if request.path.endswith("/auth/token"):  # answers anyone; checks the password itself
            return self.world.tokens[self.vendor]
        auth = request.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        if "/api/v1/" in request.path:
            if scheme.lower() != "basic":
                return ""
            try:
                user, _, password = base64.b64decode(value).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return ""
            return password if self._user_of(password) == user else ""
        if scheme.lower() != "bearer":
            return ""
        return self._verify(value.strip()) or value.strip()

    def _user_of(self, token: str) -> str | None:
        """The user name whose password ``token`` is."""
        account = self.world.account(self.vendor, token)
        if account is None:
            return None
        return ADMIN_USER if token == self.world.tokens[self.vendor] else account.name

    def _verify(self, token: str) -> str | None:
        """The password of the account a valid, unexpired JWT of ours is for."""
        claims = jwt.claims_of(token, self.world.clock())
        user = claims.get("sub") if claims else None
        if user == ADMIN_USER:
            return self.world.tokens[self.vendor]
        return next((a.token for a in self.world.accounts[self.vendor].values()
                     if a.name == user), None)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/auth/token", self.token)
        for version in ("v2", "v1"):
            app.router.add_get(f"/api/{version}/dags/{{dag_id}}/dagRuns", self.list_runs)
            app.router.add_get(f"/api/{version}/dags/{{dag_id}}/dagRuns/{{run_id}}",
                               self.get_run)

    async def token(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
            user, password = str(body["username"]), str(body["password"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return json_response({"detail": "username and password are required"}, status=422)
        if self._user_of(password) != user:
            return json_response({"detail": "Invalid credentials"}, status=401)
        now = self.world.clock()  # the token names the user, never the password
        return json_response({"access_token": jwt.issue({
            "sub": user, "iat": int(now), "nbf": int(now), "exp": int(now + TOKEN_TTL),
            "iss": "sim-airflow", "aud": "apache-airflow"})}, status=201)

    # -- routes --------------------------------------------------------------------

    def _problem(self, v1: bool, status: int, detail: str) -> web.Response:
        if not v1:
            return json_response({"detail": detail}, status=status)
        titles = {400: "Bad Request", 404: "Not Found"}
        return json_response({"detail": detail, "status": status,
                              "title": titles.get(status, "Error"),
                              "type": "https://airflow.apache.org/docs/apache-airflow/stable/"
                                      "stable-rest-api-ref.html#section/Errors"},
                             status=status)

    def _dags(self, account: Account) -> set[str]:
        return {dag_id(r) for r in account.runs.values()} | {
            w.key.replace("-", "_") for w in self.world.workflows[self.vendor]}

    async def list_runs(self, request: web.Request) -> web.Response:
        v1 = "/api/v1/" in request.path
        account = self.account_of(request)
        dag = request.match_info["dag_id"]
        if dag != "~" and dag not in self._dags(account):
            return self._problem(v1, 404, f"The Dag with ID: `{dag}` was not found")
        q = request.query
        cursor = q.get("cursor")
        window = _window(q)
        if isinstance(window, str):
            return self._problem(v1, 400 if v1 else 422, window)
        limit, offset = window
        order = q.getall("order_by", ["id"])
        if bad := [o for o in order if o.lstrip("-") not in _ORDER]:
            return self._problem(v1, 400, f"Ordering with '{bad[0]}' is disallowed or the "
                                 "attribute does not exist on the model")
        states = tuple(s for v in q.getall("state", []) for s in v.split(",") if s)
        bounded = times(q, _BOUNDS)
        if isinstance(bounded, str):
            return self._problem(v1, 400 if v1 else 422, f"{bounded}: invalid datetime")
        bounds, within = bounded

        def keep(r: SimRun) -> bool:
            return ((dag == "~" or dag_id(r) == dag) and (not states or r.status in states)
                    and within(r))

        def by(r: SimRun) -> Any:
            return (*(Desc(_ORDER[o[1:]](r)) if o.startswith("-") else _ORDER[o](r)
                      for o in order), r.created)

        listing = partial(self.listings.get, account, (dag, tuple(order), states, bounds),
                          keep, by)
        items, runs = self.page(request, listing, limit, lambda r: self.render(r, v1=v1),
                                start=offset)
        body: dict[str, Any] = {"dag_runs": items}
        if cursor is not None and not v1:
            more = offset + limit < len(runs)
            body["next_cursor"] = (base64.urlsafe_b64encode(str(offset + limit).encode())
                                   .decode() if more else None)
            body["previous_cursor"] = None
        else:
            body["total_entries"] = len(runs)
        return json_response(body)

    async def get_run(self, request: web.Request) -> web.Response:
        v1 = "/api/v1/" in request.path
        run = self.account_of(request).runs.get(request.match_info["run_id"])
        dag = request.match_info["dag_id"]
        if run is None or dag_id(run) != dag:
            return self._problem(v1, 404, f"The DagRun with dag_id: `{dag}` and run_id: "
                                 f"`{request.match_info['run_id']}` was not found")
        return json_response(self.served(run, self.render(run, v1=v1)))

    def render(self, run: SimRun, *, v1: bool = False) -> dict[str, Any]:
        dag = dag_id(run)
        created = _ts(run.created, v1)
        common: dict[str, Any] = {
            "dag_run_id": run.id, "dag_id": dag, "logical_date": created,
            "start_date": _ts(run.started, v1), "end_date": _ts(run.finished, v1),
            "data_interval_start": created, "data_interval_end": created,
            "last_scheduling_decision": _ts(run.updated, v1),
            "run_type": "manual" if run.id.startswith("manual__") else "scheduled",
            "state": run.status, "conf": {}, "note": run.extra.get("note"),
        }
        if v1:
            return {**common, "execution_date": created, "external_trigger": True}
        version = {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"airflow:{dag}")),
                   "version_number": 1, "dag_id": dag, "bundle_name": "dags-folder",
                   "bundle_version": None, "bundle_url": None,
                   "created_at": "2026-01-05T10:00:00Z", "dag_display_name": run.workflow.name}
        duration = (run.finished - run.started
                    if run.finished is not None and run.started is not None else None)
        return {**common, "dag_display_name": run.workflow.name, "queued_at": created,
                "run_after": created, "duration": duration, "triggered_by": "rest_api",
                "triggering_user_name": ADMIN_USER, "dag_versions": [version],
                "bundle_version": None, "partition_key": None, "partition_date": None}


def _window(q: Any) -> tuple[int, int] | str:
    """A query's ``limit`` (at most 100) and offset (from ``offset`` or ``cursor``)."""
    limit, offset = int_param(q, "limit", 50), int_param(q, "offset", 0)
    if q.get("cursor"):
        try:
            offset = int(base64.urlsafe_b64decode(q["cursor"].encode()).decode())
        except (ValueError, UnicodeDecodeError):
            return "Invalid cursor"
    if limit is None or offset is None or limit < 0 or offset < 0:
        return "limit and offset must be whole numbers >= 0"
    return min(limit, MAX_LIMIT), offset


def _bound(field: Callable[[SimRun], float | None], op: Callable[[float, float], bool]
           ) -> Callable[[SimRun, float], bool]:
    return lambda r, t: (v := field(r)) is not None and op(v, t)


#: ``updated_at_gte``...: every time field, bounded each way
_BOUNDS: Filters = {f"{name}_{op}": _bound(field, test) for name, field in _TIME_FIELDS.items()
                    for op, test in (("gte", operator.ge), ("gt", operator.gt),
                                     ("lte", operator.le), ("lt", operator.lt))}
