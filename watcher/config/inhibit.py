"""``[[inhibit]]``: while an episode is open, hold back the events it explains, validated
into :class:`~watcher.core.inhibition.InhibitRule` with key paths like every table.

::

    [[inhibit]]
    name = "degraded-workflow-failures"                 # optional; default inhibit-<n>
    source = { types = ["workflow.degraded"] }          # while such an episode is open...
    target = { types = ["run.status_changed"], statuses = ["failed"] }  # ...hold these
    equal = ["source", "workflow_id"]                   # ...when these fields are equal
    sinks = ["alerts"]                                  # default: every notification sink

``source`` and ``target`` take a sink's match keys (:mod:`watcher.config.match`).
A ``source`` must be able to match an episode (``workflow.degraded`` or
``source.failing``); ``equal`` names routing fields (``source``, ``workflow_id``,
``workflow_name``, ``run_id``); ``sinks`` names notification sinks only: complete
records (stdout, file, buses) are never held back.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import SimpleNamespace
from typing import Any

from watcher.config.hints import hint
from watcher.config.match import parse_match
from watcher.config.options import Options, StrList
from watcher.config.schema import Expanded, Problems
from watcher.config.silences import check_sinks
from watcher.config.tables import array_tables, check_name
from watcher.core.events import EVENT_TYPES
from watcher.core.inhibition import CARRIES, EPISODES, EQUAL_FIELDS, InhibitRule
from watcher.core.matching import Match


class InhibitOptions(Options):
    """The keys of one ``[[inhibit]]`` table (``source`` and ``target`` parsed apart)."""

    name: str | None = None
    equal: StrList = ()
    sinks: StrList = ()


def types_of(match: Match, among: Collection[str] = EVENT_TYPES) -> list[str]:
    """The event types of ``among`` that ``match``'s ``types`` key lets through."""
    if "types" not in match.values:
        return list(among)
    only = Match({"types": match.values["types"]})  # reads no attribute of an event but type
    return [t for t in among if only(SimpleNamespace(type=t))]


def parse_inhibit(data: Mapping[str, Any], r: Expanded, *, sources: Collection[str],
                  sinks: Mapping[str, bool]) -> tuple[InhibitRule, ...]:
    """Every ``[[inhibit]]`` table; ``sinks``: configured sink name -> is a record."""
    out: list[InhibitRule] = []
    names: set[str] = set()
    for i, (path, raw) in enumerate(array_tables(data, "inhibit", r.problems)):
        before = len(r.problems)
        o = r.validate(InhibitOptions, raw, path, apart=("source", "target"))
        name = (o.name if o is not None else None) or f"inhibit-{i + 1}"
        check_name(name, f"{path}.name", names, r.problems)
        source = _matcher(raw, "source", path, r.problems, sources)
        target = _matcher(raw, "target", path, r.problems, sources)
        if source is not None and not types_of(source, EPISODES):
            r.problems.add(f"{path}.source", "matches no episode: a source is a "
                           "workflow.degraded or a source.failing (until it recovers)")
        for field in o.equal if o is not None else ():
            if field not in EQUAL_FIELDS:
                r.problems.add(f"{path}.equal", f'"{field}" is not an event field'
                               f"{hint(field, EQUAL_FIELDS)} (fields: "
                               f"{', '.join(EQUAL_FIELDS)})")
        check_sinks(o.sinks if o is not None else (), f"{path}.sinks", r.problems, sinks,
                    never="inhibition never holds", suggest=True)
        if (len(r.problems) == before and o is not None and source is not None
                and target is not None):
            out.append(InhibitRule(name=name, source=source, target=target,
                                   equal=tuple(o.equal), sinks=tuple(o.sinks)))
    return tuple(out)


def _matcher(raw: Mapping[str, Any], key: str, path: str, problems: Problems,
             sources: Collection[str]) -> Match | None:
    value = raw.get(key)
    if value is None:
        problems.add(f"{path}.{key}", 'is required (a match table, e.g. '
                                      '{ types = ["workflow.degraded"] })')
        return None
    if not isinstance(value, dict) or not value:
        problems.add(f"{path}.{key}", "must be a table of match keys to values")
        return None
    return parse_match(value, f"{path}.{key}", problems, sources=sources)


def inhibit_warnings(rules: Collection[InhibitRule]) -> list[str]:
    """``watcher check``'s warning per ``equal`` field that the source's or the target's
    event types never carry: such a rule holds nothing."""
    out = []
    for rule in rules:
        for side, types in (("source", types_of(rule.source, EPISODES)),
                            ("target", types_of(rule.target))):
            for field in rule.equal:
                if types and not any(field in CARRIES[t] for t in types):
                    shown = ", ".join(t.removeprefix("watcher.") for t in types)
                    out.append(f'inhibit "{rule.name}": no {side} event ({shown}) carries '
                               f'"{field}", so the rule holds nothing')
    return out
