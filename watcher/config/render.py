"""``watcher check``: the configuration as watcher will use it, as TOML, secrets masked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from watcher.config.loader import Catalog
from watcher.config.options import fields_of, values_of
from watcher.config.rules import RULE_FIELDS
from watcher.config.schema import Field, format_duration, format_size
from watcher.config.settings import SINK_FIELDS, SOURCE_FIELDS, WATCHER_FIELDS, Config
from watcher.core.rules import FAILURE_RATE, NO_SUCCESS, STUCK_COUNT, Rule

MASK = "***"


def render(config: Config, catalog: Catalog) -> str:
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
    for rule in config.rules:
        out += ["", "[[rules]]", *_table(_rule_values(rule), RULE_FIELDS)]
    return "\n".join(out) + "\n"


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
        lines.append(f"{key} = {toml_value(val)}")
    return lines


def toml_value(v: Any) -> str:
    """A TOML value: JSON string escapes are valid TOML basic-string escapes."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return orjson.dumps(v).decode()
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    return toml_value(str(v))


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else toml_value(k)
