"""The running daemon reached through its HTTP API (``http_listen``), as ``amtool``
reaches Alertmanager: when ``watcher status`` or ``watcher silence`` finds no state
where its config points (``state_path`` unset in a shell elsewhere than the
daemon's directory), the daemon still says, and keeps, what it really uses.

The config's ``http_token`` is sent; proxies from the environment are not used (the
daemon is local, or named by its config).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from typing import Any

import orjson

from watcher.cli.target import CommandError, headers, url_from_listen
from watcher.config.settings import Config

#: a daemon answers its own listener within this, or is taken as not running
TIMEOUT = 5.0
#: the largest answer read (a /status of thousands of sources is a few MB)
MAX_BODY = 64 * 1024**2
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _refused(e: urllib.error.HTTPError, said: str) -> CommandError:
    """A daemon's refusal, its answer quoted: exit 77 when refused for the token, else 69."""
    return CommandError(f"{said} {e.code} {e.reason}: {e.read(400).decode(errors='replace')}",
                        os.EX_NOPERM if e.code in (401, 403) else os.EX_UNAVAILABLE)


def daemon_put(config: Config, base: str, path: str, body: bytes) -> None:
    """``PUT path`` with a JSON ``body`` to the daemon at ``base``; CommandError unless taken."""
    request = urllib.request.Request(base + path, data=body, method="PUT", headers={
        **headers(config.watcher.http_token, "application/json"),
        "Content-Type": "application/json"})
    try:
        with _DIRECT.open(request, timeout=TIMEOUT):
            return
    except urllib.error.HTTPError as e:
        raise _refused(e, f"the daemon at {base} refused it:") from None
    except (OSError, ValueError) as e:
        raise CommandError(f"the daemon at {base} did not answer: {e}",
                           os.EX_UNAVAILABLE) from None


def daemon_get(config: Config, path: str) -> tuple[str, Any] | None:
    """``GET path`` from the daemon at the config's ``http_listen``: its URL and the
    JSON it answered, or None when no daemon answers there; CommandError when one refuses."""
    listen = config.watcher.http_listen
    if not listen:
        return None
    base = url_from_listen(listen)
    request = urllib.request.Request(
        base + path, headers=headers(config.watcher.http_token, "application/json"))
    try:
        with _DIRECT.open(request, timeout=TIMEOUT) as resp:
            return base, orjson.loads(resp.read(MAX_BODY))
    except urllib.error.HTTPError as e:  # a daemon is there, and refused: not "none answers"
        raise _refused(e, f"the daemon at {base} answered {path} with") from None
    except (OSError, ValueError):  # nothing listens, a timeout, not JSON: no daemon there
        return None
