"""Throw-away databases for tests: a SQLite file or a fresh PostgreSQL database.

Shipped in the package so third-party plugins (and the conformance kit) test on both
databases exactly as tickethub's own suite does. PostgreSQL tests skip with a clear reason
when no server answers, unless ``TICKETHUB_REQUIRE_PG=1`` (CI), where they fail instead.

Two kinds: `fresh_pg_database` is EMPTY (for tests of the migrations themselves), and
`SchemaTemplates` hands out databases already at the schema head, copied from a template
migrated once per process — what almost every test wants, without paying Alembic and the
DDL again for each one (about 0.25 s per PostgreSQL database, 0.05 s per SQLite file).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

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


def pg_url_of(name: str) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


@asynccontextmanager
async def fresh_pg_database(template: str | None = None) -> AsyncIterator[str]:
    """URL of a new PostgreSQL database, dropped afterwards: empty, or a copy of the
    database `template` (which nobody may be connected to)."""
    require_pg()
    name = f"tickethub_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    await pg_admin(f'CREATE DATABASE "{name}"{copy}')
    try:
        yield pg_url_of(name)
    finally:
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class SchemaTemplates:
    """Databases at the schema head, copied from templates migrated once by this process.

    A SQLite template is a file in `workdir`, copied per test; a PostgreSQL template is a
    database of its own (``tickethub_template_<random>``), cloned per test with
    ``CREATE DATABASE … TEMPLATE``. Each is made on first use with `hub.storage.migrate`,
    exactly what a hub runs at start, so a copy is what a freshly migrated database is
    (the hub's own start-up upgrade then finds it at head and does nothing).

    One instance per process (pytest-xdist workers each have theirs: templates are never
    shared, so no worker waits on another's, and a template is never open while cloned).
    `close` drops the PostgreSQL template.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._sqlite: Path | None = None
        self._pg: str | None = None
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def _lock(self) -> asyncio.Lock:
        # Tests each run on their own event loop; a lock must not cross loops.
        loop = asyncio.get_running_loop()
        return self._locks.setdefault(loop, asyncio.Lock())

    async def sqlite_url(self, path: Path) -> str:
        """A SQLite database at head in the new file `path`; its URL."""
        from hub.storage import migrate

        async with self._lock():
            if self._sqlite is None:
                template = self.workdir / f"template-{uuid.uuid4().hex[:8]}.db"
                # A URL, not an engine: the connection closes, the WAL is checkpointed
                # into the file and removed, so the file alone is the whole database.
                await migrate.upgrade(f"sqlite+aiosqlite:///{template}")
                self._sqlite = template
        shutil.copyfile(self._sqlite, path)
        return f"sqlite+aiosqlite:///{path}"

    @asynccontextmanager
    async def postgres(self) -> AsyncIterator[str]:
        """A new PostgreSQL database at head, dropped afterwards (skipped, or failed under
        ``TICKETHUB_REQUIRE_PG=1``, without a server)."""
        require_pg()
        async with fresh_pg_database(template=await self._pg_template()) as url:
            yield url

    async def _pg_template(self) -> str:
        from hub.storage import migrate

        async with self._lock():
            if self._pg is None:
                name = f"tickethub_template_{uuid.uuid4().hex[:12]}"
                await pg_admin(f'CREATE DATABASE "{name}"')
                try:
                    await migrate.upgrade(pg_url_of(name))
                except BaseException:
                    await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    raise
                self._pg = name
            return self._pg

    async def close(self) -> None:
        if self._pg is not None:
            name, self._pg = self._pg, None
            await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
