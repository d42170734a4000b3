"""Who may read ``/events``, ``/status`` and the status page ``/``.

With ``http_token`` set: a client sends ``Authorization: Bearer <token>``, or
a browser logs in once at ``/login`` (a form posting the token) and gets a
cookie.  The cookie holds an HMAC of a fixed text keyed by the token, never
the token: a stolen cookie does not reveal it, and changing the token logs
every browser out.  It is ``HttpOnly`` (no script reads it) and
``SameSite=Strict`` (no other site's page can make the browser send it).

Without a token, anyone who can reach the port reads run ids, workflow
names, vendor errors and links.  That is fine on loopback; bound beyond it,
these endpoints answer 403 saying why.  ``/metrics``, ``/healthz`` and
``/readyz`` stay open either way, as Prometheus expects, and so does
``/hooks/{source}``: a platform's push carries its own credential, its signature.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from aiohttp import web

COOKIE = "watcher_session"
#: a browser stays logged in this long (or until the token changes)
COOKIE_MAX_AGE = 30 * 86400
EXPOSED = ("http_listen is bound beyond loopback and http_token is not set: /, /status and "
           "/events would show run ids, workflow names and vendor errors to anyone who can "
           "reach this port, so they are refused; set http_token (or http_token_file), or "
           "listen on 127.0.0.1")


def is_loopback(host: str) -> bool:
    """Whether a bind address only accepts local connections (``""`` is every interface)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Access:
    """The token rule of one listener."""

    def __init__(self, token: str | None, *, host: str) -> None:
        self.token = token or None
        #: bound where other machines can connect
        self.exposed = not is_loopback(host)
        self.session = (hmac.new(self.token.encode(), b"watcher status page session",
                                 hashlib.sha256).hexdigest() if self.token else None)

    def token_ok(self, given: str) -> bool:
        return self.token is not None and hmac.compare_digest(given.encode(),
                                                              self.token.encode())

    def allowed(self, request: web.Request) -> bool:
        if self.token is None:
            return not self.exposed
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.token_ok(given.strip()):
            return True
        cookie = request.cookies.get(COOKIE, "")
        return self.session is not None and hmac.compare_digest(cookie.encode(),
                                                                self.session.encode())

    def refusal(self, request: web.Request) -> web.Response | None:
        """None when ``request`` may read; else the JSON answer saying why not."""
        if self.allowed(request):
            return None
        if self.token is None:
            return web.json_response({"error": EXPOSED}, status=403)
        return web.json_response({"error": "a valid bearer token is required"}, status=401,
                                 headers={"WWW-Authenticate": 'Bearer realm="watcher"'})

    def set_cookie(self, resp: web.StreamResponse) -> None:
        assert self.session is not None
        resp.set_cookie(COOKIE, self.session, max_age=COOKIE_MAX_AGE, path="/", httponly=True,
                        samesite="Strict")
