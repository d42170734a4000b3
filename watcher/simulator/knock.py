"""Simulated Knock API: ``GET /v1/workflow_recipient_runs`` and ``/{id}``.

Faithful where watcher and the official ``knockapi`` SDK depend on it:
Bearer ``sk_`` auth (``X-Knock-Branch`` accepted), ``items`` plus
``page_info`` (``__typename``, ``after``, ``before``, ``page_size``) with
every field the SDK's models require, ``page_size`` 1-50 (default 50),
opaque ``after``/``before`` cursors, the ``status[]`` (repeatable),
``workflow``, ``tenant``, ``has_errors``, ``recipient``, ``starting_at`` and
``ending_at`` filters, no ``failed`` status (a failed run is ``completed``
with ``error_count``), the detail's ``events[]``, and Knock's error body
``{code, message, status, type}``.

Choices where Knock documents nothing: the listing is newest ``inserted_at``
first; cursors are keyset cursors (the last run's ``inserted_at`` and id,
wrapped like Knock's own ``g3QAAAAB...`` Erlang-term cursors), so a deletion
ahead of the reader moves nothing and the ``shift`` fault (which deletes the
run before the next page's first, see :mod:`watcher.simulator.listing`)
leaves later pages intact, as with the real keyset paging; ``starting_at``
and ``ending_at`` bound ``inserted_at`` inclusively; a bad parameter is a
422 ``invalid_params``.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import struct
import uuid
from collections.abc import Callable, Hashable
from typing import Any

from aiohttp import web

from watcher.simulator.api import VendorApi, json_response, stage_table, stamp
from watcher.simulator.listing import Desc, Filters, asked, created, times
from watcher.simulator.world import SimRun

MAX_PAGE_SIZE = 50
STATUSES = ("queued", "processing", "paused", "completed", "cancelled")
_ERROR_KINDS = {400: ("invalid_params", "invalid_request_error"),
                401: ("api_key_missing", "authentication_error"),
                403: ("insufficient_permissions", "authentication_error"),
                404: ("resource_missing", "invalid_request_error"),
                422: ("invalid_params", "invalid_request_error"),
                429: ("rate_limit_exceeded", "rate_limit_error")}


def _uuid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, seed))


def _encode(key: tuple[float, str]) -> str:
    """``%{"k" => "<created>|<id>"}`` in Erlang's external term format, base64url."""
    value = f"{key[0]!r}|{key[1]}".encode()
    return base64.urlsafe_b64encode(b"\x83t" + struct.pack(">I", 1) + b"m" + struct.pack(">I", 1)
                                    + b"km" + struct.pack(">I", len(value)) + value).decode()


def _decode(cursor: str) -> tuple[float, str] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        if not raw.startswith(b"\x83t\x00\x00\x00\x01m\x00\x00\x00\x01km"):
            return None
        created, _, rid = raw[17:].decode().partition("|")
        return (float(created), rid)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


