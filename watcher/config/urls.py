"""Database URLs in the configuration: which are PostgreSQL's, and how to show one.

A ``state_path`` such as ``postgresql://watcher:pw@db:5432/watcher`` carries a
password; it is a secret like a token.  It is shown (``watcher check``, logs,
``watcher status``, error messages) with the password as ``***``.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

MASK = "***"
SCHEMES = ("postgresql", "postgres")


def is_postgres(url: str) -> bool:
    """``url`` names a PostgreSQL server (``postgresql://`` or ``postgres://``)."""
    scheme, sep, _ = url.partition("://")
    return bool(sep) and scheme.lower() in SCHEMES


def password_of(url: str) -> str | None:
    """The password a URL carries (decoded), or None."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def masked(url: str) -> str:
    """``url`` with its password (if any) as ``***``; anything not a URL as it is."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    netloc, slash, tail = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:{MASK}@{hostport}{slash}{tail}"
