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
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from watcher.config import urls
from watcher.config.credentials import secret_path
from watcher.config.heartbeats import parse_heartbeats
from watcher.config.inhibit import parse_inhibit
from watcher.config.match import parse_match
from watcher.config.options import Options, model_of
from watcher.config.rules import parse_rules
from watcher.config.schema import Expanded, Problems, secrets_of
from watcher.config.settings import Config, SinkConfig, SourceConfig, WatcherConfig
from watcher.config.silences import parse_windows
from watcher.config.tables import array_tables, check_name
from watcher.errors import ConfigError, PluginError
from watcher.infra.plugins import Registry
from watcher.infra.secrets import password_of

P = TypeVar("P", bound="Plugin")
C = TypeVar("C", SourceConfig, SinkConfig)


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
         needs: Collection[str] | None = None) -> Config:
    """Read and validate a TOML file; raises ConfigError listing every problem.
    ``needs``: the only key paths whose ``${VAR}`` must be set (None: every key's), for
    a command that reads a few (see :class:`~watcher.config.schema.Expanded`)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError([f"cannot read: {e.strerror or e}"], path=str(p)) from None
    return loads(text, catalog, env=os.environ, path=str(p), base_dir=p.parent, needs=needs)


def loads(text: str, catalog: Catalog, *, env: Mapping[str, str],
          path: str | None = None, base_dir: Path | None = None,
          needs: Collection[str] | None = None) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"invalid TOML: {e}"], path=path) from None
    return parse(data, catalog, env=env, path=path, base_dir=base_dir or Path.cwd(), needs=needs)


def _push_problem(provider: str, cls: Any, options: object) -> str | None:
    """Why a ``push_secret`` cannot work: the platform sends no webhook watcher can verify,
    or (the json provider) a push names a run by id with no ``run_path`` to read it at:
    such pushes would change nothing but slow the polling down to ``push_interval``."""
    if getattr(cls, "push_scheme", None) is None:
        return (f"provider {provider} sends no webhooks watcher can verify "
                "(push: extend, github, gitlab, json)")
    if not getattr(options, "run_path", "(not a json source)"):
        return 'a push names its run by id: set run_path (e.g. "/api/runs/{id}") to read it'
    return None


def parse(data: Mapping[str, Any], catalog: Catalog, *, env: Mapping[str, str],
          path: str | None = None, base_dir: Path, needs: Collection[str] | None = None
          ) -> Config:
    problems = Problems()
    r = Expanded(env, problems, needs)
    for key in data:
        if key not in ("watcher", "sources", "sinks", "silences", "rules", "heartbeats",
                       "inhibit"):
            problems.add(key, "unknown key (expected [watcher], [[sources]], [[sinks]], "
                              "[[silences]], [[rules]], [[heartbeats]], [[inhibit]])")
    expanded = r.walk(dict(data), "")
    secrets: set[str] = set()
    watcher = _watcher(expanded.get("watcher", {}), r, env, base_dir, secrets)

    sources: list[SourceConfig] = []
    source_names: set[str] = set()  # every named source, so a sink's match can be checked
    for spath, raw, cls, common, options in _entries(
            expanded, "sources", r, kind_key="provider", registry=catalog.providers,
            what="provider", model=SourceConfig, names=source_names):
        token = _token(raw, spath, r, env, base_dir,
                       required=getattr(cls, "token_required", True))
        if cls is None or common is None:
            continue
        if common.push_secret is not None and (why := _push_problem(common.provider, cls,
                                                                     options)):
            r.problems.add(f"{spath}.push_secret", why)
        if not (common.base_url or cls.default_base_url):  # e.g. the json provider's
            r.problems.add(f"{spath}.base_url", f"is required for provider {common.provider}")
        secrets.update(secrets_of(common), secrets_of(options), [token] if token else [])
        sources.append(common.model_copy(update={
            "token": token or "", "token_file": None, "options": options,
            "base_url": (common.base_url or cls.default_base_url).rstrip("/")}))

    sinks = _sinks(expanded, r, catalog, source_names)
    secrets.update(*(secrets_of(k.options) for k in sinks))
    records = {s.name: bool(getattr(catalog.sinks.get(s.type), "record", False)) for s in sinks}
    windows = parse_windows(expanded, r, sources=source_names, sinks=records)
    rules = parse_rules(expanded, r, sources=source_names)
    heartbeats = parse_heartbeats(expanded, r)
    secrets.update(*(secrets_of(h) for h in heartbeats))
    inhibit = parse_inhibit(expanded, r, sources=source_names, sinks=records)

    if problems or watcher is None:
        raise ConfigError(sorted(problems, key=partial(_place, data)), path=path)
    return Config(watcher=watcher, sources=tuple(sources), sinks=tuple(sinks), path=path,
                  secrets=frozenset(secrets), raw=data, silences=windows, rules=rules,
                  heartbeats=heartbeats, inhibit=inhibit)


def _watcher(raw: object, r: Expanded, env: Mapping[str, str], base_dir: Path,
             secrets: set[str]) -> WatcherConfig | None:
    """``[watcher]``, its ``http_token`` read from ``http_token_file`` when given."""
    if not isinstance(raw, dict):
        r.problems.add("watcher", "must be a table")
        return None
    w = r.validate(WatcherConfig, raw, "watcher")
    token = _http_token(raw, r, env, base_dir)
    if w is None:
        return None
    w = w.model_copy(update={"http_token": token})
    secrets.update(secrets_of(w))
    if urls.is_postgres(w.state_path):  # its password, from the URL or $PGPASSWORD
        secrets.update(s for s in (password_of(w.state_path), env.get("PGPASSWORD")) if s)
    return w


def _sinks(data: Mapping[str, Any], r: Expanded, catalog: Catalog,
           source_names: set[str]) -> list[SinkConfig]:
    sinks: list[SinkConfig] = []
    for kpath, raw, scls, common, options in _entries(
            data, "sinks", r, kind_key="type", registry=catalog.sinks, what="sink type",
            model=SinkConfig, names=set(), also=("match",)):
        match = parse_match(raw.get("match"), f"{kpath}.match", r.problems,
                            sources=source_names)
        if scls is None or common is None:
            continue
        if common.repeat_interval is not None and getattr(scls, "record", False):
            r.problems.add(f"{kpath}.repeat_interval", f"a {common.type} sink is a complete "
                           "record: it gets every reminder already")
        sinks.append(common.model_copy(update={"match": match, "options": options}))
    return sinks


def _entries(
        data: Mapping[str, Any], key: str, r: Expanded, *, kind_key: str,
        registry: Registry[type[P]], what: str, model: type[C], names: set[str],
        also: tuple[str, ...] = ()
        ) -> Iterator[tuple[str, dict[str, Any], type[P] | None, C | None, object]]:
    """Each ``[[key]]`` table: its path, raw table, plugin class (``None`` if unknown),
    common keys and the plugin's options object, validated; names must be unique."""
    keys: list[str] = [n for n, f in model.model_fields.items() if not f.exclude]
    for path, raw in array_tables(data, key, r.problems):
        # An unknown plugin (a typo) still gets every other key judged: against the plugin
        # its name is closest to, else against the common keys alone.
        cls, judge = _plugin(raw.get(kind_key), f"{path}.{kind_key}", r.problems, registry,
                             what)
        own: type[Options] | None = model_of(judge.Options) if judge else None
        hints = (*keys, *also, *(own.model_fields if own else ()))
        common = r.validate(model, {k: v for k, v in raw.items() if k in keys}, path,
                            known=hints)
        rest = {k: v for k, v in raw.items() if k not in keys and k not in also}
        options = r.validate(own, rest, path, known=hints) if own else None
        check_name(raw.get("name"), f"{path}.name", names, r.problems)
        yield path, raw, cls, common, options


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _place(data: Mapping[str, Any], problem: str) -> list[int]:
    """Where a problem's key is in the file, as positions at each level of its path, so
    that problems are listed in the order of the file (a ``${VAR}`` is expanded before
    its table is validated, which would otherwise put its problem first)."""
    place: list[int] = []
    at: Any = data
    for name, index in _STEP.findall(problem.split(": ", 1)[0]):
        keys = list(at) if isinstance(at, Mapping) else []
        if name and name in keys:
            place.append(keys.index(name))
            at = at[name]
        elif index and isinstance(at, list) and int(index) < len(at):
            place.append(int(index))
            at = at[int(index)]
        else:
            place.append(len(keys) if name else int(index or 0))
            at = None
    return place


