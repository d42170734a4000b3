"""``watcher migrate --from FILE.db --to postgresql://...``: move a state to PostgreSQL.

Exit codes (sysexits): 0 copied; 64 ``--to`` is no PostgreSQL URL; 66 no such
file; 69 a store cannot be opened; 73 the database already holds a state;
75 a daemon is writing the file (stop it first: the copy must be of a state
nobody changes).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from watcher.cli.target import fail
from watcher.config.urls import is_postgres
from watcher.errors import StateHeld, StoreError, StoreUnavailable, TargetNotEmpty
from watcher.infra.secrets import masked_url
from watcher.runtime.loop import run_sync
from watcher.state.migration import migrate_file


def command(source: str, target: str) -> int:
    if not is_postgres(target):
        return fail(f"--to {masked_url(target)}: not a postgresql:// URL", os.EX_USAGE)
    if source == ":memory:" or not Path(source).is_file():
        return fail(f"--from {source}: no such state file", os.EX_NOINPUT)
    try:
        return run_sync(lambda: _copy(source, target))
    except StateHeld as e:
        return fail(f"not copying: {e}; stop it first", os.EX_TEMPFAIL)
    except TargetNotEmpty as e:
        return fail(f"not copying: {e}", os.EX_CANTCREAT)
    except (StoreUnavailable, StoreError) as e:
        return fail(str(e), os.EX_UNAVAILABLE)


async def _copy(source: str, target: str) -> int:
    done = await migrate_file(source, target)
    print(f"copied {done.sources} sources ({done.runs} runs), {done.entries} journal entries, "
          f"{done.cursors} cursors, {done.dead_letters} dead letters and {done.records} "
          f"records from {source} to {masked_url(target)}", file=sys.stderr)
    return os.EX_OK
