"""Durations and sizes as a config writes them (``"15s"``, ``"64MiB"``) and back."""

from __future__ import annotations

import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# SI units count in 1000s and IEC units in 1024s, as their standards say: "64MB" and
# "64MiB" are both accepted, and each means what it says.
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")
_SIZE_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3,
               "kib": 1024, "mib": 1024**2, "gib": 1024**3}
#: what a duration may look like, for error messages
DURATION_FORMS = ('a number of seconds, or numbers with a unit (ms, s, m, h, d), e.g. "500ms", '
                  '"15s", "10m", "2h", "7d", "1h30m"')
#: the longest duration any key takes unless it says otherwise, and the longest silence
#: without ``--force``: a year (a leap one).  Anything longer is a typo ("999999d" would
#: end in the year 4764), and arithmetic on it would overflow dates and timers.
LONGEST = 366 * 86400.0
#: what a size may look like, for error messages
SIZE_FORMS = ('bytes as an integer, or a number with B, KB, MB, GB (powers of 1000) '
              'or KiB, MiB, GiB (powers of 1024), e.g. "64MB", "512KiB"')


def parse_duration(value: object) -> float | None:
    """``"500ms"``, ``"15s"``, ``"1h30m"``, ``"7d"`` or a number of seconds; ``None`` if invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return total if pos == len(text) and text else None


def parse_size(value: object) -> int | None:
    """``"64MB"``, ``"512KiB"``, ``"1GiB"`` or an integer of bytes; ``None`` if invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if not isinstance(value, str):
        return None
    m = _SIZE.fullmatch(value.strip().lower())
    if m is None or m.group(2) not in _SIZE_UNITS:
        return None
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2)])


def format_size(n: int) -> str:
    """The largest unit that states ``n`` exactly, so ``check`` prints what parses back."""
    for unit, factor in (("GiB", 1024**3), ("GB", 1000**3), ("MiB", 1024**2), ("MB", 1000**2),
                         ("KiB", 1024), ("KB", 1000)):
        if n >= factor and n % factor == 0:
            return f"{n // factor}{unit}"
    return f"{n}B"


def format_duration(seconds: float) -> str:
    for unit in ("d", "h", "m", "s"):
        n = seconds / _UNITS[unit]
        if n >= 1 and n == int(n):
            return f"{int(n)}{unit}"
    return f"{int(seconds * 1000)}ms"
