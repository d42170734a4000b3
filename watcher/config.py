"""Configuration: TOML validated once at the edge into typed, frozen objects.

The rest of the code never sees raw dicts or ``${VAR}`` strings.  Every
problem is reported with its 0-based key path (``sources[1].interval``), all
of them at once, as a :class:`~watcher.errors.ConfigError`.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watcher.errors import ConfigError
from watcher.routing import ALL, Match, parse_match
from watcher.schema import REQUIRED, Field, Problems, Resolver, state_dir_default

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
    raw_sources = data.get("sources", [])
    if not isinstance(raw_sources, list):
        problems.add("sources", "must be an array of tables ([[sources]])")
        raw_sources = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_sources):
        spath = f"sources[{i}]"
        cls = None
        if isinstance(raw, dict) and isinstance(raw.get("provider"), str):
            cls = provider_class(raw["provider"])
            if cls is None:
                problems.add(f"{spath}.provider", f'"{raw["provider"]}" is not a known provider '
                                                  f"(known: {', '.join(provider_names())})")
        opts_fields: Mapping[str, Field] = cls.options if cls else {}
        common = r.table(raw, SOURCE_FIELDS, spath, ignore=tuple(opts_fields) if cls else
                         tuple(raw) if isinstance(raw, dict) else ())
        options = r.table({k: v for k, v in raw.items() if k in opts_fields}, opts_fields, spath
                          ) if cls and isinstance(raw, dict) else {}
        _check_name(common.get("name"), f"{spath}.name", seen, problems)
        token = _token(common, spath, r, env, base_dir,
                       given=isinstance(raw, dict) and ("token" in raw or "token_file" in raw))
        if cls is None or common.get("name") is None:
            continue
        sources.append(SourceConfig(
            name=common["name"], provider=common["provider"], token=token or "",
            base_url=(common["base_url"] or cls.default_base_url).rstrip("/"),
            interval=common["interval"] or 15.0, lookback=common["lookback"] or 86400.0,
            stuck_after=common["stuck_after"], timeout=common["timeout"] or 30.0,
            max_backoff=common["max_backoff"] or 300.0,
            failure_threshold=common["failure_threshold"] or 3,
            params=common["params"] or {}, keep_fields=common["keep_fields"] or (),
            options=options))

    source_names = set(seen)  # every named source, so a sink's match can be checked
    sinks: list[SinkConfig] = []
    raw_sinks = data.get("sinks", [])
    if not isinstance(raw_sinks, list):
        problems.add("sinks", "must be an array of tables ([[sinks]])")
        raw_sinks = []
    seen = set()
    for i, raw in enumerate(raw_sinks):
        kpath = f"sinks[{i}]"
        scls = None
        if isinstance(raw, dict) and isinstance(raw.get("type"), str):
            scls = sink_class(raw["type"])
            if scls is None:
                problems.add(f"{kpath}.type", f'"{raw["type"]}" is not a known sink type '
                                              f"(known: {', '.join(sink_names())})")
        sfields: Mapping[str, Field] = scls.options if scls else {}
        common = r.table(raw, SINK_FIELDS, kpath, ignore=("match", *sfields) if scls else
                         tuple(raw) if isinstance(raw, dict) else ())
        options = r.table({k: v for k, v in raw.items() if k in sfields}, sfields, kpath
                          ) if scls and isinstance(raw, dict) else {}
        match = parse_match(raw.get("match") if isinstance(raw, dict) else None,
                            f"{kpath}.match", problems, sources=source_names)
        _check_name(common.get("name"), f"{kpath}.name", seen, problems)
        if scls is None or common.get("name") is None:
            continue
        sinks.append(SinkConfig(name=common["name"], type=common["type"], match=match,
                                options=options))

    if problems:
        raise ConfigError(problems.items, path=path)
    return Config(watcher=watcher, sources=tuple(sources), sinks=tuple(sinks), path=path,
                  secrets=frozenset(r.secrets), raw=data)


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
