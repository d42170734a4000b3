"""Database URLs in the configuration: which are PostgreSQL's.

A ``state_path`` such as ``postgresql://watcher:pw@db:5432/watcher`` carries a
password; it is a secret like a token, shown with the password as ``***``
(:func:`watcher.infra.secrets.masked_url`).
"""

from __future__ import annotations

SCHEMES = ("postgresql", "postgres")


def is_postgres(url: str) -> bool:
    """``url`` names a PostgreSQL server (``postgresql://`` or ``postgres://``)."""
    scheme, sep, _ = url.partition("://")
    return bool(sep) and scheme.lower() in SCHEMES
