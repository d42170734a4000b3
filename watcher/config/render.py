"""``watcher check``: the configuration as watcher will use it, as TOML, secrets masked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from watcher.config.options import shown
from watcher.config.settings import Config
from watcher.config.toml_text import toml_value
from watcher.config.units import format_duration
from watcher.core.rules import FAILURE_RATE, NO_SUCCESS, STUCK_COUNT, Rule
from watcher.infra.secrets import masked_url


def render(config: Config, *, now: float | None = None) -> str:
    """The config as TOML; with ``now``, each window's next opening as a comment."""
    out = ["[watcher]", *_table(shown(config.watcher))]
    for s in config.sources:
        hidden = ("token_file",) if s.token else ("token_file", "token")  # none: no auth
        out += ["", "[[sources]]", *_table({**shown(s, exclude=hidden), **shown(s.options)})]
    for k in config.sinks:
        values = {**shown(k), **shown(k.options), "match": k.match.as_dict()}
        out += ["", "[[sinks]]", *_table(values)]
    for w in config.silences:
        out += ["", "[[silences]]", *_table({**shown(w), "match": dict(w.match)})]
        if now is not None:
            out.append(f"# {w.times(now)}")
    for rule in config.rules:
        out += ["", "[[rules]]", *_table(_rule_values(rule))]
    for i in config.inhibit:
        out += ["", "[[inhibit]]", *_table({"name": i.name, "source": i.source.as_dict(),
                                            "target": i.target.as_dict(), "equal": i.equal,
                                            "sinks": i.sinks})]
    for h in config.heartbeats:  # the URL is a secret: masked like a token
        out += ["", "[[heartbeats]]", *_table(shown(h))]
    return "\n".join(out) + "\n"


def _rule_values(rule: Rule) -> dict[str, Any]:
    """A rule as its keys, defaults filled in (what it will do, not what was typed)."""
    threshold: float | int = rule.threshold if rule.kind != STUCK_COUNT \
        else int(rule.threshold)
    values: dict[str, Any] = {"name": rule.name, rule.kind: format_duration(threshold)
                              if rule.kind == NO_SUCCESS else threshold}
    if rule.kind == FAILURE_RATE:
        values |= {"window": format_duration(rule.window),
                   "count_as_failed": sorted(rule.failed)}
    if rule.kind != NO_SUCCESS:
        values["recover_below"] = rule.recover_below if rule.kind == FAILURE_RATE \
            else int(rule.recover_below)
    if rule.kind != STUCK_COUNT:
        values["min_finished"] = rule.min_finished
    return values | {"across_sources": rule.across_sources, "match": rule.match.as_dict()}


def _table(values: Mapping[str, Any]) -> list[str]:
    """``key = value`` lines of the values shown (none for an empty one: an absent key or
    a match of everything); a database URL's password masked."""
    return [f"{key} = {toml_value(masked_url(val) if isinstance(val, str) else val)}"
            for key, val in values.items() if val not in (None, (), [], {})]
