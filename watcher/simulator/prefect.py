"""Simulated Prefect REST API: flow runs (``POST /api/flow_runs/filter``, ``GET .../{id}``).

The base URL is ``.../prefect/api``, as a server's ``PREFECT_API_URL``.
Faithful where watcher and prefect-client depend on it: a bearer API key is
optional, as on a self-hosted server (none is the main account; a wrong one
is 401); the body's ``flow_runs`` filter (``id``, ``name``, ``state.type`` and
``state.name`` with ``any_``/``not_any_``, ``start_time``, ``end_time`` and
``expected_start_time`` with ``before_``/``after_``/``is_null_``,
``deployment_id``, ``tags.all_``), ``flows`` (``id``, ``name``) and
``deployments`` (``id``) filters; ``sort`` (``ID_DESC`` default,
``START_TIME_ASC/DESC``, ``EXPECTED_START_TIME_ASC/DESC``, ``NAME_ASC/DESC``,
``NEXT_SCHEDULED_START_TIME_ASC``, ``END_TIME_DESC``), ``limit`` (default and
at most 200, else 422) and ``offset``; an answer that is a bare list of
flow runs with every field of prefect-client's ``FlowRun``.  As in Prefect,
nothing filters or sorts by update time.

A run's world status is its ``state_type`` (``COMPLETED``...); its
``state_name`` extra overrides the name (default: the type's, e.g.
``Completed``).  Its flow is its workflow (name: the workflow's key).
"""

from __future__ import annotations

import uuid
import zlib
from functools import partial
from typing import Any, ClassVar

import orjson
from aiohttp import web

from watcher.core.timestamps import parse_ts
from watcher.simulator.api import VendorApi, json_response, stage_table, stamp
from watcher.simulator.world import SimRun

MAX_LIMIT = 200
SORTS: dict[str, tuple[Any, bool]] = {
    "ID_DESC": (lambda r: r.id, True),
    "START_TIME_ASC": (lambda r: (r.started is None, r.started or 0.0), False),
    "START_TIME_DESC": (lambda r: (r.started is not None, r.started or 0.0), True),
    "EXPECTED_START_TIME_ASC": (lambda r: r.created, False),
    "EXPECTED_START_TIME_DESC": (lambda r: r.created, True),
    "NAME_ASC": (lambda r: run_name(r), False),
    "NAME_DESC": (lambda r: run_name(r), True),
    "NEXT_SCHEDULED_START_TIME_ASC": (lambda r: r.created, False),
    "END_TIME_DESC": (lambda r: (ended(r) is not None, ended(r) or 0.0), True),
}
#: the state types in which Prefect has set a run's end_time
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "CRASHED")
_ADJECTIVES = ("crimson", "quiet", "brave", "amber", "nimble", "silver", "witty", "lucky")
_ANIMALS = ("otter", "heron", "lynx", "badger", "falcon", "marmot", "ibis", "newt")


def ended(run: SimRun) -> float | None:
    """The run's ``end_time``: Prefect sets it when the run enters a terminal state (the
    state's time, unless the run was made with ``finished``)."""
    if run.finished is not None:
        return run.finished
    return run.updated if run.status in TERMINAL else None


def _uuid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"prefect:{seed}"))


def run_name(run: SimRun) -> str:
    n = int(uuid.UUID(run.id)) if len(run.id) == 36 else zlib.crc32(run.id.encode())
    return f"{_ADJECTIVES[n % 8]}-{_ANIMALS[(n >> 3) % 8]}"


def _any(spec: Any, value: Any) -> bool:
    """``{"any_": [...], "not_any_": [...]}`` (either may be null or absent) holds for value."""
    if not isinstance(spec, dict):
        return True
    any_, not_any = spec.get("any_"), spec.get("not_any_")
    return (any_ is None or value in any_) and (not not_any or value not in not_any)


def _when(spec: Any, value: float | None) -> bool:
    """``{"before_", "after_", "is_null_"}`` holds for a time (inclusive bounds, as Prefect)."""
    if not isinstance(spec, dict):
        return True
    is_null = spec.get("is_null_")
    if is_null is not None and (value is None) != bool(is_null):
        return False
    for key, sign in (("before_", 1), ("after_", -1)):
        if spec.get(key) is not None:
            t = parse_ts(spec[key])
            if t is None or value is None or (value - t) * sign > 0:
                return False
    return True


