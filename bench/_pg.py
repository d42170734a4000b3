"""Shared by the benchmarks: a fresh PostgreSQL database of their own, dropped after.

The server is ``$WATCHER_BENCH_POSTGRES`` (default the local one, trust auth)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg

SERVER = os.environ.get("WATCHER_BENCH_POSTGRES",
                        "postgresql://postgres@127.0.0.1:5432/postgres")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(SERVER, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def database(label: str) -> Iterator[str]:
    """A new database's URL for the duration of the block."""
    name = f"watcher_bench_{label}_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield urlunsplit(urlsplit(SERVER)._replace(path="/" + name))
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