def _plugin(name: object, path: str, problems: Problems, registry: Registry[type[P]],
            what: str) -> tuple[type[P] | None, type[P] | None]:
    """The plugin class a table names, or ``None`` (the problem reported); and the one to
    judge its other keys by: that class, else the one a misspelt name most likely meant."""
    if not isinstance(name, str):
        return None, None
    try:
        cls = registry.get(name)
    except PluginError as e:
        problems.add(path, f'"{name}" is not a usable {what}: {e}')
        return None, None
    if cls is not None:
        return cls, cls
    guess = difflib.get_close_matches(name, registry.names(), n=1, cutoff=0.6)
    problems.add(path, f'"{name}" is not a known {what}'
                 + (f" (did you mean {guess[0]!r}? " if guess else " (")
                 + f'known: {", ".join(registry.names())})')
    try:
        return None, registry.get(guess[0]) if guess else None
    except PluginError:
        return None, None


def read_secret_file(name: str, path: str, problems: Problems, env: Mapping[str, str],
                     base_dir: Path) -> str | None:
    """A secret held in a file (see :func:`secret_path`)."""
    p = secret_path(name, base=base_dir, env=env)
    try:
        return p.read_text(encoding="utf-8").strip()
    except OSError as e:
        problems.add(path, f"cannot read {p}: {e.strerror or e}")
        return None


def _http_token(raw: Mapping[str, Any], r: Expanded, env: Mapping[str, str],
                base_dir: Path) -> str | None:
    token, name = raw.get("http_token"), raw.get("http_token_file")
    if not isinstance(name, str):
        return token if isinstance(token, str) else None
    if token is not None:
        r.problems.add("watcher", "set http_token or http_token_file, not both")
        return None
    token = read_secret_file(name, "watcher.http_token_file", r.problems, env, base_dir)
    if token == "":
        r.problems.add("watcher.http_token_file", f"{name} is empty")
    return token or None


def _token(raw: Mapping[str, Any], spath: str, r: Expanded, env: Mapping[str, str],
           base_dir: Path, *, required: bool = True) -> str | None:
    """A source's token, or what its ``token_file`` holds (a type error is said already);
    ``required``: its absence is a problem (a provider whose auth is optional says not)."""
    token, token_file = raw.get("token"), raw.get("token_file")
    if token is not None and token_file is not None:
        r.problems.add(spath, "set token or token_file, not both")
        return None
    if isinstance(token_file, str):
        token = read_secret_file(token_file, f"{spath}.token_file", r.problems, env, base_dir)
    if token is None and token_file is None:
        if required and not r.unset & {f"{spath}.token", f"{spath}.token_file"}:  # else said
            r.problems.add(f"{spath}.token", "is required (or token_file)")
        return None
    if not isinstance(token, str):
        return None
    if not token:
        r.problems.add(f"{spath}.token", "is empty")
        return None
    return token
