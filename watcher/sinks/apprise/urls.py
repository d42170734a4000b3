"""Apprise at arm's length: imported only when needed (it is an optional extra), its URLs
checked at config time, one notify call for a worker thread, and its log kept to itself.

Apprise logs through the standard library and quotes URLs (credentials
included) in what it says, so its logger is detached from the process's
handlers the first time it is imported here; what it logs during a notify
is collected for that call alone, and becomes a reason only once the URLs'
secrets are scrubbed from it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

EXTRA = 'needs Apprise, an optional extra: pip install "workflow-watcher[apprise]"'
#: how much of what Apprise logged a reason quotes
SAID_MAX = 300


class _Capture(logging.Handler):
    """Apprise's log lines, collected per thread while a call asks for them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        lines = getattr(self.local, "lines", None)
        if lines is not None:
            lines.append(record.getMessage())

    @contextmanager
    def collect(self) -> Iterator[list[str]]:
        lines: list[str] = []
        self.local.lines = lines
        try:
            yield lines
        finally:
            self.local.lines = None


_CAPTURE = _Capture()


def module() -> Any | None:
    """The ``apprise`` module, or ``None`` when the extra is not installed."""
    try:
        import apprise
    except ImportError:
        return None
    logger = logging.getLogger("apprise")
    if _CAPTURE not in logger.handlers:
        logger.propagate = False  # its lines quote URLs: never to stderr as they are
        logger.addHandler(_CAPTURE)
    return apprise


def check_urls(urls: Sequence[str]) -> str | None:
    """Config check: Apprise is installed and can send to every URL (never quoted back)."""
    if not urls:
        return "must list at least one Apprise URL"
    apprise = module()
    if apprise is None:
        return EXTRA
    bad = [f"urls[{i}] ({_scheme(u)})" for i, u in enumerate(urls)
           if apprise.Apprise.instantiate(u) is None]
    if bad:
        return f"{', '.join(bad)}: not a URL Apprise can send to (see Apprise's URL syntax)"
    return None


def _scheme(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    return f"{scheme}://" if sep and scheme.isalnum() and len(scheme) <= 20 else "no scheme"


def load(url: str) -> Any:
    """An Apprise object sending to ``url`` alone (checked at config time)."""
    apprise = module()
    assert apprise is not None, EXTRA
    target = apprise.Apprise()
    target.add(url)
    return target


def send(target: Any, title: str, body: str, severity: str) -> str | None:
    """Notify (in a worker thread); ``None`` once the service took it, else what Apprise
    said about it (not yet scrubbed)."""
    with _CAPTURE.collect() as lines:
        try:
            ok = target.notify(body=body, title=title, notify_type=severity,
                               body_format="text")
        except Exception as e:  # a service plugin's bug is a failed notification
            return f"{type(e).__name__}: {e}"[:SAID_MAX]
    if ok:
        return None
    return " ".join(lines[-2:])[:SAID_MAX] or "Apprise could not send the notification"


#: Apprise's own URL schemes for a POST to any HTTP server (the host is the URL's own)
GENERIC = ("json", "jsons", "xml", "xmls", "form", "forms")


def http_target(target: Any) -> str | None:
    """The ``scheme://host[:port]`` an Apprise URL's notifications go to, when it can be
    told: a service's fixed API host (Discord, Telegram...) or a generic JSON/XML/form
    URL's own host; ``None`` otherwise (email, a service whose host is in its token)."""
    plugin = target[0]
    fixed = getattr(plugin, "notify_url", None)
    if isinstance(fixed, str) and fixed.startswith(("https://", "http://")):
        parts = urlsplit(fixed)
        if parts.hostname and "{" not in parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    protocols = {*_names(getattr(plugin, "protocol", None)),
                 *_names(getattr(plugin, "secure_protocol", None))}
    host = getattr(plugin, "host", None)
    if protocols & set(GENERIC) and isinstance(host, str) and host:
        port = getattr(plugin, "port", None)
        scheme = "https" if getattr(plugin, "secure", False) else "http"
        return f"{scheme}://{host}" + (f":{port}" if port else "")
    return None


def _names(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, tuple | list) \
        else ()


def secrets_of(urls: Sequence[str]) -> tuple[str, ...]:
    """Each URL and the parts of it that may be credentials: user, password, path segments
    and query values (a Discord webhook's token is a path segment)."""
    out: set[str] = set()
    for url in urls:
        out.add(url)
        try:
            parts = urlsplit(url)
            pieces = [parts.username, parts.password, *parts.path.split("/"),
                      *(v for _, v in parse_qsl(parts.query))]
        except ValueError:
            continue
        out.update(unquote(p) for p in pieces if p and len(p) >= 4)
        out.update(p for p in pieces if p and len(p) >= 4)
    return tuple(out)
