"""``[[heartbeats]]``: outside monitors (a dead man's switch) that watcher pings while well.

``kind`` says how a monitor is told: ``healthchecks`` (Healthchecks.io and
compatible: the URL pinged, ``/start`` at start-up, ``/fail`` with the reason),
``cronitor`` (Cronitor's telemetry URL, ``?state=run|complete|fail``) or ``url``
(a plain GET, nothing when unwell).  Left out, it follows from the URL's host.
The URL is a secret: it identifies the check, and anyone holding it can ping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from watcher.config.options import fields_of, option
from watcher.config.rules import NameCheck
from watcher.config.schema import Resolver
from watcher.config.tables import array_tables

KINDS = ("healthchecks", "cronitor", "url")


def _check_url(v: str) -> str | None:
    parts = urlsplit(v)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL"  # never the value: it is a secret
    return None


@dataclass(frozen=True, kw_only=True)
class HeartbeatConfig:
    """One ``[[heartbeats]]`` table."""

    name: str = option("str")
    #: the monitor's ping URL (a secret)
    url: str = option("secret", check=_check_url)
    #: a ping (or fail signal) this often
    interval: float = option("duration", 60.0, min=1.0)
    #: one request's limit
    timeout: float = option("duration", 10.0, min=0.1)
    #: how the monitor is told (default: from the URL's host)
    kind: str = option("enum", None, choices=KINDS, resolved=True)


HEARTBEAT_FIELDS = fields_of(HeartbeatConfig)


def kind_of(url: str) -> str:
    """The kind a URL's host says: Healthchecks.io's, Cronitor's, else a plain URL."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "hc-ping.com" or host.endswith(".hc-ping.com") or "healthchecks" in host:
        return "healthchecks"
    if host in ("cronitor.link", "cronitor.io") or host.endswith((".cronitor.link",
                                                                  ".cronitor.io")):
        return "cronitor"
    return "url"


def parse_heartbeats(data: Mapping[str, Any], r: Resolver, *,
                     check_name: NameCheck) -> tuple[HeartbeatConfig, ...]:
    """Every ``[[heartbeats]]`` table; problems go to ``r.problems`` with key paths."""
    out: list[HeartbeatConfig] = []
    names: set[str] = set()
    for path, raw in array_tables(data.get("heartbeats"), "heartbeats", r.problems):
        before = len(r.problems.items)
        values = r.table(raw, HEARTBEAT_FIELDS, path)
        check_name(values.get("name"), f"{path}.name", names, r.problems)
        if len(r.problems.items) > before:
            continue
        values["kind"] = values.get("kind") or kind_of(values["url"])
        out.append(HeartbeatConfig(**values))
    return tuple(out)
