"""The state the commands beside a daemon (``silence``, ``status``, ``deadletters``) act
on: the daemon's own, opened only where it already is, never a new one.

When it is not there they say which path they looked at and exit 66 (EX_NOINPUT:
their input, the daemon's state, does not exist); when ``state_path`` is unset
they also say that its default depends on where the command runs.
"""

from __future__ import annotations

import sys

from watcher.config.settings import Config
from watcher.errors import StoreAbsent

EX_NOINPUT = 66


def absent(config: Config, e: StoreAbsent) -> int:
    """Say there is no daemon state where ``config`` points; the exit code."""
    section = config.raw.get("watcher")
    unset = not (isinstance(section, dict) and "state_path" in section)
    print(f"watcher: {e}", file=sys.stderr)
    if unset:
        print(f"watcher: state_path is not set in {config.path or 'the config'}, so it is "
              "$STATE_DIRECTORY/state.db under systemd and ./watcher-state.db in the current "
              "directory elsewhere; set it so every command finds the daemon's state",
              file=sys.stderr)
    return EX_NOINPUT
