"""Which daemon ``watcher tail`` follows, and with which token, read from its config.

``--url`` is ``http://HOST:PORT[/path]`` or ``https://...``; a bare
``HOST:PORT`` is taken as ``http://HOST:PORT``.  Anything else (``notaurl``,
``ftp://...``) is a usage error (exit 64) at once, never retried.

Only ``http_listen``, ``http_token`` and ``http_token_file`` are read (no
validation of the rest, ``${VAR}`` expanded only where set): tail must work
for someone who may read the config but not every secret the daemon uses.  A
relative ``http_token_file`` is under ``$CREDENTIALS_DIRECTORY`` when set,
else beside the config, as for the daemon.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

import yarl

from watcher.config.credentials import secret_path
from watcher.config.variables import expand_vars, unset_vars

DEFAULT_URL = "http://127.0.0.1:9464"
DEFAULT_CONFIG = "/etc/watcher/watcher.toml"
#: what ``--url`` accepts, as an error message says it
URL_FORMS = ("http://HOST:PORT[/path], https://HOST[:PORT][/path], or HOST:PORT "
             "(taken as http://HOST:PORT)")
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):\d{1,5}(/.*)?$")


class CommandError(Exception):
    """What stops a command reaching or asking a daemon: the message, and the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int) -> int:
    """Say on stderr why a command stops (``watcher: message``); its exit code."""
    print(f"watcher: {message}", file=sys.stderr)
    return code


def daemon_url(text: str) -> str:
    """``--url`` as the URL to dial: ``HOST:PORT`` gets ``http://``; CommandError (64)
    for anything that is not an http(s) URL with a host."""
    url = f"http://{text}" if _HOST_PORT.match(text) else text
    try:
        u = yarl.URL(url)
        usable = u.scheme in ("http", "https") and bool(u.host) and u.port is not None
    except ValueError:  # a port out of range, a malformed IPv6 address
        usable = False
    if not usable:
        raise CommandError(f'--url "{text}" is not a daemon URL; give {URL_FORMS}', os.EX_USAGE)
    return url


def headers(token: str | None, accept: str) -> dict[str, str]:
    """What a request to the daemon carries: the type it asks for, and the bearer token."""
    return {"Accept": accept, **({"Authorization": f"Bearer {token}"} if token else {})}


def url_from_listen(listen: str) -> str:
    """``http_listen`` as the URL a local client dials (a wildcard bind means loopback)."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _section(path: str, *, explicit: bool) -> dict[str, object] | None:
    """The config's ``[watcher]`` table; None when there is no readable config (an error
    only when the file was named with ``-c``)."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        if explicit:
            raise CommandError(f"{path}: cannot read the config: {e}", os.EX_CONFIG) from None
        return None
    section = raw.get("watcher")
    return section if isinstance(section, dict) else {}


def read_token_file(name: str, *, base: Path, env: Mapping[str, str]) -> str:
    p = secret_path(name, base=base, env=env)
    try:
        token = p.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise CommandError(f"cannot read the token file {p}: {e.strerror or e}",
                           os.EX_NOINPUT) from None
    if not token:
        raise CommandError(f"the token file {p} is empty", os.EX_NOINPUT)
    return token


def from_config(config: str | None, env: Mapping[str, str] = os.environ, *,
                need_url: bool = True) -> tuple[str, str | None]:
    """The daemon's URL and token per its config (``-c``, else ``$WATCHER_CONFIG``, else
    the default path); the default URL and no token when there is none."""
    path = config or env.get("WATCHER_CONFIG") or DEFAULT_CONFIG
    section = _section(path, explicit=bool(config or env.get("WATCHER_CONFIG")))
    if section is None:
        return DEFAULT_URL, None
    listen = section.get("http_listen", "127.0.0.1:9464")
    if listen == "" and need_url:
        raise CommandError(f"{path}: http_listen is disabled, so there is no /events to "
                           "follow; enable it or pass --url", os.EX_CONFIG)
    url = url_from_listen(listen) if isinstance(listen, str) and ":" in listen else DEFAULT_URL
    token_file = section.get("http_token_file")
    if isinstance(token_file, str):
        return url, read_token_file(token_file, base=Path(path).parent, env=env)
    token = section.get("http_token")
    if isinstance(token, str) and not unset_vars(token, env):
        return url, expand_vars(token, env) or None
    return url, None
