"""``watcher check``: the configuration as watcher will use it, as TOML, secrets masked."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any

from watcher.config.heartbeats import HEARTBEAT_FIELDS
from watcher.config.inhibit import INHIBIT_FIELDS
from watcher.config.loader import Catalog
from watcher.config.options import fields_of, values_of
from watcher.config.rules import RULE_FIELDS
from watcher.config.schema import Field
from watcher.config.settings import SINK_FIELDS, SOURCE_FIELDS, WATCHER_FIELDS, Config
from watcher.config.silences import WINDOW_FIELDS, WindowConfig
from watcher.config.toml_text import toml_value
from watcher.config.units import format_duration, format_size
from watcher.core.inhibition import InhibitRule
from watcher.core.rules import FAILURE_RATE, NO_SUCCESS, STUCK_COUNT, Rule
from watcher.core.windows import local_text, next_opening
from watcher.infra.secrets import MASK, masked_url


def render(config: Config, catalog: Catalog, *, now: float | None = None) -> str:
    """The config as TOML; with ``now``, each window's next opening as a comment."""
    out = ["[watcher]", *_table(values_of(config.watcher), WATCHER_FIELDS)]
    for s in config.sources:
        cls = catalog.providers.get(s.provider)
        own = fields_of(cls.Options) if cls else {}
        values = {**values_of(s), **values_of(s.options)}
        out += ["", "[[sources]]", *_table(values, {**SOURCE_FIELDS, **own})]
    for k in config.sinks:
        scls = catalog.sinks.get(k.type)
        own = fields_of(scls.Options) if scls else {}
        values = {**values_of(k), **values_of(k.options)}
        match = k.match.as_dict()
        if match:
            values["match"] = match
        out += ["", "[[sinks]]", *_table(values, {**SINK_FIELDS, **own})]
    for w in config.silences:
        values = values_of(w)
        values["match"] = {k: list(v) for k, v in w.match.items()}
        out += ["", "[[silences]]", *_table(values, WINDOW_FIELDS)]
        if now is not None:
            out.append(f"# {window_times(w, now)}")
    for rule in config.rules:
        out += ["", "[[rules]]", *_table(_rule_values(rule), RULE_FIELDS)]
    for inhibit in config.inhibit:
        out += ["", "[[inhibit]]", *_table(_inhibit_values(inhibit), INHIBIT_FIELDS)]
    for h in config.heartbeats:  # the URL is a secret: masked like a token
        out += ["", "[[heartbeats]]", *_table(values_of(h), HEARTBEAT_FIELDS)]
    return "\n".join(out) + "\n"


def window_times(w: WindowConfig, now: float) -> str:
    """When a window is next open, in its own time zone: ``open now until ...``,
    ``next: ... to ...`` or ``over (ended ...)``."""
    tz = w.tz or UTC
    if w.recurring is not None:
        opening = next_opening(w.recurring, tz, now)
        if opening is None:
            return "never opens in the coming weeks"
        start, end = opening
    else:
        assert w.span is not None
        start, end = w.span
    if end <= now:
        return f"over (ended {local_text(end, tz)})"
    if start <= now:
        return f"open now, until {local_text(end, tz)}"
    return f"next: {local_text(start, tz)} to {local_text(end, tz)}"


def _rule_values(rule: Rule) -> dict[str, Any]:
    """A rule as its keys, defaults filled in (what it will do, not what was typed)."""
    threshold: float | int = rule.threshold if rule.kind != STUCK_COUNT \
        else int(rule.threshold)
    values: dict[str, Any] = {"name": rule.name, rule.kind: threshold}
    if rule.kind == FAILURE_RATE:
        values |= {"window": rule.window, "count_as_failed": sorted(rule.failed)}
    if rule.kind != NO_SUCCESS:
        values["recover_below"] = rule.recover_below if rule.kind == FAILURE_RATE \
            else int(rule.recover_below)
    if rule.kind != STUCK_COUNT:
        values["min_finished"] = rule.min_finished
    values["across_sources"] = rule.across_sources
    match = rule.match.as_dict()
    if match:
        values["match"] = match
    return values


def _inhibit_values(rule: InhibitRule) -> dict[str, Any]:
    return {"name": rule.name, "source": rule.source.as_dict(),
            "target": rule.target.as_dict(), "equal": rule.equal,
            "sinks": rule.sinks}


def _table(values: Mapping[str, Any], fields: Mapping[str, Field]) -> list[str]:
    lines = []
    for key, val in values.items():
        if val is None or val == () or val == {}:
            continue
        f = fields.get(key)
        if f is not None and f.secret:
            val = ({k: MASK for k in val} if isinstance(val, dict) else
                   [MASK] * len(val) if isinstance(val, tuple | list) else MASK)
        elif f is not None and f.kind == "duration":
            val = format_duration(val)
        elif f is not None and f.kind == "size":
            val = format_size(val)
        elif f is not None and f.kind == "rate":
            val = val.as_toml()
        elif isinstance(val, str):
            val = masked_url(val)  # a database URL's password is a secret
        lines.append(f"{key} = {toml_value(val)}")
    return lines
