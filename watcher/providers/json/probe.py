"""``watcher check --connect`` for a ``json`` source (and the built-ins made of it): the
first rows page 1 gives (id, raw -> canonical status, updated_at) and what a cycle costs,
so a wrong JMESPath or status map shows before the daemon runs."""

from __future__ import annotations

from typing import Any

from watcher.model import Observation
from watcher.providers.items import preview
from watcher.providers.json.spec import as_rfc3339

#: rows shown of page 1
SHOWN = 5


async def report(p: Any) -> str:
    floor = p.clock() - p.source.lookback
    page, _ = await p.fetch_page(p.pager.first(), p.params(floor), p.feeds()[0], floor, None)
    items = p.spec.items_of(page)
    rows = p.spec.rows_of(items)
    lines = [f"credentials accepted; page 1 lists {len(items)} runs"]
    for item, row in list(zip(items, rows, strict=True))[:SHOWN]:
        obs: list[Observation] = []
        p.observe_rows([item], [row], obs)
        if not obs:
            lines.append(f"  skipped (no usable id or status): {preview(item)}")
            continue
        rid, raw, status, _, _ = obs[0]
        updated = as_rfc3339(p.spec.field(item, "updated_at")) or "-"
        lines.append(f"  {rid}  {raw} -> {status.value}  updated_at {updated}")
    lines.append(cost(p))
    return "\n".join(lines)


def cost(p: Any) -> str:
    """What a cycle with nothing changed costs, in requests."""
    feeds = len(p.feeds())
    o, pager = p.options, p.pager
    text = f"a cycle with nothing changed: {feeds} request{'s' if feeds > 1 else ''}"
    query = {**o.query, **p.source.params}
    filtered = any("{since" in v for v in query.values()) or "{since" in (o.body or "")
    if pager.mode != "none" and not pager.stop_at and not filtered:
        text = (f"a cycle reads every page, up to {pager.max_pages} per feed "
                f"(no stop_at and no {{since}} filter)")
    if o.conditional:
        text += " (page 1 asked with If-None-Match: an unchanged page is a 304)"
    if o.follow_live and p.run_path:
        text += ", plus one per tracked live run the pages no longer show"
    return text
