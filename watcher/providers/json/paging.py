"""``[sources.pagination]``: where the next page is, for each mode.

* ``none``: one request;
* ``link``: the ``Link`` header's ``rel="next"`` URL (followed only on the source's own
  ``base_url``: the token is never sent to another host);
* ``cursor``: a JMESPath ``cursor`` on the page, sent back as ``param``;
* ``page``: ``param`` (default ``page``) counts from ``start`` (1), or the page number a
  ``header`` names (GitLab's ``X-Next-Page``); the end is a short page or an empty header;
* ``offset``: ``param`` (default ``offset``) moves by the items read; a short page ends.

``size`` is sent as ``size_param`` when both are set.  A page state is the value that
goes into ``param`` (``None`` on the first page of cursor mode), or for ``link`` the path
to GET next.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jmespath

from watcher.providers.items import number

#: one ``<url>; rel="next"`` of a Link header
_NEXT = re.compile(r'<([^>]*)>\s*;[^,]*?rel="?([^",;]*(?:\s[^",;]*)*)"?')

DEFAULT_MAX_PAGES = 10


def next_link(header: str | None) -> str | None:
    if not header:
        return None
    for url, rels in _NEXT.findall(header):
        if "next" in rels.split():
            return str(url)
    return None


class Pager:
    """One source's pagination, as configured."""

    __slots__ = ("cursor", "header", "max_pages", "mode", "order_by", "param", "size",
                 "size_param", "start", "stop_at")

    def __init__(self, table: Mapping[str, str]) -> None:
        self.mode = table.get("mode", "none")
        self.param = table.get("param") or {"page": "page", "offset": "offset",
                                            "cursor": "cursor"}.get(self.mode, "")
        self.size = int(table["size"]) if "size" in table else None
        self.size_param = table.get("size_param")
        cursor = table.get("cursor")
        self.cursor = jmespath.compile(cursor) if cursor else None
        self.header = table.get("header")
        self.max_pages = int(table.get("max_pages", DEFAULT_MAX_PAGES))
        self.stop_at = table.get("stop_at") == "watermark"
        self.order_by = table.get("order_by")
        self.start = int(table.get("start", 1 if self.mode == "page" else 0))

    def first(self) -> Any:
        """The first page's state."""
        return self.start if self.mode in ("page", "offset") else None

    def paging(self, state: Any) -> dict[str, Any]:
        """What goes into the request (query or a POST's body) for page ``state``."""
        out: dict[str, Any] = {}
        if self.size is not None and self.size_param:
            out[self.size_param] = self.size
        if self.mode in ("page", "offset") or (self.mode == "cursor" and state is not None):
            out[self.param] = state
        return out

    def next(self, state: Any, page: Any, headers: Mapping[str, str], n: int) -> Any:
        """The next page's state, or ``None`` when this page was the last."""
        mode = self.mode
        if mode == "link":
            return next_link(headers.get("Link"))
        if mode == "cursor":
            assert self.cursor is not None
            try:
                cur = self.cursor.search(page)
            except Exception:  # a JMESPath type error on a hostile page: no cursor
                return None
            if isinstance(cur, int) and not isinstance(cur, bool):
                return cur
            return cur if isinstance(cur, str) and cur else None
        if mode == "page" and self.header:
            return number(headers.get(self.header))
        if mode in ("page", "offset"):
            if n == 0 or (self.size is not None and n < self.size):
                return None
            return state + 1 if mode == "page" else state + n
        return None


def filled_body(body: dict[str, Any], since: str, since_epoch: float, cursor: Any
                ) -> dict[str, Any]:
    """A POST body with ``"{since}"``, ``"{since_epoch}"`` and ``"{cursor}"`` (the page
    state) values set."""
    values = {"{since}": since, "{since_epoch}": since_epoch, "{cursor}": cursor}

    def fill(v: Any) -> Any:
        if isinstance(v, str):
            return values.get(v, v)
        if isinstance(v, dict):
            return {k: fill(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fill(x) for x in v]
        return v

    return fill(body)  # type: ignore[no-any-return]
