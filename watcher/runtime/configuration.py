"""The configuration as the running daemon and the commands read it: checked against
the built-in and installed providers and sinks."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import orjson

from watcher.config import loader, render
from watcher.config.settings import Config
from watcher.providers import PROVIDERS
from watcher.sinks import SINKS

CATALOG = loader.Catalog(providers=PROVIDERS, sinks=SINKS)


def load(path: str | os.PathLike[str], *, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a TOML file; raises ConfigError listing every problem."""
    return loader.load(path, CATALOG, env=env)


def loads(text: str, *, env: Mapping[str, str] | None = None, path: str | None = None,
          base_dir: Path | None = None) -> Config:
    """Validate a config's TOML text; raises ConfigError listing every problem."""
    return loader.loads(text, CATALOG, env=env, path=path, base_dir=base_dir)


def resolved(config: Config, *, now: float | None = None) -> str:
    """``watcher check``: the config as it will be used, as TOML, secrets masked; with
    ``now``, when each maintenance window opens next."""
    return render.render(config, CATALOG, now=now)


def config_hash(config: Config) -> str:
    """A short hash of the config as written (``${VAR}`` unexpanded): tells which
    config a daemon runs, and that a reload took, without showing any of it."""
    text = orjson.dumps(config.raw, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(text).hexdigest()[:16]

