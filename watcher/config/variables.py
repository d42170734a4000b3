"""``${VAR}`` and ``${VAR:-default}`` in config values, expanded from the environment."""

from __future__ import annotations

import re
from collections.abc import Mapping

#: ``${VAR}``, or ``${VAR:-default}`` (the default when VAR is unset or empty, as in sh)
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def unset_vars(value: str, env: Mapping[str, str]) -> list[str]:
    """The variables ``value`` names that are unset and have no default."""
    return [m[1] for m in _VAR.finditer(value) if m[2] is None and m[1] not in env]


def expand_vars(value: str, env: Mapping[str, str]) -> str:
    """``value`` with each ``${VAR}`` and ``${VAR:-default}`` replaced (an unset VAR
    without a default: empty; :func:`unset_vars` tells which those are)."""
    return _VAR.sub(lambda m: (env.get(m[1]) or m[2]) if m[2] is not None
                    else env.get(m[1], ""), value)
