"""Which request each kind of monitor gets for a start, a ping and a fail."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from watcher.runtime.heartbeats import MESSAGE_MAX, request

HC = "https://hc-ping.com/3f1c2a9e"
CR = "https://cronitor.link/p/KEY/watcher"


def test_each_kind_gets_its_own_start_ping_and_fail() -> None:
    """healthchecks: GET /start, GET the URL, POST /fail with the reason as the body;
    cronitor: state=run, state=complete, state=fail with the reason as message (cut at
    Cronitor's 2000 characters); url: only the ping."""
    assert request("healthchecks", HC + "/", "start") == ("GET", HC + "/start", b"")
    assert request("healthchecks", HC, "ping") == ("GET", HC, b"")
    assert request("healthchecks", HC, "fail", "store down") == \
        ("POST", HC + "/fail", b"store down")
    assert request("cronitor", CR, "start")[1] == CR + "?state=run"
    assert request("cronitor", CR, "ping")[1] == CR + "?state=complete"
    method, url, body = request("cronitor", CR + "?env=prod", "fail", "x" * 3000)
    query = parse_qs(urlsplit(url).query)
    assert (method, body, query["env"], query["state"]) == ("GET", b"", ["prod"], ["fail"])
    assert query["message"] == ["x" * MESSAGE_MAX]
    assert request("url", "https://example.org/beat", "ping") == \
        ("GET", "https://example.org/beat", b"")
    assert request("url", "https://example.org/beat", "start")[1] == ""
    assert request("url", "https://example.org/beat", "fail", "why")[1] == ""
