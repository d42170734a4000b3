"""Configuration: TOML validated once at the edge into typed, frozen objects.

The rest of the code never sees raw dicts or ``${VAR}`` strings.  Every
problem is reported with its 0-based key path (``sources[1].interval``), all
of them at once, as a :class:`~watcher.errors.ConfigError`.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watcher.config.schema import REQUIRED, Field, Problems, Resolver, state_dir_default
from watcher.core.routing import ALL, Match, parse_match
from watcher.errors import ConfigError

#: The largest legitimate answer we know is a page of 100 Cortex runs with their inputs and
#: outputs (a few MB; 1000 Extend run summaries are about 2 MB). 64 MiB is a generous multiple
#: of that, yet it bounds what one hostile or broken peer can make a source hold in memory.
MAX_RESPONSE_SIZE = 64 * 1024**2

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


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


def load(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a TOML file; raises ConfigError listing every problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError([f"cannot read: {e.strerror or e}"], path=str(p)) from None
    return loads(text, env=env, path=str(p), base_dir=p.parent)


def loads(text: str, *, env: Mapping[str, str] | None = None, path: str | None = None,
          base_dir: Path | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"invalid TOML: {e}"], path=path) from None
    return parse(data, env=os.environ if env is None else env, path=path,
                 base_dir=base_dir or Path.cwd())


def parse(data: Mapping[str, Any], *, env: Mapping[str, str], path: str | None = None,
          base_dir: Path) -> Config:
    from watcher.providers import provider_class, provider_names
    from watcher.sinks import sink_class, sink_names

    problems = Problems()
    r = Resolver(env, problems)
    for key in data:
        if key not in ("watcher", "sources", "sinks"):
            problems.add(key, "unknown key (expected [watcher], [[sources]], [[sinks]])")

    w = r.table(data.get("watcher", {}), WATCHER_FIELDS, "watcher")
    if w.get("state_path") is None:
        w["state_path"] = state_dir_default()
    watcher = WatcherConfig(**{k: v for k, v in w.items() if v is not None or k == "http_token"})

    sources: list[SourceConfig] = []
    source_names: set[str] = set()  # every named source, so a sink's match can be checked
    for spath, raw, cls, common, options in _entries(
            data, "sources", r, kind_key="provider", lookup=provider_class,
            known=provider_names, what="provider", fields=SOURCE_FIELDS, names=source_names):
        token = _token(common, spath, r, env, base_dir,
                       given="token" in raw or "token_file" in raw)
        if cls is None or common.get("name") is None:
            continue
        sources.append(SourceConfig(
            name=common["name"], provider=common["provider"], token=token or "",
            base_url=(common["base_url"] or cls.default_base_url).rstrip("/"),
            interval=common["interval"] or 15.0, lookback=common["lookback"] or 86400.0,
            stuck_after=common["stuck_after"], timeout=common["timeout"] or 30.0,
            max_backoff=common["max_backoff"] or 300.0,
            failure_threshold=common["failure_threshold"] or 3,
            max_response_size=common["max_response_size"] or MAX_RESPONSE_SIZE,
            params=common["params"] or {}, keep_fields=common["keep_fields"] or (),
            options=options))

    sinks: list[SinkConfig] = []
    for kpath, raw, scls, common, options in _entries(
            data, "sinks", r, kind_key="type", lookup=sink_class, known=sink_names,
            what="sink type", fields=SINK_FIELDS, names=set(), also=("match",)):
        match = parse_match(raw.get("match"), f"{kpath}.match", problems, sources=source_names)
        if scls is None or common.get("name") is None:
            continue
        sinks.append(SinkConfig(name=common["name"], type=common["type"], match=match,
                                options=options))

    if problems:
        raise ConfigError(problems.items, path=path)
    return Config(watcher=watcher, sources=tuple(sources), sinks=tuple(sinks), path=path,
                  secrets=frozenset(r.secrets), raw=data)


def _entries(data: Mapping[str, Any], key: str, r: Resolver, *, kind_key: str,
             lookup: Callable[[str], Any], known: Callable[[], list[str]], what: str,
             fields: Mapping[str, Field], names: set[str], also: tuple[str, ...] = ()
             ) -> Iterator[tuple[str, dict[str, Any], Any, dict[str, Any], dict[str, Any]]]:
    """Each ``[[key]]`` table: its path, raw table, plugin class (``None`` if unknown),
    common keys and the plugin's own keys, validated; names must be unique."""
    raw_list = data.get(key, [])
    if not isinstance(raw_list, list):
        r.problems.add(key, f"must be an array of tables ([[{key}]])")
        return
    for i, raw in enumerate(raw_list):
        path = f"{key}[{i}]"
        if not isinstance(raw, dict):
            r.problems.add(path, "must be a table")
            continue
        cls = None
        if isinstance(raw.get(kind_key), str):
            cls = lookup(raw[kind_key])
            if cls is None:
                r.problems.add(f"{path}.{kind_key}", f'"{raw[kind_key]}" is not a known {what} '
                                                     f"(known: {', '.join(known())})")
        own: Mapping[str, Field] = cls.options if cls else {}
        # with an unknown plugin its keys cannot be judged: report the plugin, not them
        common = r.table(raw, fields, path, ignore=(*also, *own) if cls else tuple(raw))
        options = r.table({k: v for k, v in raw.items() if k in own}, own, path) if cls else {}
        _check_name(common.get("name"), f"{path}.name", names, r.problems)
        yield path, raw, cls, common, options


def _check_name(name: object, path: str, seen: set[str], problems: Problems) -> None:
    if not isinstance(name, str):
        return
    if not _NAME.match(name):
        problems.add(path, f'"{name}" must be 1-64 letters, digits, ".", "_" or "-"')
    elif name in seen:
        problems.add(path, f'"{name}" is already used by another entry')
    seen.add(name)


def _token(common: dict[str, Any], spath: str, r: Resolver, env: Mapping[str, str],
           base_dir: Path, *, given: bool) -> str | None:
    token: str | None = common.get("token")
    token_file: str | None = common.get("token_file")
    if token is not None and token_file is not None:
        r.problems.add(spath, "set token or token_file, not both")
        return None
    if token_file is not None:
        p = Path(token_file)
        if not p.is_absolute():
            creds = env.get("CREDENTIALS_DIRECTORY")
            p = Path(creds) / p if creds else base_dir / p
        try:
            token = p.read_text(encoding="utf-8").strip()
        except OSError as e:
            r.problems.add(f"{spath}.token_file", f"cannot read {p}: {e.strerror or e}")
            return None
        if token:
            r.secrets.add(token)
    if token is None:
        if not given:  # when given but unusable, that problem is already reported
            r.problems.add(f"{spath}.token", "is required (or token_file)")
        return None
    if not token:
        r.problems.add(f"{spath}.token", "is empty")
        return None
    return token
