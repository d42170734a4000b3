"""A source's ``rate_limit``: requests per second, or ``{rate = ..., burst = ...}``.

It overrides the vendor's documented default for an account with more headroom
(Extend's Scale plan allows 25 GET/s and more); what a bucket shared by several
sources runs at is decided in :mod:`watcher.infra.ratelimit`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from watcher.config.toml_text import toml_value
from watcher.infra.ratelimit import Limit

#: adds ``path: message`` to the problems of a config
Report = Callable[[str, str], None]

#: more than any vendor allows: a larger number is a typo
MOST = 1e6


def parse_rate(raw: object, path: str, report: Report) -> Limit | None:
    """The :class:`Limit` a ``rate_limit`` value says, or ``None`` with its problems
    reported (each at its own key path)."""
    if isinstance(raw, dict):
        return _table(raw, path, report)
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        report(path, f"{toml_value(raw)} must be a number of requests per second, or a table "
                     "{ rate = ..., burst = ... }")
        return None
    rate = _number(raw, path, report)
    return Limit(rate) if rate is not None else None


def _table(raw: dict[str, object], path: str, report: Report) -> Limit | None:
    ok = True
    for key in raw:
        if key not in ("rate", "burst"):
            hint = difflib.get_close_matches(key, ["rate", "burst"], n=1, cutoff=0.6)
            report(f"{path}.{key}", "unknown key" + (f" (did you mean {hint[0]!r}?)"
                                                    if hint else ""))
            ok = False
    if "rate" not in raw:
        report(f"{path}.rate", "is required (requests per second)")
        return None
    rate = _number(raw["rate"], f"{path}.rate", report)
    burst = None
    if "burst" in raw:
        burst = _number(raw["burst"], f"{path}.burst", report, least=1.0,
                        unit="requests at once")
        ok = ok and burst is not None
    return Limit(rate, burst) if ok and rate is not None else None


def _number(raw: object, path: str, report: Report, *, least: float = 0.0,
            unit: str = "requests per second") -> float | None:
    """Above zero (``least`` and up when given) and at most :data:`MOST`."""
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != raw:
        report(path, f"{toml_value(raw)} must be a number ({unit})")
        return None
    if raw <= 0 or raw < least or raw > MOST:
        bound = f"at least {least:g}" if least else "above 0"
        report(path, f"{raw:g} must be {bound} and at most {MOST:.0f} ({unit})")
        return None
    return float(raw)
