"""What a vendor item may hold, and how what is unusable becomes ``None`` or smaller.

Any field of any vendor item may be missing or have any JSON type, or be a
megabyte long.  The run id and status decide whether an item is a run at all
(see :class:`~watcher.providers.base.BaseProvider`); every other field only
describes it, so these helpers turn an unusable one into ``None`` (a string
where an object is documented, a number for a timestamp) or cut it down, and
an event stays small and holds its schema whatever the vendor sends: ids and
names are strings, timestamps RFC 3339 with an offset
(:func:`~watcher.core.timestamps.rfc3339`), URLs http(s) ones, or ``None``; the
vendor's value stays in ``data.run`` as received.  They run only for runs that
produce an event, never on the hot path.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import orjson

from watcher.model import MAX_RUN_ID

#: a run id or workflow id longer than this is not one (vendors' ids are 20-40 characters)
MAX_ID = MAX_RUN_ID
#: a status string longer than this is not a status
MAX_STATUS = 64
MAX_NAME = 512
MAX_URL = 2048
#: error text kept in an event; a stack trace's first lines fit
MAX_ERROR = 4096
#: an item's JSON up to this size is kept whole in ``data.run``; a bigger one is cut down
MAX_RUN = 32 * 1024
#: in a cut-down item: each string, and how deep objects and arrays may nest
MAX_FIELD = 2048
MAX_DEPTH = 16
ELLIPSIS = "…"


def short(value: Any, limit: int) -> str | None:
    """``value`` if it is a non-empty string of at most ``limit`` characters, else ``None``
    (for ids, timestamps and URLs, which are wrong when cut)."""
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def number(value: str | None) -> int | None:
    """A count or page number a vendor's header states: 1-18 ASCII digits, else ``None``
    (``"²".isdigit()`` holds but ``int`` refuses it, as it does 4,301 digits)."""
    if value is None or not (0 < len(value) <= 18 and value.isascii() and value.isdigit()):
        return None
    return int(value)


def ident(value: Any) -> str | None:
    """An id as an event states it: a non-empty string of at most :data:`MAX_ID` characters,
    or an integer as its decimal string (some vendors number their workflows), else
    ``None``.  (Not for run ids: a run must never be known under two ids.)"""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return short(value, MAX_ID)


def link(value: Any) -> str | None:
    """``value`` if it is an absolute http(s) URL of at most :data:`MAX_URL` characters
    (with no space or control character), else ``None``: a consumer may open it."""
    url = short(value, MAX_URL)
    if url is None or not url.isprintable() or " " in url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a bad IPv6 literal
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def text(value: Any, limit: int) -> str | None:
    """``value`` if it is a string, cut to ``limit`` characters; else ``None``."""
    if not isinstance(value, str):
        return None
    return value if len(value) <= limit else value[:limit - 1] + ELLIPSIS


def first_text(item: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first non-empty string among ``item[key]`` for ``keys``, cut to :data:`MAX_ERROR`."""
    for key in keys:
        value = item.get(key)
        if isinstance(value, str) and value:
            return text(value, MAX_ERROR)
    return None


def bounded(run: dict[str, Any]) -> dict[str, Any]:
    """``run`` as ``data.run`` may hold it: whole when its JSON is small, else a copy with
    long strings cut, deep nesting dropped and the rest cut off past :data:`MAX_RUN`."""
    try:
        # Written four levels deeper than itself: an event in a batch and a state snapshot
        # hold the run three levels down, and orjson refuses to write more than 254.
        if len(orjson.dumps([[[[run]]]])) <= MAX_RUN:
            return run
    except orjson.JSONEncodeError:
        pass
    out = _Budget(MAX_RUN).copy(run, 0)
    return out if isinstance(out, dict) else {}


class _Budget:
    """Characters left for the cut-down copy."""

    __slots__ = ("left",)

    def __init__(self, left: int) -> None:
        self.left = left

    def copy(self, value: Any, depth: int) -> Any:
        if isinstance(value, str):
            value = text(value, MAX_FIELD)
            self.left -= len(value)
            return value
        if isinstance(value, dict | list) and depth >= MAX_DEPTH:
            return None
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for k, v in value.items():
                if self.left <= 0:
                    out[ELLIPSIS] = "cut: the run is too large"
                    break
                key = text(k, MAX_FIELD) or ""
                self.left -= len(key)
                out[key] = self.copy(v, depth + 1)
            return out
        if isinstance(value, list):
            items: list[Any] = []
            for v in value:
                if self.left <= 0:
                    items.append(ELLIPSIS)
                    break
                items.append(self.copy(v, depth + 1))
            return items
        self.left -= 8  # a number, a boolean, null
        return value


def dotted(path: Any) -> str:
    """A validation error's location (``["query", "size"]``) as ``query.size``, whatever
    the vendor put there."""
    if isinstance(path, list):
        return ".".join(map(str, path))
    return "" if path is None else str(path)


def preview(value: Any) -> str:
    """A short ``repr`` of an unusable value, for a log line."""
    r = repr(value) if not isinstance(value, str | list | dict) or len(value) <= 40 else (
        f"<{type(value).__name__} of length {len(value)}>")
    return r if len(r) <= 80 else r[:79] + ELLIPSIS
