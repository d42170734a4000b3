"""``watcher tail``: follow a daemon's /events stream. Not built yet."""

from __future__ import annotations

import argparse
import sys


async def tail(args: argparse.Namespace) -> int:
    print("watcher tail: not available in this version", file=sys.stderr)
    return 69
