"""The keys of ``[watcher]``, ``[[sources]]`` and ``[[sinks]]``, and the :class:`Config`
the loader makes: the rest of the code never sees raw dicts or ``${VAR}`` strings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field

from watcher.config.heartbeats import HeartbeatConfig
from watcher.config.options import Check, Duration, Options, Rate, Secret, Size, StrList, Table
from watcher.config.silences import WindowConfig
from watcher.core.inhibition import InhibitRule
from watcher.core.matching import ALL, Match
from watcher.core.rules import Rule

#: The largest legitimate answer we know is a page of 100 Cortex runs with their inputs and
#: outputs (a few MB; a page of 1000 Extend runs is under 1 MB). 16 MiB is still a generous
#: multiple of that, and it bounds what one hostile or broken peer can make a source hold in
#: memory: a refused body is freed at once, so about twice this while a next one streams in.
MAX_RESPONSE_SIZE = 16 * 1024**2


def state_dir_default() -> str:
    """``$STATE_DIRECTORY/state.db`` under systemd, else ``./watcher-state.db``."""
    sd = os.environ.get("STATE_DIRECTORY")
    return os.path.join(sd.split(":")[0], "state.db") if sd else "watcher-state.db"


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


class WatcherConfig(Options):
    """``[watcher]``."""

    #: the SQLite state file (``":memory:"`` keeps nothing), or a ``postgresql://`` URL
    #: that several replicas share (its password is a secret)
    state_path: str = Field(default_factory=state_dir_default)
    #: this process among replicas (PostgreSQL state); default ``<hostname>:<pid>``
    replica: Annotated[str, Check(_check_replica)] | None = None
    #: how long a replica that stopped renewing keeps its leases (PostgreSQL state)
    lease_ttl: Annotated[float, Duration(min=3.0, max=600.0)] = 20.0
    #: where replicas LISTEN for each other's events (a session, not PgBouncer in
    #: transaction mode); default ``state_path``; ``""``: read the journal head every second
    listen_url: Secret | None = None
    baseline: Literal["silent", "emit"] = "silent"
    http_listen: Annotated[str, Check(_check_listen)] = "127.0.0.1:9464"
    http_token: Secret | None = None
    #: a file holding ``http_token`` (relative: under ``$CREDENTIALS_DIRECTORY``)
    http_token_file: str | None = None
    retention: Annotated[float, Duration(min=60)] = 7 * 86400.0
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"


DAY = 86400.0


class SourceConfig(Options):
    """``[[sources]]``: the keys every source has; the provider's own are in ``options``."""

    name: str
    provider: str
    #: ``token``, or what ``token_file`` holds
    token: Secret = ""
    #: a file holding ``token`` (read into it by the loader)
    token_file: str | None = None
    #: the provider's ``default_base_url`` unless given
    base_url: str = ""
    #: at most a day: a source polled less often is better run by cron (``watcher once``)
    interval: Annotated[float, Duration(min=1.0, max=DAY)] = 15.0
    lookback: Annotated[float, Duration(min=60.0)] = 86400.0
    stuck_after: Annotated[float, Duration(min=1.0)] | None = None
    timeout: Annotated[float, Duration(min=0.1, max=600.0)] = 30.0
    max_backoff: Annotated[float, Duration(min=1.0, max=DAY)] = 300.0
    failure_threshold: Annotated[int, Field(ge=1)] = 3
    #: a larger vendor answer fails the poll as a bad payload
    max_response_size: Annotated[int, Size(min=1024)] = MAX_RESPONSE_SIZE
    params: Table = {}
    keep_fields: StrList = ()
    #: requests per second (and burst) this source's vendor account allows, where it allows
    #: more than the vendor's documented default (``None``: that default)
    rate_limit: Rate | None = None
    #: enables ``POST /hooks/<name>``: the platform's webhook signing secret
    push_secret: Secret | None = None
    #: the poll period while verified pushes arrive (``None``: 4 x ``interval``)
    push_interval: Annotated[float, Duration(min=1.0, max=DAY)] | None = None
    #: the provider's own keys: an instance of its ``Options`` (``None``: its defaults)
    options: object = Field(default=None, exclude=True)

    @property
    def push_every(self) -> float:
        """The poll period while pushes arrive."""
        return self.push_interval if self.push_interval is not None else 4 * self.interval


class SinkConfig(Options):
    """``[[sinks]]``: the keys every sink has; the sink's own are in ``options``."""

    name: str
    type: str
    #: which events the sink gets (``match`` is parsed by :mod:`watcher.config.match`)
    match: Match = Field(default=ALL, exclude=True)
    #: remind every so often while a source stays failing or a run stuck (None: never)
    repeat_interval: Annotated[float, Duration(min=60.0)] | None = None
    #: the sink's own keys: an instance of its ``Options`` (``None``: its defaults)
    options: object = Field(default=None, exclude=True)


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
    #: ``[[inhibit]]``: what an open episode holds back from the notification sinks
    inhibit: tuple[InhibitRule, ...] = ()
    #: every secret value, so logs and output can redact them
    secrets: frozenset[str] = frozenset()
    #: the raw (unexpanded) tables, for ``check`` and for reload comparisons
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)