class PrefectApi(VendorApi):
    vendor = "prefect"
    #: the API's root under the vendor's prefix (``PREFECT_API_URL`` ends in ``/api``)
    root: ClassVar[str] = "/api"
    unauthorized = "Unauthorized"
    stages = stage_table(pending="PENDING", running="RUNNING", paused="PAUSED",
                         succeeded="COMPLETED", failed="FAILED", cancelling="CANCELLING",
                         cancelled="CANCELLED")

    def credential(self, request: web.Request) -> str:
        if "Authorization" not in request.headers:  # a self-hosted server asks for no key
            return self.world.tokens[self.vendor]
        return super().credential(request)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/health", self.health)
        app.router.add_post("/api/flow_runs/filter", self.filter_runs)
        app.router.add_get("/api/flow_runs/{id}", self.get_run)

    async def health(self, request: web.Request) -> web.Response:
        return json_response(True)

    def _invalid(self, detail: str) -> web.Response:
        return json_response({"exception_message": "Invalid request received.",
                              "exception_detail": [{"msg": detail, "type": "value_error"}],
                              "request_body": None}, status=422)

    async def filter_runs(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            return self._invalid("body is not JSON")
        if not isinstance(body, dict):
            return self._invalid("body must be an object")
        limit, offset = body.get("limit"), body.get("offset") or 0
        limit = MAX_LIMIT if limit is None else limit
        if (not isinstance(limit, int) or not isinstance(offset, int) or limit < 0
                or offset < 0 or limit > MAX_LIMIT):
            return self._invalid(f"limit must be 0-{MAX_LIMIT} and offset >= 0")
        sort = body.get("sort") or "ID_DESC"
        if sort not in SORTS:
            return self._invalid(f"sort must be one of {', '.join(SORTS)}")
        runs_f = body.get("flow_runs") or {}
        flows_f = body.get("flows") or {}
        deps_f = body.get("deployments") or {}
        if not all(isinstance(f, dict) for f in (runs_f, flows_f, deps_f)):
            return self._invalid("filters must be objects")

        def keep(r: SimRun) -> bool:
            state = runs_f.get("state") or {}
            tags = (runs_f.get("tags") or {}).get("all_")
            dep = runs_f.get("deployment_id") or {}
            return (_any(runs_f.get("id"), r.id) and _any(runs_f.get("name"), run_name(r))
                    and _any(state.get("type"), r.status)
                    and _any(state.get("name"), self.state_name(r))
                    and _when(runs_f.get("start_time"), r.started)
                    and _when(runs_f.get("end_time"), ended(r))
                    and _when(runs_f.get("expected_start_time"), r.created)
                    and _any(dep, _uuid(r.workflow.id))
                    and (not tags or set(tags) <= set(r.extra.get("tags", ())))
                    and _any(flows_f.get("id"), r.workflow.id)
                    and _any(flows_f.get("name"), r.workflow.key)
                    and _any(deps_f.get("id"), _uuid(r.workflow.id)))

        key, reverse = SORTS[sort]
        account = self.account_of(request)
        query = orjson.dumps([runs_f, flows_f, deps_f, sort], option=orjson.OPT_SORT_KEYS)
        order = partial(self.listings.get, account, query, keep, key, reverse=reverse)
        items, _ = self.page(request, order, limit, self.render, start=offset)
        return json_response(items)

    async def get_run(self, request: web.Request) -> web.Response:
        run = self.run_of(request, "Flow run not found")
        return json_response(self.served(run, self.render(run)))

    @staticmethod
    def state_name(run: SimRun) -> str:
        return str(run.extra.get("state_name") or run.status.title())

    def render(self, run: SimRun) -> dict[str, Any]:
        wf = run.workflow
        dep = _uuid(wf.id)
        state_id = _uuid(f"{run.id}:{run.status}:{run.updated}")
        total = ((ended(run) or self.world.clock()) - run.started
                 if run.started is not None else 0.0)
        return {
            "id": run.id, "created": stamp(run.created), "updated": stamp(run.updated),
            "name": run_name(run), "flow_id": wf.id, "state_id": state_id,
            "deployment_id": dep, "deployment_version": None,
            "work_queue_name": "default", "flow_version": "1.0", "parameters": {},
            "idempotency_key": None, "context": {},
            "empirical_policy": {"max_retries": 0, "retry_delay_seconds": 0.0, "retries": 0,
                                 "retry_delay": 0, "pause_keys": [], "resuming": False,
                                 "retry_type": None},
            "tags": list(run.extra.get("tags", ())),
            "labels": {"prefect.flow.id": wf.id, "prefect.deployment.id": dep},
            "parent_task_run_id": None,
            "run_count": 1 if run.started is not None else 0,
            "expected_start_time": stamp(run.created), "next_scheduled_start_time": None,
            "start_time": stamp(run.started), "end_time": stamp(ended(run)),
            "total_run_time": round(total, 6), "estimated_run_time": round(total, 6),
            "estimated_start_time_delta": 0.0, "auto_scheduled": False,
            "infrastructure_document_id": None, "infrastructure_pid": None,
            "created_by": None, "work_queue_id": _uuid("queue:default"),
            "work_pool_id": _uuid("pool:default"), "work_pool_name": "default-pool",
            "state": {"id": state_id, "type": run.status, "name": self.state_name(run),
                      "timestamp": stamp(run.updated), "message": run.error,
                      "data": None,
                      "state_details": {"flow_run_id": run.id, "task_run_id": None,
                                        "child_flow_run_id": None, "scheduled_time": None,
                                        "cache_key": None, "cache_expiration": None,
                                        "deferred": False, "untrackable_result": False,
                                        "pause_timeout": None, "pause_reschedule": False,
                                        "pause_key": None, "run_input_keyset": None,
                                        "refresh_cache": None, "retriable": None,
                                        "transition_id": None, "task_parameters_id": None}},
            "job_variables": {}, "state_type": run.status, "state_name": self.state_name(run),
        }
