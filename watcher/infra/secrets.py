"""Secrets masked one way, wherever a text leaves the process.

A secret (a token, a webhook URL, a signing secret, a header value, a database
password) is replaced by ``***`` wherever it appears: in a log line, a sink's
failure reason (stored with dead letters), a store's error, ``watcher status``
and ``watcher check``.  The longest secrets are replaced first, in one pass, so a
secret that holds another (``Bearer <token>`` beside the token) is masked whole
rather than leaving its other part readable.  A value shorter than three
characters is not masked: a header ``X-Version: 1`` would otherwise blank every
``1`` of every message.

A URL is shown with its password as ``***``
(``postgresql://watcher:***@db:5432/watcher``), and with the password masked
wherever else the URL repeats it (a user or a database of the same name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

MASK = "***"
#: shorter values are not masked (see the module docstring)
SHORTEST = 3


class Masker:
    """Replaces each of a set of secrets by ``***`` in a text."""

    __slots__ = ("_pattern",)

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._pattern: re.Pattern[str] | None = None
        self.update(secrets)

    def update(self, secrets: Iterable[str | None]) -> None:
        """Mask ``secrets`` from now on, instead of those given before."""
        found = sorted({s for s in secrets if s and len(s) >= SHORTEST}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, found))) if found else None

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``***``."""
        return self._pattern.sub(MASK, text) if self._pattern else text

    def __bool__(self) -> bool:
        """Is there anything to mask?"""
        return self._pattern is not None


def password_of(url: str) -> str | None:
    """The password a URL carries (decoded), or None."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def masked_url(url: str) -> str:
    """``url`` fit to show: its password (if any) as ``***``; anything not a URL as it is."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, tail = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return Masker([password_of(url)]).redact(f"{scheme}://{user}:{MASK}@{hostport}{slash}{tail}")
