"""The ``json`` provider's keys: a JSON API that lists runs, described entirely by config.

``[sources.fields]`` are JMESPath expressions (``items`` on a page, the rest on an
item), ``[sources.pagination]`` says how to reach the next page and when to stop,
``[sources.status_map]`` maps the vendor's status values to canonical ones.  Each is
checked here, once, so a typo is a config error at its key path, never a failed poll.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import jmespath
import orjson
from jmespath.exceptions import JMESPathError

from watcher.config.hints import hint
from watcher.config.kinds import At
from watcher.config.options import Check, Duration, Options, StrList, Table
from watcher.model import Status

#: every key of ``[sources.fields]``; the first three are required
FIELD_KEYS = ("items", "id", "status", "updated_at", "created_at", "workflow_id",
              "workflow_name", "url", "error")
REQUIRED_FIELDS = ("items", "id", "status")
MODES = ("none", "link", "cursor", "page", "offset")
PAGINATION_KEYS = ("mode", "param", "size", "size_param", "cursor", "header", "max_pages",
                   "stop_at", "order_by", "start")
#: the pagination keys that hold a JMESPath expression
PAGINATION_PATHS = ("cursor", "order_by")
INT_KEYS = ("size", "max_pages", "start")
CANONICAL = tuple(s.value for s in Status if s is not Status.UNKNOWN)


def _compiles(expr: str) -> str | None:
    try:
        jmespath.compile(expr)
    except JMESPathError as e:
        return f"{expr!r} is not a JMESPath expression: {str(e).splitlines()[0]}"
    return None


def check_fields(table: Mapping[str, str]) -> str | None:
    for key, expr in table.items():
        if key not in FIELD_KEYS:
            return At(key, f"unknown field (fields: {', '.join(FIELD_KEYS)})")
        problem = _compiles(expr)
        if problem:
            return At(key, problem)
    missing = [k for k in REQUIRED_FIELDS if k not in table]
    if missing:
        return f"needs {', '.join(missing)} (JMESPath: where a page keeps its runs, and an " \
               "item its id and status)"
    return None


def check_pagination(table: Mapping[str, str]) -> str | None:
    for key, value in table.items():
        if key not in PAGINATION_KEYS:
            return At(key, f"unknown key{hint(key, PAGINATION_KEYS)} "
                           f"(keys: {', '.join(PAGINATION_KEYS)})")
        least = 0 if key == "start" else 1
        if key in INT_KEYS and not (value.isdigit() and int(value) >= least):
            return At(key, f"{value!r} must be a positive integer")
        if key in PAGINATION_PATHS and _compiles(value):
            return At(key, _compiles(value) or "")
    mode = table.get("mode", "none")
    if mode not in MODES:
        return At("mode", f"{mode!r} must be one of {', '.join(MODES)}" + hint(mode, MODES))
    if mode == "cursor" and "cursor" not in table:
        return At("cursor", "cursor mode needs the JMESPath of the next cursor on a page")
    if table.get("stop_at", "watermark") != "watermark":
        return At("stop_at", f"{table['stop_at']!r}: the only stop is \"watermark\"")
    return None


def check_status_map(table: Mapping[str, str]) -> str | None:
    for raw, status in table.items():
        if status not in CANONICAL:
            return At(raw, f"{status!r} is no canonical status ({', '.join(CANONICAL)})")
    return None


def check_body(text: str) -> str | None:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        return f"is not JSON: {e}"
    return None if isinstance(value, dict) else "must be a JSON object"


def check_auth(value: str) -> str | None:
    if value in ("bearer", "none") or (value.startswith("header:") and len(value) > 7):
        return None
    return f'{value!r} must be "bearer", "none" or "header:NAME"'


def body_of(text: str | None) -> dict[str, Any] | None:
    return None if text is None else orjson.loads(text)


#: a table of JMESPath fields, of pagination keys, of vendor -> canonical statuses
Fields = Annotated[Table, Check(check_fields)]
Pagination = Annotated[Table, Check(check_pagination)]
StatusMap = Annotated[Table, Check(check_status_map)]
Body = Annotated[str, Check(check_body)]
Auth = Annotated[str, Check(check_auth)]


class JsonOptions(Options):
    """A run listing, described: the request, where its fields are, how it pages."""

    #: the listing's path under ``base_url``; ``{name}`` takes the provider's own keys
    path: str
    method: Literal["GET", "POST"] = "GET"
    #: a POST's JSON body; a string value ``"{since}"``, ``"{since_epoch}"`` or
    #: ``"{cursor}"`` is filled in per request (so are params' values)
    body: Body | None = None
    #: query parameters a built-in sends; a source's ``params`` add to them (and win)
    query: Table = {}
    #: how the token is sent: ``bearer``, ``header:NAME`` or ``none``
    auth: Auth = "bearer"
    fields: Fields
    pagination: Pagination = {}
    status_map: StatusMap = {}
    #: where the next ``{since}`` comes from: the newest ``updated_at`` read (``items``)
    #: or this cycle's request time (``request``: an API that filters on a time it
    #: does not return), minus ``overlap``
    watermark: Literal["items", "request"] = "items"
    overlap: Annotated[float, Duration(min=0.0)] = 300.0
    #: one run by id (``{id}``): live runs a cycle's pages did not show are re-read
    #: there when ``follow_live`` is set
    run_path: str | None = None
    follow_live: bool = False
    #: ask page 1 again with ``If-None-Match``: a 304 means no change there
    conditional: bool = False
    #: an item's top-level fields left out of ``data.run`` (bulky; ``keep_fields`` wins)
    trim: StrList = ()
