"""``[[heartbeats]]``: outside monitors (a dead man's switch) that watcher pings while well.

``kind`` says how a monitor is told: ``healthchecks`` (Healthchecks.io and
compatible: the URL pinged, ``/start`` at start-up, ``/fail`` with the reason),
``cronitor`` (Cronitor's telemetry URL, ``?state=run|complete|fail``) or ``url``
(a plain GET, nothing when unwell).  Left out, it follows from the URL's host.
The URL is a secret: it identifies the check, and anyone holding it can ping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from watcher.config.options import Check, Duration, Options, Secret
from watcher.config.schema import Expanded
from watcher.config.tables import array_tables, check_name


def _check_url(v: str) -> str | None:
    parts = urlsplit(v)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL"  # never the value: it is a secret
    return None


class HeartbeatConfig(Options):
    """One ``[[heartbeats]]`` table."""

    name: str
    #: the monitor's ping URL (a secret)
    url: Annotated[Secret, Check(_check_url)]
    #: a ping (or fail signal) this often
    interval: Annotated[float, Duration(min=1.0)] = 60.0
    #: one request's limit
    timeout: Annotated[float, Duration(min=0.1)] = 10.0
    #: how the monitor is told (default: from the URL's host)
    kind: Literal["healthchecks", "cronitor", "url"] = None  # type: ignore[assignment]


def kind_of(url: str) -> str:
    """The kind a URL's host says: Healthchecks.io's, Cronitor's, else a plain URL."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "hc-ping.com" or host.endswith(".hc-ping.com") or "healthchecks" in host:
        return "healthchecks"
    if host in ("cronitor.link", "cronitor.io") or host.endswith((".cronitor.link",
                                                                  ".cronitor.io")):
        return "cronitor"
    return "url"


def parse_heartbeats(data: Mapping[str, Any], r: Expanded) -> tuple[HeartbeatConfig, ...]:
    """Every ``[[heartbeats]]`` table; problems go to ``r.problems`` with key paths."""
    out: list[HeartbeatConfig] = []
    names: set[str] = set()
    for path, raw in array_tables(data, "heartbeats", r.problems):
        h = r.validate(HeartbeatConfig, raw, path)
        if not check_name(raw.get("name"), f"{path}.name", names, r.problems) or h is None:
            continue
        out.append(h if h.kind else h.model_copy(update={"kind": kind_of(h.url)}))
    return tuple(out)
