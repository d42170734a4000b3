"""The status page: ``/`` (one HTML page), its script and style, and ``/login``.

Served from package data (``watcher/server/static/``): no build step, no CDN,
nothing fetched from outside, so it works on a machine without internet.  The
page reads ``/status`` every few seconds and follows ``/events``; everything
it shows comes from those two.  A strict Content-Security-Policy keeps it to
its own script and style.
"""

from __future__ import annotations

import html
from importlib.resources import files

from aiohttp import web

from watcher.server.auth import EXPOSED, Access

#: files under static/ the listener serves, with their content types
ASSETS = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8",
          "favicon.svg": "image/svg+xml"}
#: what every page links, so a browser asks for this icon rather than /favicon.ico
ICON = '<link rel="icon" href="static/favicon.svg" type="image/svg+xml">'

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def _static(name: str) -> bytes:
    return (files("watcher.server") / "static" / name).read_bytes()


class StatusPage:
    def __init__(self, access: Access) -> None:
        self.access = access
        self.assets = {name: _static(name) for name in ASSETS}
        self.index = _static("index.html")
        self.login_page = _static("login.html").decode()

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.page)
        app.router.add_post("/login", self.login)
        app.router.add_get("/static/{name}", self.asset)
        # asked for by browsers on their own (viewing /status or /metrics): answered, so
        # that no 404 shows in their console; pages link static/favicon.svg instead
        app.router.add_get("/favicon.ico", self.no_icon)

    async def page(self, request: web.Request) -> web.Response:
        if self.access.allowed(request):
            return web.Response(body=self.index, content_type="text/html", charset="utf-8",
                                headers=HEADERS)
        if self.access.token is None:
            return _html(f"<!doctype html><meta charset=utf-8><title>watcher</title>{ICON}"
                         "<link rel=stylesheet href=static/style.css><main><h1>watcher</h1>"
                         f"<p class=refused>{html.escape(EXPOSED)}</p></main>", 403)
        return self._login("", 401)

    async def login(self, request: web.Request) -> web.Response:
        """A form posting the token; answered with the session cookie and back to ``/``."""
        if self.access.token is None:
            return web.Response(status=303, headers={"Location": "./"})
        form = await request.post()
        given = form.get("token")
        if not isinstance(given, str) or not self.access.token_ok(given.strip()):
            return self._login("That is not the token this daemon was given.", 401)
        resp = web.Response(status=303, headers={"Location": "./"})
        self.access.set_cookie(resp)
        return resp

    async def asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in ASSETS:
            raise web.HTTPNotFound()
        return web.Response(body=self.assets[name], headers={**HEADERS,
                                                             "Content-Type": ASSETS[name]})

    async def no_icon(self, _request: web.Request) -> web.Response:
        return web.Response(status=204, headers={"Cache-Control": "max-age=86400"})

    def _login(self, message: str, status: int) -> web.Response:
        return _html(self.login_page.replace("{message}", html.escape(message)), status)


def _html(body: str, status: int) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html", headers=HEADERS)
