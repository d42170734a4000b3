"""Values spelt as a TOML file spells them, for ``watcher check`` and its messages.

A problem quotes the value the user wrote, so it must read like their file:
``interval = true`` is reported as ``true is not a duration``, never Python's
``True``; a list as ``[1, "a"]``, a table as ``{ a = 1 }``, a date as TOML
writes it.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

import orjson


def toml_value(v: Any) -> str:
    """A TOML value: JSON string escapes are valid TOML basic-string escapes."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)  # also TOML's spelling of inf and nan
    if isinstance(v, str):
        return orjson.dumps(v).decode()
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, datetime | date | time):
        return v.isoformat()  # a TOML date-time, date or time, unquoted as in the file
    return toml_value(str(v))


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else toml_value(k)
