"""The "did you mean" of every message about a misspelt name."""

from __future__ import annotations

import difflib
from collections.abc import Collection


def hint(value: str, choices: Collection[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or nothing."""
    m = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.7)
    return f" (did you mean {m[0]!r}?)" if m else ""
