"""Who may read /, /status and /events: the token, the login cookie, and the rule that a
listener bound beyond loopback without a token refuses them (and `check` warns)."""

from __future__ import annotations

import signal
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.http_support import eventually, free_port, http_get
from tests.support import DaemonProc, SimThread, run_cli, sim_source, toml

TOKEN = "access-test-token-77c2e0"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def post_login(base: str, token: str) -> tuple[int, dict[str, str]]:
    """POST the login form; the status and headers, redirects not followed."""
    data = urllib.parse.urlencode({"token": token}).encode()
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(base + "/login", data=data), timeout=5) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)


def start(sim: SimThread, tmp_path: Path, listen_host: str, **watcher: str) -> tuple[
        DaemonProc, str, Path]:
    port = free_port()
    cfg = tmp_path / "watcher.toml"
    cfg.write_text(toml({"state_path": ":memory:", "http_listen": f"{listen_host}:{port}",
                         **watcher}, [sim_source(sim.url, sim.world, "extend")],
                        [{"name": "out", "type": "stdout"}]))
    d = DaemonProc("run", "-c", str(cfg), env={"WATCHER_HTTP_TOKEN": TOKEN})
    base = f"http://127.0.0.1:{port}"
    eventually(lambda: http_get(base + "/healthz")[0] == 200, what="listener up")
    return d, base, cfg


@pytest.fixture
def procs() -> Iterator[list[DaemonProc]]:
    started: list[DaemonProc] = []
    yield started
    for d in started:
        assert d.stop(signal.SIGTERM) == 0, d.err_text()[-2000:]


def test_bound_beyond_loopback_without_a_token_the_data_is_refused_and_probes_stay_open(
        sim_thread: SimThread, tmp_path: Path, procs: list[DaemonProc]) -> None:
    """On 0.0.0.0 without http_token, /, /status and /events answer 403 saying why, while
    /metrics, /healthz and /readyz answer; `watcher check` warns about it."""
    d, base, cfg = start(sim_thread, tmp_path, "0.0.0.0")
    procs.append(d)
    for path in ("/", "/status", "/events"):
        code, body = http_get(base + path)
        assert code == 403 and b"beyond loopback" in body and b"http_token" in body, path
    eventually(lambda: http_get(base + "/readyz")[0] == 200, what="ready")
    assert http_get(base + "/metrics")[0] == 200 and http_get(base + "/healthz")[0] == 200
    checked = run_cli("check", "-c", str(cfg))
    assert checked.returncode == 0
    assert b"warning: http_listen is bound beyond loopback" in checked.stderr
    on_loopback = tmp_path / "loopback.toml"
    on_loopback.write_text(cfg.read_text().replace("0.0.0.0:", "127.0.0.1:"))
    assert b"warning" not in run_cli("check", "-c", str(on_loopback)).stderr


def test_with_a_token_bearer_and_login_cookie_open_status_and_events(
        sim_thread: SimThread, tmp_path: Path, procs: list[DaemonProc]) -> None:
    """With http_token, /status needs the bearer token or the cookie /login sets; the
    cookie is HttpOnly, SameSite=Strict and not the token; a wrong token gets no cookie."""
    d, base, _ = start(sim_thread, tmp_path, "0.0.0.0", http_token="${WATCHER_HTTP_TOKEN}")
    procs.append(d)
    assert http_get(base + "/status")[0] == 401
    assert http_get(base + "/events")[0] == 401
    assert http_get(base + "/status", {"Authorization": f"Bearer {TOKEN}"})[0] == 200

    code, headers = post_login(base, "not-the-token")
    assert code == 401 and "Set-Cookie" not in headers
    code, headers = post_login(base, TOKEN)
    assert code == 303 and headers["Location"] == "./"
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    session = cookie.split(";")[0]
    assert http_get(base + "/status", {"Cookie": session})[0] == 200
    page_code, page = http_get(base + "/", {"Cookie": session})
    assert page_code == 200 and b"static/app.js" in page
    assert http_get(base + "/status", {"Cookie": session[:-2] + "00"})[0] == 401
