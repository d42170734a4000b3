"""The state the commands beside a daemon (``silence``, ``status``, ``deadletters``) act
on: the daemon's own, opened only where it already is, never a new one.

When it is not there (or is ``":memory:"``) ``status`` and ``silence`` ask the
running daemon instead; with no daemon answering either they say which path
they looked at and exit 66 (EX_NOINPUT: their input, the daemon's state, does
not exist), 69 for ``":memory:"``; when ``state_path`` is unset they also say
that its default depends on where the command runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from watcher.cli.target import CommandError, fail
from watcher.config.settings import Config
from watcher.errors import StoreAbsent, StoreError, StoreUnavailable


def beside_daemon(config: Config, local: Callable[[], int],
                  remote: Callable[[], int | None], memory: str) -> int:
    """``local()`` on the daemon's state; where there is none, ``remote()`` (None: no daemon
    answers) through the daemon, else the exit code saying why (``memory``: for
    ``":memory:"``); 69 when the store is unusable; a daemon's refusal said in one line."""
    try:
        if config.watcher.state_path == ":memory:":
            code = remote()
            if code is None:
                return fail(f'state_path is ":memory:": {memory}', os.EX_UNAVAILABLE)
            return code
        try:
            return local()
        except StoreAbsent as e:
            code = remote()
            return absent(config, e) if code is None else code
    except (StoreUnavailable, StoreError) as e:
        return fail(str(e), os.EX_UNAVAILABLE)
    except CommandError as e:  # a daemon answered, and refused
        return fail(str(e), e.code)


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
    return os.EX_NOINPUT
