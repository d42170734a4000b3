"""A real PostgreSQL server for tests: a database per test module, a schema per test.

The server is ``$WATCHER_TEST_POSTGRES`` (default the local one, trust auth).
Where none answers, tests that need it are skipped saying so, except under
CI (``CI=true``), where that fails them: a green CI means they ran.  The
fixtures (``pg_database``, ``pg_url``) are in ``tests/conftest.py``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import pytest

from watcher.infra.secrets import masked_url

T = TypeVar("T")

DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    return os.environ.get("WATCHER_TEST_POSTGRES") or DEFAULT


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


def with_schema(url: str, schema: str) -> str:
    """``url`` whose connections look for tables in ``schema`` (``search_path``)."""
    parts = urlsplit(url)
    option = quote(f"-c search_path={schema}")
    query = f"{parts.query}&options={option}" if parts.query else f"options={option}"
    return urlunsplit(parts._replace(query=query))


def run(fn: Callable[[], Awaitable[T]]) -> T:
    """Run admin work from a synchronous fixture (a loop of its own)."""
    return asyncio.run(fn())  # type: ignore[arg-type]


async def admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        for s in statements:
            await conn.execute(s)
    finally:
        await conn.close()


def unavailable(why: str) -> None:
    """Skip, or fail under CI."""
    message = f"no PostgreSQL server answers at {masked_url(server_url())}: {why}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def create_database(label: str) -> tuple[str, str]:
    """A fresh database; its name and URL (skips when no server answers)."""
    name = f"watcher_test_{label[:30]}_{os.getpid()}_{secrets.token_hex(3)}".lower()
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    try:
        run(lambda: admin(server_url(), f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as e:
        unavailable(str(e) or type(e).__name__)
    return name, with_database(server_url(), name)


def drop_database(name: str) -> None:
    run(lambda: admin(server_url(), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def create_schema(database_url: str) -> str:
    """A fresh schema in the database; the URL whose tables live there."""
    schema = f"t_{secrets.token_hex(5)}"
    run(lambda: admin(database_url, f'CREATE SCHEMA "{schema}"'))
    return with_schema(database_url, schema)


async def query(url: str, sql: str, *args: Any) -> list[Any]:
    """Rows of one query, on a connection of its own."""
    conn = await asyncpg.connect(url, timeout=5)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def connect(url: str) -> asyncpg.Connection:
    """A connection of the test's own (to hold locks, terminate backends ...)."""
    return await asyncpg.connect(url, timeout=5)


async def wait_for_lock_waiters(url: str, n: int, within: float = 10.0) -> None:
    """Until ``n`` sessions of the database wait for a lock."""
    sql = ("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
           "AND wait_event_type = 'Lock'")
    deadline = asyncio.get_running_loop().time() + within
    while (await query(url, sql))[0][0] < n:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"fewer than {n} sessions wait for a lock")
        await asyncio.sleep(0.02)


async def terminate(url: str, application: str) -> int:
    """``pg_terminate_backend`` every connection of ``application`` to the database."""
    rows = await query(url, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND application_name = $1 "
                            "AND pid <> pg_backend_pid()", application)
    return int(rows[0][0])
