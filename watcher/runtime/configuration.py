"""The configuration as the running daemon and the commands read it: checked against
the built-in and installed providers and sinks."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Collection, Mapping

import orjson

from watcher.config import loader, render
from watcher.config.inhibit import inhibit_warnings
from watcher.config.settings import Config
from watcher.providers import PROVIDERS, limits
from watcher.sinks import SINKS

CATALOG = loader.Catalog(providers=PROVIDERS, sinks=SINKS)


def load(path: str | os.PathLike[str], *, needs: Collection[str] | None = None) -> Config:
    """Read and validate a TOML file; raises ConfigError listing every problem.
    ``needs``: the key paths a command reads, when not all (:func:`loader.load`)."""
    return loader.load(path, CATALOG, needs=needs)


def loads(text: str, *, env: Mapping[str, str]) -> Config:
    """Validate a config's TOML text; raises ConfigError listing every problem."""
    return loader.loads(text, CATALOG, env=env)


def resolved(config: Config, *, now: float | None = None) -> str:
    """``watcher check``: the config as it will be used, as TOML, secrets masked; with
    ``now``, when each maintenance window opens next; then, as comments, each rate-limit
    bucket with its rate and sources."""
    buckets = limits.comments(config.sources)
    return render.render(config, now=now) + "".join(f"{line}\n" for line in buckets)


def warnings(config: Config) -> list[str]:
    """What ``watcher check`` warns of: each rate-limit bucket too small for its sources'
    intervals, the HTTP listener exposed without a token, and each ``[[inhibit]]`` ``equal``
    field no event of its source or target carries."""
    # here, not at the top: every command reads its config through this module
    from watcher.server.auth import EXPOSED, is_loopback
    from watcher.server.listener import parse_listen

    out = [f"rate limit too low: {limits.verdict(b)}"
           for b in limits.plan(config.sources) if b.over]
    w = config.watcher
    if w.http_listen and not w.http_token and not is_loopback(parse_listen(w.http_listen)[0]):
        out.append(EXPOSED)
    return out + inhibit_warnings(config.inhibit)


def config_hash(config: Config) -> str:
    """A short hash of the config as written (``${VAR}`` unexpanded): tells which
    config a daemon runs, and that a reload took, without showing any of it."""
    text = orjson.dumps(config.raw, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(text).hexdigest()[:16]