class KnockApi(VendorApi):
    vendor = "knock"
    stages = stage_table(pending="queued", running="processing", paused="paused",
                         succeeded="completed", failed=("completed", {"error_count": 2}),
                         cancelled="cancelled")

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/workflow_recipient_runs", self.list_runs)
        app.router.add_get("/v1/workflow_recipient_runs/{id}", self.get_run)

    def error(self, status: int, message: str, *, code: str = "") -> web.Response:
        default_code, kind = _ERROR_KINDS.get(status, ("internal_server_error", "api_error"))
        # codes are snake_case at Knock; the shared middleware passes other vendors' spelling
        code = code if code.islower() else default_code
        if status == 401:
            message = "No valid API key provided"  # Knock's documented wording
        return json_response({"code": code, "message": message, "status": status,
                              "type": kind}, status=status)

    def move_to_head(self, run: SimRun) -> None:
        self.listings.drop_before(run)

    async def list_runs(self, request: web.Request) -> web.Response:
        try:
            size, query, keep, after, before = _listing_query(request.query)
        except _Invalid as e:
            return self.error(422, str(e), code="invalid_params")
        account = self.account_of(request)

        def order() -> list[SimRun]:
            listing = self.listings.newest_first(account, query, keep)
            if after is not None:
                return listing[bisect.bisect_right(listing, Desc(after), key=_desc):]
            if before is not None:
                end = bisect.bisect_left(listing, Desc(before), key=_desc)
                return listing[max(0, end - size):end]
            return listing

        items, ordered = self.page(request, order, size, self.render)
        served = ordered[:size]
        # a page that does not start the listing has newer runs before it
        newer = bool(served) and served[0] is not self.listings.last[0]
        page_info = {
            "__typename": "PageInfo",
            "after": _encode(created(served[-1])) if len(ordered) > size else None,
            "before": _encode(created(served[0])) if newer else None,
            "page_size": size,
        }
        return json_response({"items": items, "page_info": page_info})

    async def get_run(self, request: web.Request) -> web.Response:
        run = self.run_of(request, "The resource you requested does not exist",
                          code="resource_missing")
        body = self.render(run)
        body["events"] = self.events(run)
        return json_response(self.served(run, body))

    def render(self, run: SimRun) -> dict[str, Any]:
        wf = run.workflow
        # some recipients are objects, not users, as in Knock
        recipient: str | dict[str, str] = run.extra.get("recipient") or (
            {"id": f"project_{run.id[:4]}", "collection": "projects"}
            if run.id[0] in "0123" else f"user_{run.id[:8]}")
        return {
            "__typename": "WorkflowRecipientRun",
            "id": run.id,
            "workflow_run_id": run.extra.get("workflow_run_id") or _uuid("trigger:" + run.id),
            "workflow": wf.key,
            "status": run.status,
            "recipient": recipient,
            "actor": run.extra.get("actor"),
            "tenant": run.extra.get("tenant"),
            "trigger_source": {"type": run.extra.get("trigger", "api"),
                               "cancellation_key": f"{wf.key}-{run.id[:8]}"},
            "error_count": run.error_count,
            "inserted_at": stamp(run.created),
            "updated_at": stamp(run.updated),
        }

    def events(self, run: SimRun) -> list[dict[str, Any]]:
        def event(i: int, name: str, status: str = "ok", at: float = run.created,
                  **extra: Any) -> dict[str, Any]:
            return {"__typename": "WorkflowRecipientRunEvent", "id": _uuid(f"{run.id}:{i}"),
                    "event": name, "status": status, "inserted_at": stamp(at), "attempt": 1,
                    "data": extra.pop("data", {}), "step_ref": extra.get("step_ref"),
                    "step_type": extra.get("step_type")}

        out = [event(0, "workflow_recipient_run.started")]
        for i in range(run.error_count):
            out.append(event(1 + i, "message.send_failed", "error", run.updated,
                             step_ref="email_1", step_type="channel",
                             data={"error": run.error or "The channel provider rejected the "
                                                         "message (HTTP 422)"}))
        if run.status in ("completed", "cancelled"):
            out.append(event(1 + run.error_count, f"workflow_recipient_run.{run.status}",
                             at=run.updated))
        return out


def _desc(run: SimRun) -> Desc:
    """A run's place in a newest-first listing, as a key ``bisect`` can search."""
    return Desc(created(run))


def _recipient(r: SimRun, who: str) -> bool:
    return who in (f"user_{r.id[:8]}", f"project_{r.id[:4]}")


_FILTERS: Filters = {
    "workflow": lambda r, v: r.workflow.key == v,
    "tenant": lambda r, v: r.extra.get("tenant") == v,
    "has_errors": lambda r, v: (r.error_count > 0) == (v.lower() == "true"),
    "recipient": _recipient, "recipient[id]": _recipient,
}
_BOUNDS: Filters = {"starting_at": lambda r, t: r.created >= t,
                    "ending_at": lambda r, t: r.created <= t}


class _Invalid(ValueError):
    """A query parameter Knock would answer 422 for."""


def _listing_query(q: Any) -> tuple[int, Hashable, Callable[[SimRun], bool], Any, Any]:
    """``page_size``, the filters (as a cache key, and whether a run passes them) and the
    ``after``/``before`` cursors of a listing."""
    try:
        size = int(q.get("page_size", "50"))
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise _Invalid(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
    statuses = tuple(q.getall("status[]", []) + q.getall("status", []))
    if any(s not in STATUSES for s in statuses):
        raise _Invalid("status must be one of: " + ", ".join(STATUSES))
    bounded = times(q, _BOUNDS)
    if isinstance(bounded, str):
        raise _Invalid(f"{bounded} must be an ISO 8601 date-time")
    cursors: dict[str, Any] = {}
    for name in ("after", "before"):
        raw = q.get(name)
        if raw is not None:
            key = _decode(raw)
            if key is None:
                raise _Invalid(f"{name} is not a valid cursor")
            cursors[name] = key
    bounds, within = bounded
    filters, matches = asked(q, _FILTERS)

    def keep(r: SimRun) -> bool:
        return (not statuses or r.status in statuses) and matches(r) and within(r)

    return size, (statuses, filters, bounds), keep, cursors.get("after"), cursors.get("before")
