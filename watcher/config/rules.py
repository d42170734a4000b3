"""``[[rules]]``: workflow health rules, validated into :class:`~watcher.core.rules.Rule`.

Exactly one of ``failure_rate_above``, ``no_success_for`` or
``stuck_count_above`` says what a rule watches; the other keys are checked
against it (a ``window`` on a rule that has none is an error, not ignored).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Annotated, Any

from pydantic import Field

from watcher.config.match import parse_match
from watcher.config.options import Check, Duration, Options, StrList
from watcher.config.schema import Expanded, Problems
from watcher.config.tables import array_tables, check_name
from watcher.core.rules import (
    FAILURE_RATE,
    KINDS,
    NO_SUCCESS,
    STUCK_COUNT,
    Rule,
)
from watcher.model import FAILURE_STATUSES

#: ``recover_below`` unless set: this share of the threshold
RECOVER_SHARE = 0.8
#: ``min_finished`` unless set
MIN_FINISHED = {FAILURE_RATE: 5, NO_SUCCESS: 1}


def _rate(v: float) -> str | None:
    return None if 0 <= v < 1 else "must be a share of runs, at least 0 and below 1"


def _failed(v: tuple[str, ...]) -> str | None:
    bad = [s for s in v if s not in FAILURE_STATUSES]
    if bad or not v:
        return f"must list some of {', '.join(FAILURE_STATUSES)}"
    return None


class RuleOptions(Options):
    """The keys of one ``[[rules]]`` table."""

    name: str
    failure_rate_above: Annotated[float, Check(_rate)] | None = None
    no_success_for: Annotated[float, Duration(min=1.0)] | None = None
    stuck_count_above: Annotated[int, Field(ge=0)] | None = None
    #: the sliding window of failure_rate_above
    window: Annotated[float, Duration(min=1.0)] | None = None
    #: fewer finished runs than this say nothing (default 5 for a rate, 1 otherwise)
    min_finished: Annotated[int, Field(ge=1)] | None = None
    #: an episode ends once the rate or count is at or below this
    recover_below: Annotated[float, Field(ge=0)] | None = None
    #: what failure_rate_above counts as failed
    count_as_failed: Annotated[StrList, Check(_failed)] = ("failed",)
    across_sources: bool = False


def parse_rules(data: Mapping[str, Any], r: Expanded, *,
                sources: Collection[str]) -> tuple[Rule, ...]:
    """Every ``[[rules]]`` table as a Rule; problems go to ``r.problems`` with key paths."""
    rules = []
    names: set[str] = set()
    for path, raw in array_tables(data, "rules", r.problems):
        o = r.validate(RuleOptions, raw, path, apart=("match",))
        match = parse_match(raw.get("match"), f"{path}.match", r.problems, sources=sources)
        named = check_name(raw.get("name"), f"{path}.name", names, r.problems)
        rule = _rule(o, raw, path, r.problems) if o is not None else None
        if rule is not None and named:
            rules.append(Rule(**{**rule, "match": match}))
    return tuple(rules)


def _rule(o: RuleOptions, raw: Mapping[str, Any], path: str,
          problems: Problems) -> dict[str, Any] | None:
    """A Rule's fields from valid options; ``None`` (the problem added) when they clash."""
    given = [k for k in KINDS if k in raw]
    if len(given) != 1:
        problems.add(path, f"set exactly one of {', '.join(KINDS)}"
                           + (f" (found {', '.join(given)})" if given else ""))
        return None
    kind = given[0]
    threshold = getattr(o, kind)
    if threshold is None:
        return None  # its own problem is reported already
    if kind == FAILURE_RATE and o.window is None:
        problems.add(f"{path}.window", "is required with failure_rate_above")
    if kind != FAILURE_RATE:
        for key in ("window", "count_as_failed"):
            if key in raw:
                problems.add(f"{path}.{key}", "applies to failure_rate_above only")
    if kind == STUCK_COUNT and "min_finished" in raw:
        problems.add(f"{path}.min_finished", "does not apply to stuck_count_above")
    if kind == NO_SUCCESS and "recover_below" in raw:
        problems.add(f"{path}.recover_below", "no_success_for ends with the next success")
    recover = o.recover_below
    if recover is None:
        recover = threshold * RECOVER_SHARE
        recover = math.floor(recover) if kind != FAILURE_RATE else round(recover, 6)
    elif recover >= threshold:
        problems.add(f"{path}.recover_below", f"must be below the threshold ({threshold:g})")
    return {"name": o.name, "kind": kind, "threshold": float(threshold),
            "recover_below": float(recover), "window": o.window or 0.0,
            "min_finished": o.min_finished or MIN_FINISHED.get(kind, 1),
            "failed": frozenset(o.count_as_failed), "across_sources": o.across_sources}
