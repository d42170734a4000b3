"""Configuration: TOML validated once at the edge into typed, frozen objects.

The rest of the code never sees raw dicts or ``${VAR}`` strings.  Every
problem is reported with its 0-based key path (``sources[1].interval``), all
of them at once, as a :class:`~watcher.errors.ConfigError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from watcher.config.schema import REQUIRED, Field
from watcher.core.routing import ALL, Match

#: The largest legitimate answer we know is a page of 100 Cortex runs with their inputs and
#: outputs (a few MB; 1000 Extend run summaries are about 2 MB). 64 MiB is a generous multiple
#: of that, yet it bounds what one hostile or broken peer can make a source hold in memory.
MAX_RESPONSE_SIZE = 64 * 1024**2



def _check_listen(v: str) -> str | None:
    if v == "":
        return None
    host, sep, port = v.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        return f'"{v}" must be host:port (or "" to disable)'
    return None


WATCHER_FIELDS: dict[str, Field] = {
    "state_path": Field("str", None, doc="SQLite state file; \":memory:\" = no persistence"),
    "baseline": Field("enum", "silent", choices=("silent", "emit")),
    "http_listen": Field("str", "127.0.0.1:9464", check=_check_listen),
    "http_token": Field("secret", None),
    "retention": Field("duration", 7 * 86400.0, min=60),
    "log_level": Field("enum", "info", choices=("debug", "info", "warning", "error")),
    "log_format": Field("enum", "auto", choices=("auto", "json", "console")),
}

SOURCE_FIELDS: dict[str, Field] = {
    "name": Field("str", REQUIRED),
    "provider": Field("str", REQUIRED),
    "token": Field("secret", None),
    "token_file": Field("str", None),
    "base_url": Field("str", None),
    "interval": Field("duration", 15.0, min=1.0),
    "lookback": Field("duration", 86400.0, min=60.0),
    "stuck_after": Field("duration", None, min=1.0),
    "timeout": Field("duration", 30.0, min=0.1),
    "max_backoff": Field("duration", 300.0, min=1.0),
    "failure_threshold": Field("int", 3, min=1),
    "max_response_size": Field("size", MAX_RESPONSE_SIZE, min=1024,
                               doc="a larger vendor answer fails the poll as a bad payload"),
    "params": Field("table", {}),
    "keep_fields": Field("strlist", ()),
}

SINK_FIELDS: dict[str, Field] = {
    "name": Field("str", REQUIRED),
    "type": Field("str", REQUIRED),
}


@dataclass(frozen=True)
class WatcherConfig:
    state_path: str = "watcher-state.db"
    baseline: str = "silent"
    http_listen: str = "127.0.0.1:9464"
    http_token: str | None = None
    retention: float = 7 * 86400.0
    log_level: str = "info"
    log_format: str = "auto"


@dataclass(frozen=True)
class SourceConfig:
    name: str
    provider: str
    token: str
    base_url: str
    interval: float = 15.0
    lookback: float = 86400.0
    stuck_after: float | None = None
    timeout: float = 30.0
    max_backoff: float = 300.0
    failure_threshold: int = 3
    max_response_size: int = MAX_RESPONSE_SIZE
    params: Mapping[str, str] = field(default_factory=dict)
    keep_fields: tuple[str, ...] = ()
    #: provider-specific keys, validated by the provider's own ``options``
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SinkConfig:
    name: str
    type: str
    match: Match = ALL
    #: sink-specific keys, validated by the sink's own ``options``
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    watcher: WatcherConfig
    sources: tuple[SourceConfig, ...]
    sinks: tuple[SinkConfig, ...]
    path: str | None = None
    #: every secret value, so logs and output can redact them
    secrets: frozenset[str] = frozenset()
    #: the raw (unexpanded) tables, for ``check`` and for reload comparisons
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)
