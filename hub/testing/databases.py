"""Throw-away databases for tests: a SQLite file or a fresh PostgreSQL database.

Shipped in the package so third-party plugins (and the conformance kit) test on both
databases exactly as tickethub's own suite does. PostgreSQL tests skip with a clear reason
when no server answers, unless ``TICKETHUB_REQUIRE_PG=1`` (CI), where they fail instead.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

PG_HOST = os.environ.get("TICKETHUB_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TICKETHUB_PG_PORT", "5432"))
PG_USER = os.environ.get("TICKETHUB_PG_USER", "postgres")


def pg_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


def require_pg() -> None:
    """Skip (or, under ``TICKETHUB_REQUIRE_PG=1``, fail) when PostgreSQL is not there."""
    if pg_reachable():
        return
    reason = f"PostgreSQL not reachable on {PG_HOST}:{PG_PORT}"
    if os.environ.get("TICKETHUB_REQUIRE_PG") == "1":
        pytest.fail(f"{reason} and TICKETHUB_REQUIRE_PG=1")
    pytest.skip(reason)


async def pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """URL of a new, empty PostgreSQL database, dropped afterwards."""
    require_pg()
    name = f"tickethub_test_{uuid.uuid4().hex[:12]}"
    await pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
