"""Configuration: TOML validated once at the edge into typed, frozen objects.

The rest of the code never sees raw dicts or ``${VAR}`` strings.  Every
problem is reported with its 0-based key path (``sources[1].interval``), all
of them at once, as a :class:`~watcher.errors.ConfigError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from watcher.config.heartbeats import HeartbeatConfig
from watcher.config.options import fields_of, option
from watcher.config.schema import Field, state_dir_default
from watcher.config.silences import WindowConfig
from watcher.core.matching import ALL, Match
from watcher.core.rules import Rule
from watcher.infra.ratelimit import Limit

#: The largest legitimate answer we know is a page of 100 Cortex runs with their inputs and
#: outputs (a few MB; a page of 1000 Extend runs is under 1 MB). 16 MiB is still a generous
#: multiple of that, and it bounds what one hostile or broken peer can make a source hold in
#: memory: a refused body is freed at once, so about twice this while a next one streams in.
MAX_RESPONSE_SIZE = 16 * 1024**2


def _check_listen(v: str) -> str | None:
    if v == "":
        return None
    host, sep, port = v.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        return f'"{v}" must be host:port (or "" to disable)'
    return None


def _check_replica(v: str) -> str | None:
    if not v or len(v) > 100 or not v.isprintable() or v != v.strip():
        return f'"{v}" must be 1-100 printable characters, no surrounding spaces'
    return None


@dataclass(frozen=True, kw_only=True)
class WatcherConfig:
    """``[watcher]``."""

    #: the SQLite state file (``":memory:"`` keeps nothing), or a ``postgresql://`` URL
    #: that several replicas share (its password is a secret)
    state_path: str = option("str", factory=state_dir_default)
    #: this process among replicas (PostgreSQL state); default ``<hostname>:<pid>``
    replica: str | None = option("str", None, check=_check_replica)
    #: how long a replica that stopped renewing keeps its leases (PostgreSQL state)
    lease_ttl: float = option("duration", 20.0, min=3.0, max=600.0)
    #: where replicas LISTEN for each other's events (a session, not PgBouncer in
    #: transaction mode); default ``state_path``; ``""``: read the journal head every second
    listen_url: str | None = option("secret", None)
    baseline: str = option("enum", "silent", choices=("silent", "emit"))
    http_listen: str = option("str", "127.0.0.1:9464", check=_check_listen)
    http_token: str | None = option("secret", None)
    #: a file holding ``http_token`` (relative: under ``$CREDENTIALS_DIRECTORY``)
    http_token_file: str | None = option("str", None)
    retention: float = option("duration", 7 * 86400.0, min=60)
    log_level: str = option("enum", "info", choices=("debug", "info", "warning", "error"))
    log_format: str = option("enum", "auto", choices=("auto", "json", "console"))


DAY = 86400.0


@dataclass(frozen=True, kw_only=True)
class SourceConfig:
    """``[[sources]]``: the keys every source has; the provider's own are in ``options``."""

    name: str = option("str")
    provider: str = option("str")
    #: ``token``, or what ``token_file`` holds
    token: str = option("secret", None, resolved=True)
    #: the provider's ``default_base_url`` unless given
    base_url: str = option("str", None, resolved=True)
    #: at most a day: a source polled less often is better run by cron (``watcher once``)
    interval: float = option("duration", 15.0, min=1.0, max=DAY)
    lookback: float = option("duration", 86400.0, min=60.0)
    stuck_after: float | None = option("duration", None, min=1.0)
    timeout: float = option("duration", 30.0, min=0.1, max=600.0)
    max_backoff: float = option("duration", 300.0, min=1.0, max=DAY)
    failure_threshold: int = option("int", 3, min=1)
    #: a larger vendor answer fails the poll as a bad payload
    max_response_size: int = option("size", MAX_RESPONSE_SIZE, min=1024)
    params: Mapping[str, str] = option("table", {})
    keep_fields: tuple[str, ...] = option("strlist", ())
    #: requests per second (and burst) this source's vendor account allows, where it allows
    #: more than the vendor's documented default (``None``: that default)
    rate_limit: Limit | None = option("rate", None)  # noqa: RUF009 (a field(), as above)
    #: enables ``POST /hooks/<name>``: the platform's webhook signing secret
    push_secret: str | None = option("secret", None)
    #: the poll period while verified pushes arrive (``None``: 4 x ``interval``)
    push_interval: float | None = option("duration", None, min=1.0, max=DAY)
    #: the provider's own keys: an instance of its ``Options`` (``None``: its defaults)
    options: object = None

    @property
    def push_every(self) -> float:
        """The poll period while pushes arrive."""
        return self.push_interval if self.push_interval is not None else 4 * self.interval


@dataclass(frozen=True, kw_only=True)
class SinkConfig:
    """``[[sinks]]``: the keys every sink has; the sink's own are in ``options``."""

    name: str = option("str")
    type: str = option("str")
    #: which events the sink gets (``match`` is parsed by :mod:`watcher.config.match`)
    match: Match = ALL
    #: remind every so often while a source stays failing or a run stuck (None: never)
    repeat_interval: float | None = option("duration", None, min=60.0)
    #: the sink's own keys: an instance of its ``Options`` (``None``: its defaults)
    options: object = None


WATCHER_FIELDS = fields_of(WatcherConfig)
#: ``token_file`` is read into ``token``, so it is a key but no attribute
SOURCE_FIELDS = {**fields_of(SourceConfig), "token_file": Field("str", None)}
SINK_FIELDS = fields_of(SinkConfig)


@dataclass(frozen=True)
class Config:
    watcher: WatcherConfig
    sources: tuple[SourceConfig, ...]
    sinks: tuple[SinkConfig, ...]
    path: str | None = None
    #: ``[[silences]]``: maintenance windows
    silences: tuple[WindowConfig, ...] = ()
    #: ``[[rules]]``: workflow health rules
    rules: tuple[Rule, ...] = ()
    #: ``[[heartbeats]]``: outside monitors pinged while the watcher is well
    heartbeats: tuple[HeartbeatConfig, ...] = ()
    #: every secret value, so logs and output can redact them
    secrets: frozenset[str] = frozenset()
    #: the raw (unexpanded) tables, for ``check`` and for reload comparisons
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)
