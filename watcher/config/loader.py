"""Reading a config: TOML validated once at the edge into :mod:`~watcher.config.settings`.

Every problem is reported with its 0-based key path (``sources[1].interval``),
all of them at once, as a :class:`~watcher.errors.ConfigError`.  Which
providers and sinks exist is not known here: the caller passes a
:class:`Catalog` of the registries, so configuration sits below the plugins
in the layers instead of importing them.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from watcher.config import options as opts
from watcher.config import urls
from watcher.config.credentials import secret_path
from watcher.config.heartbeats import parse_heartbeats
from watcher.config.match import parse_match
from watcher.config.rules import parse_rules
from watcher.config.schema import Field, Problems, Resolver
from watcher.config.settings import (
    SINK_FIELDS,
    SOURCE_FIELDS,
    WATCHER_FIELDS,
    Config,
    SinkConfig,
    SourceConfig,
    WatcherConfig,
)
from watcher.config.silences import parse_windows
from watcher.config.tables import array_tables
from watcher.errors import ConfigError, PluginError
from watcher.infra.plugins import Registry
from watcher.infra.secrets import password_of

P = TypeVar("P", bound="Plugin")

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class Plugin(Protocol):
    """What the loader needs of a plugin class: the type of its options."""

    Options: ClassVar[type[Any]]


class SourcePlugin(Plugin, Protocol):
    default_base_url: ClassVar[str]


@dataclass(frozen=True)
class Catalog:
    """The plugin registries a config is checked against."""

    providers: Registry[type[SourcePlugin]]
    sinks: Registry[type[Plugin]]


def load(path: str | os.PathLike[str], catalog: Catalog, *,
         env: Mapping[str, str] | None = None, needs: Collection[str] | None = None) -> Config:
    """Read and validate a TOML file; raises ConfigError listing every problem.
    ``needs``: the only key paths whose ``${VAR}`` must be set (None: every key's), for
    a command that reads a few (see :class:`~watcher.config.schema.Resolver`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError([f"cannot read: {e.strerror or e}"], path=str(p)) from None
    return loads(text, catalog, env=env, path=str(p), base_dir=p.parent, needs=needs)


def loads(text: str, catalog: Catalog, *, env: Mapping[str, str] | None = None,
          path: str | None = None, base_dir: Path | None = None,
          needs: Collection[str] | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"invalid TOML: {e}"], path=path) from None
    return parse(data, catalog, env=os.environ if env is None else env, path=path,
                 base_dir=base_dir or Path.cwd(), needs=needs)


def parse(data: Mapping[str, Any], catalog: Catalog, *, env: Mapping[str, str],
          path: str | None = None, base_dir: Path, needs: Collection[str] | None = None
          ) -> Config:
    problems = Problems()
    r = Resolver(env, problems, needs)
    for key in data:
        if key not in ("watcher", "sources", "sinks", "silences", "rules", "heartbeats"):
            problems.add(key, "unknown key (expected [watcher], [[sources]], [[sinks]], "
                              "[[silences]], [[rules]], [[heartbeats]])")

    wvalues = r.table(data.get("watcher", {}), WATCHER_FIELDS, "watcher")
    wvalues["http_token"] = _http_token(wvalues, r, env, base_dir)
    watcher = WatcherConfig(**wvalues)
    r.secrets.update(_database_secrets(watcher, env))

    sources: list[SourceConfig] = []
    source_names: set[str] = set()  # every named source, so a sink's match can be checked
    for spath, raw, cls, common, options in _entries(
            data, "sources", r, kind_key="provider", lookup=catalog.providers.get,
            known=catalog.providers.names, what="provider", fields=SOURCE_FIELDS, names=source_names):
        token = _token(common, spath, r, env, base_dir,
                       given="token" in raw or "token_file" in raw
                       or not getattr(cls, "token_required", True))
        if cls is None or common.get("name") is None:
            continue
        if not (common["base_url"] or cls.default_base_url):  # e.g. the json provider's
            r.problems.add(f"{spath}.base_url", f"is required for provider {common['provider']}")
        common.pop("token_file")
        sources.append(SourceConfig(
            **common | {"token": token or "",
                        "base_url": (common["base_url"] or cls.default_base_url).rstrip("/")},
            options=options))

    sinks = _sinks(data, r, catalog, source_names)
    records = {s.name: bool(getattr(catalog.sinks.get(s.type), "record", False)) for s in sinks}
    windows = parse_windows(data.get("silences"), r, sources=source_names, sinks=records)
    rules = parse_rules(data, r, sources=source_names, check_name=_check_name)
    heartbeats = parse_heartbeats(data, r, check_name=_check_name)

    if problems:
        raise ConfigError(problems.items, path=path)
    return Config(watcher=watcher, sources=tuple(sources), sinks=tuple(sinks), path=path,
                  secrets=frozenset(r.secrets), raw=data, silences=windows, rules=rules,
                  heartbeats=heartbeats)


def _sinks(data: Mapping[str, Any], r: Resolver, catalog: Catalog,
           source_names: set[str]) -> list[SinkConfig]:
    sinks: list[SinkConfig] = []
    for kpath, raw, scls, common, options in _entries(
            data, "sinks", r, kind_key="type", lookup=catalog.sinks.get,
            known=catalog.sinks.names,
            what="sink type", fields=SINK_FIELDS, names=set(), also=("match",)):
        match = parse_match(raw.get("match"), f"{kpath}.match", r.problems,
                            sources=source_names)
        if scls is None or common.get("name") is None:
            continue
        if common["repeat_interval"] is not None and getattr(scls, "record", False):
            r.problems.add(f"{kpath}.repeat_interval", f'a {common["type"]} sink is a complete '
                           "record: it gets every reminder already")
        sinks.append(SinkConfig(name=common["name"], type=common["type"], match=match,
                                repeat_interval=common["repeat_interval"], options=options))
    return sinks


def _entries(
        data: Mapping[str, Any], key: str, r: Resolver, *, kind_key: str,
        lookup: Callable[[str], type[P] | None], known: Callable[[], list[str]], what: str,
        fields: Mapping[str, Field], names: set[str], also: tuple[str, ...] = ()
        ) -> Iterator[tuple[str, dict[str, Any], type[P] | None, dict[str, Any], object]]:
    """Each ``[[key]]`` table: its path, raw table, plugin class (``None`` if unknown),
    common keys and the plugin's options object, validated; names must be unique."""
    for path, raw in array_tables(data.get(key), key, r.problems):
        if not isinstance(raw, dict):
            r.problems.add(path, "must be a table")
            continue
        cls = _plugin(raw.get(kind_key), f"{path}.{kind_key}", r.problems, lookup, known, what)
        # An unknown plugin (a typo) still gets every other key judged: against the plugin
        # its name is closest to, else against the common keys alone.
        judge = cls or _closest(raw.get(kind_key), lookup, known)
        own = opts.fields_of(judge.Options) if judge else {}
        ignore = (*also, *own) if judge else (*also, *(k for k in raw if k not in fields))
        common = r.table(raw, fields, path, ignore=ignore)
        options = _options(judge, {k: v for k, v in raw.items() if k in own}, path, r) \
            if judge else None
        _check_name(common.get("name"), f"{path}.name", names, r.problems)
        yield path, raw, cls, common, options


def _plugin(name: object, path: str, problems: Problems,
               lookup: Callable[[str], type[P] | None], known: Callable[[], list[str]],
               what: str) -> type[P] | None:
    """The plugin class a table names, or ``None`` (the problem reported)."""
    if not isinstance(name, str):
        return None
    try:
        cls = lookup(name)
    except PluginError as e:
        problems.add(path, f'"{name}" is not a usable {what}: {e}')
        return None
    if cls is None:
        hint = difflib.get_close_matches(name, known(), n=1, cutoff=0.6)
        problems.add(path, f'"{name}" is not a known {what}'
                     + (f" (did you mean {hint[0]!r}? " if hint else " (")
                     + f'known: {", ".join(known())})')
    return cls


def _closest(name: object, lookup: Callable[[str], type[P] | None],
             known: Callable[[], list[str]]) -> type[P] | None:
    """The plugin a misspelt name most likely meant, to judge the table's other keys by."""
    if not isinstance(name, str):
        return None
    for guess in difflib.get_close_matches(name, known(), n=1, cutoff=0.6):
        try:
            return lookup(guess)
        except PluginError:
            return None
    return None


def _options(cls: type[Plugin], raw: dict[str, Any], path: str, r: Resolver) -> object:
    """The plugin's options object, built from its validated keys (``None`` if any is bad)."""
    before = len(r.problems.items)
    values = r.table(raw, opts.fields_of(cls.Options), path)
    if len(r.problems.items) > before:
        return None
    try:
        return opts.build(cls.Options, values)
    except Exception as e:  # the plugin's own checks, in its constructor
        if not r.left_out(path):  # else a key it checks was left out: not needed here
            r.problems.add(path, f"{type(e).__name__}: {e}")
        return None


def _check_name(name: object, path: str, seen: set[str], problems: Problems) -> None:
    if not isinstance(name, str):
        return
    if not _NAME.match(name):
        problems.add(path, f'"{name}" must be 1-64 letters, digits, ".", "_" or "-"')
    elif name in seen:
        problems.add(path, f'"{name}" is already used by another entry')
    seen.add(name)


def read_secret_file(name: str, path: str, r: Resolver, env: Mapping[str, str],
                     base_dir: Path) -> str | None:
    """A secret held in a file (see :func:`secret_path`)."""
    p = secret_path(name, base=base_dir, env=env)
    try:
        value = p.read_text(encoding="utf-8").strip()
    except OSError as e:
        r.problems.add(path, f"cannot read {p}: {e.strerror or e}")
        return None
    if value:
        r.secrets.add(value)
    return value


def _http_token(values: dict[str, Any], r: Resolver, env: Mapping[str, str],
                base_dir: Path) -> str | None:
    token: str | None = values.get("http_token")
    name: str | None = values.get("http_token_file")
    if name is None:
        return token
    if token is not None:
        r.problems.add("watcher", "set http_token or http_token_file, not both")
        return None
    token = read_secret_file(name, "watcher.http_token_file", r, env, base_dir)
    if token == "":
        r.problems.add("watcher.http_token_file", f"{name} is empty")
    return token or None


def _database_secrets(watcher: WatcherConfig, env: Mapping[str, str]) -> set[str]:
    """A PostgreSQL state's password, from its URL or ``$PGPASSWORD``: a secret."""
    path = watcher.state_path
    if not (isinstance(path, str) and urls.is_postgres(path)):
        return set()
    found = {password_of(path), env.get("PGPASSWORD")}
    return {s for s in found if s}


def _token(common: dict[str, Any], spath: str, r: Resolver, env: Mapping[str, str],
           base_dir: Path, *, given: bool) -> str | None:
    token: str | None = common.get("token")
    token_file: str | None = common.get("token_file")
    if token is not None and token_file is not None:
        r.problems.add(spath, "set token or token_file, not both")
        return None
    if token_file is not None:
        token = read_secret_file(token_file, f"{spath}.token_file", r, env, base_dir)
        if token is None:
            return None
    if token is None:
        if not given:  # when given but unusable, that problem is already reported
            r.problems.add(f"{spath}.token", "is required (or token_file)")
        return None
    if not token:
        r.problems.add(f"{spath}.token", "is empty")
        return None
    return token
