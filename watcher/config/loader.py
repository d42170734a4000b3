"""Reading a config: TOML validated once at the edge into :mod:`~watcher.config.settings`.

Every problem is reported with its 0-based key path (``sources[1].interval``),
all of them at once, as a :class:`~watcher.errors.ConfigError`.  Which
providers and sinks exist is not known here: the caller passes a
:class:`Catalog` of the registries, so configuration sits below the plugins
in the layers instead of importing them.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watcher.config.match import parse_match
from watcher.config.schema import Field, Problems, Resolver, state_dir_default
from watcher.config.settings import (
    MAX_RESPONSE_SIZE,
    SINK_FIELDS,
    SOURCE_FIELDS,
    WATCHER_FIELDS,
    Config,
    SinkConfig,
    SourceConfig,
    WatcherConfig,
)
from watcher.errors import ConfigError
from watcher.infra.plugins import Plugins

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Catalog:
    """The plugin registries a config is checked against."""

    providers: Plugins
    sinks: Plugins


def load(path: str | os.PathLike[str], catalog: Catalog, *,
         env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a TOML file; raises ConfigError listing every problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError([f"cannot read: {e.strerror or e}"], path=str(p)) from None
    return loads(text, catalog, env=env, path=str(p), base_dir=p.parent)


def loads(text: str, catalog: Catalog, *, env: Mapping[str, str] | None = None,
          path: str | None = None, base_dir: Path | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"invalid TOML: {e}"], path=path) from None
    return parse(data, catalog, env=os.environ if env is None else env, path=path,
                 base_dir=base_dir or Path.cwd())


def parse(data: Mapping[str, Any], catalog: Catalog, *, env: Mapping[str, str],
          path: str | None = None, base_dir: Path) -> Config:
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
            data, "sources", r, kind_key="provider", lookup=catalog.providers.get,
            known=catalog.providers.names, what="provider", fields=SOURCE_FIELDS, names=source_names):
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
            data, "sinks", r, kind_key="type", lookup=catalog.sinks.get,
            known=catalog.sinks.names,
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
