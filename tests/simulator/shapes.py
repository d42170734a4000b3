"""Response shapes from ``providers/<vendor>.md``, for vendors that ship no Python SDK.

A shape maps each documented field to the JSON types it may have (``None``
for null); :func:`problems` lists every missing field and wrong type, so a
failing contract test shows all that is off at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from watcher.core.timestamps import parse_ts

#: a JSON type, or a tuple of the types allowed
Shape = Mapping[str, "type | tuple[type | None, ...] | None"]


def _allowed(value: Any, kinds: type | tuple[type | None, ...] | None) -> bool:
    options = kinds if isinstance(kinds, tuple) else (kinds,)
    for kind in options:
        if kind is None and value is None:
            return True
        # JSON has no bool/int confusion: True is not a number
        if kind is not None and isinstance(value, kind) and not (
                isinstance(value, bool) and kind in (int, float)):
            return True
    return False


def problems(obj: Any, shape: Shape, where: str = "") -> list[str]:
    if not isinstance(obj, dict):
        return [f"{where or 'body'} is {type(obj).__name__}, not an object"]
    out = []
    for name, kinds in shape.items():
        if name not in obj:
            out.append(f"{where}{name} is missing")
        elif not _allowed(obj[name], kinds):
            out.append(f"{where}{name} = {obj[name]!r} has the wrong type")
    return out


def timestamp_problems(obj: dict[str, Any], names: tuple[str, ...], where: str = "") -> list[str]:
    """Date-times that are present must parse as ISO 8601 with a UTC offset."""
    return [f"{where}{n} = {obj[n]!r} is not an ISO 8601 UTC date-time" for n in names
            if obj.get(n) is not None and (parse_ts(obj[n]) is None
                                           or not str(obj[n]).endswith(("Z", "+00:00")))]
