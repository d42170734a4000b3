"""``/silences``: the running daemon's silences, for ``watcher silence`` from a shell
whose config points to no state (as ``amtool`` acts through Alertmanager), so a
silence lands in the state the daemon really reads.

``GET /silences`` lists every stored silence (the store's records, oldest first);
``PUT /silences/{id}`` stores one (a new silence, or one ended early by ``silence
expire``), a JSON object as ``watcher silence`` builds it.  Both follow the listener's
token rule; a write also needs ``Content-Type: application/json`` (no HTML form can
send one across sites) and fits the listener's 4 KB body limit.  The daemon applies
a stored silence within a second, as any other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

import orjson
from aiohttp import web

from watcher.config.match import check_match
from watcher.core.silences import Silence, stored_form
from watcher.core.timestamps import FIRST, LAST
from watcher.errors import StoreError
from watcher.server.auth import Access
from watcher.state import silences as stored
from watcher.state.store import Store

#: what a stored silence's fields must hold
_TEXT = ("id", "author", "comment")
_TIMES = ("starts", "ends", "created")


def _problem(d: object, path_id: str) -> str | None:
    """What is wrong with a silence sent to be stored (as JSON), or None; its match is
    validated as a config's and put in its stored form."""
    if not isinstance(d, dict):
        return "a silence is a JSON object"
    sid = d.get("id")
    if sid != path_id or not isinstance(sid, str) or not sid.isalnum() or len(sid) > 64:
        return "the silence's id must be the one in the URL (letters and digits)"
    if not all(isinstance(d.get(k), str) for k in _TEXT):
        return "id, author and comment must be strings"
    times = [d.get(k) for k in _TIMES] + ([d["expired"]] if d.get("expired") is not None else [])
    if not all(isinstance(t, int | float) and not isinstance(t, bool) and FIRST <= t <= LAST
               for t in times):
        return "starts, ends, created and expired must be epoch seconds of years 1 to 9999"
    if d["ends"] <= d["starts"]:  # no bound on its length: `watcher silence add --force`
        return "a silence ends after it starts"
    match = d.get("match")
    if not isinstance(match, dict) or not match or not all(
            isinstance(v, list) and v and all(isinstance(x, str) for x in v)
            for v in match.values()):
        return "match must map keys to lists of strings"
    matcher, found = check_match(match)
    if found:
        return "; ".join(f"match.{key}: {what}" for key, what in found)
    d["match"] = stored_form(matcher)  # short type names made full, as the CLI stores them
    sinks = d.get("sinks", [])
    if not isinstance(sinks, list) or not all(isinstance(x, str) for x in sinks):
        return "sinks must be a list of names"
    return None


class SilenceApi:
    def __init__(self, access: Access, store: Callable[[], Store | None]) -> None:
        self.access = access
        self.store = store

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/silences", self.index)
        app.router.add_put("/silences/{id}", self.put)

    def _store(self, request: web.Request) -> Store | web.Response:
        refused = self.access.refusal(request)
        if refused is not None:
            return refused
        store = self.store()
        if store is None or not store.persistent:
            return web.json_response({"error": "this daemon keeps no state a silence could "
                                               "be kept in"}, status=409)
        return store

    async def index(self, request: web.Request) -> web.Response:
        store = self._store(request)
        if isinstance(store, web.Response):
            return store
        try:
            silences, _ = await stored.stored(store)
        except StoreError as e:
            return web.json_response({"error": f"state store unreadable: {e}"}, status=503)
        return web.json_response([asdict(s) for s in silences],
                                 headers={"Cache-Control": "no-store"})

    async def put(self, request: web.Request) -> web.Response:
        store = self._store(request)
        if isinstance(store, web.Response):
            return store
        if request.content_type != "application/json":
            return web.json_response({"error": "send the silence as application/json"},
                                     status=415)
        silence: Silence | None = None
        try:
            d = orjson.loads(await request.read())
            problem = _problem(d, request.match_info["id"])
            if problem is None:
                silence = Silence.decode(orjson.dumps(d))
        except (ValueError, KeyError, TypeError, AttributeError):
            problem = "not a silence"
        if silence is None:
            return web.json_response({"error": problem}, status=400)
        try:
            await stored.save(store, silence)
        except StoreError as e:
            return web.json_response({"error": f"could not store it: {e}"}, status=503)
        return web.json_response(asdict(silence), status=200)
