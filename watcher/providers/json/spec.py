"""``[sources.fields]`` compiled once: one JMESPath projection per page for what the diff
reads, the other fields read per item only for runs that produce an event.

A page's rows come from a single expression, ``[*].[(id), (status), (updated_at),
(order)]``, evaluated over the page's item list (as one Python comprehension where the
fields are names, dotted paths and ``||``: :mod:`watcher.providers.json.fast`).  JMESPath drops an item for which a
projection yields null (an item that is null) and raises on a type error (``join`` over
a number): a page where either happens is read again item by item, so one bad item is
skipped, never the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jmespath
from jmespath.parser import ParsedResult

from watcher.core.timestamps import FIRST, LAST, format_ts, parse_ts, rfc3339
from watcher.errors import BadPayload
from watcher.providers.json.fast import compile_rows

#: an epoch number above this is milliseconds (1e11 seconds is the year 5138)
MILLIS = 1e11
#: the optional event fields an item is read for, when it produces an event
DETAIL_KEYS = ("updated_at", "created_at", "workflow_id", "workflow_name", "url", "error")

#: ``[id, status, updated_at, order]`` of one item, as JMESPath gave them
Row = list[Any]


def epoch(value: Any) -> float | None:
    """A vendor time: RFC 3339, epoch seconds or epoch milliseconds, else ``None``."""
    if isinstance(value, str):
        return parse_ts(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        ts = value / 1000.0 if abs(value) >= MILLIS else float(value)
        return ts if FIRST <= ts <= LAST else None
    return None


def as_rfc3339(value: Any) -> str | None:
    """A vendor time as an event states it (RFC 3339 with an offset), else ``None``."""
    if isinstance(value, str):
        return rfc3339(value)
    ts = epoch(value)
    return None if ts is None else format_ts(ts)


def _safe(expr: ParsedResult, value: Any) -> Any:
    try:
        return expr.search(value)
    except Exception:  # a JMESPath type error on a hostile item: no value
        return None


class Spec:
    """The compiled fields of one source."""

    __slots__ = ("details", "fast", "has_updated", "items", "row", "rows")

    def __init__(self, fields: Mapping[str, str], order_by: str | None = None) -> None:
        self.items = jmespath.compile(fields["items"])
        self.has_updated = "updated_at" in fields
        cols = [fields["id"], fields["status"], fields.get("updated_at", "`null`"),
                order_by or fields.get("updated_at", "`null`")]
        inner = ", ".join(f"({c})" for c in cols)
        #: the same projection as a comprehension, where the fields allow (fast.py)
        self.fast = compile_rows(cols)
        self.rows = jmespath.compile(f"[*].[{inner}]")
        self.row = jmespath.compile(f"[{inner}]")
        self.details = {k: jmespath.compile(fields[k]) for k in DETAIL_KEYS if k in fields}

    def items_of(self, page: Any) -> list[Any]:
        """The page's run items, or :class:`BadPayload` when the page holds no list."""
        items = _safe(self.items, page)
        if not isinstance(items, list):
            raise BadPayload(f"the page holds no list of runs where fields.items says "
                             f"({self.items.expression!r}): {type(items).__name__}")
        return items

    def rows_of(self, items: list[Any]) -> list[Row]:
        """One row per item, aligned with ``items``."""
        if self.fast is not None:
            try:
                return self.fast(items)
            except AttributeError:  # an item that is no object: JMESPath skips just it
                pass
        try:
            rows = self.rows.search(items)
        except Exception:  # a JMESPath type error somewhere on the page
            rows = None
        if isinstance(rows, list) and len(rows) == len(items):
            return rows
        return [self.row_of(it) for it in items]

    def row_of(self, item: Any) -> Row:
        row = _safe(self.row, item) if item is not None else None
        return row if isinstance(row, list) else [None, None, None, None]

    def field(self, item: Any, key: str) -> Any:
        expr = self.details.get(key)
        return None if expr is None else _safe(expr, item)
